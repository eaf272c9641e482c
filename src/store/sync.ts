// Keeps the registries in step with the store: the initial load, changes committed by other
// replicas, and full resyncs after a gap in notifications.
import type { FastifyBaseLogger } from 'fastify'
import { StoreUnavailableError } from '../errors.js'
import type { FlagRegistry } from '../flags/registry.js'
import type { TokenRegistry } from '../auth/tokens.js'
import type { Change, Snapshot, Store } from './store.js'

export class StoreSync {
  ready = false
  private closed = false

  constructor(
    private readonly store: Store,
    private readonly flags: FlagRegistry,
    private readonly tokens: TokenRegistry,
    private readonly log: FastifyBaseLogger,
  ) {
    store.subscribe((event) => {
      if (event.type === 'change') this.applyChange(event.change)
      else this.applySnapshot(event.snapshot)
    })
  }

  /**
   * Loads the whole state. A store that is unreachable is retried until it answers (the
   * replica stays unready meanwhile); anything else, such as a corrupt data file, is fatal.
   */
  async start(retryMs = 1000): Promise<void> {
    for (;;) {
      try {
        this.applySnapshot(await this.store.load())
        this.ready = true
        this.log.info({ flags: this.flags.size, store: this.store.kind }, 'store loaded')
        return
      } catch (err) {
        if (!(err instanceof StoreUnavailableError) || this.closed) throw err
        this.log.warn({ err: err.message }, 'store unavailable at startup; retrying')
        await new Promise((resolve) => setTimeout(resolve, retryMs))
      }
    }
  }

  stop(): void {
    this.closed = true
  }

  applyChange(change: Change): boolean {
    return change.kind === 'flag' ? this.flags.apply(change.key, change.flag, change.seq) : this.tokens.apply(change.id, change.token, change.seq)
  }

  applySnapshot(snapshot: Snapshot): void {
    this.flags.reset(snapshot.flags, snapshot.seq)
    this.tokens.reset(snapshot.tokens, snapshot.seq)
  }
}
