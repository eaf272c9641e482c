// Guarded rollouts with two Redis replicas and a real Prometheus (issue 21): the guard lease's
// holder SIGKILLed mid-run is replaced within 10 s, and the rollback is written once, to where the
// dead holder last saw the metric healthy. (One replica: guards-prometheus.test.ts.)
import { describe, expect, it, onTestFinished } from 'vitest'
import { ADMIN, eventually, spawnServer, waitReady, type ServerProcess } from '../support/helpers.js'
import { HttpClient } from '../support/http.js'
import { INTERVAL_MS, rollbackGuard, runningRamp, SCRAPE_MS, SLACK_MS, startMetricExporter, startPrometheus } from '../support/prometheus.js'
import { privateRedis } from '../support/redis-helpers.js'

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
    const created = await clients[other]!.send('POST', '/flags', {
      key: 'checkout',
      schedule: { ramp: runningRamp(), guard: rollbackGuard('checkout_errors_ratio', 3) },
    })
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
