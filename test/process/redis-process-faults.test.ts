// Faults of the processes around a replica, each with a private redis-server: the replica's
// subscriber connection killed by Redis in the middle of another replica's writes, Redis itself
// stalled by DEBUG SLEEP under concurrent writes from two replicas, and a replica process frozen
// with SIGSTOP while another keeps writing. Every acknowledged write is in Redis and on every
// replica; every refused one answers 503 and, unless it says it may have been applied, changed
// nothing; and every replica converges on what Redis holds by itself, without a restart.
import { isDeepStrictEqual } from 'node:util'
import { describe, expect, it, onTestFinished } from 'vitest'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import type { Flag } from '../../packages/core/src/flags/schema.js'
import { ADMIN, call, createFlag, eventually, spawnServer, updateFlag, waitReady } from '../support/helpers.js'
import { HttpClient } from '../support/http.js'
import { connectionInfo, killConnection, privateRedis, redisStoreOf, startReplica, type RedisServer } from '../support/redis-helpers.js'

const PREFIX = 'switchyard:'
const held = (app: FastifyInstance, key: string) => app.switchyard.flags.get(key)?.flag
const isUp = (app: FastifyInstance) => redisStoreOf(app).health().status === 'up'

/** Every flag Redis holds, by key. */
async function storedFlags(server: RedisServer): Promise<Record<string, Flag>> {
  const records = await server.client().hgetall(`${PREFIX}flags`)
  return Object.fromEntries(Object.entries(records).map(([key, text]) => [key, (JSON.parse(text) as { doc: Flag }).doc]))
}

const versionsOf = (flags: Iterable<Flag>) => Object.fromEntries([...flags].map((flag) => [flag.key, flag.version]))
const heldFlags = (app: FastifyInstance) => [...app.switchyard.flags.all()].map((compiled) => compiled.flag)

/** The descriptions Redis's audit trail says were written (by creates and PATCHes), one per committed change. */
async function committedDescriptions(server: RedisServer): Promise<string[]> {
  const entries = await server.client().xrange(`${PREFIX}audit`, '-', '+')
  return entries.flatMap(([, fields]) => {
    const event = JSON.parse(fields[fields.indexOf('event') + 1]!) as { changes: { description?: { after: string } } }
    return event.changes.description ? [event.changes.description.after] : []
  })
}

/** Whether the replica holds exactly what Redis holds: the same flags, each the same document. */
async function matchesRedis(app: FastifyInstance, server: RedisServer): Promise<boolean> {
  const stored = await storedFlags(server)
  const mine = heldFlags(app)
  return mine.length === Object.keys(stored).length && mine.every((flag) => isDeepStrictEqual(flag, stored[flag.key]))
}

const connectionId = (line: string | undefined) => (line === undefined ? undefined : /\bid=(\d+)/.exec(line)![1])

describe('subscriber killed mid-stream', () => {
  it('CLIENT KILL of a replica subscriber during 40 writes from another: it reconnects and holds exactly what Redis holds, with no restart', async () => {
    const server = await privateRedis()
    const a = await startReplica(server.url, PREFIX)
    // No counter check on B: only the resync that follows its reconnection can catch it up.
    const b = await startReplica(server.url, PREFIX, { resyncCheckMs: 0, retryDelayMs: () => 200 })
    const instanceId = redisStoreOf(b).instanceId
    const cmdBefore = connectionId(await connectionInfo(server.client(), b, 'cmd'))
    const subBefore = connectionId(await connectionInfo(server.client(), b, 'sub'))

    // 10 creates, then 30 PATCHes over them; B's subscriber is cut after the 15th write.
    const acknowledged: Record<string, number> = {}
    for (let i = 0; i < 40; i++) {
      if (i === 15) await killConnection(server.client(), b, 'sub')
      const flag =
        i < 10 ? await createFlag(a, { key: `stream_${i}`, description: `write ${i}` }) : await updateFlag(a, `stream_${i % 10}`, { description: `write ${i}` })
      acknowledged[flag.key] = flag.version
    }
    // A is the only writer: Redis holds its 40 writes, each flag at the version A was answered.
    expect(versionsOf(Object.values(await storedFlags(server)))).toEqual(acknowledged)

    // The same replica, back on a new subscriber connection, with its command connection untouched.
    await eventually(
      async () => {
        const line = await connectionInfo(server.client(), b, 'sub')
        return line !== undefined && connectionId(line) !== subBefore && line.includes(' sub=1 ')
      },
      10_000,
      "B's subscriber to reconnect and subscribe",
    )
    await eventually(() => matchesRedis(b, server), 10_000, 'B to hold exactly what Redis holds')
    expect(versionsOf(heldFlags(b))).toEqual(acknowledged)
    expect(redisStoreOf(b).instanceId).toBe(instanceId)
    expect(connectionId(await connectionInfo(server.client(), b, 'cmd'))).toBe(cmdBefore)
    await eventually(() => isUp(b), 10_000, 'B to report healthy')

    // And it goes on following A through notifications.
    await updateFlag(a, 'stream_0', { description: 'after the reconnection' })
    await eventually(() => held(b, 'stream_0')?.description === 'after the reconnection', 10_000, 'B to follow a later write')
  })
})

