// GET /stream under abuse: a revoked token's streams end on every replica with a last `revoked`
// event, open streams are capped per token and in all, and a change is encoded once, as a patch,
// for every consumer.
import type { ServerResponse } from 'node:http'
import { EventEmitter } from 'node:events'
import type { FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import { fetchEvents, type EventStream } from '../support/sse.js'
import { ChangeStream } from '../../packages/server/src/stream/hub.js'
import { defaultStreamLimits, openFilesLimit } from '../../packages/server/src/stream/limits.js'
import { MemoryStore } from '../../packages/server/src/store/memory.js'
import { FlagRegistry } from '../../packages/server/src/flags/registry.js'
import type { Replicated } from '../../packages/server/src/replica/sync.js'
import type { Flag } from '../../packages/core/src/flags/schema.js'
import { createFlag, createToken, eventually, revokeToken, startApp, updateFlag } from '../support/helpers.js'
import { startReplica, testPrefix, useSharedRedis } from '../support/redis-helpers.js'

const redis = useSharedRedis()

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function listen(app: FastifyInstance): Promise<string> {
  return app.listen({ port: 0, host: '127.0.0.1' })
}

async function openStream(base: string, token: string, query = '?format=patch'): Promise<EventStream> {
  const stream = await fetchEvents(`${base}/stream${query}`, { headers: { authorization: `Bearer ${token}` } })
  cleanups.push(() => stream.close())
  return stream
}

describe('GET /stream and revocation', () => {
  it("ends a revoked token's open streams within a second, with a last `revoked` event; other tokens' streams stay", async () => {
    const app = await startApp()
    cleanups.push(() => app.close())
    const base = await listen(app)
    const doomed = await createToken(app, 'doomed-service', 'evaluate')
    const kept = await createToken(app, 'kept-service', 'evaluate')
    const a = await openStream(base, doomed.token)
    const b = await openStream(base, doomed.token, '')
    const other = await openStream(base, kept.token)
    await eventually(() => a.events.length >= 1 && b.events.length >= 1 && other.events.length >= 1)

    const revokedAt = Date.now()
    await revokeToken(app, doomed.id)
    await eventually(() => a.ended() && b.ended(), 1000, 'the revoked streams to end')
    expect(Date.now() - revokedAt).toBeLessThan(1000)
    for (const s of [a, b]) {
      const last = s.events.at(-1)!
      expect(last.event).toBe('revoked')
      expect(JSON.parse(last.data)).toMatchObject({ reason: 'revoked' })
    }
    expect(other.ended()).toBe(false)
    await createFlag(app, { key: 'after_revocation' })
    await eventually(() => other.events.some((e) => e.data.includes('after_revocation')))
    expect(app.switchyard.stream.size).toBe(1)
  })

  it('ends a stream when its token expires, with a last `revoked` event saying so', async () => {
    const app = await startApp()
    cleanups.push(() => app.close())
    const base = await listen(app)
    const expiresAt = new Date(Date.now() + 1500).toISOString()
    const shortLived = await createToken(app, 'short-lived', 'evaluate', 201, { expiresAt })
    const s = await openStream(base, shortLived.token)
    await eventually(() => s.events.length >= 1)
    await eventually(() => s.ended(), 5000, 'the stream to end at expiry')
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(expiresAt))
    expect(s.events.at(-1)!.event).toBe('revoked')
    expect(JSON.parse(s.events.at(-1)!.data)).toMatchObject({ reason: 'expired' })
  })

  it('ends them on every replica: revoked on one, the stream on another ends', async () => {
    const url = redis.url()
    const prefix = testPrefix(url)
    const [one, two] = [await startReplica(url, prefix), await startReplica(url, prefix)]
    const base = await listen(two)
    const token = await createToken(one, 'fleet-service', 'evaluate')
    await eventually(() => two.switchyard.tokens.find(token.id) !== undefined, 5000, 'the token to reach the other replica')
    const s = await openStream(base, token.token)
    await eventually(() => s.events.length >= 1)
    await revokeToken(one, token.id)
    await eventually(() => s.ended(), 1500, 'the stream on the other replica to end')
    expect(s.events.at(-1)!.event).toBe('revoked')
  })
})

