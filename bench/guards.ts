// Guards case (issue 21): from the first bad sample to the rollback in force on every replica.
// A private redis-server, a real Prometheus scraping an exporter this script sets every second, and
// three replicas of one store, in this process (app + RedisStore each, as test/support's
// startReplica builds them), each configured with that Prometheus as its source. Each round creates
// a flag with a running ramp and a guard (5 s, BENCH_GUARD_BREACHES bad samples in a row, rollback),
// waits for the lease holder to sample it healthy, then sets the metric bad and polls every
// replica's registry (what its evaluations answer from) until all three hold the rollback.
//
// The first bad sample is the moment the holder's GuardRunner judged its first breaching reading:
// each replica's guard observer (app.switchyard.metrics.guards, which the runner calls right after
// the Prometheus answer is in) is wrapped to stamp every sample with performance.now(). Each
// replica's registry is also listened to (flags.onChange), which stamps the moment it applied the
// rollback; the poll every POLL_MS is the outside check that the rollback is what it answers from.
import { randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { RedisStore } from '../packages/server/src/store/redis.js'
import { call, startApp } from '../test/support/helpers.js'
import { startMetricExporter, startPrometheus, type MetricExporter, type Prometheus } from '../test/support/prometheus.js'
import { startRedisServer, type RedisServer } from '../test/support/redis-helpers.js'

type Row = { case: string; figure: string; ratio?: string; target?: string }

const REPLICAS = 3
const ROUNDS = Number(process.env.BENCH_GUARD_ROUNDS ?? 5)
const BREACHES = Number(process.env.BENCH_GUARD_BREACHES ?? 2)
/** The shortest interval a guard may have. */
const INTERVAL_MS = 5000
const SCRAPE_MS = 1000
/** How often every replica's registry is checked for the rollback, and Prometheus for the bad value. */
const POLL_MS = 5
const PROMETHEUS_POLL_MS = 25
const METRIC = 'bench_guard_errors_ratio'
const BAD = 0.2

const round1 = (x: number) => Math.round(x * 10) / 10
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

interface Stamp {
  replica: number
  kind: 'healthy' | 'breach' | 'error' | 'acted'
  action?: string
  at: number
}

interface Round {
  key: string
  holder: number
  /** How long after the healthy sample the metric was set bad: spread over one interval across the rounds. */
  exposedAfterHealthyMs: number
  /** performance.now() origin: the metric set bad on the exporter. */
  visibleInPrometheusMs: number
  firstBadSampleMs: number
  /** The sample that tripped the guard (the BREACHES-th bad one in a row). */
  trippingSampleMs: number
  /** The holder's write answered (the observer's `acted('rollback')`). */
  writtenMs: number
  /** When each replica's registry applied the rollback (its change event; NaN if it came in a resync). */
  appliedMs: number[]
  /** When each replica's registry first showed the rollback (the first check that saw it). */
  inForceMs: number[]
  /** Gaps between the holder's consecutive samples of this flag, the healthy one first. */
  sampleGapsMs: number[]
  firstBadToAllMs: number
  exposedToAllMs: number
  /** The percentage each replica answers from once rolled back (the last healthy phase). */
  rolledBackTo: (number | undefined)[]
}

function summary(xs: number[]): { min: number; median: number; max: number } {
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
  return { min: round1(sorted[0]!), median: round1(median), max: round1(sorted[sorted.length - 1]!) }
}
const text = (s: { min: number; median: number; max: number }) => `min ${s.min} / median ${s.median} / max ${s.max} ms`

async function startReplicaApp(url: string, prefix: string, prometheusUrl: string): Promise<FastifyInstance> {
  const target = { kind: 'single' as const, url }
  const store = new RedisStore({ target, prefix, auditMaxEvents: 10_000, firstEpochWaitMs: 0 })
  const app = await startApp(
    { redis: target, redisPrefix: prefix, guardSources: [{ name: 'prometheus', kind: 'prometheus', url: prometheusUrl }] },
    { store, load: false },
  )
  try {
    await app.switchyard.sync.start(50)
  } catch (err) {
    await app.close()
    throw err
  }
  return app
}

async function until(check: () => boolean, timeoutMs: number, what: string, everyMs = POLL_MS): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`guards bench: timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(everyMs)
  }
}

export async function guardsBench(): Promise<{ rows: Row[]; results: Record<string, unknown> }> {
  let redis: RedisServer | undefined
  let exporter: MetricExporter | undefined
  let prometheus: Prometheus | undefined
  const apps: FastifyInstance[] = []
  try {
    redis = await startRedisServer()
    exporter = await startMetricExporter()
    exporter.set(METRIC, 0)
    prometheus = await startPrometheus({ targets: [exporter.target], scrapeIntervalMs: SCRAPE_MS })
    const prefix = `switchyard-bench-guards:${randomBytes(4).toString('hex')}:`
    for (let i = 0; i < REPLICAS; i++) apps.push(await startReplicaApp(redis.url, prefix, prometheus.url))

    const stamps: Stamp[] = []
    apps.forEach((app, replica) => {
      const observer = app.switchyard.metrics.guards
      const { sampled, acted } = observer
      observer.sampled = (source, outcome) => {
        stamps.push({ replica, kind: outcome, at: performance.now() })
        sampled(source, outcome)
      }
      observer.acted = (action) => {
        stamps.push({ replica, kind: 'acted', action, at: performance.now() })
        acted(action)
      }
    })
    const applied: { replica: number; key: string; at: number }[] = []
    apps.forEach((app, replica) =>
      app.switchyard.flags.onChange((event) => {
        if (event.type === 'change' && event.flag?.schedule?.guardPause?.action === 'rollback') applied.push({ replica, key: event.key, at: performance.now() })
      }),
    )
    const holders = () => apps.flatMap((app, i) => (app.switchyard.guards!.status().lease.held ? [i] : []))
    await until(() => holders().length === 1, 15_000, 'exactly one replica to hold the guard lease', 50)

    const rounds: Round[] = []
    for (let r = 0; r < ROUNDS; r++) {
      const key = `guarded_${r}`
      exporter.set(METRIC, 0)
      await prometheus.waitForValue(METRIC, (v) => v === 0, 5000)
      const holder = holders()[0]!
      const writer = (holder + 1) % REPLICAS
      const now = Date.now()
      const schedule = {
        ramp: { from: 10, to: 100, start: new Date(now - 60_000).toISOString(), end: new Date(now + 3_600_000).toISOString() },
        guard: { source: 'prometheus', query: METRIC, comparator: '>', threshold: 0.05, interval: '5s', breaches: BREACHES, action: 'rollback' },
      }
      const seen = stamps.length
      await call(apps[writer]!, 'POST', '/flags', { body: { key, schedule }, expected: 201 })
      await until(() => apps.every((app) => app.switchyard.flags.get(key) !== undefined), 5000, `${key} on every replica`)
      await until(() => stamps.slice(seen).some((s) => s.replica === holder && s.kind === 'healthy'), 2 * INTERVAL_MS, `a healthy sample of ${key}`)
      const healthyAt = stamps.slice(seen).find((s) => s.replica === holder && s.kind === 'healthy')!.at

      // Bad from a moment spread over one interval across the rounds, so the sample's phase varies.
      const exposedAfterHealthyMs = (r * INTERVAL_MS) / ROUNDS
      await sleep(Math.max(0, healthyAt + exposedAfterHealthyMs - performance.now()))
      exporter.set(METRIC, BAD)
      const exposed = performance.now()

      let visible = NaN
      const watchingPrometheus = (async () => {
        while (performance.now() - exposed < 5 * SCRAPE_MS) {
          if ((await prometheus!.query(METRIC)) === BAD) return (visible = performance.now())
          await sleep(PROMETHEUS_POLL_MS)
        }
      })()
      const inForce: number[] = apps.map(() => NaN)
      await until(
        () => {
          const t = performance.now()
          apps.forEach((app, i) => {
            if (Number.isNaN(inForce[i]!) && app.switchyard.flags.get(key)?.flag.schedule?.guardPause?.action === 'rollback') inForce[i] = t
          })
          return inForce.every((x) => !Number.isNaN(x))
        },
        (BREACHES + 1) * INTERVAL_MS + 10_000,
        `the rollback of ${key} on every replica`,
      )
      await watchingPrometheus

      const mine = stamps.slice(seen).filter((s) => s.replica === holder && s.at >= healthyAt)
      const others = stamps.slice(seen).filter((s) => s.replica !== holder)
      if (others.length > 0) throw new Error(`guards bench: replicas other than the lease holder ${holder} sampled or acted: ${JSON.stringify(others)}`)
      const samples = mine.filter((s) => s.kind !== 'acted')
      const breaches = samples.filter((s) => s.kind === 'breach')
      const written = mine.find((s) => s.kind === 'acted' && s.action === 'rollback')
      if (breaches.length !== BREACHES || !written) {
        throw new Error(`guards bench: expected ${BREACHES} breaches and a rollback, stamped ${JSON.stringify(mine)}`)
      }
      const all = Math.max(...inForce)
      const rel = (t: number) => round1(t - exposed)
      rounds.push({
        key,
        holder,
        exposedAfterHealthyMs,
        visibleInPrometheusMs: rel(visible),
        firstBadSampleMs: rel(breaches[0]!.at),
        trippingSampleMs: rel(breaches[BREACHES - 1]!.at),
        writtenMs: rel(written.at),
        appliedMs: apps.map((_, i) => rel(applied.find((a) => a.key === key && a.replica === i)?.at ?? NaN)),
        inForceMs: inForce.map(rel),
        sampleGapsMs: samples.slice(1).map((s, i) => round1(s.at - samples[i]!.at)),
        firstBadToAllMs: round1(all - breaches[0]!.at),
        exposedToAllMs: round1(all - exposed),
        rolledBackTo: apps.map((app) => app.switchyard.flags.get(key)?.flag.percentage),
      })
      console.log(`guards round ${r}: ${JSON.stringify(rounds[r])}`)
    }

    const firstBad = summary(rounds.map((x) => x.firstBadToAllMs))
    const exposedAll = summary(rounds.map((x) => x.exposedToAllMs))
    const floor = (BREACHES - 1) * INTERVAL_MS
    const gaps = summary(rounds.flatMap((x) => x.sampleGapsMs))
    const write = summary(rounds.map((x) => x.appliedMs[x.holder]! - x.trippingSampleMs))
    const propagation = summary(rounds.map((x) => Math.max(...x.appliedMs.filter((_, i) => i !== x.holder)) - x.appliedMs[x.holder]!))
    const seen = summary(rounds.map((x) => Math.max(...x.inForceMs) - Math.max(...x.appliedMs)))
    return {
      rows: [
        {
          case:
            `13. guarded rollout (issue 21), ${REPLICAS} Redis replicas in one process, Prometheus scraping every ${SCRAPE_MS / 1000} s, guard every ` +
            `${INTERVAL_MS / 1000} s, ${BREACHES} breaches, rollback, ${ROUNDS} rounds: holder's first bad sample → rollback in force on every replica`,
          figure: text(firstBad),
          ratio: `floor (breaches − 1) × interval = ${floor} ms, + propagation`,
        },
        { case: '13. the same rounds: metric set bad on the exporter → rollback in force on every replica', figure: text(exposedAll) },
        {
          case:
            "13. of which: the holder's gap between consecutive samples; tripping sample → rollback applied on the holder (its write); " +
            'holder applied → the last other replica applied (flags.onChange); last applied → the poll saw it',
          figure: `${text(gaps)}; ${text(write)}; ${text(propagation)}; ${text(seen)}`,
        },
      ],
      results: { guards: { replicas: REPLICAS, breaches: BREACHES, intervalMs: INTERVAL_MS, scrapeMs: SCRAPE_MS, pollMs: POLL_MS, rounds } },
    }
  } finally {
    for (const app of apps) await app.close().catch(() => undefined)
    await prometheus?.stop()
    await exporter?.stop()
    await redis?.stop()
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { rows, results } = await guardsBench()
  console.table(rows)
  console.log(JSON.stringify(results, null, 2))
}
