// Schedules over HTTP (issue 20): set, read, evaluated at the store's instant, paused by hand,
// resumed, cleared; validation only when a request sets or changes a schedule. Time is injected.
import type { FastifyInstance } from 'fastify'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { StoreClock } from '../../packages/server/src/replica/clock.js'
import { call, createFlag, evaluateFlag, getFlag, listAudit, startApp, updateFlag } from '../support/helpers.js'
import { T0, HOUR, DAY, at } from '../support/schedule-time.js'

let app: FastifyInstance
let now = T0
beforeEach(async () => {
  now = T0
  app = await startApp({}, { clock: new StoreClock(() => now) })
})
afterEach(async () => {
  await app.close()
})

const RAMP = { from: 1, to: 100, start: at(T0), end: at(T0 + 7 * DAY) }
const STEPS = [
  { at: at(T0 + DAY), state: 'beta_users' },
  { at: at(T0 + 2 * DAY), percentage: 5 },
  { at: at(T0 + 5 * DAY), percentage: 100 },
]

/** Whether `user` is in at the current injected instant. */
const enabledFor = async (key: string, userId: string) => (await evaluateFlag(app, key, { userId })).enabled as boolean

describe('a ramp', () => {
  it('is computed from the flag and the instant: effective state and percentage, the next transition, model 4', async () => {
    const created = await createFlag(app, { key: 'copilot_v2', schedule: { ramp: RAMP } })
    expect(created).toMatchObject({ state: 'disabled', percentage: 0, model: 4, schedule: { ramp: RAMP } })
    expect(created.effective).toMatchObject({ state: 'percentage', percentage: 1, at: at(T0) })
    now = T0 + 3.5 * DAY
    const read = await getFlag(app, 'copilot_v2')
    // 1 + floor(99000 · 3.5 / 7) thousandths = 50.5 %
    expect(read.effective).toMatchObject({ state: 'percentage', percentage: 50.5 })
    expect(Date.parse(read.effective.next.at)).toBeGreaterThan(now)
    expect(read.effective.next.percentage).toBe(50.501)
    now = T0 + 8 * DAY
    expect((await getFlag(app, 'copilot_v2')).effective).toEqual({ state: 'percentage', percentage: 100, at: at(now) })
  })

  it('evaluates at the store instant: a user in at 30 % stays in later', async () => {
    await createFlag(app, { key: 'ramped', schedule: { ramp: RAMP } })
    const users = Array.from({ length: 200 }, (_, i) => `user-${i}`)
    let previous = new Set<string>()
    for (const day of [0, 1, 2, 3.5, 6, 7]) {
      now = T0 + day * DAY
      const inNow = new Set<string>()
      for (const user of users) if (await enabledFor('ramped', user)) inNow.add(user)
      for (const user of previous) expect(inNow.has(user)).toBe(true)
      previous = inNow
    }
    expect(previous.size).toBe(users.length)
  })
})

describe('GET /flags', () => {
  it('filters scheduled flags, and shows each one with what is in force', async () => {
    await createFlag(app, { key: 'plain' })
    await createFlag(app, { key: 'ramped', schedule: { ramp: RAMP } })
    const list = async (query: string) => (await call(app, 'GET', `/flags${query}`, { expected: 200 })).json().flags
    expect((await list('?scheduled=true')).map((f: { key: string }) => f.key)).toEqual(['ramped'])
    expect((await list('?scheduled=false')).map((f: { key: string }) => f.key)).toEqual(['plain'])
    const all = await list('')
    expect(all.find((f: { key: string }) => f.key === 'ramped').effective).toMatchObject({ state: 'percentage', percentage: 1 })
    expect(all.find((f: { key: string }) => f.key === 'plain')).not.toHaveProperty('effective')
    await call(app, 'GET', '/flags?scheduled=maybe', { expected: 400 })
  })
})

describe('steps', () => {
  it('apply in order; a step with only a percentage means the percentage state', async () => {
    await createFlag(app, { key: 'stepped', betaUsers: ['alice'], schedule: { steps: STEPS } })
    expect(await enabledFor('stepped', 'alice')).toBe(false)
    now = T0 + DAY
    expect(await enabledFor('stepped', 'alice')).toBe(true)
    expect((await getFlag(app, 'stepped')).effective).toMatchObject({ state: 'beta_users', next: { at: STEPS[1]!.at, state: 'percentage', percentage: 5 } })
    now = T0 + 5 * DAY
    expect((await getFlag(app, 'stepped')).effective).toMatchObject({ state: 'percentage', percentage: 100 })
    expect((await getFlag(app, 'stepped')).effective.next).toBeUndefined()
  })
})

describe('every answer is at the store instant', () => {
  it('OFREP, one flag and all of them, answers from the phase in force', async () => {
    await createFlag(app, { key: 'stepped', betaUsers: ['alice'], schedule: { steps: STEPS } })
    const ofrep = async (url: string) => (await call(app, 'POST', url, { body: { context: { targetingKey: 'bob' } }, expected: 200 })).json()
    expect(await ofrep('/ofrep/v1/evaluate/flags/stepped')).toMatchObject({ value: false, reason: 'DISABLED' })
    now = T0 + 5 * DAY
    expect(await ofrep('/ofrep/v1/evaluate/flags/stepped')).toMatchObject({ value: true })
    expect((await ofrep('/ofrep/v1/evaluate/flags')).flags).toEqual([expect.objectContaining({ key: 'stepped', value: true })])
  })
})