describe('GET /stream limits', () => {
  it('refuses a stream past STREAM_MAX_PER_TOKEN with 429 naming the limit, and frees the slot when one closes', async () => {
    const app = await startApp({ streamMaxPerToken: 2 })
    cleanups.push(() => app.close())
    const base = await listen(app)
    const token = await createToken(app, 'greedy', 'evaluate')
    const first = await openStream(base, token.token)
    await openStream(base, token.token)
    const refused = await fetch(`${base}/stream`, { headers: { authorization: `Bearer ${token.token}` } })
    expect(refused.status).toBe(429)
    expect(await refused.json()).toMatchObject({ code: 'TOO_MANY_STREAMS', message: expect.stringContaining('STREAM_MAX_PER_TOKEN') })
    // Another token is not held back by this one.
    const other = await createToken(app, 'modest', 'evaluate')
    expect((await openStream(base, other.token)).status).toBe(200)

    first.close()
    await eventually(() => app.switchyard.stream.size === 2, 5000, 'the closed stream to be forgotten')
    expect((await openStream(base, token.token)).status).toBe(200)
  })

  it('refuses a stream past STREAM_MAX_TOTAL with 429, whatever the token', async () => {
    const app = await startApp({ streamMaxTotal: 2 })
    cleanups.push(() => app.close())
    const base = await listen(app)
    const [t1, t2, t3] = [await createToken(app, 's1', 'evaluate'), await createToken(app, 's2', 'evaluate'), await createToken(app, 's3', 'evaluate')]
    expect((await openStream(base, t1.token)).status).toBe(200)
    expect((await openStream(base, t2.token)).status).toBe(200)
    const refused = await fetch(`${base}/stream`, { headers: { authorization: `Bearer ${t3.token}` } })
    expect(refused.status).toBe(429)
    expect(await refused.json()).toMatchObject({ code: 'TOO_MANY_STREAMS', message: expect.stringContaining('STREAM_MAX_TOTAL') })
    // The rest of the service still answers.
    expect((await fetch(`${base}/healthz`)).status).toBe(200)
  })

  it('counts evaluation streams per client address, not per token (every browser of an app shares its client token)', async () => {
    const app = await startApp({ streamMaxPerToken: 1, streamMaxPerAddress: 2 })
    cleanups.push(() => app.close())
    const base = await listen(app)
    const web = await createToken(app, 'web', 'client')
    const open = () =>
      fetch(`${base}/stream/evaluations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${web.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ context: { userId: 'u' } }),
      })
    const first = await open()
    const second = await open()
    // Past STREAM_MAX_PER_TOKEN (1) already: that limit is not theirs.
    expect([first.status, second.status]).toEqual([200, 200])
    const third = await open()
    expect(third.status).toBe(429)
    expect(await third.json()).toMatchObject({ code: 'TOO_MANY_STREAMS', message: expect.stringContaining('STREAM_MAX_PER_ADDRESS') })
    for (const res of [first, second]) await res.body?.cancel()
  })

  it('defaults both limits from the open-files limit in /proc/self/limits, with a fallback', () => {
    const limits = (soft: string) =>
      `Limit                     Soft Limit           Hard Limit           Units\nMax open files            ${soft}                 1048576              ` +
      `files\n`
    expect(openFilesLimit(limits('512'))).toBe(512)
    expect(defaultStreamLimits(512)).toEqual({ total: 192, perToken: 48, perAddress: 12 })
    expect(defaultStreamLimits(openFilesLimit(limits('unlimited')))).toEqual({ total: 50_000, perToken: 12_500, perAddress: 3_125 })
    expect(openFilesLimit('nothing here')).toBe(1024)
    // This process's own limit is read, whatever it is.
    expect(openFilesLimit()).toBeGreaterThan(0)
  })
})

/** A ServerResponse stand-in that records what was written to it. */
function fakeResponse(): ServerResponse & { written: Buffer[] } {
  const res = Object.assign(new EventEmitter(), {
    written: [] as Buffer[],
    writableLength: 0,
    write(chunk: Buffer) {
      res.written.push(chunk)
      return true
    },
    end() {},
    destroy() {},
  })
  return res as unknown as ServerResponse & { written: Buffer[] }
}

/** A hub on a registry of its own, with limits out of the way; closed after the test. */
function hub(): { flags: Replicated<Flag>; stream: ChangeStream } {
  const { registry, replica: flags } = FlagRegistry.create(new MemoryStore())
  const limits = { maxStreams: 1000, maxStreamsPerToken: 1000, maxStreamsPerAddress: 1000 }
  const stream = new ChangeStream(registry, { heartbeatMs: 60_000, maxBufferBytes: 1 << 30, ...limits }, { warn() {}, info() {} } as never)
  cleanups.push(() => stream.close())
  return { flags, stream }
}

describe('the change stream after a resync', () => {
  it('sends evaluation streams their answers again a batch per turn of the event loop, not all at once', async () => {
    const { flags, stream } = hub()
    const consumers = Array.from({ length: 100 }, () => fakeResponse())
    for (const [i, res] of consumers.entries()) {
      stream.open(res, undefined, { tokenId: 'web', limitKey: `address:${i}`, format: 'evaluations', subscription: { context: { userId: `u${i}` } } })
    }
    // A heartbeat with the time, then the answers.
    expect(consumers.every((res) => res.written.length === 2 && res.written[0]!.toString().startsWith(': heartbeat '))).toBe(true)
    flags.reset([], 5)
    // Synchronously, only the first batch; the rest follow on later turns.
    const answered = consumers.filter((res) => res.written.length === 3).length
    expect(answered).toBeGreaterThan(0)
    expect(answered).toBeLessThan(100)
    await eventually(() => consumers.every((res) => res.written.length === 3), 5000, 'every stream to get its answers')
    expect(consumers[99]!.written[2]!.toString()).toMatch(/^id: 5\nevent: evaluations\n/)
  })
})

describe('the change stream fan-out', () => {
  it('encodes each change once into one Buffer every consumer of a format shares, as a patch of a few hundred bytes for a state toggle', async () => {
    const { flags, stream } = hub()
    const app = await startApp()
    cleanups.push(() => app.close())
    // A 1 MB list: 10,000 ids of 100 characters.
    const betaUsers = Array.from({ length: 10_000 }, (_, i) => `user-${i}-`.padEnd(100, 'x'))
    const big = await createFlag(app, { key: 'big', state: 'beta_users', betaUsers })
    flags.apply('big', big, 1)

    const patchConsumers = Array.from({ length: 5 }, () => fakeResponse())
    const flagConsumers = Array.from({ length: 2 }, () => fakeResponse())
    for (const res of patchConsumers) stream.open(res, undefined, { tokenId: 'tok', limitKey: 'token:tok', format: 'patch' })
    for (const res of flagConsumers) stream.open(res, undefined, { tokenId: 'tok', limitKey: 'token:tok', format: 'flag' })
    const toggled = await updateFlag(app, 'big', { state: 'enabled' })
    flags.apply('big', toggled, 2)

    const patchEvents = patchConsumers.map((res) => res.written.at(-1)!)
    expect(new Set(patchEvents).size).toBe(1)
    expect(patchEvents[0]!.length).toBeLessThan(500)
    const event = patchEvents[0]!.toString()
    expect(event).toMatch(/^id: 2\nevent: patch\ndata: /)
    expect(JSON.parse(event.split('data: ')[1]!)).toMatchObject({ seq: 2, key: 'big', from: 1, patch: { op: 'patch', set: { state: 'enabled', version: 2 } } })
    // Consumers of whole flags share one encoding too.
    const flagEvents = flagConsumers.map((res) => res.written.at(-1)!)
    expect(new Set(flagEvents).size).toBe(1)
    expect(flagEvents[0]!.length).toBeGreaterThan(1_000_000)
  })
})
