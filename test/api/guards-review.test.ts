// Review of issue 21 (guarded rollouts): each test here demonstrates a defect found in review and
// FAILS on the commit it was written against (7ce4b9c). Same harness as guards.test.ts: an HTTP
// metric source the test serves, the store's clock injected so each sample is taken when the test says.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { StoreClock } from '../../packages/server/src/replica/clock.js'
import { GUARD_LEASE, GuardRunner } from '../../packages/server/src/guards/runner.js'
import { metricSources } from '../../packages/server/src/guards/sources.js'
import { LeaseKeeper } from '../../packages/server/src/replica/lease.js'
import { MemoryStore } from '../../packages/server/src/store/memory.js'
import { StoreUnavailableError } from '../../packages/server/src/store/errors.js'
import type { Change, Write } from '../../packages/server/src/store/store.js'
import type { Flag, FlagCreate } from '../../packages/core/src/flags/schema.js'
import { computePlan } from '../../packages/flagctl/src/plan.js'
import { call, createFlag, getFlag, listAudit, startApp, updateFlag } from '../support/helpers.js'
import { T0, MINUTE, at } from '../support/schedule-time.js'

/** What the source answers: a number, an HTTP 503 while `failing`, a raw body, or after `gate` resolves. */
let metric = 0
let failing = false
let rawBody: string | undefined
let gate: Promise<void> | undefined
let requests = 0
let source: Server
let port = 0
beforeAll(async () => {
  source = createServer((req, res) => {
    requests++
    void (async () => {
      if (gate) await gate
      if (failing) res.writeHead(503).end('down')
      else if (rawBody !== undefined) res.writeHead(200, { 'content-type': 'application/json' }).end(rawBody)
      else res.writeHead(200, { 'content-type': 'text/plain' }).end(String(metric))
    })()
  })
  await new Promise<void>((resolve) => source.listen(0, '127.0.0.1', resolve))
  port = (source.address() as AddressInfo).port
})
afterAll(async () => {
  await new Promise((resolve) => source.close(resolve))
})
const sourceUrl = () => `http://127.0.0.1:${port}/error-ratio`

/** A store whose next fenced (guard) commit fails as an unreachable Redis would fail it. */
class FlakyStore extends MemoryStore {
  failFenced = 0
  override commit(write: Write): Promise<Change> {
    if (write.kind === 'flag' && write.fence && this.failFenced > 0) {
      this.failFenced--
      return Promise.reject(new StoreUnavailableError('Redis did not answer; nothing was changed'))
    }
    return super.commit(write)
  }
}

let app: FastifyInstance
let runner: GuardRunner
let store: FlakyStore
let now = T0
beforeEach(async () => {
  now = T0
  metric = 0
  failing = false
  rawBody = undefined
  gate = undefined
  requests = 0
  store = new FlakyStore()
  app = await startApp({ guardSources: [{ name: 'errors', kind: 'http', url: sourceUrl() }] }, { clock: new StoreClock(() => now), store })
  runner = app.switchyard.guards!
})
afterEach(async () => {
  gate = undefined
  await app.close()
})

async function sampleAt(ms: number, r: GuardRunner = runner): Promise<void> {
  now = ms
  r.tick()
  await r.settled()
}

const SECOND = 1000
const RAMP = { from: 10, to: 100, start: at(T0), end: at(T0 + 90 * MINUTE), interval: '10m' }
const GUARD = { source: 'errors', query: 'checkout', comparator: '>', threshold: 0.05, interval: '15s', breaches: 2, action: 'rollback' }

async function guardedFlag(guard: Record<string, unknown> = GUARD): Promise<Flag> {
  const flag = await createFlag(app, { key: 'checkout', schedule: { ramp: RAMP, guard } })
  runner.tick()
  await runner.settled()
  return flag
}
const guardActions = async () => ((await listAudit(app, { actor: 'guard' })).events as { guard: { action: string } }[]).map((e) => e.guard.action).reverse()

