// Guarded rollouts (issue 21) against an HTTP metric source the test serves: what trips a guard
// and what does not, what a pause, a rollback and a hold write, and what is refused. The store's
// clock is injected and paces the samples, so each sample is taken when the test says.
import { describe, expect, it } from 'vitest'
import { StoreClock } from '../../packages/server/src/replica/clock.js'
import { MemoryStore } from '../../packages/server/src/store/memory.js'
import { LeaseLostError } from '../../packages/server/src/store/errors.js'
import { FLAG_DEFAULTS, type Flag } from '../../packages/core/src/flags/schema.js'
import { call, createFlag, evaluateFlag, getFlag, listAudit, startApp, updateFlag } from '../support/helpers.js'
import { T0, MINUTE, HOUR, at } from '../support/schedule-time.js'
import { GUARD, RAMP, SECOND, useGuardHarness } from '../support/guard-harness.js'

const h = useGuardHarness()

const guardEvents = async () => (await listAudit(h.app, { actor: 'guard' })).events as { guard: Record<string, unknown>; schedule: string }[]

describe('a guard trips on `breaches` bad samples in a row', () => {
  it('rolls back to the step of the last healthy sample: paused there, evidence in the audit event, the answer changed at once', async () => {
    const flag = await h.guardedFlag()
    expect(flag.model).toBe(5)
    // Healthy through the second step (20 %); the metric goes bad in the third (30 %).
    await h.sampleAt(T0 + 15 * MINUTE)
    h.metric = 0.2
    for (const s of [0, 15]) await h.sampleAt(T0 + 25 * MINUTE + s * SECOND)
    expect(await guardEvents()).toHaveLength(0)
    await h.sampleAt(T0 + 25 * MINUTE + 30 * SECOND)
    const read = await getFlag(h.app, 'checkout')
    expect(read.schedule).toMatchObject({ paused: true, pausedAt: at(T0 + 15 * MINUTE), guardPause: { action: 'rollback' } })
    expect(read).toMatchObject({ state: 'percentage', percentage: 20 })
    const [event] = await guardEvents()
    expect(event).toMatchObject({
      schedule: 'paused',
      guard: { action: 'rollback', source: 'errors', query: 'checkout', comparator: '>', threshold: 0.05, healthyAt: at(T0 + 15 * MINUTE), lease: 1 },
    })
    expect((event!.guard.samples as { value: number }[]).slice(-3).map((s) => s.value)).toEqual([0.2, 0.2, 0.2])
    expect(h.queries.every((q) => q === 'checkout')).toBe(true)
  })

  it('a single spike does nothing, and a healthy sample starts the count again', async () => {
    await h.guardedFlag()
    for (const [s, value] of [
      [15, 0.9],
      [30, 0],
      [45, 0.9],
      [60, 0.9],
      [75, 0],
      [90, 0.9],
    ] as const) {
      h.metric = value
      await h.sampleAt(T0 + s * SECOND)
    }
    expect(await guardEvents()).toHaveLength(0)
    expect((await getFlag(h.app, 'checkout')).schedule.paused).toBeUndefined()
  })

  it('samples once an interval, however often it is asked', async () => {
    await h.guardedFlag()
    const before = h.queries.length
    for (let ms = 0; ms <= 15 * SECOND; ms += SECOND) await h.sampleAt(T0 + 1 + ms)
    expect(h.queries.length - before).toBe(1)
  })

  it('rolls back to off when no sample was ever healthy', async () => {
    h.metric = 1
    await h.guardedFlag({ ...GUARD, breaches: 2 })
    await h.sampleAt(T0 + 15 * SECOND)
    const read = await getFlag(h.app, 'checkout')
    expect(read).toMatchObject({ state: 'disabled', schedule: { paused: true, guardPause: { action: 'rollback' } } })
    expect((await evaluateFlag(h.app, 'checkout', { userId: 'u1' })).enabled).toBe(false)
  })

  it('pause freezes the ramp where it is; a person resumes it, which clears what the guard said', async () => {
    await h.guardedFlag({ ...GUARD, action: 'pause', breaches: 1 })
    h.metric = 0.5
    await h.sampleAt(T0 + 35 * MINUTE)
    const paused = await getFlag(h.app, 'checkout')
    expect(paused).toMatchObject({
      state: 'percentage',
      percentage: 40,
      schedule: { paused: true, pausedAt: at(T0 + 35 * MINUTE), guardPause: { action: 'pause' } },
    })
    h.now = T0 + 2 * HOUR
    const resumed = await updateFlag(h.app, 'checkout', { schedule: { ...paused.schedule, paused: false } })
    expect(resumed.schedule.guardPause).toBeUndefined()
    expect(resumed.schedule.guard).toEqual({ ...GUARD, action: 'pause', breaches: 1 })
    expect(resumed.effective).toMatchObject({ percentage: 40 })
  })
})

