// The store's clock, as this replica reads it: schedules switch at the store's instant on every
// replica (README, "Progressive rollout"). The replica's own clock plus the offset it measured.
/** setTimeout's longest wait (about 24.8 days): a later instant is waited for in turns. */
const MAX_TIMER_MS = 2 ** 31 - 1

export class StoreClock {
  /** The store's time minus this replica's, as last measured: 0 until then (and for the embedded store). */
  offsetMs = 0

  /** `local`: this process's clock; tests inject one. */
  constructor(private readonly local: () => number = Date.now) {}

  /** The store's time now, in ms since the epoch. */
  readonly now = (): number => this.local() + this.offsetMs

  /**
   * Calls `fn` when the store's clock reaches `instant`, or sooner (a wait past setTimeout's limit;
   * an offset measured meanwhile): `fn` reads the clock and asks again. Returns the cancel. Tests
   * override it to fire timers when they move their clock.
   */
  at(instant: number, fn: () => void): () => void {
    const timer = setTimeout(fn, Math.min(Math.max(0, instant - this.now()), MAX_TIMER_MS)).unref()
    return () => clearTimeout(timer)
  }
}
