// Redis faults with a private redis-server per test, killed and restarted at will: evaluation
// keeps answering from memory, writes fail fast with 503 and change nothing, and every
// replica converges on Redis's state by itself once it is back.
import { writeFileSync } from 'node:fs'
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { ADMIN, call, createFlag, evaluateFlag, eventually, getFlag, spawnServer, tempDir, updateFlag, waitReady } from '../support/helpers.js'
import { flagctl, flagctlBin } from '../support/cli-helpers.js'
import { FIRST_EPOCH_WAIT_MS } from '../../packages/server/src/store/redis.js'
import { connectionInfo, killConnection, privateRedis, redisStoreOf, startRedisServer, startReplica, type RedisServer } from '../support/redis-helpers.js'

const PREFIX = 'switchyard:'
const held = (app: FastifyInstance, key: string) => app.switchyard.flags.get(key)?.flag
const isUp = (app: FastifyInstance) => redisStoreOf(app).health().status === 'up'

const storedVersion = async (server: RedisServer, key: string) => {
  const text = await server.client().hget(`${PREFIX}flags`, key)
  return text === null ? null : (JSON.parse(text) as { doc: { version: number } }).doc.version
}

describe('Redis down', () => {
  it('evaluations answer from memory, writes get 503 and change nothing; after a restart writes work and replicas agree', async () => {
    const server = await privateRedis({ persistent: true })
    const fast = { retryDelayMs: () => 50 }
    const [a, b] = await Promise.all([startReplica(server.url, PREFIX, fast), startReplica(server.url, PREFIX, fast)])
    await createFlag(a, { key: 'steady', state: 'percentage', percentage: 50, betaUsers: ['vip'] })
    await eventually(() => held(b, 'steady') !== undefined, 10_000, 'B to hold the flag')
    const answers = await Promise.all([a, b].map((app) => evaluateFlag(app, 'steady', { userId: 'vip' })))

    await server.kill()
    for (const app of [a, b]) {
      expect(await evaluateFlag(app, 'steady', { userId: 'vip' })).toEqual(answers[0])
      const refused = await call(app, 'PATCH', '/flags/steady', { body: { state: 'enabled' }, expected: 503 })
      expect(refused.json()).toMatchObject({ code: 'STORE_UNAVAILABLE' })
      await call(app, 'POST', '/flags', { body: { key: 'newcomer' }, expected: 503 })
      await call(app, 'POST', '/tokens', { body: { name: 'late', scope: 'evaluate' }, expected: 503 })
      await call(app, 'DELETE', '/flags/steady', { expected: 503 })
      // Readiness gates only the first load: an outage must not pull every replica at once.
      const ready = (await call(app, 'GET', '/readyz', { token: null, expected: 200 })).json()
      expect(ready).toMatchObject({ status: 'ready', store: { kind: 'redis', status: 'down' } })
      expect(ready.store.detail).toMatch(/unreachable/)
      expect(held(app, 'steady')).toMatchObject({ version: 1, state: 'percentage' })
      expect(held(app, 'newcomer')).toBeUndefined()
    }

    await server.restart()
    await eventually(() => isUp(a) && isUp(b), 10_000, 'both replicas to reconnect')
    expect(await storedVersion(server, 'steady')).toBe(1)
    expect(await server.client().hexists(`${PREFIX}flags`, 'newcomer')).toBe(0)

    await updateFlag(b, 'steady', { state: 'enabled' }, 200, { 'if-match': '"1"' })
    await createFlag(a, { key: 'newcomer' })
    await eventually(() => held(a, 'steady')?.version === 2 && held(b, 'newcomer') !== undefined, 10_000, 'both changes on both replicas')
    expect(await getFlag(a, 'steady')).toEqual(await getFlag(b, 'steady'))
    expect(await getFlag(a, 'newcomer')).toEqual(await getFlag(b, 'newcomer'))
  })

  it('a write Redis does not run in time gets 503 instead of hanging, and Redis never applies it later', async () => {
    const server = await privateRedis()
    const [a, b] = await Promise.all([startReplica(server.url, PREFIX, { commandTimeoutMs: 1000 }), startReplica(server.url, PREFIX)])
    await createFlag(b, { key: 'paused' })
    await eventually(() => held(a, 'paused') !== undefined, 10_000, 'A to hold the flag')

    // Far longer than the timeout (and ended explicitly): the write waits in Redis meanwhile.
    await server.client().call('CLIENT', 'PAUSE', '20000', 'WRITE')
    const refused = await call(a, 'PATCH', '/flags/paused', { body: { state: 'enabled' }, expected: 503 })
    expect(refused.json().message).toMatch(/did not answer within 1000 ms/)
    expect(await evaluateFlag(a, 'paused')).toMatchObject({ enabled: false, version: 1 })

    await server.client().call('CLIENT', 'UNPAUSE')
    // A later write goes through; the refused one never shows up in Redis or on any replica.
    await createFlag(b, { key: 'after_pause' })
    await eventually(() => held(a, 'after_pause') !== undefined, 10_000, 'A to see the later write')
    expect(await storedVersion(server, 'paused')).toBe(1)
    expect(held(a, 'paused')?.version).toBe(1)
    expect(held(b, 'paused')?.version).toBe(1)
  })
})

