// The store's clock, as this replica reads it: schedules switch at the store's instant on every
// replica (README, "Whose clock"). The replica's own clock plus the offset it measured.

/** Reads of the store's clock a measurement takes; the one with the shortest round trip counts. */
const SAMPLES = 3
/** setTimeout's longest wait (about 24.8 days): a later instant is waited for in turns. */
const MAX_TIMER_MS = 2 ** 31 - 1

export class StoreClock {
  /** The store's time minus this replica's, as last measured: 0 until then (and for the embedded store). */
  offsetMs = 0
  /** The round trip of the read the offset came from: the offset is within half of it. Undefined until measured. */
  roundTripMs: number | undefined
  private timer: NodeJS.Timeout | undefined

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

  /**
   * Measures the offset to the store's clock (`read`: its time in ms) as NTP does: the store read
   * its clock about half a round trip after the read was sent. Of a few reads the one with the
   * shortest round trip wins, the others having waited in a queue on one leg or the other. A read
   * that fails ends the measurement: with none, the offset stays as it was. Resolves with whether one counted.
   */
  async measure(read: () => Promise<number>): Promise<boolean> {
    let best: { roundTrip: number; offset: number } | undefined
    for (let i = 0; i < SAMPLES; i++) {
      const sent = this.local()
      let storeTime: number
      try {
        storeTime = await read()
      } catch {
        break
      }
      const roundTrip = this.local() - sent
      if (best === undefined || roundTrip < best.roundTrip) best = { roundTrip, offset: storeTime - (sent + roundTrip / 2) }
    }
    if (best === undefined) return false
    this.offsetMs = Math.round(best.offset)
    this.roundTripMs = best.roundTrip
    return true
  }

  /** Measures now and then every `everyMs` (clocks drift, and a failover may bring another server's), until stop(). */
  follow(read: () => Promise<number>, everyMs = 10_000): Promise<boolean> {
    this.stop()
    this.timer = setInterval(() => void this.measure(read), everyMs)
    this.timer.unref()
    return this.measure(read)
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
  }
}
