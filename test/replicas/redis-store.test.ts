// The Redis store's contract against a real redis-server: atomic commits with the version
// check in Redis, keys and channel under the prefix, the capped audit stream, notifications.
import { describe, expect, it, onTestFinished } from 'vitest'
import type { Redis } from 'ioredis'
import { AUDIT_PAGE_MAX_BYTES, type AuditDraft, type FieldChange } from '../../packages/core/src/audit/schema.js'
import { ConflictError, LeaseLostError } from '../../packages/server/src/store/errors.js'
import type { Flag } from '../../packages/core/src/flags/schema.js'
import { RedisStore } from '../../packages/server/src/store/redis.js'
import { redisKeys } from '../../packages/server/src/store/redis-scripts.js'
import type { Write } from '../../packages/server/src/store/store.js'
import { eventually } from '../support/helpers.js'
import { redisClient, testPrefix, useSharedRedis } from '../support/redis-helpers.js'
import { newestWithin } from '../support/audit-model.js'

const redis = useSharedRedis()

function openStore(prefix: string, auditMaxEvents = 10_000, auditMaxBytes?: number): RedisStore {
  const store = new RedisStore({ target: { kind: 'single', url: redis.url() }, prefix, auditMaxEvents, auditMaxBytes })
  onTestFinished(() => store.close())
  return store
}

function flagAt(key: string, version: number, description = ''): Flag {
  const at = new Date(0).toISOString()
  return {
    key,
    description,
    tags: [],
    state: 'enabled',
    percentage: 0,
    betaUsers: [],
    betaTenants: [],
    stickiness: 'userId',
    version,
    createdAt: at,
    updatedAt: at,
    updatedBy: 'tester',
  }
}

function audit(flag: string, actor = 'tester'): AuditDraft {
  return {
    id: `${flag}-${Math.random()}`,
    type: 'audit',
    action: 'flag.updated',
    flag,
    actor,
    requestId: 'req',
    timestamp: new Date(0).toISOString(),
    changes: {},
  }
}

const putFlag = (key: string, expectedVersion: number, description = '', actor?: string): Write => ({
  kind: 'flag',
  key,
  expectedVersion,
  next: flagAt(key, expectedVersion + 1, description),
  audit: audit(key, actor),
})

/** About 10 KB of audit event: an update of flag `busy` adding 50 ids of 200 characters. */
const busyWrite = (version: number) => listWrite('busy', version, { added: bigIds(`v${version}`, 50, 200), removed: [] })

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
    expect(await store.load()).toEqual({ seq: 3, epoch: expect.any(String), flags: [], tokens: [token], segments: [] })
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
    // The notification names the change only: a replica reads the record from the store.
    const client = redisClient(redis.url())
    const epoch = await client.get(`${prefix}epoch`)
    expect(epoch).toMatch(/^[A-Za-z0-9_-]{16}$/)
    // Then when the commit ran, on Redis's clock (for the propagation histogram), the MAC, and on a
    // second line the record as stored.
    const [header, record] = messages[0]!.split('\n')
    const [, committedAt, mac] = /^.* (\d+) ([0-9a-f]{40})$/.exec(header!)!
    expect(header).toBe(`${prefix}changes flag 1 alpha ${store.instanceId} ${epoch} ${committedAt} ${mac}`)
    expect(Math.abs(Number(committedAt) - Date.now())).toBeLessThan(60_000)
    expect(record).toBe(await client.hget(`${prefix}flags`, 'alpha'))
    expect((await client.keys(`${prefix}*`)).sort()).toEqual([
      `${prefix}audit`,
      `${prefix}audit-bytes`,
      `${prefix}epoch`,
      `${prefix}flags`,
      `${prefix}note-key`,
      `${prefix}seq`,
    ])
    expect(await neighbour.readFlag('alpha')).toBeNull()
    expect(await neighbour.load()).toEqual({ seq: 0, epoch: expect.not.stringMatching(epoch!), flags: [], tokens: [], segments: [] })
  })
})

/** A flag write fenced by lease `guards` under `token`. */
const fenced = (write: Write, token: number): Write => ({ ...(write as Extract<Write, { kind: 'flag' }>), fence: { lease: 'guards', token } })