describe('review: the guard after a hold it resumed', () => {
  it('still samples and trips: a hold, a resume, then bad samples roll the ramp back', async () => {
    await guardedFlag()
    failing = true
    for (const s of [15, 30]) await sampleAt(T0 + 20 * MINUTE + s * SECOND)
    expect((await getFlag(app, 'checkout')).schedule.guardPause?.action).toBe('hold')
    failing = false
    await sampleAt(T0 + 21 * MINUTE)
    expect((await getFlag(app, 'checkout')).schedule.paused).toBeUndefined()
    // The metric goes bad for ten minutes: forty samples' worth at 15 s.
    metric = 0.9
    const before = requests
    for (let s = 15; s <= 10 * 60; s += 15) await sampleAt(T0 + 21 * MINUTE + s * SECOND)
    expect(requests - before, 'samples read after the resume').toBeGreaterThan(0)
    expect(await guardActions()).toEqual(['hold', 'resume', 'rollback'])
  })
})

describe('review: a person’s pause is never the guard’s to resume', () => {
  it('a pause made while a sample is being read is not resumed when the sample reads healthy', async () => {
    await guardedFlag()
    let answer!: () => void
    gate = new Promise<void>((resolve) => (answer = resolve))
    now = T0 + 20 * MINUTE
    runner.tick()
    // The read is in flight; a person pauses the ramp (at 30 %).
    while (requests === 0) await new Promise((resolve) => setTimeout(resolve, 5))
    const read = await getFlag(app, 'checkout')
    await updateFlag(app, 'checkout', { schedule: { ...read.schedule, paused: true } })
    answer()
    await runner.settled()
    const after = await getFlag(app, 'checkout')
    expect(await guardActions()).toEqual([])
    expect(after.schedule.paused).toBe(true)
  })

  it('a percentage a person sets by hand while the guard holds the ramp is not overridden when the source comes back', async () => {
    await guardedFlag({ ...GUARD, breaches: 1 })
    failing = true
    await sampleAt(T0 + 20 * MINUTE)
    expect((await getFlag(app, 'checkout')).schedule.guardPause?.action).toBe('hold')
    // Incident response: turn it down to 0 by hand. With a running schedule this pauses it (settleSchedule).
    await updateFlag(app, 'checkout', { percentage: 0 })
    failing = false
    await sampleAt(T0 + 21 * MINUTE)
    const after = await getFlag(app, 'checkout')
    expect(after.schedule.paused, 'the schedule a person took over stays paused').toBe(true)
    expect(after.effective?.percentage ?? after.percentage).toBe(0)
  })

  it('flagctl apply of a file that only changes the guard’s threshold on a held ramp does not turn the hold into a pause nobody resumes', async () => {
    await guardedFlag({ ...GUARD, breaches: 1 })
    failing = true
    await sampleAt(T0 + 20 * MINUTE)
    const held = await getFlag(app, 'checkout')
    expect(held.schedule.guardPause?.action).toBe('hold')
    // The flags file keeps the plan and raises the threshold; apply plans against the live (held) flag.
    const declared = { key: 'checkout', schedule: { ramp: RAMP, guard: { ...GUARD, breaches: 1, threshold: 0.1 } } } as FlagCreate
    const plan = computePlan([held], { version: 1, flags: [declared] }, false)
    const step = plan.steps.find((s) => s.key === 'checkout') as { patch: Record<string, unknown> } | undefined
    expect(step).toBeDefined()
    await updateFlag(app, 'checkout', step!.patch)
    failing = false
    await sampleAt(T0 + 21 * MINUTE)
    expect((await getFlag(app, 'checkout')).schedule.paused, 'the guard resumes its own hold once the source reads healthy').toBeUndefined()
  })
})

