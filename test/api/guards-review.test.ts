// Review of issue 21 (guarded rollouts): each test here demonstrates a defect found in review and
// FAILS on the commit it was written against (7ce4b9c). Same harness as guards.test.ts: an HTTP
// metric source the test serves, the store's clock injected so each sample is taken when the test says.
import { describe, expect, it } from 'vitest'
import { StoreClock } from '../../packages/server/src/replica/clock.js'
import { GUARD_LEASE, GuardRunner } from '../../packages/server/src/guards/runner.js'
import { metricSources } from '../../packages/server/src/guards/sources.js'
import { LeaseKeeper } from '../../packages/server/src/replica/lease.js'
import type { FlagCreate } from '../../packages/core/src/flags/schema.js'
import { computePlan } from '../../packages/flagctl/src/plan.js'
import { call, createFlag, getFlag, listAudit, startApp, updateFlag } from '../support/helpers.js'
import { T0, MINUTE } from '../support/schedule-time.js'
import { GUARD as THREE, RAMP, SECOND, useGuardHarness } from '../support/guard-harness.js'

const h = useGuardHarness()
/** These suites trip on two breaches. */
const GUARD = { ...THREE, breaches: 2 }
const guardActions = async () => ((await listAudit(h.app, { actor: 'guard' })).events as { guard: { action: string } }[]).map((e) => e.guard.action).reverse()

describe('review: the guard after a hold it resumed', () => {
  it('still samples and trips: a hold, a resume, then bad samples roll the ramp back', async () => {
    await h.guardedFlag(GUARD)
    h.failing = true
    for (const s of [15, 30]) await h.sampleAt(T0 + 20 * MINUTE + s * SECOND)
    expect((await getFlag(h.app, 'checkout')).schedule.guardPause?.action).toBe('hold')
    h.failing = false
    await h.sampleAt(T0 + 21 * MINUTE)
    expect((await getFlag(h.app, 'checkout')).schedule.paused).toBeUndefined()
    // The metric goes bad for ten minutes: forty samples' worth at 15 s.
    h.metric = 0.9
    const before = h.requests
    for (let s = 15; s <= 10 * 60; s += 15) await h.sampleAt(T0 + 21 * MINUTE + s * SECOND)
    expect(h.requests - before, 'samples read after the resume').toBeGreaterThan(0)
    expect(await guardActions()).toEqual(['hold', 'resume', 'rollback'])
  })
})

describe('review: a person’s pause is never the guard’s to resume', () => {
  it('a pause made while a sample is being read is not resumed when the sample reads healthy', async () => {
    await h.guardedFlag(GUARD)
    let answer!: () => void
    h.gate = new Promise<void>((resolve) => (answer = resolve))
    h.now = T0 + 20 * MINUTE
    h.runner.tick()
    // The read is in flight; a person pauses the ramp (at 30 %).
    while (h.requests === 0) await new Promise((resolve) => setTimeout(resolve, 5))
    const read = await getFlag(h.app, 'checkout')
    await updateFlag(h.app, 'checkout', { schedule: { ...read.schedule, paused: true } })
    answer()
    await h.runner.settled()
    const after = await getFlag(h.app, 'checkout')
    expect(await guardActions()).toEqual([])
    expect(after.schedule.paused).toBe(true)
  })

  it('a percentage a person sets by hand while the guard holds the ramp is not overridden when the source comes back', async () => {
    await h.guardedFlag({ ...GUARD, breaches: 1 })
    h.failing = true
    await h.sampleAt(T0 + 20 * MINUTE)
    expect((await getFlag(h.app, 'checkout')).schedule.guardPause?.action).toBe('hold')
    // Incident response: turn it down to 0 by hand. With a running schedule this pauses it (settleSchedule).
    await updateFlag(h.app, 'checkout', { percentage: 0 })
    h.failing = false
    await h.sampleAt(T0 + 21 * MINUTE)
    const after = await getFlag(h.app, 'checkout')
    expect(after.schedule.paused, 'the schedule a person took over stays paused').toBe(true)
    expect(after.effective?.percentage ?? after.percentage).toBe(0)
  })

  it('flagctl apply of a file that only changes the guard’s threshold on a held ramp does not turn the hold into a pause nobody resumes', async () => {
    await h.guardedFlag({ ...GUARD, breaches: 1 })
    h.failing = true
    await h.sampleAt(T0 + 20 * MINUTE)
    const held = await getFlag(h.app, 'checkout')
    expect(held.schedule.guardPause?.action).toBe('hold')
    // The flags file keeps the plan and raises the threshold; apply plans against the live (held) flag.
    const declared = { key: 'checkout', schedule: { ramp: RAMP, guard: { ...GUARD, breaches: 1, threshold: 0.1 } } } as FlagCreate
    const plan = computePlan([held], { version: 1, flags: [declared] }, false)
    const step = plan.steps.find((s) => s.key === 'checkout') as { patch: Record<string, unknown> } | undefined
    expect(step).toBeDefined()
    await updateFlag(h.app, 'checkout', step!.patch)
    h.failing = false
    await h.sampleAt(T0 + 21 * MINUTE)
    expect((await getFlag(h.app, 'checkout')).schedule.paused, 'the guard resumes its own hold once the source reads healthy').toBeUndefined()
  })
})

