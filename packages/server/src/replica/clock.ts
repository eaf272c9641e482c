// The store's clock, as this replica reads it: schedules switch at the store's instant on every
// replica (README, "Progressive rollout"). The replica's own clock plus the offset it measured.
export class StoreClock {
  /** The store's time minus this replica's, as last measured: 0 until then (and for the embedded store). */
  offsetMs = 0

  /** `local`: this process's clock; tests inject one. */
  constructor(private readonly local: () => number = Date.now) {}

  /** The store's time now, in ms since the epoch. */
  readonly now = (): number => this.local() + this.offsetMs
}