describe('review: the guard acts when it should', () => {
  it('holds on the next failed read when its first hold could not be written (the store was briefly unreachable)', async () => {
    await guardedFlag()
    failing = true
    store.failFenced = 1
    for (const s of [15, 30, 45, 60, 75]) await sampleAt(T0 + 20 * MINUTE + s * SECOND)
    expect((await getFlag(app, 'checkout')).schedule.guardPause?.action).toBe('hold')
  })

  it('rolls back to the last healthy step after the lease moves (a restart or takeover), not to off', async () => {
    await guardedFlag()
    // Healthy for the first 25 minutes (through the 20 % and into the 30 % step).
    for (let m = 1; m <= 25; m++) await sampleAt(T0 + m * MINUTE)
    // The holder goes away; another runner (another replica, or this one restarted) takes the lease.
    await runner.stop()
    const log = app.log
    const next = new GuardRunner(
      app.switchyard.flags,
      metricSources([{ name: 'errors', kind: 'http', url: sourceUrl() }]),
      new LeaseKeeper(store, GUARD_LEASE, log),
      log,
    )
    next.start()
    try {
      while (next.status().lease.held === false) await new Promise((resolve) => setTimeout(resolve, 10))
      metric = 0.9
      for (const s of [15, 30, 45]) await sampleAt(T0 + 25 * MINUTE + s * SECOND, next)
      const read = await getFlag(app, 'checkout')
      expect(read.schedule.guardPause?.action).toBe('rollback')
      expect(read.state, 'rolled back to a ramp step, not turned off').toBe('percentage')
      expect(read.percentage).toBeGreaterThanOrEqual(10)
    } finally {
      await next.stop()
    }
  })
})

describe('review: bad input and bad answers', () => {
  it('refuses a threshold JSON cannot write back (1e400 is read as Infinity) with 400', async () => {
    const guard = '{"source":"errors","query":"q","comparator":">","threshold":1e400,"action":"pause"}'
    const body = `{"key":"x","schedule":{"ramp":${JSON.stringify(RAMP)},"guard":${guard}}}`
    const res = await call(app, 'POST', '/flags', { body })
    expect(res.statusCode).toBe(400)
  })

  it('a Prometheus answer of JSON null, or a vector sample without a value, is a failed read, not a thrown TypeError', async () => {
    const prometheus = metricSources([{ name: 'prometheus', kind: 'prometheus', url: `http://127.0.0.1:${port}` }]).get('prometheus')!
    rawBody = 'null'
    await expect(prometheus.read('q', 2000)).resolves.toHaveProperty('error')
    rawBody = JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [{ metric: {} }] } })
    await expect(prometheus.read('q', 2000)).resolves.toHaveProperty('error')
    rawBody = JSON.stringify({ status: 'success', data: { resultType: 'scalar', result: null } })
    await expect(prometheus.read('q', 2000)).resolves.toHaveProperty('error')
  })

  it('a malformed Prometheus answer does not leave an unhandled rejection behind the guard’s timer', async () => {
    const prom = await startApp(
      { guardSources: [{ name: 'prometheus', kind: 'prometheus', url: `http://127.0.0.1:${port}` }] },
      { clock: new StoreClock(() => now) },
    )
    // Vitest's own handler would fail the whole file: count the rejections here instead.
    const theirs = process.listeners('unhandledRejection')
    process.removeAllListeners('unhandledRejection')
    const unhandled: unknown[] = []
    process.on('unhandledRejection', (reason) => void unhandled.push(reason))
    try {
      await createFlag(prom, { key: 'checkout', schedule: { ramp: RAMP, guard: { ...GUARD, source: 'prometheus' } } })
      rawBody = 'null'
      const guards = prom.switchyard.guards!
      // As the timer does: tick, and nobody awaits settled() (only stop() does).
      guards.tick()
      await new Promise((resolve) => setTimeout(resolve, 300))
      expect(unhandled.map((r) => String(r))).toEqual([])
    } finally {
      process.removeAllListeners('unhandledRejection')
      for (const l of theirs) process.on('unhandledRejection', l)
      await prom.close()
    }
  })

  it('reads a source whose URL carries credentials (user:password@), as the configuration promises to keep secret', async () => {
    const [withCredentials] = metricSources([{ name: 'errors', kind: 'http', url: `http://reader:s3cret@127.0.0.1:${port}/error-ratio` }]).values()
    metric = 0.25
    expect(await withCredentials!.read('q', 2000)).toEqual({ value: 0.25 })
  })
})
