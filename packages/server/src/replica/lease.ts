// A lease one replica of the fleet holds at a time (the guards'), kept in the store with a
// fencing token: renewed every `renewMs`, taken by another replica once it expires unrenewed.
import type { FastifyBaseLogger } from 'fastify'
import type { Fence, Store } from '../store/store.js'

export interface LeaseTiming {
  /** How long the store keeps the lease unrenewed: a dead holder's lease is free after it. */
  ttlMs: number
  /** How often the holder renews it, and every other replica tries to take it. */
  renewMs: number
}

/** A holder that died is replaced within ttl + renew: 8 s, inside the 10 s the guards promise. */
export const LEASE_TIMING: LeaseTiming = { ttlMs: 6000, renewMs: 2000 }

export class LeaseKeeper {
  private token: number | null = null
  /** Until when this replica may act on the lease: its last renewal's send time plus the TTL, less a margin for clocks. */
  private validUntil = 0
  private timer: NodeJS.Timeout | undefined
  private busy = false
  private stopped = false

  constructor(
    private readonly store: Store,
    readonly name: string,
    private readonly log: FastifyBaseLogger,
    private readonly timing: LeaseTiming = LEASE_TIMING,
  ) {}

  /** The fence for a write while this replica holds the lease; undefined otherwise. */
  fence(): Fence | undefined {
    return this.token !== null && Date.now() < this.validUntil ? { lease: this.name, token: this.token } : undefined
  }

  start(): void {
    void this.renew()
    this.timer = setInterval(() => void this.renew(), this.timing.renewMs)
    this.timer.unref()
  }

  private async renew(): Promise<void> {
    if (this.busy || this.stopped) return
    this.busy = true
    const sent = Date.now()
    try {
      const token = await this.store.holdLease(this.name, this.timing.ttlMs)
      // Stopped while the renewal was on its way: give back what it took.
      if (this.stopped) {
        if (token !== null) await this.store.releaseLease(this.name, token).catch(() => undefined)
        return
      }
      if (token !== this.token) {
        if (token === null) this.log.warn({ lease: this.name, token: this.token }, 'another replica holds the lease now')
        else this.log.info({ lease: this.name, token }, 'this replica holds the lease')
      }
      this.token = token
      this.validUntil = sent + this.timing.ttlMs - Math.min(1000, this.timing.ttlMs / 4)
    } catch (err) {
      // The store is unreachable: the lease may still be ours until it would have expired.
      this.log.debug({ lease: this.name, err: (err as Error).message }, 'could not renew the lease')
    } finally {
      this.busy = false
    }
  }

  /** The notes holders of this lease left (Store.leaseNotes). */
  notes(): Promise<Record<string, string>> {
    return this.store.leaseNotes(this.name)
  }

  /** Leaves a note for the next holder (null removes it); a failure is only logged: a note is a help, not a promise. */
  note(field: string, value: string | null): void {
    this.store
      .noteLease(this.name, field, value)
      .catch((err: unknown) => this.log.debug({ lease: this.name, err: (err as Error).message }, 'could not write a lease note'))
  }

  /** Gives the lease up, so another replica takes it at once rather than after it expires. */
  async stop(): Promise<void> {
    this.stopped = true
    clearInterval(this.timer)
    const fence = this.fence()
    this.token = null
    if (fence) await this.store.releaseLease(fence.lease, fence.token).catch(() => undefined)
  }
}
