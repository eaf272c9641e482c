// Redis Sentinel, on servers this suite starts: a master, its replica and three sentinels. With
// REDIS_WAIT_REPLICAS=1 a write is acknowledged only once the replica holds it, so a failover in the
// middle of a write load loses no acknowledged write, evaluations never fail, and both Switchyard
// replicas follow the new master.
import { describe, expect, it, onTestFinished } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { call, eventually } from '../support/helpers.js'
import { privateRedis, redisStoreOf, startReplica } from '../support/redis-helpers.js'
import { startSentinelSet } from '../support/redis-topologies.js'

const held = (app: FastifyInstance, key: string) => app.switchyard.flags.get(key)?.flag

describe('Redis Sentinel', () => {
  it('a failover in the middle of a write load loses no acknowledged write, fails no evaluation, and both replicas follow the new master', async () => {
    const set = await startSentinelSet()
    const prefix = 'switchyard-sentinel:'
    const options = { target: set.target, waitReplicas: 1, waitMs: 500 }
    const a = await startReplica(set.servers[0]!.url, prefix, options)
    const b = await startReplica(set.servers[0]!.url, prefix, options)
    const firstMaster = await set.masterPort()
    expect(firstMaster).toBe(set.servers[0]!.port)
    await call(a, 'POST', '/flags', { body: { key: 'watched', state: 'enabled' }, expected: 201 })
    await eventually(() => held(b, 'watched') !== undefined, 10_000, 'B to hold the first flag')

    // Every acknowledged write: a created flag's key → its version; and who answered it after the switch.
    const acknowledged = new Map<string, number>()
    const refused: string[] = []
    const afterSwitch = { a: 0, b: 0 }
    let switched = false
    let stop = false
    const writer = async (app: FastifyInstance, name: 'a' | 'b', w: number) => {
      for (let i = 0; !stop; i++) {
        const key = `f_${name}${w}_${i}`
        const res = await call(app, 'POST', '/flags', { body: { key, state: i % 2 ? 'enabled' : 'disabled' } })
        if (res.statusCode === 201) {
          acknowledged.set(key, (res.json() as { version: number }).version)
          if (switched) afterSwitch[name]++
        } else if (res.statusCode === 503) refused.push(`${key}: ${(res.json() as { message: string }).message}`)
        else throw new Error(`a write answered ${res.statusCode}: ${res.body}`)
      }
    }
    // Evaluations never touch Redis: not one may fail, before, during or after the failover.
    const evaluations = { ok: 0, failed: [] as string[] }
    const evaluator = async (app: FastifyInstance) => {
      while (!stop) {
        const res = await call(app, 'POST', '/evaluate', { body: { flag: 'watched', context: { userId: 'u1' } } })
        if (res.statusCode === 200 && (res.json() as { enabled: boolean }).enabled) evaluations.ok++
        else evaluations.failed.push(`${res.statusCode} ${res.body}`)
        await new Promise((resolve) => setImmediate(resolve))
      }
    }
    const load = [writer(a, 'a', 1), writer(a, 'a', 2), writer(b, 'b', 1), writer(b, 'b', 2), evaluator(a), evaluator(b)]
    try {
      await eventually(() => acknowledged.size >= 40, 20_000, '40 acknowledged writes before the failover')
      await set.failover()
      await eventually(async () => (await set.masterPort()) !== firstMaster, 20_000, 'the sentinels to name a new master')
      switched = true
      // Both replicas write again, through the new master.
      await eventually(() => afterSwitch.a >= 10 && afterSwitch.b >= 10, 30_000, 'acknowledged writes through both replicas after the failover')
    } finally {
      stop = true
      await Promise.allSettled(load)
    }
    expect(await set.masterPort()).toBe(set.servers[1]!.port)
    expect(evaluations.failed).toEqual([])
    expect(evaluations.ok).toBeGreaterThan(0)

    // Every acknowledged write is in the new master…
    const master = await set.master()
    const stored = await master.hgetall(`${prefix}flags`)
    const missing = [...acknowledged].filter(([key, version]) => {
      const record = stored[key]
      return record === undefined || (JSON.parse(record) as { version: number }).version < version
    })
    expect(missing, `acknowledged writes missing from the new master (${refused.length} writes were refused with 503)`).toEqual([])
    // …and on both replicas, which report the store up: a failover that lost nothing acknowledged is no divergence.
    for (const [app, name] of [
      [a, 'A'],
      [b, 'B'],
    ] as const) {
      await eventually(() => [...acknowledged.keys()].every((key) => held(app, key) !== undefined), 15_000, `${name} to hold every acknowledged write`)
      await eventually(() => redisStoreOf(app).health().status === 'up', 15_000, `${name}'s store to be up on the new master`)
    }
  })

  // With REDIS_WAIT_REPLICAS=0 the fleet reports the loss and an operator reseeds; with 1 the lost write was never acknowledged.
  it('a failover to a replica that lagged is a divergence of the store, recovered by a reseed', async () => {
    const set = await startSentinelSet()
    const prefix = 'switchyard-sentinel-lag:'
    const fast = { target: set.target, resyncCheckMs: 100, retryDelayMs: () => 100 }
    const a = await startReplica(set.servers[0]!.url, prefix, fast)
    const b = await startReplica(set.servers[0]!.url, prefix, fast)
    const careful = await startReplica(set.servers[0]!.url, prefix, { ...fast, waitReplicas: 1, waitMs: 200 })
    for (let i = 0; i < 3; i++) await call(a, 'POST', '/flags', { body: { key: `replicated_${i}`, state: 'enabled' }, expected: 201 })
    const replica = (await set.master()).duplicate({ port: set.servers[1]!.port })
    replica.on('error', () => undefined)
    await eventually(async () => (await replica.hlen(`${prefix}flags`)) === 3, 10_000, 'the Redis replica to hold the first flags')
    replica.disconnect()

    // The Redis replica freezes and its link is cut (so nothing already sent reaches it later); the
    // master goes on acknowledging what only it holds.
    set.servers[1]!.pause()
    await (await set.master()).client('KILL', 'TYPE', 'replica')
    for (let i = 0; i < 3; i++) await call(a, 'POST', '/flags', { body: { key: `master_only_${i}`, state: 'enabled' }, expected: 201 })
    const waited = await call(careful, 'POST', '/flags', { body: { key: 'never_acknowledged' }, expected: 503 })
    expect(waited.json()).toMatchObject({
      code: 'STORE_UNAVAILABLE',
      message: expect.stringContaining('0 of the 1 Redis replicas (REDIS_WAIT_REPLICAS) confirmed the write'),
    })
    expect(careful.switchyard.flags.get('never_acknowledged')).toBeUndefined()
    await eventually(() => held(b, 'master_only_2') !== undefined, 10_000, 'B to hold what only the master holds')

    // The master dies; the replica wakes up and the sentinels promote it, without the last writes.
    await set.servers[0]!.kill()
    set.servers[1]!.resume()
    await eventually(async () => (await set.masterPort().catch(() => 0)) === set.servers[1]!.port, 30_000, 'the sentinels to promote the replica')
    for (const app of [a, b]) {
      await eventually(() => redisStoreOf(app).health().status === 'diverged', 15_000, 'every replica to report the loss').catch(async (err: Error) => {
        const seq = await (await set.master()).get(`${prefix}seq`)
        const store = redisStoreOf(app) as unknown as { cmd: { status: string }; sub: { status: string } }
        throw new Error(
          `${err.message}: ${JSON.stringify(redisStoreOf(app).health())}, counter ${seq}, revision ${app.switchyard.sync.revision.value}, ` +
            `connections ${store.cmd.status}/${store.sub.status}`,
        )
      })
    }
    expect(redisStoreOf(a).health().detail).toMatch(/change counter went back/)
    const refused = await call(b, 'POST', '/flags', { body: { key: 'into_the_gap' }, expected: 503 })
    expect(refused.json()).toMatchObject({ code: 'STORE_DIVERGED' })
    expect((await call(b, 'POST', '/evaluate', { body: { flag: 'master_only_1', context: {} } })).json()).toMatchObject({ enabled: true })

    // The operator writes A's state back into the new master; every replica adopts it.
    // (A connection still settling on the new master answers 503 STORE_UNAVAILABLE: retried, as an operator would.)
    await eventually(
      async () => {
        const res = await call(a, 'POST', '/admin/reseed')
        if (res.statusCode !== 503) expect(res.statusCode, res.body).toBe(200)
        else expect(res.json()).toMatchObject({ code: 'STORE_UNAVAILABLE' })
        return res.statusCode === 200
      },
      10_000,
      'the reseed to be accepted',
    )
    const master = await set.master()
    // A's state, whole: the write the careful replica answered 503 is there if A's counter check had
    // loaded it from the old master in time (the 503 said the change may have been applied).
    const reseeded = Object.keys(await master.hgetall(`${prefix}flags`)).sort()
    expect(reseeded).toEqual([...a.switchyard.flags.keys()].sort())
    expect(reseeded).toEqual(expect.arrayContaining([0, 1, 2].flatMap((i) => [`master_only_${i}`, `replicated_${i}`])))
    for (const app of [a, b, careful]) await eventually(() => redisStoreOf(app).health().status === 'up', 15_000, 'every replica to adopt the reseed')
    await call(b, 'POST', '/flags', { body: { key: 'after_reseed' }, expected: 201 })
  })

  // Review finding: with REDIS_WAIT_REPLICAS alone, a write WAIT does not confirm stays on the master
  // (answered 503) and every replica's counter check loads it; a failover then loses what they
  // serve. Redis's min-replicas-to-write makes the master refuse the write instead.
  it('with min-replicas-to-write on the master, a write its replica cannot take is refused with nothing changed, and no replica ever serves it', async () => {
    const master = await privateRedis({ args: ['--min-replicas-to-write', '1', '--min-replicas-max-lag', '1'] })
    const replica = await privateRedis({ args: ['--replicaof', '127.0.0.1', String(master.port)] })
    await eventually(async () => /master_link_status:up/.test(await replica.client().info('replication')), 10_000, 'the replica to sync')
    const prefix = 'switchyard-min-replicas:'
    const fast = { resyncCheckMs: 100, waitReplicas: 1, waitMs: 300 }
    const a = await startReplica(master.url, prefix, fast)
    const b = await startReplica(master.url, prefix, fast)
    await call(a, 'POST', '/flags', { body: { key: 'replicated' }, expected: 201 })
    const counter = Number(await master.client().get(`${prefix}seq`))

    replica.pause()
    onTestFinished(() => replica.resume())
    await master.client().client('KILL', 'TYPE', 'replica')
    let refused: { code: string; message: string } | undefined
    await eventually(
      async () => {
        const res = await call(a, 'POST', '/flags', { body: { key: 'never_written' } })
        if (res.statusCode === 503 && /min-replicas-to-write/.test(res.body)) refused = res.json() as typeof refused
        return refused !== undefined
      },
      10_000,
      'the master to refuse writes it cannot replicate',
    )
    expect(refused!.message).toContain('fewer replicas in sync than its min-replicas-to-write; nothing was changed')
    expect(await master.client().hexists(`${prefix}flags`, 'never_written')).toBe(0)
    // The change counter never moved: no counter check or resync has anything to find.
    expect(Number(await master.client().get(`${prefix}seq`))).toBe(counter)
    for (const app of [a, b]) expect(held(app, 'never_written')).toBeUndefined()
  })
})
