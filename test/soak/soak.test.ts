// Soak: two replicas (child processes) on one Redis under mixed load, 95 % evaluate and 5 %
// PATCH, for SOAK_SECONDS (10 in `npm test`, 60 in `npm run soak`). No evaluation may fail, every
// acknowledged PATCH is in the audit trail exactly once, the replicas agree at the end, and
// resident memory grows less than 20 % after the warm-up.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually } from '../support/helpers.js'
import { startRedisServer, type RedisServer } from '../support/redis-helpers.js'
import { descriptionsIn, readWholeAudit, rssOf, runLoad, startReplicas, stopReplicas, type Replica } from '../support/soak-helpers.js'

const SECONDS = Number(process.env.SOAK_SECONDS ?? 10)
const WARM_UP_MS = Math.max(2000, SECONDS * 250)
const ADMIN_TOKEN = 'soak-admin-token-0123456789'
const FLAGS = Array.from({ length: 12 }, (_, i) => `soak_flag_${i}`)

describe(`soak: ${SECONDS} s on two replicas sharing one Redis`, () => {
  let redis: RedisServer
  let replicas: Replica[] = []
  beforeAll(async () => {
    redis = await startRedisServer()
    replicas = await startReplicas(redis.url, 'switchyard-soak:', ADMIN_TOKEN, 2)
  })
  afterAll(async () => {
    await stopReplicas(replicas)
    await redis?.stop()
  })

  it(
    'never fails an evaluation, loses or duplicates no write, converges, and holds its memory',
    async () => {
      const [a, b] = replicas as [Replica, Replica]
      const states = ['enabled', 'disabled', 'percentage', 'beta_users'] as const
      for (const [i, key] of FLAGS.entries()) {
        await a.client.json('POST', '/flags', { key, state: states[i % 4], percentage: 37.5, betaUsers: ['user-1', 'user-2'], betaTenants: ['tenant-3'] }, 201)
      }
      await eventually(async () => (await b.client.json<{ flags: unknown[] }>('GET', '/flags')).flags.length === FLAGS.length, 10_000, 'B to see every flag')

      const started = Date.now()
      const deadline = started + SECONDS * 1000
      const rss: { at: number; values: number[] }[] = []
      const sampling = (async () => {
        while (Date.now() < deadline) {
          rss.push({ at: Date.now() - started, values: await Promise.all(replicas.map((r) => rssOf(r.client))) })
          await new Promise((resolve) => setTimeout(resolve, 500))
        }
      })()
      const outcomes = await runLoad({ clients: [a.client, b.client], flags: FLAGS, workers: 16, patchShare: 0.05, stop: () => Date.now() >= deadline })
      await sampling
      rss.push({ at: Date.now() - started, values: await Promise.all(replicas.map((r) => rssOf(r.client))) })

      const evaluations = outcomes.filter((o) => o.kind === 'evaluate')
      const patches = outcomes.filter((o) => o.kind === 'patch')
      console.log(
        `soak: ${outcomes.length} requests in ${SECONDS} s (${Math.round(outcomes.length / SECONDS)}/s), ` +
          `${evaluations.length} evaluations, ${patches.length} PATCHes; ` +
          `RSS MB ${rss.map((s) => `${(s.at / 1000).toFixed(1)}s:${s.values.map((v) => (v / 2 ** 20).toFixed(0)).join('/')}`).join(' ')}`,
      )

      // Zero failed evaluations, on both replicas.
      expect(evaluations.length).toBeGreaterThan(SECONDS * 100)
      expect(evaluations.filter((o) => o.status !== 200)).toEqual([])
      expect(new Set(evaluations.map((o) => o.target))).toEqual(new Set([0, 1]))
      // Without faults, every PATCH succeeds.
      expect(patches.length).toBeGreaterThan(0)
      expect(patches.filter((o) => o.status !== 200)).toEqual([])

      // Every acknowledged PATCH is in the shared audit trail exactly once, whichever replica reads it.
      const events = await readWholeAudit(b.client)
      const written = descriptionsIn(events)
      expect(written.length).toBe(new Set(written).size)
      expect([...written].sort()).toEqual(patches.map((o) => o.mark!).sort())
      expect(await readWholeAudit(a.client)).toEqual(events)

      // Both replicas agree with each other, and with the audit trail's last word on each flag.
      await eventually(
        async () => JSON.stringify(await a.client.json('GET', '/flags')) === JSON.stringify(await b.client.json('GET', '/flags')),
        10_000,
        'the replicas to agree',
      )
      const { flags } = await a.client.json<{ flags: { key: string; version: number; description: string }[] }>('GET', '/flags')
      for (const flag of flags) {
        const own = events.filter((e) => e.flag === flag.key)
        expect(own.at(-1)?.version, flag.key).toBe(flag.version)
        expect(own.length, flag.key).toBe(flag.version)
        const last = [...own].reverse().find((e) => e.changes.description)
        expect(flag.description, flag.key).toBe(last?.changes.description?.after ?? '')
      }

      // Memory: after the warm-up, resident memory grows by less than 20 %. Each end is the median
      // of three samples, so one sample taken just before a collection does not decide it.
      const after = rss.filter((s) => s.at >= WARM_UP_MS)
      expect(after.length, 'RSS samples after the warm-up').toBeGreaterThanOrEqual(6)
      const median3 = (samples: typeof rss, r: number) => samples.map((s) => s.values[r]!).sort((x, y) => x - y)[1]!
      for (const r of [0, 1]) {
        const warm = median3(after.slice(0, 3), r)
        const end = median3(after.slice(-3), r)
        expect(end, `replica ${r}: ${warm} → ${end} bytes`).toBeLessThan(warm * 1.2)
      }
    },
    (SECONDS + 90) * 1000,
  )
})