describe('an unreadable source', () => {
  it('never trips the guard: it holds the ramp after `breaches` failed reads, and resumes it once the source reads healthy', async () => {
    await h.guardedFlag()
    h.failing = true
    for (const s of [15, 30]) await h.sampleAt(T0 + 20 * MINUTE + s * SECOND)
    expect((await getFlag(h.app, 'checkout')).schedule.paused).toBeUndefined()
    await h.sampleAt(T0 + 20 * MINUTE + 45 * SECOND)
    const held = await getFlag(h.app, 'checkout')
    expect(held).toMatchObject({ percentage: 30, schedule: { paused: true, guardPause: { action: 'hold' } } })
    expect(held.schedule.guardPause.reason).toContain('answered HTTP 503')
    const health = (await call(h.app, 'GET', '/healthz')).json()
    expect(health.guards).toMatchObject({ lease: { held: true }, sources: { errors: { status: 'failing', detail: 'errors answered HTTP 503' } } })
    const metrics = (await call(h.app, 'GET', '/metrics')).body
    expect(metrics).toContain('switchyard_guard_source_up{source="errors"} 0')
    // Still down an hour later: held, nothing else written.
    await h.sampleAt(T0 + 80 * MINUTE)
    expect(await guardEvents()).toHaveLength(1)
    h.failing = false
    await h.sampleAt(T0 + 81 * MINUTE)
    const resumed = await getFlag(h.app, 'checkout')
    expect(resumed.schedule.paused).toBeUndefined()
    expect(resumed.schedule.guardPause).toBeUndefined()
    // Moved later by the hold: still in the 30 % step it was held in.
    expect(resumed.effective).toMatchObject({ percentage: 30 })
    expect((await guardEvents()).map((e) => e.guard.action)).toEqual(['resume', 'hold'])
    expect(metrics).toContain('switchyard_guard_lease_held 1')
  })

  it('with holdOnError false, the ramp runs on while the source cannot be read', async () => {
    await h.guardedFlag({ ...GUARD, holdOnError: false, breaches: 1 })
    h.failing = true
    for (let s = 1; s <= 5; s++) await h.sampleAt(T0 + s * 15 * SECOND)
    expect(await guardEvents()).toHaveLength(0)
  })

  it('a person who pauses a held schedule keeps it paused: the guard never resumes their pause', async () => {
    await h.guardedFlag({ ...GUARD, breaches: 1 })
    h.failing = true
    await h.sampleAt(T0 + 15 * SECOND)
    const held = await getFlag(h.app, 'checkout')
    expect(held.schedule.guardPause.action).toBe('hold')
    const paused = await updateFlag(h.app, 'checkout', { schedule: { ...held.schedule, paused: true } })
    expect(paused.schedule.guardPause).toBeUndefined()
    h.failing = false
    await h.sampleAt(T0 + 30 * SECOND)
    expect((await getFlag(h.app, 'checkout')).schedule.paused).toBe(true)
  })
})

