// GET /metrics: the Prometheus exposition, who may read it, and that each metric counts what
// actually happened.
import { renameSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { FileStore } from '../../packages/server/src/store/file.js'
import { UNKNOWN_FLAG } from '../../packages/server/src/metrics/evaluation-counter.js'
import {
  ADMIN,
  bearer,
  call,
  createFlag,
  createToken,
  deleteFlag,
  evaluateFlag,
  evaluateFlags,
  eventually,
  startApp,
  tempDir,
  updateFlag,
} from '../support/helpers.js'
import { killConnection, redisStoreOf, startRedisServer, startReplica, testPrefix, type RedisServer } from '../support/redis-helpers.js'

async function scrape(app: FastifyInstance, token = ADMIN): Promise<string> {
  const res = await call(app, 'GET', '/metrics', { token, expected: 200 })
  return res.body
}

/** The value of one sample, or undefined when the series is absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (!m || m[1] !== name) continue
    const held = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]))
    if (Object.entries(labels).every(([k, v]) => held[k] === v)) return Number(m[3])
  }
  return undefined
}

describe('GET /metrics', () => {
  let app: FastifyInstance
  let scraper: { token: string }
  beforeAll(async () => {
    app = await startApp()
    scraper = await createToken(app, 'prometheus', 'evaluate')
  })
  afterAll(() => app.close())

  it('needs a token, and takes one of either scope', async () => {
    const refused = await call(app, 'GET', '/metrics', { token: null, expected: 401 })
    expect(refused.body).not.toContain('switchyard_')
    const res = await call(app, 'GET', '/metrics', { token: scraper.token, expected: 200 })
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8')
    expect(res.headers['cache-control']).toBe('no-store')
    expect(res.body).toMatch(/^# HELP switchyard_evaluations_total /m)
  })

  it('exports every metric the README documents, in valid exposition format', async () => {
    const text = await scrape(app)
    for (const name of [
      'switchyard_http_request_duration_seconds',
      'switchyard_evaluations_total',
      'switchyard_store_up',
      'switchyard_flags',
      'switchyard_sync_changes_total',
      'switchyard_sync_resyncs_total',
      'switchyard_sync_propagation_seconds',
      'switchyard_revision',
      'switchyard_revision_lag',
      'switchyard_stale',
      'switchyard_store_clock_offset_seconds',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
    ]) {
      expect(text, name).toMatch(new RegExp(`^# TYPE ${name} `, 'm'))
    }
    for (const line of text.split('\n').filter((l) => l && !l.startsWith('#'))) {
      expect(line).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? (-?[0-9.e+-]+|NaN|[+-]Inf)$/i)
    }
  })
})

describe('switchyard_evaluations_total', () => {
  it('counts each evaluation by flag, reason and answer, single and batch', async () => {
    const app = await startApp()
    try {
      await createFlag(app, { key: 'rollout', state: 'percentage', percentage: 50 })
      await createFlag(app, { key: 'dark' })
      const tally = new Map<string, number>()
      const note = (r: { flag: string; reason: string; enabled: boolean }) => {
        const key = `${r.flag}|${r.reason}|${r.enabled}`
        tally.set(key, (tally.get(key) ?? 0) + 1)
      }
      for (let i = 0; i < 40; i++) note(await evaluateFlag(app, 'rollout', { userId: `user-${i}` }))
      note(await evaluateFlag(app, 'rollout', {}))
      for (const r of (await evaluateFlags(app, ['rollout', 'dark'], { userId: 'user-1' })).results) note(r)
      for (const r of (await evaluateFlags(app, undefined, { userId: 'user-2' })).results) note(r)
      const text = await scrape(app)
      expect(tally.size).toBeGreaterThanOrEqual(4)
      for (const [key, count] of tally) {
        const [flag, reason, enabled] = key.split('|') as [string, string, string]
        expect(sample(text, 'switchyard_evaluations_total', { flag, reason, enabled }), key).toBe(count)
      }
      // A second scrape reports the same totals, not double.
      expect(sample(await scrape(app), 'switchyard_evaluations_total', { flag: 'dark', reason: 'disabled', enabled: 'false' })).toBe(
        tally.get('dark|disabled|false'),
      )
    } finally {
      await app.close()
    }
  })

  it('puts every unknown flag under one series, so requested keys cannot blow up the cardinality', async () => {
    const app = await startApp()
    try {
      for (let i = 0; i < 30; i++) await evaluateFlag(app, `no_such_flag_${i}`, {}, 404)
      await evaluateFlags(app, ['also_missing', 'another_missing'], {})
      const text = await scrape(app)
      expect(sample(text, 'switchyard_evaluations_total', { flag: UNKNOWN_FLAG, reason: 'flag_not_found', enabled: 'false' })).toBe(32)
      expect(text).not.toContain('no_such_flag_')
      expect(text).not.toContain('also_missing')
    } finally {
      await app.close()
    }
  })

  it('drops the series of a deleted flag', async () => {
    const app = await startApp()
    try {
      await createFlag(app, { key: 'short_lived', state: 'enabled' })
      await evaluateFlag(app, 'short_lived')
      expect(sample(await scrape(app), 'switchyard_evaluations_total', { flag: 'short_lived' })).toBe(1)
      await deleteFlag(app, 'short_lived')
      expect(sample(await scrape(app), 'switchyard_evaluations_total', { flag: 'short_lived' })).toBeUndefined()
    } finally {
      await app.close()
    }
  })

  it('counts OpenFeature (OFREP) evaluations too', async () => {
    const app = await startApp()
    try {
      await createFlag(app, { key: 'ofrep_flag', state: 'enabled' })
      await call(app, 'POST', '/ofrep/v1/evaluate/flags/ofrep_flag', { body: { context: { targetingKey: 'u1' } }, expected: 200 })
      await call(app, 'POST', '/ofrep/v1/evaluate/flags', { body: { context: { targetingKey: 'u1' } }, expected: 200 })
      expect(sample(await scrape(app), 'switchyard_evaluations_total', { flag: 'ofrep_flag', reason: 'enabled', enabled: 'true' })).toBe(2)
      // An answer OFREP reports as an error (no targeting key for a rollout) is still an evaluation.
      await createFlag(app, { key: 'ofrep_rollout', state: 'percentage', percentage: 50 })
      await call(app, 'POST', '/ofrep/v1/evaluate/flags/ofrep_rollout', { body: { context: {} }, expected: 400 })
      expect(sample(await scrape(app), 'switchyard_evaluations_total', { flag: 'ofrep_rollout', reason: 'missing_context', enabled: 'false' })).toBe(1)
    } finally {
      await app.close()
    }
  })
})

describe('switchyard_http_request_duration_seconds', () => {
  it('observes every request by method, route template and status code', async () => {
    const app = await startApp()
    try {
      await createFlag(app, { key: 'timed', state: 'enabled' })
      for (let i = 0; i < 5; i++) await evaluateFlag(app, 'timed')
      await call(app, 'GET', '/flags/timed', { expected: 200 })
      await call(app, 'GET', '/flags/missing_one', { expected: 404 })
      await call(app, 'GET', '/flags/timed', { token: null, expected: 401 })
      const text = await scrape(app)
      const count = (method: string, route: string, status: string) =>
        sample(text, 'switchyard_http_request_duration_seconds_count', { method, route, status_code: status })
      expect(count('POST', '/evaluate', '200')).toBe(5)
      expect(count('POST', '/flags', '201')).toBe(1)
      expect(count('GET', '/flags/:key', '200')).toBe(1)
      expect(count('GET', '/flags/:key', '404')).toBe(1)
      expect(count('GET', '/flags/:key', '401')).toBe(1)
      // Templates, never raw paths: the key of a request is not a label.
      expect(text).not.toContain('missing_one')
      const sum = sample(text, 'switchyard_http_request_duration_seconds_sum', { method: 'POST', route: '/evaluate', status_code: '200' })!
      expect(sum).toBeGreaterThan(0)
      expect(sample(text, 'switchyard_http_request_duration_seconds_bucket', { route: '/evaluate', status_code: '200', le: '+Inf' })).toBe(5)
    } finally {
      await app.close()
    }
  })
})

describe('store and readiness gauges', () => {
  it('answers 503 while the state is loading, so the scrape itself shows a replica that is not ready', async () => {
    const app = await startApp({}, { load: false })
    try {
      expect((await app.inject({ method: 'GET', url: '/metrics', headers: bearer(ADMIN) })).statusCode).toBe(503)
      await app.switchyard.sync.start()
      await scrape(app)
    } finally {
      await app.close()
    }
  })

  it('reports the embedded store down after a write it could not save, and the flag count', async () => {
    const dir = tempDir()
    const store = new FileStore(dir.path)
    const app = await startApp({}, { store })
    try {
      await createFlag(app, { key: 'saved' })
      let text = await scrape(app)
      expect(sample(text, 'switchyard_store_up', { store: 'file' })).toBe(1)
      expect(sample(text, 'switchyard_flags')).toBe(1)
      renameSync(dir.path, `${dir.path}-gone`)
      await updateFlag(app, 'saved', { state: 'enabled' }, 503)
      text = await scrape(app)
      expect(sample(text, 'switchyard_store_up', { store: 'file' })).toBe(0)
      renameSync(`${dir.path}-gone`, dir.path)
    } finally {
      await app.close()
      dir.remove()
    }
  })
})

describe('sync metrics, across two replicas on one Redis', () => {
  let redis: RedisServer
  beforeAll(async () => {
    redis = await startRedisServer()
  })
  afterAll(() => redis?.stop())

  it('counts changes applied from other replicas, resyncs, and the propagation lag', async () => {
    const prefix = testPrefix(redis.url)
    const a = await startReplica(redis.url, prefix)
    const b = await startReplica(redis.url, prefix)
    await createFlag(a, { key: 'synced' })
    await updateFlag(a, 'synced', { state: 'enabled' })
    await eventually(async () => (await evaluateFlag(b, 'synced')).enabled === true, 10_000, 'B to see the change')
    let text = await scrape(b)
    // Both notifications are counted. A note is checked against the store, so one that arrives
    // after the next change was written applies that change, and the next note finds it held.
    const count = (outcome: string) => sample(text, 'switchyard_sync_changes_total', { kind: 'flag', outcome }) ?? 0
    await eventually(
      async () => {
        text = await scrape(b)
        return count('applied') + count('skipped') >= 2
      },
      10_000,
      'both notifications to be counted',
    )
    expect(count('applied')).toBeGreaterThanOrEqual(1)
    // Every applied change is timed from its commit; B's revision reaches A's last write.
    const timed = sample(text, 'switchyard_sync_propagation_seconds_count')!
    expect(timed).toBe(count('applied'))
    expect(sample(text, 'switchyard_sync_propagation_seconds_bucket', { le: '+Inf' })).toBe(timed)
    expect(sample(text, 'switchyard_sync_propagation_seconds_sum')!).toBeLessThan(10 * timed)
    expect(sample(text, 'switchyard_revision')).toBe(a.switchyard.sync.revision.value)
    await eventually(async () => sample(await scrape(b), 'switchyard_revision_lag') === 0, 10_000, 'no revision lag once a heartbeat has seen the counter')
    expect(sample(text, 'switchyard_stale')).toBe(0)
    expect(sample(text, 'switchyard_store_up', { store: 'redis' })).toBe(1)

    const before = sample(text, 'switchyard_sync_resyncs_total') ?? 0
    await killConnection(redis.client(), b, 'sub')
    await eventually(async () => (sample(await scrape(b), 'switchyard_sync_resyncs_total') ?? 0) > before, 10_000, 'a resync after the subscriber reconnects')
    expect(redisStoreOf(b).kind).toBe('redis')
    text = await scrape(a)
    // A's own writes were applied locally: it received no change from anyone else to apply.
    expect(sample(text, 'switchyard_sync_changes_total', { kind: 'flag', outcome: 'applied' }) ?? 0).toBe(0)
  })
})
