// This replica's revision: the highest store seq it has applied with every lower seq applied too.
// Changes arrive out of order (its own commits, other replicas' notifications, resyncs), so a
// seq above a gap waits until the gap fills (SeqSet). X-Switchyard-Revision reports it and
// X-Switchyard-Min-Revision waits for it.
import { SeqSet } from '@switchyard/core/replica/seq-set'

export class AppliedRevision {
  private readonly seqs = new SeqSet()
  private waiters: { min: number; wake: () => void }[] = []

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

  /** Resolves true once `min` is reached, or false after `timeoutMs`. */
  reached(min: number, timeoutMs: number): Promise<boolean> | boolean {
    if (this.value >= min) return true
    return new Promise<boolean>((resolve) => {
      const waiter = {
        min,
        wake: () => {
          clearTimeout(timer)
          resolve(true)
        },
      }
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter)
        resolve(false)
      }, timeoutMs)
      this.waiters.push(waiter)
    })
  }

  /** Wakes the waiters whose revision is reached. */
  private wake(): void {
    if (this.waiters.length === 0) return
    const now = this.value
    const due = this.waiters.filter((w) => w.min <= now)
    if (due.length === 0) return
    this.waiters = this.waiters.filter((w) => w.min > now)
    for (const w of due) w.wake()
  }
}
