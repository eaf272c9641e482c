// What reads time-dependent state (issue 20): the OFREP bulk ETag lapses at a schedule's next
// transition, and the metrics show each scheduled flag's phase in force. Time is injected.
import type { FastifyInstance } from 'fastify'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { StoreClock } from '../../packages/server/src/replica/clock.js'
import { call, createFlag, createToken, updateFlag, startApp } from '../support/helpers.js'
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

describe('POST /ofrep/v1/evaluate/flags', () => {
  const bulk = (token: string, etag?: string) =>
    call(app, 'POST', '/ofrep/v1/evaluate/flags', {
      token,
      body: { context: { targetingKey: 'alice' } },
      headers: etag === undefined ? {} : { 'if-none-match': etag },
    })

  it('answers 304 until the next transition, then another ETag', async () => {
    const { token } = await createToken(app, 'web', 'client')
    await createFlag(app, { key: 'plain', state: 'enabled' })
    await createFlag(app, { key: 'stepped', schedule: { steps: [{ at: at(T0 + DAY), state: 'enabled' }] } })
    const first = await bulk(token)
    expect(first.statusCode).toBe(200)
    const etag = first.headers.etag as string
    now = T0 + DAY - 1
    expect((await bulk(token, etag)).statusCode).toBe(304)
    now = T0 + DAY
    const after = await bulk(token, etag)
    expect(after.statusCode).toBe(200)
    expect(after.headers.etag).not.toBe(etag)
    // The schedule is over: the tag holds again however much time passes.
    now = T0 + 100 * DAY
    expect((await bulk(token, after.headers.etag as string)).statusCode).toBe(304)
  })

  it('keeps its ETag over time when no schedule runs', async () => {
    const { token } = await createToken(app, 'web', 'client')
    await createFlag(app, { key: 'plain', state: 'enabled' })
    await createFlag(app, { key: 'was_scheduled', schedule: { steps: [{ at: at(T0 + DAY), state: 'enabled' }] } })
    await updateFlag(app, 'was_scheduled', { state: 'disabled' })
    const etag = (await bulk(token)).headers.etag as string
    now = T0 + 2 * DAY
    expect((await bulk(token, etag)).statusCode).toBe(304)
  })
})

describe('GET /metrics', () => {
  const scheduleLines = async () =>
    (await call(app, 'GET', '/metrics', { expected: 200 })).body
      .split('\n')
      .filter((line) => line.startsWith('switchyard_flag_schedule_'))
      .sort()

  it("shows each scheduled flag's percentage and state in force at the store's now", async () => {
    await createFlag(app, { key: 'plain', state: 'percentage', percentage: 40 })
    await createFlag(app, { key: 'ramped', schedule: { ramp: { from: 1, to: 100, start: at(T0), end: at(T0 + 7 * DAY) } } })
    await createFlag(app, { key: 'held', state: 'percentage', percentage: 12, schedule: { steps: [{ at: at(T0 + DAY), percentage: 90 }], paused: true } })
    now = T0 + 3.5 * DAY
    expect(await scheduleLines()).toEqual([
      'switchyard_flag_schedule_percentage{flag="held"} 12',
      'switchyard_flag_schedule_percentage{flag="ramped"} 50.5',
      'switchyard_flag_schedule_state{flag="held",state="beta_users"} 0',
      'switchyard_flag_schedule_state{flag="held",state="disabled"} 0',
      'switchyard_flag_schedule_state{flag="held",state="enabled"} 0',
      'switchyard_flag_schedule_state{flag="held",state="percentage"} 1',
      'switchyard_flag_schedule_state{flag="ramped",state="beta_users"} 0',
      'switchyard_flag_schedule_state{flag="ramped",state="disabled"} 0',
      'switchyard_flag_schedule_state{flag="ramped",state="enabled"} 0',
      'switchyard_flag_schedule_state{flag="ramped",state="percentage"} 1',
    ])
    now = T0 + 8 * DAY
    expect(await scheduleLines()).toContain('switchyard_flag_schedule_percentage{flag="ramped"} 100')
    // A cleared schedule leaves the gauges.
    await updateFlag(app, 'ramped', { schedule: null })
    expect((await scheduleLines()).filter((line) => line.includes('ramped'))).toEqual([])
  })
})
