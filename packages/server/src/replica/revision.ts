// This replica's revision: the highest store seq it has applied with every lower seq applied too.
// Changes arrive out of order (its own commits, other replicas' notifications, resyncs), so a
// seq above a gap waits until the gap fills (SeqSet). X-Switchyard-Revision reports it and
// X-Switchyard-Min-Revision waits for it.
import { SeqSet } from '@switchyard/core/replica/seq-set'

/** Requests waiting for a revision at once, past which one more is refused at once (503). */
export const MAX_WAITERS = 10_000

interface Waiter {
  min: number
  wake: () => void
}

export class AppliedRevision {
  private readonly seqs = new SeqSet()
  // A Set: a waiter that times out leaves in constant time however many wait (an array filter
  // per timeout made 40,000 waiters cost 19 s of event loop).
  private readonly waiters = new Set<Waiter>()

  /** X-Switchyard-Revision: every seq up to it is applied here. */
  get value(): number {
    return this.seqs.contiguous
  }

  /** The highest seq applied here; a write's own seq is at most this once it is applied. */
  get newest(): number {
    return this.seqs.newest
  }

  applied(seq: number): void {
    if (this.seqs.add(seq)) this.wake()
  }

  appliedThrough(seq: number): void {
    if (this.seqs.addThrough(seq)) this.wake()
  }

  /** After a new epoch: the store's sequence continues from `seq`, and nothing before it is owed. */
  restart(seq: number): void {
    this.seqs.restart(seq)
    this.wake()
  }

  /**
   * True once `min` is reached, or false after `timeoutMs`; undefined when MAX_WAITERS already
   * wait (the caller refuses at once rather than hold one more request).
   */
  reached(min: number, timeoutMs: number): Promise<boolean> | true | undefined {
    if (this.value >= min) return true
    if (this.waiters.size >= MAX_WAITERS) return undefined
    return new Promise<boolean>((resolve) => {
      const waiter: Waiter = {
        min,
        wake: () => {
          clearTimeout(timer)
          resolve(true)
        },
      }
      const timer = setTimeout(() => {
        this.waiters.delete(waiter)
        resolve(false)
      }, timeoutMs).unref()
      this.waiters.add(waiter)
    })
  }

  /** Wakes the waiters whose revision is reached. */
  private wake(): void {
    if (this.waiters.size === 0) return
    const now = this.value
    for (const waiter of this.waiters) {
      if (waiter.min > now) continue
      this.waiters.delete(waiter)
      waiter.wake()
    }
  }
}
