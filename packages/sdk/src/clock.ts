// The replica's clock, as this SDK reads it: schedules switch at the store's instant, which the
// replica's heartbeats carry (`: heartbeat <ms>`); the offset to it is measured from them.

/** Heartbeats an offset is taken from: about a minute at the default STREAM_HEARTBEAT_MS. */
const WINDOW = 4
/** How long evaluations reuse one reading of the clock, by default (`clockResolutionMs`). */
export const CLOCK_RESOLUTION_MS = 10

export class ReplicaClock {
  /** The replica's time minus this process's, as last measured: 0 until a heartbeat says otherwise. */
  offsetMs = 0
  private samples: number[] = []
  private halfTrip = 0
  private cached = NaN
  private timer: ReturnType<typeof setInterval> | undefined
  // Each tick lets the next read take the clock again; a tick that finds nothing read since stops
  // the timer, so a client without scheduled flags (or left idle) has none.
  private readonly expire = (): void => {
    if (this.cached !== this.cached) this.stop()
    this.cached = NaN
  }

  /**
   * `local`: this process's clock. `resolutionMs`: how long evaluations reuse one reading (a clock
   * read costs as much as an evaluation on some machines); 0 reads it at every evaluation.
   */
  constructor(
    readonly local: () => number = Date.now,
    private readonly resolutionMs = CLOCK_RESOLUTION_MS,
  ) {}

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
    this.cached = NaN
  }

  /**
   * The replica's time, coarse: read at most once per `resolutionMs` (a field read otherwise), so a
   * scheduled flag costs about what an unscheduled one does. Every evaluation of one synchronous run
   * reads the same instant, since the timer cannot tick in between.
   */
  now(): number {
    if (this.resolutionMs === 0) return this.local() + this.offsetMs
    if (this.cached !== this.cached) {
      this.cached = this.local() + this.offsetMs
      if (this.timer === undefined) {
        this.timer = setInterval(this.expire, this.resolutionMs)
        this.timer.unref?.()
      }
    }
    return this.cached
  }

  /** Stops the timer (the client closed); a later read starts it again. */
  stop(): void {
    clearInterval(this.timer)
    this.timer = undefined
  }
}
