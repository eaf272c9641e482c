// Guarded rollouts against a real Prometheus (issue 21): it scrapes an exporter the test sets
// every second, and guards read it through its query API at their shortest interval (5 s). A run
// of bad samples rolls back, a single spike does nothing, a Prometheus that is gone holds the ramp
// without acting; with two Redis replicas, the lease holder SIGKILLed mid-run is replaced within
// 10 s, and the rollback is written once, to where the dead holder last saw the metric healthy.
import type { FastifyInstance } from 'fastify'
import { describe, expect, it, onTestFinished } from 'vitest'
import { ADMIN, call, createFlag, eventually, getFlag, listAudit, spawnServer, startApp, waitReady, type ServerProcess } from '../support/helpers.js'
import { HttpClient } from '../support/http.js'
import { startMetricExporter, startPrometheus } from '../support/prometheus.js'
import { privateRedis } from '../support/redis-helpers.js'

const INTERVAL_MS = 5000
const SCRAPE_MS = 1000
/** The runner looks for due guards every 500 ms; a write and its read back take a little more, on a busy machine more still. */
const SLACK_MS = 3000

const ramp = () => ({ from: 10, to: 100, start: new Date(Date.now() - 60_000).toISOString(), end: new Date(Date.now() + 3_600_000).toISOString() })
const guard = (query: string, breaches: number) => ({
  source: 'prometheus',
  query,
  comparator: '>',
  threshold: 0.05,
  interval: '5s',
  breaches,
  action: 'rollback',
})

/** A counter of the app's own metrics (0 when absent). */
async function counter(app: FastifyInstance, series: string): Promise<number> {
  const line = (await call(app, 'GET', '/metrics')).body.split('\n').find((l) => l.startsWith(series))
  return line === undefined ? 0 : Number(line.slice(series.length + 1))
}
const samples = (app: FastifyInstance, outcome: string) => counter(app, `switchyard_guard_samples_total{source="prometheus",outcome="${outcome}"}`)
const guardWrites = async (app: FastifyInstance) =>
  ((await listAudit(app, { actor: 'guard' })).events as { flag: string; guard: { action: string; samples: { value?: number }[] } }[]).reverse()

describe('a guard on a real Prometheus', () => {
  it('ignores a single spike, rolls back after two bad samples in a row within two intervals and a scrape, and holds when Prometheus is gone', async () => {
    const exporter = await startMetricExporter()
    exporter.set('spiky_errors_ratio', 0)
    exporter.set('bad_errors_ratio', 0)
    const prometheus = await startPrometheus({ targets: [exporter.target], scrapeIntervalMs: SCRAPE_MS })
    const app = await startApp({ guardSources: [{ name: 'prometheus', kind: 'prometheus', url: prometheus.url }] })
    onTestFinished(() => app.close())

    // A single spike: one breaching sample, then healthy again. Nothing is written.
    await createFlag(app, { key: 'spiky', schedule: { ramp: ramp(), guard: guard('spiky_errors_ratio', 2) } })
    await eventually(async () => (await samples(app, 'healthy')) >= 1, 10_000, 'a first healthy sample')
    exporter.set('spiky_errors_ratio', 0.5)
    await eventually(async () => (await samples(app, 'breach')) === 1, 10_000, 'one breaching sample')
    exporter.set('spiky_errors_ratio', 0)
    await prometheus.waitForValue('spiky_errors_ratio', (v) => v === 0, 5000)
    const healthy = await samples(app, 'healthy')
    await eventually(async () => (await samples(app, 'healthy')) >= healthy + 2, 15_000, 'two more healthy samples')
    expect(await samples(app, 'breach')).toBe(1)
    expect((await getFlag(app, 'spiky')).schedule.paused).toBeUndefined()

    // Bad for good: rolled back within two intervals and a scrape of the bad value being exposed.
    await createFlag(app, { key: 'bad', schedule: { ramp: ramp(), guard: guard('bad_errors_ratio', 2) } })
    await eventually(async () => (await samples(app, 'healthy')) >= healthy + 4, 15_000, 'the new guard to sample healthy')
    exporter.set('bad_errors_ratio', 0.2)
    const exposed = Date.now()
    await eventually(
      async () => (await getFlag(app, 'bad')).schedule.guardPause?.action === 'rollback',
      2 * INTERVAL_MS + SCRAPE_MS + SLACK_MS,
      'the rollback, within two intervals and a scrape',
    )
    const rolledBackAfterMs = Date.now() - exposed
    const [rollback] = await guardWrites(app)
    expect(rollback).toMatchObject({ flag: 'bad', guard: { action: 'rollback' } })
    expect(rollback!.guard.samples.slice(-2).map((s) => s.value)).toEqual([0.2, 0.2])
    expect(rolledBackAfterMs).toBeLessThanOrEqual(2 * INTERVAL_MS + SCRAPE_MS + SLACK_MS)

    // Prometheus gone: the still-running ramp is held after two failed reads, and nothing is rolled back.
    await prometheus.kill()
    await eventually(async () => (await getFlag(app, 'spiky')).schedule.guardPause?.action === 'hold', 3 * INTERVAL_MS + SLACK_MS, 'the hold')
    expect((await guardWrites(app)).map((w) => `${w.flag} ${w.guard.action}`)).toEqual(['bad rollback', 'spiky hold'])
    const health = (await call(app, 'GET', '/healthz', { token: null })).json()
    expect(health.guards.sources.prometheus).toMatchObject({ status: 'failing' })
    expect(health.guards.sources.prometheus.detail).toMatch(/could not be reached/)
    expect(await samples(app, 'error')).toBeGreaterThanOrEqual(2)
  }, 90_000)
})