describe('missed notifications', () => {
  it('a replica whose subscriber was cut off converges when it reconnects, with no restart', async () => {
    const server = await privateRedis()
    const a = await startReplica(server.url, PREFIX)
    // No counter check on B, and a slow reconnection: only the resync on reconnect can catch it up.
    const b = await startReplica(server.url, PREFIX, { resyncCheckMs: 0, retryDelayMs: () => 1000 })
    await createFlag(a, { key: 'missed' })
    await eventually(() => held(b, 'missed') !== undefined, 10_000, 'B to hold the flag')

    await killConnection(server.client(), b, 'sub')
    await eventually(async () => (await connectionInfo(server.client(), b, 'sub')) === undefined, 10_000, "B's subscriber to be gone")
    await updateFlag(a, 'missed', { state: 'enabled' })
    expect(redisStoreOf(b).health()).toMatchObject({ status: 'down', detail: expect.stringMatching(/change-notification/) })

    await eventually(() => held(b, 'missed')?.version === 2, 10_000, 'B to resync after reconnecting')
    expect(await evaluateFlag(b, 'missed')).toMatchObject({ enabled: true, version: 2 })
    await eventually(() => isUp(b), 10_000, 'B to report healthy')
  })

  it('the change-counter check catches up a replica whose subscriber stays away', async () => {
    const server = await privateRedis()
    const a = await startReplica(server.url, PREFIX)
    // The subscriber will not be back within the test: the periodic check is the only way.
    const b = await startReplica(server.url, PREFIX, { resyncCheckMs: 100, retryDelayMs: () => 60_000 })
    await createFlag(a, { key: 'backstop' })
    await eventually(() => held(b, 'backstop') !== undefined, 10_000, 'B to hold the flag')

    await killConnection(server.client(), b, 'sub')
    await eventually(async () => (await connectionInfo(server.client(), b, 'sub')) === undefined, 10_000, "B's subscriber to be gone")
    await updateFlag(a, 'backstop', { percentage: 30, state: 'percentage' })
    await createFlag(a, { key: 'backstop_two' })

    await eventually(() => held(b, 'backstop')?.version === 2 && held(b, 'backstop_two') !== undefined, 10_000, 'B to catch up from the counter')
    expect(await connectionInfo(server.client(), b, 'sub')).toBeUndefined()
  })
})

