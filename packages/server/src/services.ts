// The composition root: builds the services the routes share (store, registries, sync, stream,
// metrics) from the configuration. No Fastify here: app.ts registers what this builds.
import type { FastifyBaseLogger } from 'fastify'
import type { Config } from './config.js'
import { TokenRegistry } from './auth/tokens.js'
import { flagsBootstrap } from './flags/bootstrap.js'
import { FlagRegistry } from './flags/registry.js'
import { SegmentRegistry } from './segments/registry.js'
import { Metrics } from './metrics/metrics.js'
import { AppliedRevision } from './replica/revision.js'
import { Heartbeat } from './replica/heartbeat.js'
import { StoreClock } from './replica/clock.js'
import { StoreSync } from './replica/sync.js'
import { createStore } from './store/create.js'
import type { Store } from './store/store.js'
import { ChangeStream } from './stream/hub.js'
import { defaultStreamLimits } from './stream/limits.js'
import { GUARD_LEASE, GuardRunner } from './guards/runner.js'
import { metricSources } from './guards/sources.js'
import { LeaseKeeper } from './replica/lease.js'

export interface Switchyard {
  config: Config
  store: Store
  flags: FlagRegistry
  segments: SegmentRegistry
  tokens: TokenRegistry
  sync: StoreSync
  heartbeat: Heartbeat
  stream: ChangeStream
  metrics: Metrics
  /** The store's time, which schedules are read at. */
  clock: StoreClock
  /** Guarded schedules' watcher; only when a metric source is configured (GUARD_PROMETHEUS_URL, GUARD_HTTP_SOURCES). */
  guards?: GuardRunner
}

/**
 * Every service, wired; `store` defaults to the one the config selects (file, or Redis with
 * REDIS_URL), `clock` to this process's clock with the offset to the store's measured.
 */
export async function buildServices(config: Config, log: FastifyBaseLogger, store?: Store, clock = new StoreClock()): Promise<Switchyard> {
  store ??= await createStore(config, log)
  const revision = new AppliedRevision()
  const { writeDeadlineMs } = config
  const { registry: segments, replica: segmentReplica } = SegmentRegistry.create(store, { writeDeadlineMs, revision })
  const sources = metricSources(config.guardSources)
  const guardSources = new Set(sources.keys())
  const { registry: flags, replica: flagReplica } = FlagRegistry.create(store, { writeDeadlineMs, revision, segments, clock: clock.now, guardSources })
  segments.usedBy = (key) => flags.usingSegment(key)
  const { registry: tokens, replica: tokenReplica } = TokenRegistry.create(store, { max: config.tokensMax, writeDeadlineMs, revision })
  if (config.adminToken) tokens.setBootstrap(config.adminToken)
  const metrics = new Metrics({
    store,
    flags,
    clock,
    freshness: (): { revision: number; lag: number; stale: boolean } => ({ revision: revision.value, lag: heartbeat.lag, stale: heartbeat.stale }),
  })
  const sync = new StoreSync(store, flagReplica, tokenReplica, segmentReplica, log, revision, metrics.sync)
  const heartbeat = new Heartbeat(
    store,
    {
      id: store.instanceId,
      revision,
      epoch: (): string | undefined => sync.epoch,
      stateHash: () => (BigInt(`0x${flags.digest}`) ^ BigInt(`0x${tokens.digest}`) ^ BigInt(`0x${segments.digest}`)).toString(16).padStart(16, '0'),
    },
    config.staleAfterMs,
    log,
  )
  sync.heartbeat = heartbeat
  sync.clock = clock
  if (config.flagsBootstrapFile) sync.beforeReady = flagsBootstrap(config.flagsBootstrapFile, flags, segments, log)
  const limits = defaultStreamLimits()
  const stream = new ChangeStream(
    flags,
    {
      heartbeatMs: config.streamHeartbeatMs,
      maxBufferBytes: config.streamMaxBuffer,
      maxStreams: config.streamMaxTotal ?? limits.total,
      maxStreamsPerToken: config.streamMaxPerToken ?? Math.min(limits.perToken, config.streamMaxTotal ?? Infinity),
      maxStreamsPerAddress: config.streamMaxPerAddress ?? Math.min(limits.perAddress, config.streamMaxTotal ?? Infinity),
      epoch: () => sync.epoch,
      segmentInlineMax: config.segmentInlineMax,
      clock,
    },
    log,
    (id) => {
      const token = tokens.find(id)
      return !token ? 'revoked' : tokens.isExpired(token, Date.now()) ? 'expired' : 'ok'
    },
    segments,
  )
  let guards: GuardRunner | undefined
  if (sources.size > 0) {
    guards = new GuardRunner(flags, sources, new LeaseKeeper(store, GUARD_LEASE, log), log, metrics.guards)
    metrics.guardStatus = () => guards!.status()
    sync.afterReady = () => guards!.start()
  }
  return { config, store, flags, segments, tokens, sync, heartbeat, stream, metrics, clock, ...(guards ? { guards } : {}) }
}