describe('two Redis replicas', () => {
  it('the lease holder SIGKILLed mid-run: the other takes the lease within 10 s and rolls back once', async () => {
    const redis = await privateRedis()
    const exporter = await startMetricExporter()
    exporter.set('checkout_errors_ratio', 0)
    const prometheus = await startPrometheus({ targets: [exporter.target], scrapeIntervalMs: SCRAPE_MS })
    const env = { REDIS_URL: redis.url, ADMIN_TOKEN: ADMIN, LOG_LEVEL: 'silent', GUARD_PROMETHEUS_URL: prometheus.url }
    const replicas: ServerProcess[] = []
    for (let i = 0; i < 2; i++) {
      const replica = await spawnServer(env)
      onTestFinished(async () => void (await replica.stop('SIGKILL')))
      replicas.push(replica)
    }
    await Promise.all(replicas.map((r) => waitReady(r)))
    const clients = replicas.map((r) => new HttpClient(r.url, ADMIN))
    const health = async (i: number) => JSON.parse((await clients[i]!.send('GET', '/healthz')).body) as { guards: { lease: { held: boolean; token?: number } } }
    let holder = -1
    await eventually(
      async () => {
        const held = await Promise.all([0, 1].map(async (i) => (await health(i)).guards.lease.held))
        holder = held.indexOf(true)
        return held.filter(Boolean).length === 1
      },
      10_000,
      'exactly one replica to hold the guard lease',
    )
    const firstToken = (await health(holder)).guards.lease.token!
    const other = 1 - holder
    const created = await clients[other]!.send('POST', '/flags', { key: 'checkout', schedule: { ramp: ramp(), guard: guard('checkout_errors_ratio', 3) } })
    expect(created.status).toBe(201)

    // Bad from now; the holder dies once its guard is on its way (a breach or two seen, none acted on).
    // Healthy samples first, which the holder notes in the store.
    await new Promise((resolve) => setTimeout(resolve, INTERVAL_MS + SLACK_MS))
    const badFrom = Date.now()
    exporter.set('checkout_errors_ratio', 0.3)
    await prometheus.waitForValue('checkout_errors_ratio', (v) => v === 0.3, 5000)
    await new Promise((resolve) => setTimeout(resolve, INTERVAL_MS))
    await replicas[holder]!.stop('SIGKILL')
    const killed = Date.now()
    await eventually(async () => (await health(other)).guards.lease.held, 10_000, 'the other replica to take the lease within 10 s')
    expect(Date.now() - killed).toBeLessThanOrEqual(10_000)
    expect((await health(other)).guards.lease.token).toBeGreaterThan(firstToken)

    await eventually(
      async () => JSON.parse((await clients[other]!.send('GET', '/flags/checkout')).body).schedule.guardPause?.action === 'rollback',
      3 * INTERVAL_MS + SCRAPE_MS + SLACK_MS,
      'the rollback by the new holder',
    )
    // Once, by the new holder, under its own token, back to where the dead holder last saw it healthy
    // (which it noted in the store): the ramp's phase then, not off.
    const audit = JSON.parse((await clients[other]!.send('GET', '/audit?actor=guard')).body) as {
      events: { guard: { action: string; lease: number; healthyAt?: string } }[]
    }
    expect(audit.events.map((e) => e.guard.action)).toEqual(['rollback'])
    expect(audit.events[0]!.guard.lease).toBeGreaterThan(firstToken)
    expect(Date.parse(audit.events[0]!.guard.healthyAt!)).toBeLessThan(badFrom)
    const rolledBack = JSON.parse((await clients[other]!.send('GET', '/flags/checkout')).body) as { state: string; percentage: number }
    expect(rolledBack.state).toBe('percentage')
    expect(rolledBack.percentage).toBeGreaterThanOrEqual(10)
    // Another interval on: still one write (the schedule is paused, so the guard watches it no more).
    await new Promise((resolve) => setTimeout(resolve, INTERVAL_MS + SLACK_MS))
    const after = JSON.parse((await clients[other]!.send('GET', '/audit?actor=guard')).body) as { events: unknown[] }
    expect(after.events).toHaveLength(1)
  }, 90_000)
})
