// The replica's clock, as this SDK reads it: schedules switch at the store's instant, which the
// replica's heartbeats carry (`: heartbeat <ms>`); the offset to it is measured from them.

/** Heartbeats an offset is taken from: about a minute at the default STREAM_HEARTBEAT_MS. */
const WINDOW = 4

export class ReplicaClock {
  /** The replica's time minus this process's, as last measured: 0 until a heartbeat says otherwise. */
  offsetMs = 0
  private samples: number[] = []
  private halfTrip = 0
  private cached = NaN
  private readonly expire = (): void => {
    this.cached = NaN
  }

  /** `local`: this process's clock. */
  constructor(readonly local: () => number = Date.now) {}

  /** A new connection, whose round trip (request sent to response headers) was `roundTripMs`: the last one's samples are dropped. */
  connected(roundTripMs: number): void {
    this.halfTrip = Math.max(0, roundTripMs) / 2
    this.samples = []
  }

  /**
   * A comment line just read. A heartbeat's time was taken half a round trip ago, if both legs
   * take as long; one read late (a busy event loop, a queue) makes the offset look smaller, never
   * larger, so the largest of the last few counts.
   */
  comment(text: string): void {
    const match = /^ ?heartbeat (\d{1,16})$/.exec(text)
    if (match === null) return
    this.samples.push(Number(match[1]) + this.halfTrip - this.local())
    if (this.samples.length > WINDOW) this.samples.shift()
    this.offsetMs = Math.round(Math.max(...this.samples))
  }

  /**
   * The replica's time, read once per synchronous run of the app's code: the evaluations of one
   * request or batch read the same instant, and only the first pays for reading the clock.
   */
  now(): number {
    if (this.cached !== this.cached) {
      this.cached = this.local() + this.offsetMs
      queueMicrotask(this.expire)
    }
    return this.cached
  }
}
