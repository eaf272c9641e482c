// Every second this replica tells the store what it holds (its revision, a hash of its state, its
// epoch and health) with a TTL, so GET /admin/fleet can show every live replica and a replica
// starting on a store that lost data can see the others synced from another. The beats are also
// how a replica knows it still hears from the store: silent for longer than STALE_AFTER_MS, it
// marks itself stale.
import type { FastifyBaseLogger } from 'fastify'
import { VERSION } from '@switchyard/core/version'
import type { ReplicaBeat, Store } from '../store/store.js'
import type { AppliedRevision } from './revision.js'

export interface HeartbeatSource {
  id: string
  revision: AppliedRevision
  /** The epoch this replica's state comes from (StoreSync.epoch). */
  epoch(): string | undefined
  /** The hash of the state held (the registries' digests). */
  stateHash(): string
}

export class Heartbeat {
  private readonly startedAt = new Date().toISOString()
  private timer?: NodeJS.Timeout
  private lastHeardMs = Date.now()
  private sending = false
  private failing = false
  /** The store's change counter as the last heartbeat found it. */
  storeCounter = 0

  constructor(
    private readonly store: Store,
    private readonly source: HeartbeatSource,
    private readonly staleAfterMs: number,
    private readonly log: FastifyBaseLogger,
    private readonly intervalMs = 1000,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => void this.send(), this.intervalMs).unref()
    void this.send()
  }

  stop(): void {
    clearInterval(this.timer)
  }

  /** Beats now rather than at the next tick: what others read of this replica has just changed (loaded, diverged, new epoch). */
  beatNow(): void {
    if (this.timer !== undefined) void this.send()
  }

  /** Heard nothing from the store for longer than STALE_AFTER_MS: what this replica serves may be old. */
  get stale(): boolean {
    return Date.now() - this.lastHeardMs > this.staleAfterMs
  }

  /** How far this replica's revision is behind the store's counter, as of the last heartbeat. */
  get lag(): number {
    return Math.max(0, this.storeCounter - this.source.revision.value)
  }

  beat(): ReplicaBeat {
    const { id, revision } = this.source
    return {
      id,
      epoch: this.source.epoch() ?? null,
      revision: revision.value,
      newest: revision.newest,
      stateHash: this.source.stateHash(),
      status: this.store.health().status,
      stale: this.stale,
      version: VERSION,
      startedAt: this.startedAt,
    }
  }

  private async send(): Promise<void> {
    if (this.sending) return
    this.sending = true
    try {
      this.storeCounter = await this.store.beat(this.beat())
      this.lastHeardMs = Date.now()
      if (this.failing) this.log.info('heartbeat.resumed')
      this.failing = false
    } catch (err) {
      if (!this.failing) this.log.warn({ err: (err as Error).message }, 'heartbeat.failed')
      this.failing = true
    } finally {
      this.sending = false
    }
  }
}