interface Outcome {
  replica: 'a' | 'b'
  key: string
  /** The description the write sets, unique to it: how it is found in Redis's audit trail. */
  mark: string
  startedAt: number
  res: LightMyRequestResponse
}

describe('Redis stalled', () => {
  it('DEBUG SLEEP under concurrent writes from two replicas: acknowledged writes are everywhere, refused ones answer 503 and changed nothing', async () => {
    const server = await privateRedis({ debugCommand: true })
    const options = { commandTimeoutMs: 1000, resyncCheckMs: 200 }
    const [a, b] = await Promise.all([startReplica(server.url, PREFIX, options), startReplica(server.url, PREFIX, options)])
    const shared = ['stalled_0', 'stalled_1', 'stalled_2']
    for (const key of shared) await createFlag(a, { key, description: `seed ${key}` })
    await eventually(() => shared.every((key) => held(b, key) !== undefined), 10_000, 'B to hold the flags')

    const outcomes: Outcome[] = []
    let next = 0
    const write = async (replica: 'a' | 'b', create: boolean) => {
      const i = next++
      const mark = `write ${i}`
      const key = create ? `created_${i}` : shared[i % shared.length]!
      const app = replica === 'a' ? a : b
      const startedAt = Date.now()
      const res = create
        ? await call(app, 'POST', '/flags', { body: { key, description: mark } })
        : await call(app, 'PATCH', `/flags/${key}`, { body: { description: mark } })
      outcomes.push({ replica, key, mark, startedAt, res })
    }
    // Three writers per replica, from now until the end: PATCHes of the shared flags (racing the
    // other replica's), and creates.
    let stop = false
    const writer = async (replica: 'a' | 'b') => {
      while (!stop) await write(replica, next % 3 === 0)
    }
    const writers = Promise.all((['a', 'a', 'a', 'b', 'b', 'b'] as const).map(writer))
    const probes: Promise<void>[] = []
    // Phases are counted in answers: healthy writes, the stall, healthy writes again on both replicas.
    // (The writers race on three flags: one replica may lose many races in a row, so the phases are
    // not counted in its writers' answers alone.)
    const acknowledgedSince = (since: number, replica: 'a' | 'b') =>
      outcomes.filter((o) => o.replica === replica && o.startedAt >= since && o.res.statusCode < 300).length
    try {
      await eventually(() => acknowledgedSince(0, 'a') >= 3 && acknowledgedSince(0, 'b') >= 3, 10_000, 'writes before the stall')
      // Longer than the replicas' command timeout: the writes waiting on it time out.
      let awake = 0
      const stall = server
        .client()
        .call('DEBUG', 'SLEEP', '1.5')
        .finally(() => (awake = Date.now()))
      // Meanwhile one more create every 100 ms, so writes reach the sleeping Redis at every point of
      // the stall, not only where the writers happen to be: sent early, one times out; in the middle,
      // Redis refuses it for its deadline once it wakes; late, it goes through. Any of these is right.
      while (!awake) {
        probes.push(write(probes.length % 2 ? 'b' : 'a', true))
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      await stall
      // Writes go through again on both replicas: creates of their own, which race no one.
      for (const replica of ['a', 'b'] as const) {
        const createdAgain = async () => {
          await write(replica, true)
          return acknowledgedSince(awake, replica) >= 3
        }
        await eventually(createdAgain, 10_000, `${replica.toUpperCase()} to acknowledge writes after the stall`)
      }
    } finally {
      stop = true
      await Promise.all([writers, ...probes])
    }

    const acknowledged = outcomes.filter((o) => o.res.statusCode < 300)
    const refused = outcomes.filter((o) => o.res.statusCode >= 300)
    expect(acknowledged.filter((o) => o.res.statusCode !== (o.key.startsWith('created_') ? 201 : 200)).map((o) => o.res.body)).toEqual([])
    // The stall refused writes, each with 503 and the store's (or the contention) error.
    expect(refused.length).toBeGreaterThan(0)
    for (const o of refused) {
      expect(o.res.statusCode, o.res.body).toBe(503)
      expect(['STORE_UNAVAILABLE', 'WRITE_CONTENDED']).toContain(o.res.json().code)
    }

    // In Redis: every acknowledged write, once; no refused one, unless its answer said it may have been applied.
    const committed = await committedDescriptions(server)
    expect(committed.length).toBe(new Set(committed).size)
    expect(acknowledged.filter((o) => !committed.includes(o.mark))).toEqual([])
    const unsure = refused.filter((o) => /may have been applied/.test(o.res.json().message))
    expect(refused.filter((o) => !unsure.includes(o) && committed.includes(o.mark)).map((o) => o.res.json())).toEqual([])
    // Nothing else was committed (the seeds aside), and each shared flag counts one version per committed change.
    expect(committed.filter((mark) => !mark.startsWith('seed ') && !outcomes.some((o) => o.mark === mark))).toEqual([])
    const stored = await storedFlags(server)
    for (const key of shared) {
      const changes = committed.filter((mark) => outcomes.some((o) => o.mark === mark && o.key === key)).length
      expect(stored[key]!.version, key).toBe(1 + changes)
    }
    for (const o of refused.filter((r) => r.key.startsWith('created_') && !unsure.includes(r))) expect(stored[o.key], o.key).toBeUndefined()

    // Both replicas converge on Redis's state, and every acknowledged create is on both.
    for (const app of [a, b]) {
      await eventually(() => matchesRedis(app, server), 10_000, 'each replica to hold what Redis holds')
      for (const o of acknowledged.filter((ack) => ack.key.startsWith('created_'))) expect(held(app, o.key)?.description, o.key).toBe(o.mark)
      await eventually(() => isUp(app), 10_000, 'each replica to report healthy')
    }
  })
})

describe('replica process frozen', () => {
  it('SIGSTOP for 5 s while another replica writes: after SIGCONT it converges on every write and accepts writes again', async () => {
    const server = await privateRedis()
    const frozen = await spawnServer({ REDIS_URL: server.url, REDIS_PREFIX: PREFIX, ADMIN_TOKEN: ADMIN, LOG_LEVEL: 'silent' })
    // SIGKILL also ends a stopped process.
    onTestFinished(async () => void (await frozen.stop('SIGKILL')))
    await waitReady(frozen)
    const http = new HttpClient(frozen.url, ADMIN, { timeoutMs: 20_000 })
    onTestFinished(() => http.close())
    const a = await startReplica(server.url, PREFIX)
    const seeds = ['frozen_0', 'frozen_1', 'frozen_2']
    for (const key of seeds) await createFlag(a, { key, description: 'seed' })
    const flagOn = async (key: string) => {
      const answer = await http.send('GET', `/flags/${key}`)
      return answer.status === 200 ? (JSON.parse(answer.body) as Flag) : undefined
    }
    await eventually(async () => (await flagOn('frozen_2'))?.version === 1, 10_000, 'the spawned replica to hold the flags')

    frozen.child.kill('SIGSTOP')
    const stoppedAt = Date.now()
    // Sent while it is frozen: the request waits in its socket until it runs again, then drafts
    // from a flag other writes have changed meanwhile.
    const pending = http.send('PATCH', '/flags/frozen_0', { description: 'sent while frozen' })
    const acknowledged: Flag[] = []
    for (let i = 0; Date.now() - stoppedAt < 5000; i++) {
      const write =
        i % 4 === 0 ? createFlag(a, { key: `during_${i}`, description: `write ${i}` }) : updateFlag(a, seeds[i % seeds.length]!, { description: `write ${i}` })
      acknowledged.push((await write) as Flag)
      // Paced: a write every 100 ms or so for the length of the freeze.
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    frozen.child.kill('SIGCONT')

    const late = await pending
    expect(late.status, late.body).toBe(200)
    expect(JSON.parse(late.body)).toMatchObject({ key: 'frozen_0', description: 'sent while frozen' })

    // Every flag Redis holds, and no other, as the frozen replica serves it over HTTP; and the same on A.
    const converged = async () => {
      const stored = await storedFlags(server)
      const { flags: listed } = await http.json<{ flags: Flag[] }>('GET', '/flags?limit=1000')
      const served = await Promise.all(Object.keys(stored).map(flagOn))
      return listed.length === served.length && served.every((flag) => flag !== undefined && isDeepStrictEqual(flag, stored[flag.key]))
    }
    await eventually(converged, 15_000, 'the resumed replica to serve what Redis holds')
    await eventually(() => matchesRedis(a, server), 10_000, 'A to hold what Redis holds')
    const committed = await committedDescriptions(server)
    for (const flag of [...acknowledged, JSON.parse(late.body) as Flag]) {
      expect(committed, flag.key).toContain(flag.description)
      expect((await flagOn(flag.key))?.version ?? 0, flag.key).toBeGreaterThanOrEqual(flag.version)
      expect(held(a, flag.key)?.version ?? 0, flag.key).toBeGreaterThanOrEqual(flag.version)
    }

    // It takes writes again, and A sees them.
    const after = await http.json<Flag>('PATCH', '/flags/frozen_1', { description: 'after the freeze' })
    const created = await http.json<Flag>('POST', '/flags', { key: 'after_freeze' }, 201)
    await eventually(
      () => held(a, 'frozen_1')?.version === after.version && held(a, 'after_freeze')?.version === created.version,
      10_000,
      'A to see the resumed replica writes',
    )
    expect(held(a, 'frozen_1')?.description).toBe('after the freeze')
  })
})
