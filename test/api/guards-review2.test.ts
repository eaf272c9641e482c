// Second review of issue 21 (guarded rollouts): each test here demonstrates a defect and FAILS on
// 3d20239. Same harness as guards-review.test.ts: an HTTP metric source the test serves, the
// store's clock injected so each sample is taken when the test says.
import { describe, expect, it } from 'vitest'
import type { LeaseKeeper } from '../../packages/server/src/replica/lease.js'
import type { FlagCreate } from '../../packages/core/src/flags/schema.js'
import { computePlan } from '../../packages/flagctl/src/plan.js'
import { getFlag, listAudit, updateFlag } from '../support/helpers.js'
import { T0, MINUTE } from '../support/schedule-time.js'
import { GUARD as THREE, RAMP, SECOND, useGuardHarness } from '../support/guard-harness.js'

const h = useGuardHarness()
/** These suites trip on two breaches. */
const GUARD = { ...THREE, breaches: 2 }

describe('review 2: a rollback never raises exposure', () => {
  it('a healthy read while the guard holds the ramp (its resume write failed) is not a rollback target past the hold', async () => {
    // Healthy at T0 (10 %); the source fails at T0+5m: held at 10 %.
    await h.guardedFlag({ ...GUARD, breaches: 1 })
    h.failing = true
    await h.sampleAt(T0 + 5 * MINUTE)
    const held = await getFlag(h.app, 'checkout')
    expect(held).toMatchObject({ percentage: 10, schedule: { guardPause: { action: 'hold' } } })
    // At T0+45m the source reads healthy, but the resume write fails (Redis blinked): still held at 10 %.
    h.failing = false
    h.store.failFenced = 1
    await h.sampleAt(T0 + 45 * MINUTE)
    expect((await getFlag(h.app, 'checkout')).schedule.guardPause?.action).toBe('hold')
    // The next read is bad: a rollback. It must not move the flag above the 10 % it was held at.
    h.metric = 0.9
    await h.sampleAt(T0 + 45 * MINUTE + 15 * SECOND)
    const rolled = await getFlag(h.app, 'checkout')
    expect(rolled.schedule.guardPause?.action).toBe('rollback')
    expect(rolled.percentage, 'a rollback from a hold at 10 % serves at most 10 %').toBeLessThanOrEqual(10)
  })
})

describe('review 2: the audit trail of a rollback to off', () => {
  it('GET /audit?flag= shows the flag going from off back to serving when a person resumes a rollback to off', async () => {
    h.metric = 0.9
    await h.guardedFlag(GUARD) // first sample at T0: a breach
    await h.sampleAt(T0 + 25 * MINUTE) // second breach: rolled back to off (no healthy sample ever)
    const off = await getFlag(h.app, 'checkout')
    expect(off).toMatchObject({ state: 'disabled', schedule: { guardPause: { action: 'rollback' } } })
    h.now = T0 + 2 * 60 * MINUTE
    const resumed = await updateFlag(h.app, 'checkout', { schedule: { ramp: RAMP, guard: GUARD } })
    expect(resumed.effective, 'the resumed schedule serves again').toMatchObject({ state: 'percentage' })
    const events = (await listAudit(h.app, { flag: 'checkout' })).events as { action: string; changes: Record<string, { after: unknown }> }[]
    // Newest first: something between the rollback and now must say the flag is served again.
    const sinceRollback = events.slice(
      0,
      events.findIndex((e) => (e as { actor?: string }).actor === 'guard'),
    )
    expect(
      sinceRollback.some((e) => e.changes.state?.after === 'percentage'),
      `entries since the rollback: ${JSON.stringify(sinceRollback.map((e) => [e.action, e.changes.state ?? null, e.changes.percentage ?? null]))}`,
    ).toBe(true)
  })
})