describe('what a request may set', () => {
  it('refuses a source this server does not have, and an interval under 5s, naming the field and changing nothing', async () => {
    const unknown = await call(h.app, 'POST', '/flags', { body: { key: 'x', schedule: { ramp: RAMP, guard: { ...GUARD, source: 'datadog' } } } })
    expect(unknown.statusCode).toBe(400)
    expect(unknown.json()).toMatchObject({ field: 'body.schedule.guard.source' })
    expect(unknown.json().message).toContain('it has errors')
    const fast = await call(h.app, 'POST', '/flags', { body: { key: 'x', schedule: { ramp: RAMP, guard: { ...GUARD, interval: '4s' } } } })
    expect(fast.statusCode).toBe(400)
    expect(fast.json()).toMatchObject({ field: 'body.schedule.guard.interval' })
    expect((await call(h.app, 'GET', '/flags/x')).statusCode).toBe(404)
  })

  it('adds, changes and removes a guard on a running plan without re-planning it; guardPause is never taken from a request', async () => {
    await createFlag(h.app, { key: 'checkout', schedule: { ramp: RAMP } })
    h.now = T0 + 30 * MINUTE
    const guarded = await call(h.app, 'PATCH', '/flags/checkout', {
      body: { schedule: { ramp: RAMP, guard: GUARD, guardPause: { action: 'hold', at: at(h.now), reason: 'forged' } } },
    })
    expect(guarded.statusCode).toBe(200)
    expect(guarded.json().schedule).toEqual({ ramp: RAMP, guard: GUARD })
    expect(guarded.json().model).toBe(5)
    expect(guarded.headers['x-switchyard-schedule']).toBe('changed')
    // The same guard with its defaults left out is no change.
    const { breaches: _, interval: __, ...short } = GUARD
    expect((await call(h.app, 'PATCH', '/flags/checkout', { body: { schedule: { ramp: RAMP, guard: { ...short, breaches: 3 } } } })).json().version).toBe(2)
    const removed = await updateFlag(h.app, 'checkout', { schedule: { ramp: RAMP } })
    expect(removed.schedule).toEqual({ ramp: RAMP })
    expect(removed.model).toBe(4)
  })

  it('with no source configured, refuses every guard and says what configures one', async () => {
    const bare = await startApp({}, { clock: new StoreClock(() => h.now) })
    try {
      expect(bare.switchyard.guards).toBeUndefined()
      const refused = await call(bare, 'POST', '/flags', { body: { key: 'x', schedule: { ramp: RAMP, guard: GUARD } } })
      expect(refused.statusCode).toBe(400)
      expect(refused.json().message).toContain('GUARD_PROMETHEUS_URL')
      expect((await call(bare, 'GET', '/healthz')).json().guards).toBeUndefined()
    } finally {
      await bare.close()
    }
  })
})

describe('two holders can never both act', () => {
  it('a write judged on an older version is refused (If-Match), and a stale fence is refused by the store', async () => {
    const flag = await h.guardedFlag()
    await updateFlag(h.app, 'checkout', { description: 'changed underneath the guard' })
    const { flags } = h.app.switchyard
    const actor = { id: 'guard', name: 'guard', requestId: 'r', log: h.app.log }
    const evidence = { action: 'pause' as const, source: 'errors', query: 'q', comparator: '>', threshold: 1, samples: [], lease: 1 }
    await expect(flags.guard('checkout', flag.version, { action: 'pause', reason: 'x' }, evidence, { lease: 'guards', token: 1 }, actor)).rejects.toMatchObject(
      {
        code: 'VERSION_MISMATCH',
      },
    )
    await expect(
      flags.guard('checkout', flag.version + 1, { action: 'pause', reason: 'x' }, evidence, { lease: 'guards', token: 99 }, actor),
    ).rejects.toBeInstanceOf(LeaseLostError)
    expect((await getFlag(h.app, 'checkout')).schedule.paused).toBeUndefined()
    expect(await guardEvents()).toHaveLength(0)
  })

  it('the store hands a lease to one holder at a time, a higher token to each new one, and refuses the old token once it is taken over', async () => {
    const store = new MemoryStore()
    const first = await store.holdLease('guards', 50)
    expect(first).toBe(1)
    expect(await store.holdLease('guards', 50)).toBe(1)
    await new Promise((resolve) => setTimeout(resolve, 60))
    const other = new MemoryStore() as MemoryStore & { instanceId: string }
    expect(other.instanceId).not.toBe(store.instanceId)
    const flag = { ...FLAG_DEFAULTS, key: 'k', version: 1, createdAt: at(T0), updatedAt: at(T0), updatedBy: 't', rules: [], model: 1 } as Flag
    const audit = { id: 'a', type: 'audit' as const, action: 'flag.created' as const, actor: 't', requestId: 'r', timestamp: at(T0), changes: {} }
    await expect(store.commit({ kind: 'flag', key: 'k', expectedVersion: 0, next: flag, audit, fence: { lease: 'guards', token: 1 } })).rejects.toBeInstanceOf(
      LeaseLostError,
    )
    expect(await store.holdLease('guards', 1000)).toBe(2)
    await store.commit({ kind: 'flag', key: 'k', expectedVersion: 0, next: flag, audit, fence: { lease: 'guards', token: 2 } })
    await store.releaseLease('guards', 2)
    expect(await store.holdLease('guards', 1000)).toBe(3)
  })
})