describe('Redis that lost its data (issue 15)', () => {
  it('restarted without persistence: reported as diverged, writes refused with STORE_DIVERGED, evaluations served from memory', async () => {
    const server = await privateRedis()
    const a = await startReplica(server.url, PREFIX, { resyncCheckMs: 100, retryDelayMs: () => 50 })
    await createFlag(a, { key: 'kept', state: 'enabled' })
    await server.kill()
    await server.restart()

    await eventually(() => redisStoreOf(a).health().status === 'diverged', 10_000, 'the loss to be reported')
    expect(redisStoreOf(a).health().detail).toMatch(/epoch key is gone/)
    expect(await evaluateFlag(a, 'kept')).toMatchObject({ enabled: true, version: 1 })
    const refused = await call(a, 'POST', '/flags', { body: { key: 'after_loss' }, expected: 503 })
    expect(refused.json()).toMatchObject({ code: 'STORE_DIVERGED', message: expect.stringContaining('POST /admin/reseed') })
    expect(await server.client().exists(`${PREFIX}flags`)).toBe(0)
  })

  // Finding: after a resync and then a FLUSHALL, 15 creates were acknowledged with 201 and then
  // dropped by both replicas as "already seen"; flags gone from Redis kept being served; both
  // replicas reported the store "up", indefinitely.
  it('FLUSHALL after a resync: no write is acknowledged into the empty store, every replica reports it and keeps serving', async () => {
    const server = await privateRedis()
    const fast = { resyncCheckMs: 100, retryDelayMs: () => 50 }
    const [a, b] = await Promise.all([startReplica(server.url, PREFIX, fast), startReplica(server.url, PREFIX, fast)])
    for (let i = 0; i < 5; i++) await createFlag(a, { key: `before_${i}`, state: 'enabled' })
    await eventually(() => held(b, 'before_4') !== undefined, 10_000, 'B to hold the flags')
    // A resync first: B's subscriber is cut, and it reloads everything when it reconnects.
    await killConnection(server.client(), b, 'sub')
    await eventually(() => isUp(b), 10_000, 'B to reconnect and resync')

    await server.client().flushall()
    const answers = await Promise.all(Array.from({ length: 15 }, (_, i) => call(i % 2 ? a : b, 'POST', '/flags', { body: { key: `after_${i}` } })))
    const acknowledged = answers.filter((res) => res.statusCode === 201)
    expect(answers.map((res) => res.statusCode)).toEqual(answers.map(() => 503))
    expect(answers.every((res) => res.json().code === 'STORE_DIVERGED')).toBe(true)
    expect(acknowledged).toEqual([])
    for (const app of [a, b]) {
      await eventually(() => redisStoreOf(app).health().status === 'diverged', 10_000, 'every replica to report the loss')
      expect(await evaluateFlag(app, 'before_3')).toMatchObject({ enabled: true })
      const health = (await call(app, 'GET', '/readyz', { token: null, expected: 200 })).json()
      expect(health.store).toMatchObject({ kind: 'redis', status: 'diverged' })
      const metrics = (await call(app, 'GET', '/metrics', { expected: 200 })).body
      expect(metrics).toMatch(/^switchyard_store_diverged 1$/m)
      expect(metrics).toMatch(/^switchyard_store_up\{store="redis"\} 0$/m)
      await call(app, 'PATCH', '/flags/before_1', { body: { state: 'disabled' }, expected: 503 })
    }
    // Nothing was written into the empty Redis but the replicas' heartbeats (they never touch a seq).
    expect((await server.client().keys('*')).filter((key) => !/:replica(s|-beats)$/.test(key))).toEqual([])
  })

  it('a store from before epochs (a counter, no epoch) is adopted without being taken for a loss', async () => {
    const server = await privateRedis()
    const first = await startReplica(server.url, PREFIX)
    await createFlag(first, { key: 'legacy' })
    await first.close()
    await server.client().del(`${PREFIX}epoch`)
    const later = await startReplica(server.url, PREFIX)
    expect(redisStoreOf(later).health().status).toBe('up')
    await updateFlag(later, 'legacy', { state: 'enabled' })
    expect(await server.client().get(`${PREFIX}epoch`)).toMatch(/^[A-Za-z0-9_-]{16}$/)
  })
})