describe('review 2: a hold whose guard is removed', () => {
  it('removing the guard (same plan, kept paused, as flagctl apply sends it) leaves no "held by the guard" that no guard will ever resume', async () => {
    await h.guardedFlag({ ...GUARD, breaches: 1 })
    h.failing = true
    await h.sampleAt(T0 + 5 * MINUTE)
    expect((await getFlag(h.app, 'checkout')).schedule.guardPause?.action).toBe('hold')
    const after = await updateFlag(h.app, 'checkout', { schedule: { ramp: RAMP, paused: true } })
    expect(after.schedule.guard).toBeUndefined()
    expect(after.schedule.guardPause?.action, 'a hold only its (now removed) guard would end').not.toBe('hold')
  })

  it('flagctl apply of a file that drops the guard from a held ramp does not keep it held forever', async () => {
    await h.guardedFlag({ ...GUARD, breaches: 1 })
    h.failing = true
    await h.sampleAt(T0 + 5 * MINUTE)
    const held = await getFlag(h.app, 'checkout')
    const declared = { key: 'checkout', schedule: { ramp: RAMP } } as FlagCreate
    const plan = computePlan([held], { version: 1, flags: [declared] }, false)
    const step = plan.steps.find((s) => s.key === 'checkout') as { patch: Record<string, unknown> } | undefined
    if (step) await updateFlag(h.app, 'checkout', step.patch)
    const after = await getFlag(h.app, 'checkout')
    expect(after.schedule.guard).toBeUndefined()
    // Either resumed (the file says: run, unguarded) or a plain pause, but not a hold that nothing ends.
    expect(after.schedule.guardPause?.action, JSON.stringify(after.schedule)).not.toBe('hold')
    // …and the next apply of the same file does not still report it as stopped by its guard.
    expect(computePlan([after], { version: 1, flags: [declared] }, false).guarded).toEqual([])
  })

  it('a flags file that declares paused: true on a held ramp makes it a person’s pause (the guard does not resume it)', async () => {
    await h.guardedFlag({ ...GUARD, breaches: 1 })
    h.failing = true
    await h.sampleAt(T0 + 5 * MINUTE)
    const held = await getFlag(h.app, 'checkout')
    const declared = { key: 'checkout', schedule: { ramp: RAMP, guard: { ...GUARD, breaches: 1 }, paused: true } } as FlagCreate
    const plan = computePlan([held], { version: 1, flags: [declared] }, false)
    const step = plan.steps.find((s) => s.key === 'checkout') as { patch: Record<string, unknown> } | undefined
    if (step) await updateFlag(h.app, 'checkout', step.patch)
    h.failing = false
    await h.sampleAt(T0 + 6 * MINUTE)
    expect((await getFlag(h.app, 'checkout')).schedule.paused, 'the file says paused: the guard must not resume it').toBe(true)
  })
})

describe('review 2: a lapse of the lease under the same token', () => {
  it('rolls back to the last healthy step after the lease lapsed and came back under the same token (a slow renewal), not to off', async () => {
    await h.guardedFlag(GUARD)
    await h.sampleAt(T0 + 15 * MINUTE) // healthy at 20 %
    // The keeper's renewals go unanswered past its margin (a Redis failover of a few seconds): for one
    // tick it holds no fence; the store's lease never expired, so the next renewal keeps token 1.
    const lease = (h.runner as unknown as { lease: LeaseKeeper }).lease
    const fence = lease.fence.bind(lease)
    lease.fence = () => undefined
    h.runner.tick()
    lease.fence = fence
    expect(h.runner.status().lease).toEqual({ held: true, token: 1 })
    h.metric = 0.9
    for (const s of [0, 15]) await h.sampleAt(T0 + 25 * MINUTE + s * SECOND)
    const read = await getFlag(h.app, 'checkout')
    expect(read.schedule.guardPause?.action).toBe('rollback')
    expect(read, 'rolled back to the healthy 20 % step, not turned off').toMatchObject({ state: 'percentage', percentage: 20 })
  })
})
