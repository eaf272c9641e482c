// The write path every registry shares: commit a write to the store, apply the committed change
// to this replica, mirror its audit event to the log; on a conflict with another writer, draft
// the write again from what the store holds, a bounded number of times.
import { logAudit, type Actor } from '../audit/audit.js'
import { AppError } from '../errors.js'
import { ConflictError } from '../store/errors.js'
import type { Change, Store, Write } from '../store/store.js'

// Retries of a write that lost a race to another writer; each retry re-merges onto the winner.
const MAX_ATTEMPTS = 50

export interface Writer {
  store: Store
  /** Takes the committed change into this replica's registry. */
  apply(change: Change): void
  actor: Actor
  /** What is written, for the message when it keeps losing races ("flag 'x'"). */
  what: string
}

/**
 * `draft` gives the write to commit (null: nothing to change), given the conflict that sent it
 * round again (undefined the first time); it may throw to refuse. Resolves with the committed
 * write, or null when the draft found nothing to change.
 */
export async function commitAndApply<W extends Write>(writer: Writer, draft: (conflict?: ConflictError) => W | null): Promise<W | null> {
  let conflict: ConflictError | undefined
  for (let attempt = 1; ; attempt++) {
    const write = draft(conflict)
    if (write === null) return null
    try {
      const change = await writer.store.commit(write)
      writer.apply(change)
      logAudit(writer.actor, { ...write.audit, seq: change.seq })
      return write
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err
      if (attempt >= MAX_ATTEMPTS) {
        throw new AppError('STORE_UNAVAILABLE', `${writer.what} changed under ${MAX_ATTEMPTS} attempts in a row; nothing was changed, retry`)
      }
      conflict = err
    }
  }
}