describe('recovering a store that lost data (issue 15)', () => {
  // Compiling flagctl (only after a source changed) can take a while on a busy machine.
  beforeAll(() => flagctlBin(), 120_000)
  const fast = { resyncCheckMs: 100, retryDelayMs: () => 50 }
  const revisionOf = (app: FastifyInstance) => app.switchyard.sync.revision.value
  const fleetOf = async (app: FastifyInstance) => (await call(app, 'GET', '/admin/fleet', { expected: 200 })).json()

  /** Two replicas holding flags and a token, then Redis restarted empty, as a restart without persistence leaves it. */
  async function lostStore() {
    const server = await privateRedis()
    const [a, b] = await Promise.all([startReplica(server.url, PREFIX, fast), startReplica(server.url, PREFIX, fast)])
    for (let i = 0; i < 3; i++) await createFlag(a, { key: `kept_${i}`, state: 'enabled' })
    const token = (await call(b, 'POST', '/tokens', { body: { name: 'svc', scope: 'evaluate' }, expected: 201 })).json()
    await eventually(() => held(b, 'kept_2') !== undefined && a.switchyard.tokens.find(token.id) !== undefined, 10_000, 'both replicas to hold it all')
    const before = revisionOf(a)
    await server.kill()
    await server.restart()
    for (const app of [a, b]) await eventually(() => redisStoreOf(app).health().status === 'diverged', 10_000, 'the loss to be reported')
    // Their heartbeats reach the empty Redis: a replica started now can see them.
    await eventually(async () => (await server.client().hlen(`${PREFIX}replica-beats`)) === 2, 10_000, 'both heartbeats in the new Redis')
    return { server, a, b, token, before }
  }

  it('a replica started after the loss reports it instead of serving an empty state, and FLAGS_BOOTSTRAP_FILE does not seed the store', async () => {
    const { server, a } = await lostStore()
    const bootstrap = tempDir()
    onTestFinished(() => bootstrap.remove())
    const file = `${bootstrap.path}/flags.yaml`
    writeFileSync(file, 'version: 1\nflags:\n  - key: from_bootstrap\n')
    const late = await startReplica(server.url, PREFIX, { ...fast, load: false, config: { flagsBootstrapFile: file } })
    await eventually(() => redisStoreOf(late).health().status === 'diverged', 10_000, 'the late replica to report the loss')
    expect(redisStoreOf(late).health().detail).toMatch(/does not hold the store the running replicas synced from/)
    const ready = await call(late, 'GET', '/readyz', { token: null, expected: 503 })
    expect(ready.json().store).toMatchObject({ status: 'diverged' })
    expect(await server.client().hexists(`${PREFIX}flags`, 'from_bootstrap')).toBe(0)
    expect(await server.client().exists(`${PREFIX}epoch`)).toBe(0)

    const fleet = await fleetOf(a)
    expect(fleet).toMatchObject({ epoch: null, consistent: false })
    expect(fleet.replicas.map((r: { epoch: string | null }) => r.epoch).filter((e: string | null) => e === null)).toHaveLength(1)
    // The late replica holds nothing to write back.
    expect((await call(late, 'POST', '/admin/reseed', { expected: 409 })).json()).toMatchObject({ code: 'NOTHING_TO_RESEED' })
  })

  it("flagctl reseed writes a replica's state back under a new epoch: every replica converges, writes resume, no seq is issued twice", async () => {
    const { server, a, b, token, before } = await lostStore()
    const late = await startReplica(server.url, PREFIX, { ...fast, load: false })
    await eventually(() => redisStoreOf(late).health().status === 'diverged', 10_000, 'the late replica to report the loss')

    const fleet = await fleetOf(b)
    const [ra, rb] = [a, b].map((app) => fleet.replicas.find((r: { id: string }) => r.id === redisStoreOf(app).instanceId))
    expect(ra.stateHash).toBe(rb.stateHash)

    // The operator's command, against replica A itself.
    await a.listen({ host: '127.0.0.1', port: 0 })
    const result = await flagctl(['reseed', '--json'], { url: `http://127.0.0.1:${(a.server.address() as { port: number }).port}` })
    expect(result.code, result.stderr).toBe(0)
    const reseeded = JSON.parse(result.stdout)
    expect(reseeded).toMatchObject({ flags: 3, tokens: 1 })
    expect(reseeded.seq).toBeGreaterThan(before)
    expect(await server.client().get(`${PREFIX}epoch`)).toBe(reseeded.epoch)
    for (const app of [a, b, late]) {
      await eventually(() => redisStoreOf(app).health().status === 'up' && app.switchyard.sync.ready, 10_000, 'every replica to adopt the reseed')
      await eventually(() => held(app, 'kept_2') !== undefined && revisionOf(app) >= reseeded.seq, 10_000, 'the state on every replica')
      await call(app, 'POST', '/evaluate', { token: token.token, body: { flag: 'kept_0', context: {} }, expected: 200 })
    }
    const written = (await call(late, 'PATCH', '/flags/kept_1', { body: { state: 'disabled' }, expected: 200 })).json()
    expect(written.version).toBe(2)
    await eventually(() => held(a, 'kept_1')?.version === 2 && held(b, 'kept_1')?.version === 2, 10_000, 'the write on every replica')
    expect(Number(await server.client().get(`${PREFIX}seq`))).toBe(reseeded.seq + 1)
    // Within a heartbeat every replica reports the new epoch and one state.
    await eventually(async () => (await fleetOf(a)).consistent === true, 10_000, 'the fleet to agree')
    expect((await fleetOf(b)).epoch).toBe(reseeded.epoch)
    const [event] = (await call(a, 'GET', '/audit?limit=2', { expected: 200 })).json().events.slice(1)
    expect(event).toMatchObject({ action: 'store.reseeded', seq: reseeded.seq, changes: { flags: { after: 3 }, tokens: { after: 1 } } })
    // Only a diverged store can be reseeded.
    expect((await call(a, 'POST', '/admin/reseed', { expected: 409 })).json()).toMatchObject({ code: 'STORE_NOT_DIVERGED' })
  })

  it('POST /admin/accept-store goes on with what Redis holds: every replica empties, only ADMIN_TOKEN remains, writes resume', async () => {
    const { server, a, b, token } = await lostStore()
    const accepted = (await call(b, 'POST', '/admin/accept-store', { expected: 200 })).json()
    expect(accepted).toMatchObject({ flags: 0, tokens: 0 })
    for (const app of [a, b]) {
      await eventually(
        () => redisStoreOf(app).health().status === 'up' && held(app, 'kept_0') === undefined,
        10_000,
        'every replica to take the store as it is',
      )
      await call(app, 'POST', '/evaluate', { token: token.token, body: { flag: 'kept_0', context: {} }, expected: 401 })
    }
    await createFlag(a, { key: 'restored' })
    await eventually(() => held(b, 'restored') !== undefined, 10_000, 'the new flag on B')
    expect(Number(await server.client().get(`${PREFIX}seq`))).toBe(accepted.seq + 1)
    const [event] = (await call(a, 'GET', '/audit?limit=2', { expected: 200 })).json().events.slice(1)
    expect(event).toMatchObject({ action: 'store.accepted', seq: accepted.seq })
  })
})