describe('review: the guard acts when it should', () => {
  it('holds on the next failed read when its first hold could not be written (the store was briefly unreachable)', async () => {
    await h.guardedFlag(GUARD)
    h.failing = true
    h.store.failFenced = 1
    for (const s of [15, 30, 45, 60, 75]) await h.sampleAt(T0 + 20 * MINUTE + s * SECOND)
    expect((await getFlag(h.app, 'checkout')).schedule.guardPause?.action).toBe('hold')
  })

  it('rolls back to the last healthy step after the lease moves (a restart or takeover), not to off', async () => {
    await h.guardedFlag(GUARD)
    // Healthy for the first 25 minutes (through the 20 % and into the 30 % step).
    for (let m = 1; m <= 25; m++) await h.sampleAt(T0 + m * MINUTE)
    // The holder goes away; another runner (another replica, or this one restarted) takes the lease.
    await h.runner.stop()
    const log = h.app.log
    const next = new GuardRunner(
      h.app.switchyard.flags,
      metricSources([{ name: 'errors', kind: 'http', url: h.sourceUrl() }]),
      new LeaseKeeper(h.store, GUARD_LEASE, log),
      log,
    )
    next.start()
    try {
      while (next.status().lease.held === false) await new Promise((resolve) => setTimeout(resolve, 10))
      h.metric = 0.9
      for (const s of [15, 30, 45]) await h.sampleAt(T0 + 25 * MINUTE + s * SECOND, next)
      const read = await getFlag(h.app, 'checkout')
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
    const res = await call(h.app, 'POST', '/flags', { body })
    expect(res.statusCode).toBe(400)
  })

  it('a Prometheus answer of JSON null, or a vector sample without a value, is a failed read, not a thrown TypeError', async () => {
    const prometheus = metricSources([{ name: 'prometheus', kind: 'prometheus', url: new URL(h.sourceUrl()).origin }]).get('prometheus')!
    h.rawBody = 'null'
    await expect(prometheus.read('q', 2000)).resolves.toHaveProperty('error')
    h.rawBody = JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [{ metric: {} }] } })
    await expect(prometheus.read('q', 2000)).resolves.toHaveProperty('error')
    h.rawBody = JSON.stringify({ status: 'success', data: { resultType: 'scalar', result: null } })
    await expect(prometheus.read('q', 2000)).resolves.toHaveProperty('error')
  })

  it('a malformed Prometheus answer does not leave an unhandled rejection behind the guard’s timer', async () => {
    const prom = await startApp(
      { guardSources: [{ name: 'prometheus', kind: 'prometheus', url: new URL(h.sourceUrl()).origin }] },
      { clock: new StoreClock(() => h.now) },
    )
    // Vitest's own handler would fail the whole file: count the rejections here instead.
    const theirs = process.listeners('unhandledRejection')
    process.removeAllListeners('unhandledRejection')
    const unhandled: unknown[] = []
    process.on('unhandledRejection', (reason) => void unhandled.push(reason))
    try {
      await createFlag(prom, { key: 'checkout', schedule: { ramp: RAMP, guard: { ...GUARD, source: 'prometheus' } } })
      h.rawBody = 'null'
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
    const [withCredentials] = metricSources([{ name: 'errors', kind: 'http', url: h.sourceUrl().replace('http://', 'http://reader:s3cret@') }]).values()
    h.metric = 0.25
    expect(await withCredentials!.read('q', 2000)).toEqual({ value: 0.25 })
  })
})
