// Hostile review of issue 20 (schedules) over HTTP: each test names a bug found. Time is injected.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { StoreClock } from '../../packages/server/src/replica/clock.js'
import { call, createFlag, getFlag, listAudit, startApp, updateFlag } from '../support/helpers.js'
import { T0, DAY, at } from '../support/schedule-time.js'

let app: FastifyInstance
let now = T0
beforeEach(async () => {
  now = T0
  app = await startApp({}, { clock: new StoreClock(() => now) })
})
afterEach(async () => {
  await app.close()
})

describe('percentages with three decimals', () => {
  it('a step or ramp of 33.333 % is accepted, as a flag percentage of 33.333 is', async () => {
    await createFlag(app, { key: 'plain', state: 'percentage', percentage: 33.333 })
    await createFlag(app, { key: 'stepped3', schedule: { steps: [{ at: at(T0 + DAY), percentage: 33.333 }] } })
    await createFlag(app, { key: 'ramped3', schedule: { ramp: { from: 0.1, to: 66.667, start: at(T0), end: at(T0 + DAY) } } })
  })
})

describe('pausing a schedule in the request that sets it', () => {
  it('a ramp already under way, set paused, freezes at the ramp\u2019s value now (not the flag\u2019s own)', async () => {
    const ramp = { from: 10, to: 90, start: at(T0 - DAY), end: at(T0 + DAY) }
    const created = await createFlag(app, { key: 'frozen', schedule: { ramp, paused: true } })
    // Halfway through a 10 → 90 ramp: 50 %. Resuming continues from there, so paused must show it too.
    expect(created).toMatchObject({ state: 'percentage', percentage: 50 })
  })

  it('a running ramp whose plan changes in the same request as paused:true freezes at the new plan\u2019s value now', async () => {
    await createFlag(app, { key: 'replan', schedule: { ramp: { from: 0, to: 100, start: at(T0), end: at(T0 + 10 * DAY) } } })
    now = T0 + 5 * DAY
    const newRamp = { from: 20, to: 100, start: at(T0), end: at(T0 + 10 * DAY) }
    const res = await call(app, 'PATCH', '/flags/replan', { body: { schedule: { ramp: newRamp, paused: true } }, expected: 200 })
    const flag = res.json()
    // What the flag answered a moment before was 50 %; the flag is frozen as disabled at 0 % instead.
    expect(flag).toMatchObject({ state: 'percentage', percentage: 60 })
    // Resume: the ramp continues from 60 %; the paused value and the resumed value must agree.
    now = T0 + 6 * DAY
    const resumed = (await call(app, 'PATCH', '/flags/replan', { body: { schedule: { ramp: newRamp } }, expected: 200 })).json()
    expect(resumed.effective.percentage).toBe(flag.percentage)
  })
})

describe('replacing a running schedule', () => {
  it('keeps the phase in force until the new plan starts (as clearing does): nobody is turned off in between', async () => {
    await createFlag(app, { key: 'replaced', schedule: { ramp: { from: 0, to: 100, start: at(T0), end: at(T0 + 10 * DAY) } } })
    now = T0 + 5 * DAY
    expect((await getFlag(app, 'replaced')).effective).toMatchObject({ state: 'percentage', percentage: 50 })
    // Hold at 50 % over the weekend, then ramp on from there.
    const next = { from: 50, to: 100, start: at(T0 + 7 * DAY), end: at(T0 + 9 * DAY) }
    const flag = await updateFlag(app, 'replaced', { schedule: { ramp: next } })
    expect(flag.effective).toMatchObject({ state: 'percentage', percentage: 50 })
  })
})

describe('a manual change in a request that repeats the schedule unchanged', () => {
  it("sets the flag's own state or percentage and keeps the schedule running, as the request says; effective shows what is in force", async () => {
    const ramp = { from: 0, to: 100, start: at(T0), end: at(T0 + 10 * DAY) }
    const created = await createFlag(app, { key: 'manual', schedule: { ramp } })
    now = T0 + 5 * DAY
    // A client that PATCHes the flag it read, with the percentage changed (the schedule as read, unchanged): flagctl apply does.
    const res = await call(app, 'PATCH', '/flags/manual', { body: { percentage: 5, schedule: created.schedule }, expected: 200 })
    const flag = res.json()
    expect(res.headers['x-switchyard-schedule']).toBeUndefined()
    expect(flag).toMatchObject({ percentage: 5, schedule: { ramp }, effective: { state: 'percentage', percentage: 50 } })
    expect(flag.schedule.paused).toBeUndefined()
    // Without the schedule, the same change pauses it.
    const paused = await call(app, 'PATCH', '/flags/manual', { body: { percentage: 7 }, expected: 200 })
    expect(paused.headers['x-switchyard-schedule']).toBe('paused')
  })
})

describe('the audit timeline', () => {
  it('lists entries in time order when another write lands while a schedule runs', async () => {
    const STEPS = [
      { at: at(T0 + DAY), percentage: 5 },
      { at: at(T0 + 3 * DAY), percentage: 50 },
    ]
    await createFlag(app, { key: 'timeline', schedule: { steps: STEPS } })
    now = T0 + 2 * DAY
    await updateFlag(app, 'timeline', { description: 'rollout under way' })
    now = T0 + 4 * DAY
    const { events } = await listAudit(app, { flag: 'timeline' })
    const times = events.map((e: { timestamp: string }) => Date.parse(e.timestamp))
    // newest first
    expect(times, JSON.stringify(events.map((e: { action: string; timestamp: string }) => [e.action, e.timestamp]))).toEqual([...times].sort((a, b) => b - a))
  })
})

describe('FLAGS_BOOTSTRAP_FILE and flagctl apply build one flag from one file', () => {
  it('a paused schedule without state or percentage keeps the defaults, as apply sends them, not the phase at loading', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-sched-bootstrap-'))
    const file = join(dir, 'flags.yaml')
    const start = at(T0 - 5 * DAY)
    const end = at(T0 + 5 * DAY)
    writeFileSync(
      file,
      `version: 1\nflags:\n  - key: frozen\n    schedule:\n      ramp: {from: 0, to: 100, start: '${start}', end: '${end}'}\n      paused: true\n`,
    )
    const booted = await startApp({ flagsBootstrapFile: file }, { clock: new StoreClock(() => now) })
    try {
      expect(await getFlag(booted, 'frozen')).toMatchObject({ state: 'disabled', percentage: 0, schedule: { paused: true } })
    } finally {
      await booted.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