describe('what a hostile review of the recovery found (issue 15)', () => {
  /** Every key of the store but the heartbeats, as an older backup would hold them. */
  async function backup(server: RedisServer) {
    const keys = (await server.client().keys(`${PREFIX}*`)).filter((key) => !/:replica(s|-beats)$/.test(key))
    return Promise.all(keys.map(async (key) => [key, (await server.client().dumpBuffer(key))!] as const))
  }
  async function restore(server: RedisServer, dumps: Awaited<ReturnType<typeof backup>>) {
    for (const [key, value] of dumps) await server.client().restore(key, 0, value, 'REPLACE')
  }

  // Finding: restored from an older copy (same epoch, lower counter), a write within the counter
  // check's interval was acknowledged with a seq issued before, and the writer skipped its own change.
  it('a write into a store whose counter went back is refused at once, not acknowledged at a reused seq', async () => {
    const server = await privateRedis()
    const a = await startReplica(server.url, PREFIX, { resyncCheckMs: 60_000 })
    await createFlag(a, { key: 'restored' })
    const dumps = await backup(server)
    for (const description of ['v2', 'v3', 'v4']) await updateFlag(a, 'restored', { description })
    await restore(server, dumps)
    const refused = await call(a, 'PATCH', '/flags/restored', { body: { description: 'after the restore' }, expected: 503 })
    expect(refused.json()).toMatchObject({ code: 'STORE_DIVERGED', message: expect.stringContaining('went back from 4 to 1') })
    expect(await server.client().get(`${PREFIX}seq`)).toBe('1')
    expect(held(a, 'restored')).toMatchObject({ version: 4, description: 'v4' })
  })

  // Finding: after such a restore, a replica started later was ready with the old state, took
  // writes at reused seqs, and the fleet view called the fleet consistent.
  it('a replica started after a restore of an older copy sees the running replicas ahead of the counter and serves nothing', async () => {
    const server = await privateRedis()
    const a = await startReplica(server.url, PREFIX, { resyncCheckMs: 100 })
    await createFlag(a, { key: 'restored' })
    const dumps = await backup(server)
    for (const description of ['v2', 'v3']) await updateFlag(a, 'restored', { description })
    await restore(server, dumps)
    await eventually(() => redisStoreOf(a).health().status === 'diverged', 10_000, 'A to find the counter gone back')
    // A replica that has run a while has beaten since: the late one reads that beat.
    const beatOfA = () => server.client().hget(`${PREFIX}replica-beats`, redisStoreOf(a).instanceId)
    await eventually(async () => (await beatOfA())?.includes('"status":"diverged"') ?? false, 10_000, "A's heartbeat to say so")
    const late = await startReplica(server.url, PREFIX, { load: false })
    await eventually(() => redisStoreOf(late).health().status === 'diverged', 10_000, 'the late replica to report it')
    await call(late, 'GET', '/readyz', { token: null, expected: 503 })
    expect((await call(late, 'POST', '/flags', { body: { key: 'at_a_reused_seq' }, expected: 503 })).json()).toMatchObject({ code: 'NOT_READY' })
    expect((await call(a, 'GET', '/admin/fleet', { expected: 200 })).json().consistent).toBe(false)
  })

  // Finding: accept-store on a replica started after the loss raced that replica's own startup
  // loads; it answered 200 and the replica stayed diverged and unready for good.
  it('accept-store on a replica started after the loss brings it up, even while its own startup load is in flight', async () => {
    const server = await startRedisServer({ debugCommand: true })
    onTestFinished(() => server.stop())
    const a = await startReplica(server.url, PREFIX, { resyncCheckMs: 100 })
    await createFlag(a, { key: 'lost' })
    for (let trial = 0; trial < 4; trial++) {
      await server.client().flushall()
      await eventually(() => redisStoreOf(a).health().status === 'diverged', 10_000, 'A to find the loss')
      await eventually(async () => (await server.client().hlen(`${PREFIX}replica-beats`)) >= 1, 10_000, "A's heartbeat in the new Redis")
      const late = await startReplica(server.url, PREFIX, { load: false, resyncCheckMs: 100 })
      await eventually(() => redisStoreOf(late).health().status === 'diverged', 10_000, 'the late replica to report the loss')
      // Redis stalls while the recovery is asked for, so the late replica's next load straddles it.
      const sleeper = server.client().duplicate()
      const stalled = sleeper.call('DEBUG', 'SLEEP', '0.3').finally(() => sleeper.disconnect())
      await new Promise((resolve) => setTimeout(resolve, 5))
      const accepted = await call(late, 'POST', '/admin/accept-store', { expected: 200 })
      await stalled
      for (const app of [late, a]) {
        await eventually(() => redisStoreOf(app).health().status === 'up' && app.switchyard.sync.epoch === accepted.json().epoch, 10_000, 'both to adopt')
      }
      await eventually(() => late.switchyard.sync.ready, 10_000, 'the late replica to be ready')
      await call(late, 'POST', '/flags', { body: { key: `after_${trial}` }, expected: 201 })
      await late.close()
    }
  })

  // Finding: a replica started in the moment after Redis restarted empty, before the running
  // replicas' next heartbeat, wrote a fresh epoch and served an empty state beside them.
  it("a replica started right after Redis restarted empty waits for the running replicas' heartbeats before writing an epoch", async () => {
    const server = await privateRedis()
    const a = await startReplica(server.url, PREFIX, { retryDelayMs: () => 50 })
    await createFlag(a, { key: 'kept', state: 'enabled' })
    await server.kill()
    await server.restart()
    const late = await startReplica(server.url, PREFIX, { load: false, firstEpochWaitMs: FIRST_EPOCH_WAIT_MS })
    await eventually(() => redisStoreOf(late).health().status === 'diverged', 10_000, 'the late replica to find the loss')
    await call(late, 'GET', '/readyz', { token: null, expected: 503 })
    expect(await server.client().exists(`${PREFIX}epoch`)).toBe(0)
  })
})

