// The Redis store's contract against a real redis-server: atomic commits with the version
// check in Redis, keys and channel under the prefix, the capped audit stream, notifications.
import { describe, expect, it, onTestFinished } from 'vitest'
import type { AuditDraft } from '../src/audit/schema.js'
import { ConflictError } from '../src/errors.js'
import type { Flag } from '../src/flags/schema.js'
import { RedisStore } from '../src/store/redis.js'
import type { Write } from '../src/store/store.js'
import { eventually } from './helpers.js'
import { redisClient, testPrefix, useSharedRedis } from './redis-helpers.js'

const redis = useSharedRedis()

function openStore(prefix: string, auditMaxEvents = 10_000): RedisStore {
  const store = new RedisStore({ url: redis.url(), prefix, auditMaxEvents })
  onTestFinished(() => store.close())
  return store
}

function flagAt(key: string, version: number, description = ''): Flag {
  const at = new Date(0).toISOString()
  return { key, description, tags: [], state: 'enabled', percentage: 0, betaUsers: [], betaTenants: [], stickiness: 'userId', version, createdAt: at, updatedAt: at, updatedBy: 'tester' }
}

function audit(flag: string, actor = 'tester'): AuditDraft {
  return { id: `${flag}-${Math.random()}`, type: 'audit', action: 'flag.updated', flag, actor, requestId: 'req', timestamp: new Date(0).toISOString(), changes: {} }
}

const putFlag = (key: string, expectedVersion: number, description = '', actor?: string): Write => ({
  kind: 'flag',
  key,
  expectedVersion,
  next: flagAt(key, expectedVersion + 1, description),
  audit: audit(key, actor),
})

describe('RedisStore.commit', () => {
  it('writes the record, the audit event and the counter in one step, seq by seq', async () => {
    const store = openStore(testPrefix(redis.url()))
    const first = await store.commit(putFlag('alpha', 0))
    const second = await store.commit(putFlag('alpha', 1, 'second'))
    expect([first.seq, second.seq]).toEqual([1, 2])
    expect(await store.readFlag('alpha')).toMatchObject({ version: 2, description: 'second' })
    const snapshot = await store.load()
    expect(snapshot.seq).toBe(2)
    expect(snapshot.flags.map((f) => f.version)).toEqual([2])
    expect((await store.readAudit({ limit: 10 })).events.map((e) => e.seq)).toEqual([2, 1])
  })

  it('refuses a stale expected version with the current flag, and changes nothing', async () => {
    const store = openStore(testPrefix(redis.url()))
    await store.commit(putFlag('alpha', 0))
    await store.commit(putFlag('alpha', 1, 'current'))

    const refused = await store.commit(putFlag('alpha', 1, 'stale')).catch((err: unknown) => err)
    expect(refused).toBeInstanceOf(ConflictError)
    expect((refused as ConflictError).current).toMatchObject({ version: 2, description: 'current' })

    const absent = await store.commit(putFlag('missing', 4)).catch((err: unknown) => err)
    expect(absent).toBeInstanceOf(ConflictError)
    expect((absent as ConflictError).current).toBeNull()

    expect((await store.load()).seq).toBe(2)
    expect(await store.readFlag('alpha')).toMatchObject({ version: 2, description: 'current' })
    expect(await store.readFlag('missing')).toBeNull()
    expect((await store.readAudit({ limit: 10 })).events).toHaveLength(2)
  })

  it('deletes a record and stores tokens without a version check', async () => {
    const store = openStore(testPrefix(redis.url()))
    await store.commit(putFlag('alpha', 0))
    const token = { id: 'tok_1', name: 'svc', scope: 'evaluate' as const, hash: 'ab', createdAt: new Date(0).toISOString(), createdBy: 'tester' }
    await store.commit({ kind: 'token', id: token.id, next: token, audit: { ...audit('x'), flag: undefined, tokenId: token.id, action: 'token.created' } })
    const removed = await store.commit({ kind: 'flag', key: 'alpha', expectedVersion: 1, next: null, audit: audit('alpha') })
    expect(removed).toEqual({ kind: 'flag', key: 'alpha', seq: 3, flag: null })
    expect(await store.load()).toEqual({ seq: 3, flags: [], tokens: [token] })
  })

  it('keeps every key and the channel under its prefix, apart from other prefixes', async () => {
    const prefix = testPrefix(redis.url())
    const store = openStore(prefix)
    const neighbour = openStore(testPrefix(redis.url()))
    const listener = redisClient(redis.url())
    const messages: string[] = []
    listener.on('message', (channel: string, message: string) => messages.push(`${channel} ${message}`))
    await listener.subscribe(`${prefix}changes`)

    await store.commit(putFlag('alpha', 0))
    await eventually(() => messages.length > 0, 5000, 'the notification')
    expect(messages).toHaveLength(1)
    expect(messages[0]!.split('\n')[0]).toBe(`${prefix}changes flag 1 alpha ${store.instanceId}`)
    expect(JSON.parse(messages[0]!.split('\n')[1]!)).toMatchObject({ seq: 1, version: 1, doc: { key: 'alpha' } })
    const client = redisClient(redis.url())
    expect((await client.keys(`${prefix}*`)).sort()).toEqual([`${prefix}audit`, `${prefix}audit-bytes`, `${prefix}flags`, `${prefix}seq`])
    expect(await neighbour.readFlag('alpha')).toBeNull()
    expect(await neighbour.load()).toEqual({ seq: 0, flags: [], tokens: [] })
  })
})

