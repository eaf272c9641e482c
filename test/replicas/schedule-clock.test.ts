// Whose clock (issue 20), on a fleet sharing Redis: replicas whose clocks are 30 s apart either way
// read Redis's TIME, and they and an SDK 45 s ahead of its replica answer a step at Redis's instant.
import { describe, expect, it, onTestFinished } from 'vitest'
import { createClient } from '../../packages/sdk/src/index.js'
import { StoreClock } from '../../packages/server/src/replica/clock.js'
import { ADMIN, call, createFlag, evaluateFlag, eventually, getFlag } from '../support/helpers.js'
import { redisClient, startReplica, testPrefix, useSharedRedis } from '../support/redis-helpers.js'

const redis = useSharedRedis()
const SKEW = 30_000
// Generous: each offset is within half its round trip, on a busy machine; uncorrected they are 30 s and more out.
const CLOSE = 1000

/** Redis's clock, ms. */
async function redisTime(): Promise<number> {
  const client = redisClient(redis.url())
  try {
    const [seconds, micros] = await client.time()
    return Number(seconds) * 1000 + Number(micros) / 1000
  } finally {
    client.disconnect()
  }
}

describe("replicas with skewed clocks read Redis's", () => {
  it("measure their offset to Redis before they are ready, and answer a step by Redis's instant, as does an SDK skewed further", async () => {
    const prefix = testPrefix(redis.url())
    const ahead = await startReplica(redis.url(), prefix, { clock: new StoreClock(() => Date.now() + SKEW) })
    const behind = await startReplica(redis.url(), prefix, { clock: new StoreClock(() => Date.now() - SKEW) })
    const truth = await redisTime()
    for (const [replica, offset] of [
      [ahead, -SKEW],
      [behind, SKEW],
    ] as const) {
      expect(Math.abs(replica.switchyard.clock.offsetMs - offset)).toBeLessThan(CLOSE)
      expect(Math.abs(replica.switchyard.clock.now() - truth)).toBeLessThan(CLOSE)
      expect((await call(replica, 'GET', '/metrics', { expected: 200 })).body).toMatch(
        new RegExp(`^switchyard_store_clock_offset_seconds ${offset < 0 ? '-' : ''}(29|30)(\\.\\d+)?$`, 'm'),
      )
    }

    // On from 15 s ago until 15 s from now, by Redis's clock. Read by its own, `ahead` would be past
    // the second step already, and `behind` before the first.
    const steps = [
      { at: new Date(truth - 15_000).toISOString(), state: 'enabled' },
      { at: new Date(truth + 15_000).toISOString(), state: 'disabled' },
    ]
    await call(ahead, 'POST', '/flags?allowPast=true', { body: { key: 'window', schedule: { steps } }, expected: 201 })
    await eventually(() => behind.switchyard.flags.get('window') !== undefined, 10_000, 'the other replica to apply the create')
    for (const replica of [ahead, behind]) {
      expect(await evaluateFlag(replica, 'window')).toMatchObject({ enabled: true, reason: 'enabled' })
      const { effective } = await getFlag(replica, 'window')
      expect(effective).toMatchObject({ state: 'enabled', next: { at: steps[1]!.at, state: 'disabled' } })
      // `at`: the instant the replica read it at, Redis's.
      expect(Math.abs(Date.parse(effective.at) - (await redisTime()))).toBeLessThan(CLOSE)
    }

    const url = await behind.listen({ port: 0, host: '127.0.0.1' })
    const sdk = await createClient({ url, token: ADMIN, clock: () => Date.now() + 45_000 })
    onTestFinished(() => sdk.close())
    await eventually(() => Math.abs(sdk.clockOffsetMs + 45_000) < CLOSE, 10_000, "the SDK's offset from its first heartbeat")
    expect(sdk.isEnabled('window')).toBe(true)
    await createFlag(ahead, { key: 'unscheduled', state: 'enabled' })
    await eventually(() => sdk.isEnabled('unscheduled'), 10_000, 'the SDK to follow the fleet')
  })
})
