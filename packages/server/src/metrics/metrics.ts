// Every metric GET /metrics exports: the service's own in one registry per app instance (so
// several apps in one process, as in tests, never share counters), the process's in one shared
// registry.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { FlagRegistry } from '../flags/registry.js'
import { isFoldingStore, type Change, type Store } from '../store/store.js'
import type { SyncObserver } from '../replica/sync.js'
import type { StoreClock } from '../replica/clock.js'
import { DurationHistogram } from './duration-histogram.js'
import { EvaluationCounter } from './evaluation-counter.js'
import { phaseInForce } from '../flags/schedule.js'
import { FLAG_STATES } from '@switchyard/core/flags/schema'
import type { GuardObserver, GuardStatus } from '../guards/runner.js'

// Switchyard answers in microseconds to milliseconds; the default buckets start at 5 ms.
const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

interface MetricsSources {
  store: Store
  flags: FlagRegistry
  /** This replica's revision, how far it is behind the store's counter, and whether it is stale (Heartbeat). */
  freshness: () => { revision: number; lag: number; stale: boolean }
  /** The store's clock as this replica reads it: schedules are read at it, and its measured offset shown. */
  clock: StoreClock
}

// Memory, CPU, event loop and GC describe the process, not an app: collected once per process
// however many apps it builds (their monitors could never be stopped), and added to each scrape.
let processRegistry: Registry | undefined
function processMetrics(): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry()
    collectDefaultMetrics({ register: processRegistry })
  }
  return processRegistry
}

export class Metrics {
  readonly registry = new Registry()
  readonly contentType = this.registry.contentType
  readonly httpDuration: DurationHistogram
  readonly evaluations: EvaluationCounter
  /** Passed to StoreSync: counts what the store's notifications did to this replica. */
  readonly sync: SyncObserver
  /** Passed to the GuardRunner: counts its samples and writes. */
  readonly guards: GuardObserver
  /** The guards' state (lease, sources), when guards run: read at scrape. */
  guardStatus?: () => GuardStatus