describe('RedisStore leases', () => {
  it('one holder at a time, a higher fencing token for each new one, and a fenced write refused once the lease is lost', async () => {
    const prefix = testPrefix(redis.url())
    const [a, b] = [openStore(prefix), openStore(prefix)]
    const first = (await a.holdLease('guards', 200))!
    expect(first).toBeGreaterThan(0)
    expect(await a.holdLease('guards', 200)).toBe(first)
    expect(await b.holdLease('guards', 200)).toBeNull()
    await a.commit(fenced(putFlag('alpha', 0), first))
    // A stalls past its lease; B takes it over.
    await eventually(async () => (await b.holdLease('guards', 5000)) !== null, 2000, 'the lease to expire and B to take it')
    const second = (await b.holdLease('guards', 5000))!
    expect(second).toBeGreaterThan(first)
    const refused = await a.commit(fenced(putFlag('alpha', 1, 'late'), first)).catch((err: unknown) => err)
    expect(refused).toBeInstanceOf(LeaseLostError)
    expect(await a.readFlag('alpha')).toMatchObject({ version: 1, description: '' })
    // B's token under A's name is not B's lease either: the holder is part of the fence.
    expect(await a.commit(fenced(putFlag('alpha', 1), second)).catch((err: unknown) => err)).toBeInstanceOf(LeaseLostError)
    await b.commit(fenced(putFlag('alpha', 1, 'by b'), second))
    expect((await a.readAudit({ limit: 10 })).events).toHaveLength(2)
    // Given up, it is free at once.
    await a.releaseLease('guards', second)
    expect(await a.holdLease('guards', 5000)).toBeNull()
    await b.releaseLease('guards', second)
    expect(await a.holdLease('guards', 5000)).toBeGreaterThan(second)
  })

  it("keeps a lease's notes for the next holder: set, replaced, removed", async () => {
    const prefix = testPrefix(redis.url())
    const [a, b] = [openStore(prefix), openStore(prefix)]
    expect(await b.leaseNotes('guards')).toEqual({})
    await a.noteLease('guards', 'checkout', '{"at":1}')
    await a.noteLease('guards', 'search', '{"at":2}')
    await a.noteLease('guards', 'checkout', '{"at":3}')
    await a.noteLease('guards', 'search', null)
    expect(await b.leaseNotes('guards')).toEqual({ checkout: '{"at":3}' })
    expect(await b.leaseNotes('other')).toEqual({})
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

/** `n` distinct ids of `length` characters, padded with `unit` (multi-byte units make UTF-8 longer than the text). */
function bigIds(prefix: string, n: number, length: number, unit = 'x'): string[] {
  return Array.from({ length: n }, (_, i) => {
    const head = `${prefix}-${i}-`
    return head + unit.repeat(Math.max(0, length - head.length))
  })
}

/** A flag write whose audit event records `changes` for betaUsers: as large as its ids make it. */
function listWrite(key: string, expectedVersion: number, change: FieldChange, actor = 'tester'): Write {
  return { ...putFlag(key, expectedVersion, '', actor), audit: { ...audit(key, actor), changes: { betaUsers: change } } }
}

/** The bytes the script counts for a write's event: its JSON as sent, in UTF-8. */
const eventBytes = (write: Write) => Buffer.byteLength(JSON.stringify(write.audit))

/** The events the audit stream holds under `prefix`, and the UTF-8 bytes of their `event` fields. */
async function heldBytes(client: Redis, prefix: string) {
  const entries = await client.xrange(redisKeys(prefix).audit, '-', '+')
  let total = 0
  for (const [, fields] of entries) total += Buffer.byteLength(fields[fields.indexOf('event') + 1]!)
  return { total, length: entries.length }
}

describe('RedisStore audit byte cap', () => {
  const CAP = 300_000

  it('trims the oldest events past AUDIT_MAX_BYTES, keeping the newest even when it alone is larger', async () => {
    const prefix = testPrefix(redis.url())
    const store = openStore(prefix, 10_000, CAP)
    const client = redisClient(redis.url())
    const sizes = new Map<number, number>()
    const fitting = () => newestWithin(sizes, CAP)
    const commit = async (write: Write) => sizes.set((await store.commit(write)).seq, eventBytes(write))
    const held = async () => (await store.readAudit({ limit: 1000 })).events.map((e) => e.seq)

    // 30 to 100 KB an event: three or four fit under the cap.
    const counts = [300, 500, 200, 700, 100, 400, 600, 250, 900, 350]
    for (const [version, n] of counts.entries()) {
      await commit(listWrite('big', version, { added: bigIds(`v${version}`, n, 100), removed: [] }))
      expect(await held()).toEqual(fitting())
      expect(await client.xlen(`${prefix}audit`)).toBe(fitting().length)
    }
    expect(fitting().length).toBeGreaterThan(1)
    expect(fitting().length).toBeLessThan(counts.length)
    const kept = await store.readAudit({ limit: 1000 })
    expect(kept.events.reduce((sum, e) => sum + sizes.get(e.seq)!, 0)).toBeLessThanOrEqual(CAP)

    // About 400 KB: over the cap on its own, and still kept, alone.
    const huge = listWrite('big', counts.length, { added: bigIds('a', 1000, 200), removed: bigIds('r', 1000, 200) })
    expect(eventBytes(huge)).toBeGreaterThan(CAP)
    await commit(huge)
    expect(await held()).toEqual([counts.length + 1])
    await commit(putFlag('big', counts.length + 1, 'small'))
    expect(await held()).toEqual([counts.length + 2])
  })

  it('keeps the audit-bytes counter equal to the UTF-8 bytes of the events the stream holds, through both trims', async () => {
    const prefix = testPrefix(redis.url())
    const keys = redisKeys(prefix)
    const store = openStore(prefix, 5, 50_000)
    const client = redisClient(redis.url())
    // Small events trimmed by count, large ones (some multi-byte) by bytes, in turns.
    const units = ['x', 'é', '€', '🚀']
    for (let i = 0; i < 24; i++) {
      const n = i % 3 === 0 ? 40 : 2
      await store.commit(listWrite('busy', i, { added: bigIds(`i${i}`, n, 200, units[i % units.length]), removed: [] }, `actor-${units[i % 4]}`))
      const { total, length } = await heldBytes(client, prefix)
      expect(Number(await client.get(keys.auditBytes)), `after commit ${i + 1}`).toBe(total)
      expect(length).toBeLessThanOrEqual(5)
      if (length > 1) expect(total).toBeLessThanOrEqual(50_000)
    }
  })

  it('counts afresh from the newest event when the stream was deleted by hand, instead of trimming every later trail to one event', async () => {
    const prefix = testPrefix(redis.url())
    const keys = redisKeys(prefix)
    const store = openStore(prefix, 10_000, 100_000)
    const client = redisClient(redis.url())
    // About 10 KB an event: nine fit under the cap.
    let version = 0
    for (; version < 9; version++) await store.commit(busyWrite(version))
    expect(Number(await client.get(keys.auditBytes))).toBeGreaterThan(80_000)
    await client.del(keys.audit)

    for (; version < 30; version++) await store.commit(busyWrite(version))
    const { total, length } = await heldBytes(client, prefix)
    expect(Number(await client.get(keys.auditBytes))).toBe(total)
    expect(length).toBe(9)
    expect((await store.readAudit({ limit: 1000 })).events.map((e) => e.seq)).toEqual([30, 29, 28, 27, 26, 25, 24, 23, 22])
  })
  it('counts a trail written before the byte cap (no audit-bytes key yet) once, on the next commit', async () => {
    const prefix = testPrefix(redis.url())
    const keys = redisKeys(prefix)
    const store = openStore(prefix, 10_000, 100_000)
    const client = redisClient(redis.url())
    let version = 0
    for (; version < 5; version++) await store.commit(busyWrite(version))
    // As a trail left by a version without the counter.
    await client.del(keys.auditBytes)
    for (; version < 30; version++) await store.commit(busyWrite(version))
    const { total, length } = await heldBytes(client, prefix)
    expect(Number(await client.get(keys.auditBytes))).toBe(total)
    expect(length).toBe(9)
  })
})

describe('RedisStore.readAudit pages of large events', () => {
  it.each<[string, { flag?: string; unit?: string }]>([
    ['every event', {}],
    ['the events of one flag', { flag: 'big' }],
    // 3 bytes of UTF-8 a character: a page counted in characters would hold three times 4 MiB.
    ['every event, with ids of multi-byte characters', { unit: '€' }],
  ])('end once they hold 4 MiB, with a cursor: the cursors walk %s exactly once, newest first', async (_what, options) => {
    const store = openStore(testPrefix(redis.url()))
    const unit = options.unit ?? 'x'
    // About 400 KB an event (1,000 ids each side), or 60 KB of UTF-8 in 20,000 characters (100 ids of '€').
    const n = unit === 'x' ? 1000 : 100
    const sizes = new Map<number, number>()
    const token = { id: 'tok_1', name: 'svc', scope: 'evaluate' as const, hash: 'ab', createdAt: new Date(0).toISOString(), createdBy: 'tester' }
    const first: Write = { kind: 'token', id: token.id, next: token, audit: { ...audit('x'), flag: undefined, tokenId: token.id, action: 'token.created' } }
    sizes.set((await store.commit(first)).seq, eventBytes(first))
    const count = unit === 'x' ? 25 : 150
    for (let version = 0; version < count; version++) {
      const write = listWrite('big', version, { added: bigIds(`a${version}`, n, 200, unit), removed: bigIds(`r${version}`, n, 200, unit) })
      sizes.set((await store.commit(write)).seq, eventBytes(write))
    }

    const seen: number[] = []
    const pages: { bytes: number; cursor?: string }[] = []
    let before: number | undefined
    do {
      const page = await store.readAudit({ flag: options.flag, limit: 1000, before })
      expect(page.events.length).toBeGreaterThan(0)
      pages.push({ bytes: page.events.reduce((sum, e) => sum + sizes.get(e.seq)!, 0), cursor: page.nextCursor })
      seen.push(...page.events.map((e) => e.seq))
      before = page.nextCursor === undefined ? undefined : Number(page.nextCursor)
    } while (before !== undefined && pages.length < 100)

    expect(pages.length).toBeGreaterThanOrEqual(2)
    for (const page of pages) expect(page.bytes).toBeLessThan(4.5 * 1024 * 1024)
    for (const page of pages.slice(0, -1)) expect(page.bytes).toBeGreaterThanOrEqual(AUDIT_PAGE_MAX_BYTES)
    expect(pages.at(-1)!.cursor).toBeUndefined()
    // The token's event (seq 1) has no flag.
    expect(seen).toEqual([...sizes.keys()].filter((seq) => !options.flag || seq !== 1).sort((a, b) => b - a))
  })
})
