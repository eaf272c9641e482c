// Guarded rollouts against a real Prometheus (issue 21): it scrapes an exporter the test sets
// every second, and guards read it through its query API at their shortest interval (5 s). A run
// of bad samples rolls back, a single spike does nothing, a Prometheus that is gone holds the ramp
// without acting. Two Redis replicas and a SIGKILLed lease holder: guards-prometheus-redis.test.ts.
import type { FastifyInstance } from 'fastify'
import { describe, expect, it, onTestFinished } from 'vitest'
import { call, createFlag, eventually, getFlag, listAudit, startApp } from '../support/helpers.js'
import { INTERVAL_MS, rollbackGuard, runningRamp, SCRAPE_MS, SLACK_MS, startMetricExporter, startPrometheus } from '../support/prometheus.js'

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
    await createFlag(app, { key: 'spiky', schedule: { ramp: runningRamp(), guard: rollbackGuard('spiky_errors_ratio', 2) } })
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
    await createFlag(app, { key: 'bad', schedule: { ramp: runningRamp(), guard: rollbackGuard('bad_errors_ratio', 2) } })
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