describe('startup', () => {
  it('a replica started while Redis is down stays unready, then loads everything once Redis is back', async () => {
    const server = await privateRedis({ persistent: true })
    const seed = await startReplica(server.url, PREFIX)
    await createFlag(seed, { key: 'remembered', state: 'enabled' })
    await seed.close()
    await server.kill()

    const late = await startReplica(server.url, PREFIX, { load: false, retryDelayMs: () => 50 })
    expect((await call(late, 'GET', '/readyz', { token: null, expected: 503 })).json()).toMatchObject({
      status: 'loading',
      store: { kind: 'redis', status: 'down' },
    })
    await call(late, 'POST', '/evaluate', { body: { flag: 'remembered' }, expected: 503 })

    await server.restart()
    await eventually(async () => (await call(late, 'GET', '/readyz', { token: null })).statusCode === 200, 10_000, 'the replica to become ready')
    expect(await evaluateFlag(late, 'remembered')).toMatchObject({ enabled: true, version: 1 })
  })
})

describe('graceful shutdown', () => {
  it('SIGTERM lets the server exit cleanly and closes its Redis connections', async () => {
    const server = await privateRedis()
    const proc = await spawnServer({ REDIS_URL: server.url, ADMIN_TOKEN: ADMIN, LOG_LEVEL: 'silent' })
    onTestFinished(async () => void (await proc.stop('SIGKILL')))
    await waitReady(proc)
    const named = async () => ((await server.client().client('LIST')) as string).split('\n').filter((line) => / name=switchyard-(cmd|sub)-/.test(line))
    expect(await named()).toHaveLength(2)

    expect(await proc.stop('SIGTERM')).toBe(0)
    await eventually(async () => (await named()).length === 0, 5000, 'the connections to close')
  })
})
