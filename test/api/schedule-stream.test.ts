// POST /stream/evaluations and schedules (issue 20): a transition pushes the answers it changed,
// from one timer on the store's clock, at most once a second. The clock and its timers are moved by hand.
import type { FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import { data, fetchEvents, type EventStream } from '../support/sse.js'
import { manualClock, type ManualClock } from '../support/manual-clock.js'
import { createFlag, createToken, eventually, startApp, updateFlag } from '../support/helpers.js'
import { T0, DAY, at } from '../support/schedule-time.js'

let app: FastifyInstance
let base: string
let time: ManualClock
let token: string
const opened: EventStream[] = []

async function start() {
  time = manualClock(T0)
  app = await startApp({}, { clock: time.clock })
  base = await app.listen({ port: 0, host: '127.0.0.1' })
  token = (await createToken(app, 'web', 'client')).token
}
afterEach(async () => {
  for (const stream of opened.splice(0)) await stream.close()
  await app.close()
})

async function evaluations(body: unknown) {
  const stream = await fetchEvents(`${base}/stream/evaluations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  opened.push(stream)
  await eventually(() => stream.events.length >= 1, 5000, 'the first answers')
  return stream
}

/** The `evaluation` events after the first answers, as [flag, enabled, reason]. */
const pushed = (s: EventStream) => s.events.slice(1).map((e) => [data(e).flag, data(e).enabled, data(e).reason])

describe('POST /stream/evaluations with schedules', () => {
  it('pushes the answers a step changes when the store clock reaches it, and only those', async () => {
    await start()
    await createFlag(app, { key: 'gate', schedule: { steps: [{ at: at(T0 + DAY), state: 'enabled' }] } })
    // Alice is a beta user: the first step leaves her answer as it was.
    await createFlag(app, {
      key: 'launch',
      state: 'beta_users',
      betaUsers: ['alice'],
      schedule: {
        steps: [
          { at: at(T0 + DAY), state: 'beta_users', percentage: 30 },
          { at: at(T0 + 2 * DAY), state: 'enabled' },
        ],
      },
    })
    await createFlag(app, { key: 'plain', state: 'disabled' })
    const alice = await evaluations({ context: { userId: 'alice' } })
    const others = await evaluations({ context: { userId: 'bob' }, flags: ['plain'] })
    expect(time.pending()).toEqual([T0 + DAY])
    expect(time.set(T0 + DAY - 1)).toBe(0)
    expect(time.set(T0 + DAY)).toBe(1)
    await eventually(() => alice.events.length >= 2, 5000, 'the step')
    expect(time.pending()).toEqual([T0 + 2 * DAY])
    expect(time.set(T0 + 2 * DAY)).toBe(1)
    await eventually(() => alice.events.length >= 3, 5000, 'the second step')
    expect(pushed(alice)).toEqual([
      ['gate', true, 'enabled'],
      ['launch', true, 'enabled'],
    ])
    expect(time.pending()).toEqual([])
    // A stream that covers neither flag hears nothing of them: the next event it gets is a change of its own flag.
    await updateFlag(app, 'plain', { state: 'enabled' })
    await eventually(() => others.events.length >= 2, 5000, 'the change')
    expect(pushed(others)).toEqual([['plain', true, 'enabled']])
  })

  it('coalesces a fast ramp: at most one push a second, each user turned on once', async () => {
    await start()
    const start_ = T0 + DAY
    await createFlag(app, {
      key: 'fast',
      state: 'percentage',
      percentage: 0,
      schedule: { ramp: { from: 0, to: 100, start: at(start_), end: at(start_ + 10_000) } },
    })
    await createFlag(app, { key: 'marker' })
    const users = ['u1', 'u2', 'u3', 'u4', 'u5', 'u6']
    const streams = await Promise.all(users.map((userId) => evaluations({ context: { userId }, flags: ['fast', 'marker'] })))
    let fired = 0
    // The threshold moves every 0.1 ms: a timer per move would fire at every one of these 50 ms moves.
    for (let t = start_ - 1000; t <= start_ + 12_000; t += 50) fired += time.set(t)
    expect(fired).toBeGreaterThanOrEqual(10)
    expect(fired).toBeLessThanOrEqual(12)
    const firedAt = time.armed
    for (let i = 1; i < firedAt.length; i++) if (firedAt[i]! > firedAt[i - 1]!) expect(firedAt[i]! - firedAt[i - 1]!).toBeGreaterThanOrEqual(1000)
    // A write to another flag marks the end: each stream heard exactly one schedule push before it.
    await updateFlag(app, 'marker', { state: 'enabled' })
    for (const s of streams) {
      await eventually(() => s.events.length >= 3, 5000, 'the push and the marker')
      expect(pushed(s)).toEqual([
        ['fast', true, 'percentage_in'],
        ['marker', true, 'enabled'],
      ])
    }
  })

  it('arms the timer only while an evaluation stream is open, for the earliest transition, re-armed on changes', async () => {
    await start()
    await createFlag(app, { key: 'later', schedule: { steps: [{ at: at(T0 + 2 * DAY), state: 'enabled' }] } })
    expect(time.pending()).toEqual([])
    const s = await evaluations({ context: { userId: 'alice' } })
    expect(time.pending()).toEqual([T0 + 2 * DAY])
    await createFlag(app, { key: 'sooner', schedule: { steps: [{ at: at(T0 + DAY), state: 'enabled' }] } })
    expect(time.pending()).toEqual([T0 + DAY])
    await updateFlag(app, 'sooner', { schedule: null })
    expect(time.pending()).toEqual([T0 + 2 * DAY])
    await s.close()
    await eventually(() => time.pending().length === 0, 5000, 'the timer cancelled')
  })
})