  constructor({ store, flags, freshness, clock }: MetricsSources) {
    const registers = [this.registry]
    processMetrics()

    this.httpDuration = new DurationHistogram(
      this.registry,
      'switchyard_http_request_duration_seconds',
      'Time from request received to response sent, by route template and status code (requests that match no route are not included)',
      DURATION_BUCKETS,
    )
    this.evaluations = new EvaluationCounter(this.registry, (key) => {
      const flag = flags.get(key)
      return flag === undefined ? undefined : (flag.variants?.keys ?? [])
    })

    new Gauge({
      name: 'switchyard_store_up',
      help: 'Whether the store (file or Redis) is reachable and its last write succeeded: 1 up (or degraded: writes succeed, upkeep fails), 0 down or diverged',
      labelNames: ['store'] as const,
      registers,
      collect() {
        const health = store.health()
        this.set({ store: health.kind }, health.status === 'down' || health.status === 'diverged' ? 0 : 1)
      },
    })
    new Gauge({
      name: 'switchyard_store_diverged',
      help: 'Whether the store lost or replaced its data under this replica (its epoch gone or another, its counter gone back): 1 while writes are refused',
      registers,
      collect() {
        this.set(store.health().status === 'diverged' ? 1 : 0)
      },
    })
    if (isFoldingStore(store)) {
      new Counter({
        name: 'switchyard_store_fold_failures_total',
        help: 'Times folding the embedded store journal into its data file failed (each is retried; the journal keeps every write meanwhile)',
        registers,
        collect() {
          this.reset()
          this.inc(store.foldStats().failures)
        },
      })
      new Gauge({
        name: 'switchyard_store_journal_bytes',
        help: 'Bytes in the embedded store journal, not yet folded into its data file',
        registers,
        collect() {
          this.set(store.foldStats().journalBytes)
        },
      })
    }
    new Gauge({
      name: 'switchyard_flags',
      help: 'Flags held by this replica',
      registers,
      collect() {
        this.set(flags.size)
      },
    })

    // Read at scrape from the flags and the clock: a schedule writes nothing when it moves.
    const scheduled = () => {
      const at = clock.now()
      const phases: { key: string; state: string; percentage: number }[] = []
      for (const { flag } of flags.all()) if (flag.schedule !== undefined) phases.push({ key: flag.key, ...phaseInForce(flag, at) })
      return phases
    }
    new Gauge({
      name: 'switchyard_flag_schedule_percentage',
      help: "Each scheduled flag's fall-through percentage in force now (a paused schedule's: the flag's own)",
      labelNames: ['flag'] as const,
      registers,
      collect() {
        this.reset()
        for (const phase of scheduled()) this.set({ flag: phase.key }, phase.percentage)
      },
    })
    new Gauge({
      name: 'switchyard_flag_schedule_state',
      help: "Each scheduled flag's state in force now: 1 for that state, 0 for the others",
      labelNames: ['flag', 'state'] as const,
      registers,
      collect() {
        this.reset()
        for (const phase of scheduled()) for (const state of FLAG_STATES) this.set({ flag: phase.key, state }, phase.state === state ? 1 : 0)
      },
    })

    const guardSamples = new Counter({
      name: 'switchyard_guard_samples_total',
      help: "Metric reads by guards on this replica, by source and outcome: healthy, breach (the guard's comparison held) or error (unreadable)",
      labelNames: ['source', 'outcome'] as const,
      registers,
    })
    const guardWrites = new Counter({
      name: 'switchyard_guard_actions_total',
      help: 'Writes by guards on this replica: hold (source unreadable), pause and rollback (tripped), resume (a hold ended)',
      labelNames: ['action'] as const,
      registers,
    })
    this.guards = {
      sampled: (source, outcome) => guardSamples.labels(source, outcome).inc(),
      acted: (action) => guardWrites.labels(action).inc(),
    }
    const guardStatus = () => this.guardStatus?.()
    new Gauge({
      name: 'switchyard_guard_source_up',
      help: 'Whether the last read of each metric source by a guard succeeded (1) or failed (0); absent until one is read',
      labelNames: ['source'] as const,
      registers,
      collect() {
        this.reset()
        for (const [source, status] of Object.entries(guardStatus()?.sources ?? {})) {
          if (status.status !== 'idle') this.set({ source }, status.status === 'ok' ? 1 : 0)
        }
      },
    })
    new Gauge({
      name: 'switchyard_guard_lease_held',
      help: 'Whether this replica holds the guard lease (1): only the holder reads metrics and acts',
      registers,
      collect() {
        const status = guardStatus()
        this.reset()
        if (status) this.set(status.lease.held ? 1 : 0)
      },
    })

    const changes = new Counter({
      name: 'switchyard_sync_changes_total',
      help: 'Change notifications received from the store (Redis pub/sub): applied, or skipped because this replica already held that change or a newer one',
      labelNames: ['kind', 'outcome'] as const,
      registers,
    })
    const resyncs = new Counter({
      name: 'switchyard_sync_resyncs_total',
      help: 'Full reloads of the state from the store after a gap in notifications (reconnect, missed message)',
      registers,
    })
    const rejected = new Counter({
      name: 'switchyard_sync_notifications_rejected_total',
      help: 'Change notifications that named a change the store does not hold (forged or replayed on the channel): ignored, and logged',
      registers,
    })
    const propagation = new Histogram({
      name: 'switchyard_sync_propagation_seconds',
      help:
        "From a change's commit in the store (Redis's clock, corrected by this replica's measured offset from it) to its application here, for " +
        'each change another replica made',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    })
    new Gauge({
      name: 'switchyard_revision',
      help: 'X-Switchyard-Revision: every store change up to this seq is applied on this replica',
      registers,
      collect() {
        this.set(freshness().revision)
      },
    })
    new Gauge({
      name: 'switchyard_revision_lag',
      help: "Store changes this replica has yet to apply: the store's change counter at the last heartbeat minus its revision",
      registers,
      collect() {
        this.set(freshness().lag)
      },
    })
    new Gauge({
      name: 'switchyard_store_clock_offset_seconds',
      help: "The store's clock minus this replica's, as last measured: schedules switch at the store's instant (0 for the embedded store)",
      registers,
      collect() {
        this.set(clock.offsetMs / 1000)
      },
    })
    new Gauge({
      name: 'switchyard_stale',
      help: 'Whether this replica has heard nothing from its store for longer than STALE_AFTER_MS (1: what it serves may be old)',
      registers,
      collect() {
        this.set(freshness().stale ? 1 : 0)
      },
    })
    const applied = { flag: changes.labels('flag', 'applied'), token: changes.labels('token', 'applied'), segment: changes.labels('segment', 'applied') }
    const skipped = { flag: changes.labels('flag', 'skipped'), token: changes.labels('token', 'skipped'), segment: changes.labels('segment', 'skipped') }
    this.sync = {
      changeReceived(change: Change, wasApplied: boolean, committedAtMs?: number) {
        ;(wasApplied ? applied : skipped)[change.kind].inc()
        if (wasApplied && committedAtMs !== undefined) propagation.observe(Math.max(0, Date.now() - committedAtMs) / 1000)
      },
      resynced() {
        resyncs.inc()
      },
      notificationRejected() {
        rejected.inc()
      },
    }
  }

  /** The exposition text: this app's metrics, then the process's. */
  async text(): Promise<string> {
    return `${await this.registry.metrics()}\n${await processMetrics().metrics()}`
  }
}