describe('RedisStore notifications', () => {
  it("turns another store's commits, deletes included, into changes carrying the committed record", async () => {
    const prefix = testPrefix(redis.url())
    const writer = openStore(prefix)
    const reader = openStore(prefix)
    const changes: unknown[] = []
    let subscribed = false
    // The reader resyncs once its subscription is active: from then on nothing is missed.
    reader.subscribe((event) => (event.type === 'change' ? changes.push(event.change) : (subscribed = true)))
    await eventually(() => subscribed, 5000, 'the reader to subscribe')

    await writer.commit(putFlag('alpha', 0, 'hello'))
    await eventually(() => changes.length === 1, 5000, 'the first change')
    expect(changes[0]).toEqual({ kind: 'flag', key: 'alpha', seq: 1, flag: flagAt('alpha', 1, 'hello') })
    await writer.commit({ kind: 'flag', key: 'alpha', expectedVersion: 1, next: null, audit: audit('alpha') })
    await eventually(() => changes.length === 2, 5000, 'the delete')
    expect(changes[1]).toEqual({ kind: 'flag', key: 'alpha', seq: 2, flag: null })
  })
})

describe('RedisStore.readAudit', () => {
  it('pages newest first with the flag and actor filters and the seq cursor', async () => {
    const store = openStore(testPrefix(redis.url()))
    for (let i = 0; i < 12; i++) await store.commit(putFlag(i % 2 ? 'odd' : 'even', Math.floor(i / 2), `v${i}`, i % 3 ? 'ann' : 'bob'))

    const page1 = await store.readAudit({ limit: 5 })
    expect(page1.events.map((e) => e.seq)).toEqual([12, 11, 10, 9, 8])
    const page2 = await store.readAudit({ limit: 5, before: Number(page1.nextCursor) })
    expect(page2.events.map((e) => e.seq)).toEqual([7, 6, 5, 4, 3])
    const page3 = await store.readAudit({ limit: 5, before: Number(page2.nextCursor) })
    expect(page3).toEqual({ events: [expect.objectContaining({ seq: 2 }), expect.objectContaining({ seq: 1 })], nextCursor: undefined })

    const odd = await store.readAudit({ flag: 'odd', limit: 100 })
    expect(odd.events.map((e) => e.seq)).toEqual([12, 10, 8, 6, 4, 2])
    const bobOnEven = await store.readAudit({ flag: 'even', actor: 'bob', limit: 1 })
    expect(bobOnEven.events.map((e) => [e.seq, e.actor, e.flag])).toEqual([[7, 'bob', 'even']])
    expect((await store.readAudit({ flag: 'even', actor: 'bob', limit: 1, before: Number(bobOnEven.nextCursor) })).events.map((e) => e.seq)).toEqual([1])
    expect(page1.events[0]).toMatchObject({ type: 'audit', action: 'flag.updated', flag: 'odd', actor: 'ann', requestId: 'req' })
  })

  it('caps the stream near AUDIT_MAX_EVENTS, dropping the oldest', async () => {
    const prefix = testPrefix(redis.url())
    const store = openStore(prefix, 100)
    for (let i = 0; i < 400; i++) await store.commit(putFlag('busy', i))
    const client = redisClient(redis.url())
    const length = await client.xlen(`${prefix}audit`)
    expect(length).toBeGreaterThanOrEqual(100)
    expect(length).toBeLessThan(400)
    const newest = await store.readAudit({ limit: 1000 })
    expect(newest.events[0]!.seq).toBe(400)
    expect(newest.events).toHaveLength(length)
  })
})
