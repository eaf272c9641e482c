// Keeps the registries in step with the store: the initial load, changes committed by other
// replicas, and full resyncs after a gap in notifications.
import type { FastifyBaseLogger } from 'fastify'
import { StoreUnavailableError } from '../store/errors.js'
import type { FlagRegistry } from '../flags/registry.js'
import type { TokenRegistry } from '../auth/tokens.js'
import type { Change, Snapshot, Store } from '../store/store.js'

/** Told what each store notification did; metrics implement it. */
export interface SyncObserver {
  /** A change from the store: applied, or skipped as one this replica already held or outran. */
  changeReceived(change: Change, applied: boolean): void
  /** A full snapshot replaced the registries after a gap in notifications. */
  resynced(snapshot: Snapshot): void
}

export class StoreSync {
  ready = false
  /** Runs after the first load and before the replica reports ready; FLAGS_BOOTSTRAP_FILE seeds an empty store here. */
  beforeReady?: (snapshot: Snapshot) => Promise<void>
  private closed = false

  constructor(
    private readonly store: Store,
    private readonly flags: FlagRegistry,
    private readonly tokens: TokenRegistry,
    private readonly log: FastifyBaseLogger,
    observer?: SyncObserver,
  ) {
    store.subscribe((event) => {
      if (event.type === 'change') {
        const applied = this.applyChange(event.change)
        observer?.changeReceived(event.change, applied)
      } else {
        this.applySnapshot(event.snapshot)
        observer?.resynced(event.snapshot)
      }
    })
  }

  /**
   * Loads the whole state. A store that is unreachable is retried until it answers (the
   * replica stays unready meanwhile); anything else, such as a corrupt data file, is fatal.
   */
  async start(retryMs = 1000): Promise<void> {
    for (;;) {
      try {
        const snapshot = await this.store.load()
        this.applySnapshot(snapshot)
        await this.beforeReady?.(snapshot)
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
