// Keeps the registries in step with the store: the initial load, changes committed by other
// replicas, and full resyncs after a gap in notifications.
import type { FastifyBaseLogger } from 'fastify'
import { StoreDivergedError, StoreUnavailableError } from '../store/errors.js'
import { MODEL_VERSION, type Flag } from '@switchyard/core/flags/schema'
import type { TokenRecord } from '@switchyard/core/auth/schema'
import { isClockedStore, type Change, type Snapshot, type Store } from '../store/store.js'
import type { AppliedRevision } from './revision.js'
import type { MembersChange, SegmentHead } from '../store/store.js'
import type { Segment } from '@switchyard/core/segments/schema'
import type { Heartbeat } from './heartbeat.js'
import type { StoreClock } from './clock.js'

/**
 * What changes a registry's contents: applying a committed change, or replacing everything with a
 * snapshot. A registry hands it out once, at construction, to the composition root, which gives it
 * to the sync; nothing else can put state into this replica's memory.
 */
export interface Replicated<R> {
  /** Applies a committed record (null: deleted) if `seq` is newer than what is held; true if it was. */
  apply(id: string, record: R | null, seq: number): boolean
  /** `exact`: keep nothing held, not even changes newer than `seq` (the snapshot is of another epoch). */
  reset(records: readonly R[], seq: number, exact?: boolean): void
}

/** A segment change as the segment registry applies it: its head (null: deleted) and how its members changed. */
export interface SegmentRecordChange {
  head: SegmentHead | null
  members: MembersChange
}

/** Replicated, for segments: members arrive as a delta, so a change is not a whole record. */
export interface ReplicatedSegments {
  apply(key: string, change: SegmentRecordChange, seq: number): boolean
  reset(segments: readonly Segment[], seq: number, exact?: boolean): void
}

/** Told what each store notification did; metrics implement it. */
export interface SyncObserver {
  /** A change from the store: applied, or skipped as one this replica already held or outran; `committedAtMs` on this replica's clock. */
  changeReceived(change: Change, applied: boolean, committedAtMs?: number): void
  /** A full snapshot replaced the registries after a gap in notifications. */
  resynced(snapshot: Snapshot): void
  /** A notification the store did not back (forged or replayed) changed nothing. */
  notificationRejected(): void
}

export class StoreSync {
  ready = false
  /** Runs after the first load and before the replica reports ready; FLAGS_BOOTSTRAP_FILE seeds an empty store here. */
  beforeReady?: (snapshot: Snapshot) => Promise<void>
  /** Beats from the start, so a replica that cannot load yet is in the fleet view too. */
  heartbeat?: Heartbeat
  /** Set to the store's clock, once measured after the first load, so schedules read the store's instant from the start. */
  clock?: StoreClock
  /** The epoch of the store this replica's state comes from; undefined until the first load. */
  epoch?: string
  private closed = false

  constructor(
    private readonly store: Store,
    private readonly flags: Replicated<Flag>,
    private readonly tokens: Replicated<TokenRecord>,
    private readonly segments: ReplicatedSegments,
    private readonly log: FastifyBaseLogger,
    readonly revision: AppliedRevision,
    observer?: SyncObserver,
  ) {
    store.subscribe((event) => {
      if (event.type === 'change') {
        const applied = this.applyChange(event.change)
        if (event.confirms !== undefined) revision.applied(event.confirms)
        observer?.changeReceived(event.change, applied, event.committedAtMs)
      } else if (event.type === 'resync') {
        const epoch = this.epoch
        this.applySnapshot(event.snapshot)
        if (epoch !== event.snapshot.epoch) this.heartbeat?.beatNow()
        observer?.resynced(event.snapshot)
      } else if (event.type === 'rejected') {
        this.log.warn({ detail: event.detail }, 'store.notification_rejected')
        observer?.notificationRejected()
      } else {
        this.log.error({ detail: event.detail }, 'store.diverged')
        this.heartbeat?.beatNow()
      }
    })
  }

  /**
   * Loads the whole state. A store that is unreachable, or that lost the data the running replicas
   * hold (until an operator recovers it), is retried (the replica stays unready meanwhile);
   * anything else, such as a corrupt data file, is fatal.
   */
  /** Run once the state is loaded and the replica ready (the guards start then). */
  afterReady?: () => void

  async start(retryMs = 1000): Promise<void> {
    this.heartbeat?.start()
    for (;;) {
      try {
        const snapshot = await this.store.load()
        refuseNewerModels(snapshot)
        // A failed measurement keeps the offset it had (0 at first) until the next one (StoreClock.follow retries).
        const store = this.store
        if (this.clock && isClockedStore(store)) await this.clock.follow(() => store.time())
        this.applySnapshot(snapshot)
        await this.beforeReady?.(snapshot)
        this.ready = true
        this.heartbeat?.beatNow()
        this.afterReady?.()
        this.log.info({ flags: snapshot.flags.length, store: this.store.kind }, 'store loaded')
        return
      } catch (err) {
        // The store reported it (a `diverged` event, logged once); keep looking for the recovery.
        if (err instanceof StoreDivergedError && !this.closed) {
          await new Promise((resolve) => setTimeout(resolve, retryMs))
          continue
        }
        if (!(err instanceof StoreUnavailableError) || this.closed) throw err
        this.log.warn({ err: err.message }, 'store unavailable at startup; retrying')
        await new Promise((resolve) => setTimeout(resolve, retryMs))
      }
    }
  }

  stop(): void {
    this.closed = true
    this.heartbeat?.stop()
    this.clock?.stop()
  }

  private applyChange(change: Change): boolean {
    if (change.kind === 'segment') return this.segments.apply(change.key, change, change.seq)
    return change.kind === 'flag' ? this.flags.apply(change.key, change.flag, change.seq) : this.tokens.apply(change.id, change.token, change.seq)
  }

  /** A snapshot of another epoch replaces everything: its seqs say nothing about the ones held. */
  private applySnapshot(snapshot: Snapshot): void {
    const exact = this.epoch !== undefined && snapshot.epoch !== this.epoch
    if (exact) this.log.warn({ from: this.epoch, to: snapshot.epoch }, 'store.epoch_changed')
    this.epoch = snapshot.epoch
    // Segments first: the flags' rules find them by key as soon as they are applied.
    this.segments.reset(snapshot.segments ?? [], snapshot.seq, exact)
    this.flags.reset(snapshot.flags, snapshot.seq, exact)
    this.tokens.reset(snapshot.tokens, snapshot.seq, exact)
    if (exact) this.revision.restart(snapshot.seq)
    else this.revision.appliedThrough(snapshot.seq)
  }
}

/**
 * A store holding flags of a newer model than this build speaks was written by a newer build: this
 * one is a downgrade, and starting would answer those flags with the fallback everywhere. Refuse.
 */
function refuseNewerModels(snapshot: Snapshot): void {
  const newer = snapshot.flags.filter((f) => (f.model ?? 1) > MODEL_VERSION)
  if (newer.length === 0) return
  const named = newer
    .slice(0, 5)
    .map((f) => `'${f.key}' (model ${f.model})`)
    .join(', ')
  throw new Error(
    `the store holds ${newer.length} flag(s) of a newer flag model than this build speaks (up to ${MODEL_VERSION}): ${named}. ` +
      'Run the version that wrote them, or newer (README: "Upgrading")',
  )
}