describe('people stay in charge', () => {
  it('a manual PATCH of the percentage pauses the schedule, and the response and audit say so', async () => {
    await createFlag(app, { key: 'manual', schedule: { ramp: RAMP } })
    now = T0 + 3.5 * DAY
    const res = await call(app, 'PATCH', '/flags/manual', { body: { percentage: 30 }, expected: 200 })
    expect(res.headers['x-switchyard-schedule']).toBe('paused')
    const flag = res.json()
    expect(flag).toMatchObject({ state: 'percentage', percentage: 30, schedule: { paused: true, pausedAt: at(now) } })
    expect(flag.effective).toBeUndefined()
    now = T0 + 6 * DAY
    expect((await evaluateFlag(app, 'manual', { userId: 'x' })).version).toBe(2)
    const { events } = await listAudit(app, { flag: 'manual' })
    expect(events.find((e: { version: number }) => e.version === 2)).toMatchObject({ schedule: 'paused', changes: { percentage: { after: 30 } } })
  })

  it('pause freezes the phase in force; resume moves what is left later by the pause', async () => {
    const created = await createFlag(app, { key: 'paused', schedule: { ramp: RAMP } })
    now = T0 + DAY
    const paused = await updateFlag(app, 'paused', { schedule: { ...created.schedule, paused: true } })
    expect(paused).toMatchObject({ state: 'percentage', schedule: { paused: true } })
    // 1 + floor(99000 · 1 / 7) thousandths
    expect(paused.percentage).toBe(15.142)
    now = T0 + 3 * DAY
    const res = await call(app, 'PATCH', '/flags/paused', { body: { schedule: { ramp: RAMP } }, expected: 200 })
    expect(res.headers['x-switchyard-schedule']).toBe('resumed')
    const resumed = res.json()
    expect(resumed.schedule).toEqual({ ramp: { ...RAMP, start: at(T0 + 2 * DAY), end: at(T0 + 9 * DAY) } })
    expect(resumed.effective.percentage).toBe(paused.percentage)
  })

  it('a schedule sent back in another spelling (field order, zone) is the same plan: paused and resumed, not changed', async () => {
    const spelled = [
      { percentage: 5, at: '2030-03-03T10:00:00+01:00' },
      { state: 'enabled', at: at(T0 + 2 * DAY) },
    ]
    await createFlag(app, { key: 'spelled', schedule: { steps: spelled } })
    now = T0 + 3 * DAY
    const read = await getFlag(app, 'spelled')
    let res = await call(app, 'PATCH', '/flags/spelled', { body: { schedule: { ...read.schedule, paused: true } }, expected: 200 })
    expect(res.headers['x-switchyard-schedule']).toBe('paused')
    now = T0 + 4 * DAY
    res = await call(app, 'PATCH', '/flags/spelled', { body: { schedule: { steps: spelled } }, expected: 200 })
    expect(res.headers['x-switchyard-schedule']).toBe('resumed')
    expect(res.json().schedule.steps[0].at).toBe(at(T0 + 2 * DAY))
  })

  it('clearing keeps the phase in force; clearing a complete schedule is "finished"', async () => {
    await createFlag(app, { key: 'cleared', schedule: { steps: STEPS } })
    now = T0 + 2 * DAY
    let res = await call(app, 'PATCH', '/flags/cleared', { body: { schedule: null }, expected: 200 })
    expect(res.headers['x-switchyard-schedule']).toBe('cleared')
    expect(res.json()).toMatchObject({ state: 'percentage', percentage: 5, model: 1 })
    expect(res.json().schedule).toBeUndefined()
    now = T0
    await createFlag(app, { key: 'done', schedule: { steps: STEPS } })
    now = T0 + 6 * DAY
    res = await call(app, 'PATCH', '/flags/done', { body: { schedule: null }, expected: 200 })
    expect(res.headers['x-switchyard-schedule']).toBe('finished')
    expect(res.json()).toMatchObject({ state: 'percentage', percentage: 100 })
  })
})

describe('validation, only when a request sets or changes the schedule', () => {
  const refused = async (schedule: unknown, field: string) => {
    const res = await call(app, 'POST', '/flags', { body: { key: 'bad', schedule }, expected: 400 })
    expect(res.json().field).toBe(field)
    await call(app, 'GET', '/flags/bad', { expected: 404 })
  }
  it('refuses a past step, steps out of order, a ramp that ends before it starts, four decimals', async () => {
    await refused({ steps: [{ at: at(T0 - DAY), percentage: 5 }] }, 'body.schedule.steps[0].at')
    await refused({ steps: [STEPS[1], STEPS[0]] }, 'body.schedule.steps[1].at')
    await refused({ ramp: { ...RAMP, end: at(T0 - HOUR) } }, 'body.schedule.ramp.end')
    await refused({ steps: [{ at: at(T0 + DAY), percentage: 5.0001 }] }, 'body.schedule.steps[0].percentage')
    await refused({ steps: STEPS, ramp: RAMP }, 'body.schedule')
  })

  it('never refuses an unchanged schedule because time has passed, nor one sent with allowPast', async () => {
    await createFlag(app, { key: 'kept', schedule: { steps: STEPS } })
    now = T0 + 10 * DAY
    await updateFlag(app, 'kept', { description: 'later', schedule: { steps: STEPS } })
    await call(app, 'POST', '/flags?allowPast=true', { body: { key: 'from_file', schedule: { steps: STEPS } }, expected: 201 })
    expect((await getFlag(app, 'from_file')).effective).toMatchObject({ state: 'percentage', percentage: 100 })
  })
})
