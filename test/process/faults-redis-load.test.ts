// Redis killed in the middle of mixed load on two replicas (child processes), then restarted:
// evaluations never fail, writes answer 503 only while Redis is away and change nothing, and
// both replicas converge on Redis's state afterwards without a restart of their own.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually } from '../support/helpers.js'
import { startRedisServer, type RedisServer } from '../support/redis-helpers.js'
import { descriptionsIn, readWholeAudit, runLoad, startReplicas, stopReplicas, type Outcome, type Replica } from '../support/soak-helpers.js'

const ADMIN_TOKEN = 'faults-admin-token-0123456789'
const FLAGS = Array.from({ length: 8 }, (_, i) => `fault_flag_${i}`)

describe('Redis killed under load', () => {
  let redis: RedisServer
  let replicas: Replica[] = []
  beforeAll(async () => {
    // Persistent with an fsync per write, as production runs it: what was committed survives.
    redis = await startRedisServer({ persistent: true })
    replicas = await startReplicas(redis.url, 'switchyard-faults:', ADMIN_TOKEN, 2)
  })
  afterAll(async () => {
    await stopReplicas(replicas)
    await redis?.stop()
  })

  it('keeps evaluating, refuses writes with 503 only while Redis is down, and converges after', async () => {
    const [a, b] = replicas as [Replica, Replica]
    for (const key of FLAGS) await a.client.json('POST', '/flags', { key, state: 'percentage', percentage: 50 }, 201)
    await eventually(async () => (await b.client.json<{ flags: unknown[] }>('GET', '/flags')).flags.length === FLAGS.length, 10_000, 'B to see every flag')

    let done = false
    const live: Outcome[] = []
    const load = runLoad({ clients: [a.client, b.client], flags: FLAGS, workers: 12, patchShare: 0.05, stop: () => done, outcomes: live })
    const count = (predicate: (o: Outcome) => boolean) => live.filter(predicate).length
    // Phases are counted in answers, not in time: healthy, Redis down, Redis back.
    const waitFor = async (what: string, check: () => Promise<boolean> | boolean) => eventually(check, 30_000, what)
    try {
      // A probe write that always changes something (a PATCH that changes nothing never reaches Redis).
      let probes = 0
      const patchesAnswered = async () => {
        const probe = await Promise.all([a, b].map((r) => r.client.send('PATCH', `/flags/${FLAGS[0]}`, { tags: [`probe_${probes++}`] })))
        return probe.map((p) => p.status)
      }
      await waitFor('healthy load', async () => (await patchesAnswered()).every((s) => s === 200))

      await redis.kill()
      const killedAt = Date.now()
      await waitFor('both replicas to refuse writes', async () => (await patchesAnswered()).every((s) => s === 503))
      // Stay down while the load goes on: until each replica has refused 20 writes of the load.
      await waitFor('writes refused during the outage', () => [0, 1].every((t) => count((o) => o.target === t && o.status === 503) >= 20))

      await redis.restart()
      const restartedAt = Date.now()
      await waitFor('both replicas to accept writes again', async () => (await patchesAnswered()).every((s) => s === 200))
      const recoveredAt = Date.now()
      // Some healthy load after the recovery, then stop.
      const settled = Date.now()
      await waitFor('load after the recovery', async () => Date.now() - settled > 1500)
      done = true
      const outcomes = await load

      const evaluations = outcomes.filter((o) => o.kind === 'evaluate')
      const patches = outcomes.filter((o) => o.kind === 'patch')
      console.log(
        `faults: ${outcomes.length} requests, Redis down ${restartedAt - killedAt} ms, writes back ${recoveredAt - restartedAt} ms after the restart; ` +
          `PATCH 200: ${count((o) => o.kind === 'patch' && o.status === 200)}, 503: ${count((o) => o.kind === 'patch' && o.status === 503)}`,
      )

      // Evaluations never fail: before, during and after the outage, on both replicas.
      expect(evaluations.filter((o) => o.status !== 200)).toEqual([])
      expect(evaluations.filter((o) => o.startedAt > killedAt && o.endedAt < restartedAt).length).toBeGreaterThan(0)
      // Writes: 200, or 503 with the store's error only around the outage.
      expect(patches.filter((o) => o.status !== 200 && o.status !== 503)).toEqual([])
      const refused = patches.filter((o) => o.status === 503)
      expect(refused.length).toBeGreaterThan(0)
      for (const o of refused) {
        expect(o.endedAt, `503 at ${o.endedAt - killedAt} ms after the kill`).toBeGreaterThanOrEqual(killedAt)
        // Ordered, not timed: no write started after both replicas accepted writes again is refused.
        expect(o.startedAt, `503 at ${o.startedAt - recoveredAt} ms after the recovery`).toBeLessThanOrEqual(recoveredAt)
        expect(JSON.parse(o.body!)).toMatchObject({ statusCode: 503, code: 'STORE_UNAVAILABLE' })
      }
      expect(patches.filter((o) => o.status === 200 && o.startedAt > recoveredAt).length).toBeGreaterThan(0)

      // The audit trail holds every acknowledged PATCH once. A refused one is absent, unless it
      // was in flight at the kill: Redis may have committed it just before it died.
      const events = await readWholeAudit(a.client)
      const written = descriptionsIn(events)
      expect(written.length).toBe(new Set(written).size)
      const acknowledged = patches.filter((o) => o.status === 200).map((o) => o.mark!)
      expect(written.filter((d) => acknowledged.includes(d)).length).toBe(acknowledged.length)
      const ambiguous = new Set(refused.filter((o) => o.startedAt <= killedAt).map((o) => o.mark!))
      expect(written.filter((d) => !acknowledged.includes(d) && !ambiguous.has(d))).toEqual([])

      // Converged: both replicas hold what Redis holds.
      await eventually(
        async () => JSON.stringify(await a.client.json('GET', '/flags')) === JSON.stringify(await b.client.json('GET', '/flags')),
        10_000,
        'the replicas to agree',
      )
      const { flags } = await b.client.json<{ flags: { key: string; version: number }[] }>('GET', '/flags')
      for (const flag of flags) expect(events.filter((e) => e.flag === flag.key).length, flag.key).toBe(flag.version)
    } finally {
      done = true
      await load
    }
  }, 120_000)
})
