// Whose clock (issue 20): the SDK switches a scheduled flag at its replica's instant, not its own.
// Both clocks are injected: the server's frozen at an instant the test moves, the SDK's 30 s ahead.
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createClient, type SwitchyardClient } from '../../packages/sdk/src/index.js'
import { StoreClock } from '../../packages/server/src/replica/clock.js'
import { ADMIN, bearer, createFlag, evaluateFlag, eventually, startApp } from '../support/helpers.js'
import { data, fetchEvents } from '../support/sse.js'
import { T0, HOUR, at } from '../support/schedule-time.js'

const SKEW = 30_000
const USERS = Array.from({ length: 120 }, (_, i) => `user-${i}`)

describe("the replica's instant, read by the replica and by an SDK whose clock is 30 s ahead", () => {
  let app: FastifyInstance
  let client: SwitchyardClient
  let url: string
  let now = T0

  beforeAll(async () => {
    app = await startApp({ streamHeartbeatMs: 1000 }, { clock: new StoreClock(() => now) })
    url = await app.listen({ port: 0, host: '127.0.0.1' })
    await createFlag(app, { key: 'stepped', schedule: { steps: [{ at: at(T0 + HOUR), percentage: 100 }] } })
    await createFlag(app, { key: 'ramped', schedule: { ramp: { from: 0, to: 100, start: at(T0 + HOUR), end: at(T0 + 2 * HOUR), interval: '1m' } } })
    // Resolution 0: the test moves the clock and asks at once (the default reuses a reading for 10 ms).
    client = await createClient({ url, token: ADMIN, clock: () => now + SKEW, clockResolutionMs: 0 })
  })
  afterAll(async () => {
    await client?.close()
    await app?.close()
  })

  it("measures its offset from the replica's heartbeats", async () => {
    // Frozen clocks: the round trip reads 0 ms, so the offset comes out exact.
    await eventually(() => client.clockOffsetMs === -SKEW, 5000, 'the offset measured from the first heartbeat')
  })

  it("switches a step at the replica's instant: off 1 ms before, on at it, as POST /evaluate answers", async () => {
    now = T0 + HOUR - 1
    // Its own clock already reads 30 s past the step.
    expect(client.isEnabled('stepped', { userId: 'alice' })).toBe(false)
    expect(client.evaluate('stepped', { userId: 'alice' })).toEqual(await evaluateFlag(app, 'stepped', { userId: 'alice' }))
    now = T0 + HOUR
    expect(client.isEnabled('stepped', { userId: 'alice' })).toBe(true)
    expect(client.getBooleanDetails('stepped', { userId: 'alice' }, false)).toMatchObject({ value: true, reason: 'percentage_in' })
    expect(client.evaluate('stepped', { userId: 'alice' })).toEqual(await evaluateFlag(app, 'stepped', { userId: 'alice' }))
  })

  it('answers a ramp as the replica does at each instant, explain included', async () => {
    for (const minutes of [0, 1, 17, 30, 59, 60]) {
      now = T0 + HOUR + minutes * 60_000 - 1
      let enabled = 0
      for (const userId of USERS) {
        const answer = client.evaluate('ramped', { userId })
        expect(answer, `${userId} at ${minutes} min`).toEqual(await evaluateFlag(app, 'ramped', { userId }))
        if (answer.enabled) enabled++
      }
      // 1 ms before each whole minute: the ramp's threshold of the minute before.
      expect(Math.abs(enabled - (USERS.length * Math.max(0, minutes - 1)) / 60)).toBeLessThan(USERS.length / 10)
      expect(client.explain('ramped', { userId: 'user-1' }).enabled).toBe((await evaluateFlag(app, 'ramped', { userId: 'user-1' })).enabled)
    }
  })

  it("answers an evaluation stream at the replica's instant", async () => {
    const answerAt = async (instant: number) => {
      now = instant
      const s = await fetchEvents(`${url}/stream/evaluations`, {
        method: 'POST',
        headers: { ...bearer(ADMIN), 'content-type': 'application/json' },
        body: JSON.stringify({ flags: ['stepped'], context: { userId: 'alice' } }),
      })
      try {
        await eventually(() => s.events.length >= 1, 5000, 'the answers')
        return data(s.events[0]!).results[0].enabled as boolean
      } finally {
        await s.close()
      }
    }
    expect(await answerAt(T0 + HOUR - 1)).toBe(false)
    expect(await answerAt(T0 + HOUR)).toBe(true)
  })
})
