// The errors of the Store contract (store.ts): every store throws these, and only these, from commit.
import type { Flag } from '@switchyard/core/flags/schema'

/**
 * Thrown by a store when the optimistic-concurrency precondition of a write does not hold.
 * Carries what the store holds now (null when absent) so the caller can re-merge or refuse, and,
 * when it holds no record, `lastVersion`: the version a create must continue from (the last version
 * of the record deleted under that key; 0 for a key never used). `T` is a flag, or for a segment
 * write its head (SegmentHead: the segment without its members).
 */
export class ConflictError<T extends { version: number } = Flag> extends Error {
  constructor(
    readonly current: T | null,
    readonly lastVersion = 0,
  ) {
    super(current ? `store holds version ${current.version}` : `store holds no record; a create continues from version ${lastVersion}`)
    this.name = 'ConflictError'
  }
}

/** Thrown by a store that could not be reached or could not commit; its message says whether anything changed. */
/**
 * The store is not the one this replica synced from: its data was lost or replaced (FLUSHALL, a
 * restart without persistence, a restore from an older copy, a failover to a lagging replica).
 * Writes are refused so nothing lands in it unnoticed; reads are served from memory.
 */
export class StoreDivergedError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'StoreDivergedError'
  }
}

export class StoreUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'StoreUnavailableError'
  }
}

/** A fenced write (Write's `fence`) whose lease is no longer held with its token: nothing was changed. */
export class LeaseLostError extends Error {
  constructor(lease: string, token: number) {
    super(`the lease '${lease}' is no longer held with token ${token}: nothing was changed`)
    this.name = 'LeaseLostError'
  }
}
