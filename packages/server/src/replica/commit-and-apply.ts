// The write path every registry shares: commit a write to the store, apply the committed change
// to this replica, mirror its audit event to the log. Writes to one record queue behind each
// other in this replica; a conflict with another replica drafts the write again from what the
// store holds, until WRITE_DEADLINE_MS has passed.
import { logAudit, type Actor } from '../audit/audit.js'
import { AppError } from '../errors.js'
import { ConflictError } from '../store/errors.js'
import type { Change, Store, Write } from '../store/store.js'
import type { Flag } from '@switchyard/core/flags/schema'
import type { KeyQueue } from './key-queue.js'
import type { AppliedRevision } from './revision.js'

/** How long a write may keep losing races to other replicas by default (WRITE_DEADLINE_MS). */
export const WRITE_DEADLINE_MS_DEFAULT = 10_000

export interface Writer {
  store: Store
  /** Takes the committed change into this replica's registry. */
  apply(change: Change): void
  /** This replica's revision, which the applied change moves. */
  revision: AppliedRevision
  actor: Actor
  /** What is written, for the message when it keeps losing races ("flag 'x'"). */
  what: string
  /** This replica's queue of writes per record, and the record's key in it. */
  queue: KeyQueue
  key: string
  /** How long a write may keep losing races to other replicas before it is refused. */
  deadlineMs: number
}

/**
 * `draft` gives the write to commit (null: nothing to change), given the conflict that sent it
 * round again (undefined the first time); it may throw to refuse. It runs once this write's turn
 * in the queue has come, so it drafts from the state the writes before it left. Resolves with
 * the committed write, or null when the draft found nothing to change.
 */
/** `R`: what a conflict reports the store holds (a flag; a segment's head for segment writes). */
export function commitAndApply<W extends Write, R extends { version: number } = Flag>(
  writer: Writer,
  draft: (conflict?: ConflictError<R>) => W | null | Promise<W | null>,
): Promise<W | null> {
  return writer.queue.run(writer.key, async () => {
    // From this write's turn: waiting behind this replica's own writes is not contention.
    const deadline = Date.now() + writer.deadlineMs
    let conflict: ConflictError<R> | undefined
    for (let attempt = 1; ; attempt++) {
      const write = await draft(conflict)
      if (write === null) return null
      try {
        const change = await writer.store.commit(write)
        writer.apply(change)
        writer.revision.applied(change.seq)
        logAudit(writer.actor, { ...write.audit, seq: change.seq })
        return write
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err
        if (Date.now() >= deadline) throw contended(writer)
        conflict = err as ConflictError<R>
        // Each conflict means another replica's write went in: retry at once, with a little
        // jitter once the same race has been lost a few times, so two replicas stop colliding.
        if (attempt > 3) await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(50, 2 ** attempt)))
      }
    }
  })
}

function contended(writer: Writer): AppError {
  const error = new AppError(
    'WRITE_CONTENDED',
    `${writer.what} kept changing under writes from other replicas for ${writer.deadlineMs} ms (WRITE_DEADLINE_MS); nothing was changed, retry`,
  )
  error.retryAfterSeconds = 1
  return error
}
