// Segments in the Redis store against a real redis-server: heads as records with versions and
// tombstones of their own, members in two sets per segment, and notes that carry what changed in
// the members (never the members whole), applied by another replica with applyMembers.
import { segmentHead } from '../support/segments.js'
import { randomUUID } from 'node:crypto'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { describe, expect, it, onTestFinished } from 'vitest'
import type { AuditDraft } from '../../packages/core/src/audit/schema.js'
import { FLAG_DEFAULTS, type Flag } from '../../packages/core/src/flags/schema.js'
import type { Segment } from '../../packages/core/src/segments/schema.js'
import { IdTable } from '../../packages/core/src/segments/id-table.js'
import { ConflictError, StoreUnavailableError } from '../../packages/server/src/store/errors.js'
import { RedisStore, type RedisStoreOptions } from '../../packages/server/src/store/redis.js'
import { redisKeys, segmentMemberKeys } from '../../packages/server/src/store/redis-scripts.js'
import {
  applyMembers,
  type Change,
  type Members,
  type MembersChange,
  type SegmentHead,
  type StoreEvent,
  type Write,
} from '../../packages/server/src/store/store.js'
import { eventually } from '../support/helpers.js'
import { privateRedis, redisClient, testPrefix, useSharedRedis } from '../support/redis-helpers.js'
import { startCluster } from '../support/redis-topologies.js'

const redis = useSharedRedis()
const NOW = new Date(0).toISOString()

function openStore(prefix: string, options: Partial<RedisStoreOptions> = {}): RedisStore {
  const store = new RedisStore({ target: { kind: 'single', url: redis.url() }, prefix, auditMaxEvents: 10_000, firstEpochWaitMs: 0, ...options })
  onTestFinished(() => store.close())
  return store
}

const headAt = (key: string, version: number, description = ''): SegmentHead => segmentHead(key, version, description, 'tester')

const audit = (key: string): AuditDraft => ({
  id: `${key}-${Math.random()}`,
  type: 'audit',
  action: 'flag.updated',
  actor: 'tester',
  requestId: 'req',
  timestamp: NOW,
  changes: {},
})

const none: Members = { users: [], tenants: [] }
const create = (key: string, members: Members = none, version = 1): Write => ({
  kind: 'segment',
  key,
  expectedVersion: 0,
  head: headAt(key, version),
  members: { op: 'replace', ...members },
  audit: audit(key),
})
const edit = (key: string, from: number, add: Partial<Members>, remove: Partial<Members> = {}): Write => ({
  kind: 'segment',
  key,
  expectedVersion: from,
  head: headAt(key, from + 1),
  members: { op: 'edit', add: { ...none, ...add }, remove: { ...none, ...remove } },
  audit: audit(key),
})
const replace = (key: string, from: number, members: Members): Write => ({
  kind: 'segment',
  key,
  expectedVersion: from,
  head: headAt(key, from + 1),
  members: { op: 'replace', ...members },
  audit: audit(key),
})
const describeAs = (key: string, from: number, description: string): Write => ({
  kind: 'segment',
  key,
  expectedVersion: from,
  head: headAt(key, from + 1, description),
  members: { op: 'same' },
  audit: audit(key),
})
const remove = (key: string, from: number): Write => ({ kind: 'segment', key, expectedVersion: from, head: null, members: { op: 'same' }, audit: audit(key) })

/** A segment's change, as a commit of a segment write resolves with. */
function segmentChange(change: Change): Extract<Change, { kind: 'segment' }> {
  if (change.kind !== 'segment') throw new Error(`not a segment change: ${change.kind}`)
  return change
}

const sorted = (segment: Segment | undefined) => segment && { ...segment, users: [...segment.users].sort(), tenants: [...segment.tenants].sort() }
const ids = (tag: string, n: number, from = 0) => Array.from({ length: n }, (_, i) => `${tag}-${from + i}`)

async function loaded(store: RedisStore, key: string): Promise<Segment | undefined> {
  return sorted((await store.load()).segments.find((s) => s.key === key))
}

/** The changes and other events a store emits, and a way to wait for its first resync (its subscription is active from then). */
function listen(store: RedisStore) {
  const events: StoreEvent[] = []
  store.subscribe((event) => events.push(event))
  const segmentChanges = () => events.flatMap((e) => (e.type === 'change' && e.change.kind === 'segment' ? [e.change] : []))
  return {
    events,
    segmentChanges,
    subscribed: () => eventually(() => events.some((e) => e.type === 'resync'), 5000, 'the subscription'),
    changeAt: async (seq: number) => {
      await eventually(() => segmentChanges().some((c) => c.seq >= seq), 5000, `a segment change at seq ${seq}`)
      return segmentChanges().find((c) => c.seq >= seq)!
    },
  }
}

/** A write committed in Redis but never announced: WAIT for a replica that does not exist fails after the script ran. */
async function unannounced(prefix: string, write: Write): Promise<void> {
  const silent = openStore(prefix, { waitReplicas: 1, waitMs: 10, resyncCheckMs: 0 })
  await silent.load()
  await expect(silent.commit(write)).rejects.toThrow(StoreUnavailableError)
}

describe('RedisStore segments: commits and load', () => {
  it('creates, edits, replaces, describes and deletes a segment, each seen whole by load() and readSegment', async () => {
    const prefix = testPrefix(redis.url())
    const store = openStore(prefix)
    const client = redisClient(redis.url())
    const sets = segmentMemberKeys(prefix, 'beta')

    const created = await store.commit(create('beta', { users: ['u1', 'u2', 'u3'], tenants: ['t1'] }))
    const members: MembersChange = { op: 'replace', users: ['u1', 'u2', 'u3'], tenants: ['t1'] }
    expect(created).toEqual({ kind: 'segment', key: 'beta', seq: 1, head: headAt('beta', 1), members })
    expect(await loaded(store, 'beta')).toEqual({ ...headAt('beta', 1), users: ['u1', 'u2', 'u3'], tenants: ['t1'] })
    // The head only, without its members.
    expect(await store.readSegment('beta')).toEqual(headAt('beta', 1))
    expect(await client.smembers(sets.users)).toHaveLength(3)

    await store.commit(edit('beta', 1, { users: ['u4', 'u5'], tenants: ['t2'] }, { users: ['u1'], tenants: ['t1'] }))
    expect(await loaded(store, 'beta')).toEqual({ ...headAt('beta', 2), users: ['u2', 'u3', 'u4', 'u5'], tenants: ['t2'] })

    await store.commit(replace('beta', 2, { users: ['x'], tenants: [] }))
    expect(await loaded(store, 'beta')).toEqual({ ...headAt('beta', 3), users: ['x'], tenants: [] })

    // Members untouched by a change of the head alone.
    await store.commit(describeAs('beta', 3, 'people who asked'))
    expect(await loaded(store, 'beta')).toEqual({ ...headAt('beta', 4, 'people who asked'), users: ['x'], tenants: [] })

    const removed = await store.commit(remove('beta', 4))
    expect(removed).toMatchObject({ kind: 'segment', key: 'beta', seq: 5, head: null })
    const snapshot = await store.load()
    expect(snapshot).toMatchObject({ seq: 5, segments: [], flags: [] })
    expect(await store.readSegment('beta')).toBeNull()
    expect(await client.exists(sets.users, sets.tenants)).toBe(0)
    expect((await store.readAudit({ limit: 10 })).events.map((e) => e.seq)).toEqual([5, 4, 3, 2, 1])
  })

  it('refuses a stale or missing expected version with the current head (never the members), and changes nothing', async () => {
    const prefix = testPrefix(redis.url())
    const store = openStore(prefix)
    await store.commit(create('beta', { users: ['u1'], tenants: [] }))
    await store.commit(edit('beta', 1, { users: ['u2'] }))

    const stale = await store.commit(edit('beta', 1, { users: ['late'] })).catch((err: unknown) => err)
    expect(stale).toBeInstanceOf(ConflictError)
    expect((stale as ConflictError<SegmentHead>).current).toEqual(headAt('beta', 2))
    const again = await store.commit(create('beta', { users: ['again'], tenants: [] })).catch((err: unknown) => err)
    expect((again as ConflictError<SegmentHead>).current).toEqual(headAt('beta', 2))
    const absent = await store.commit(edit('missing', 3, { users: ['u'] })).catch((err: unknown) => err)
    expect(absent).toBeInstanceOf(ConflictError)
    expect(absent).toMatchObject({ current: null, lastVersion: 0 })

    expect((await store.load()).seq).toBe(2)
    expect(await loaded(store, 'beta')).toEqual({ ...headAt('beta', 2), users: ['u1', 'u2'], tenants: [] })
    expect(await store.readSegment('missing')).toBeNull()
  })

  it("continues a deleted segment's versions, under tombstones apart from the flags' (a flag and a segment may share a key)", async () => {
    const prefix = testPrefix(redis.url())
    const store = openStore(prefix)
    await store.commit(create('shared', { users: ['u1'], tenants: [] }))
    await store.commit(edit('shared', 1, { users: ['u2'] }))
    await store.commit(edit('shared', 2, { users: ['u3'] }))
    await store.commit(remove('shared', 3))

    // A create must continue from the last version: 4, not 1.
    const refused = await store.commit(create('shared', { users: ['new'], tenants: [] }, 1)).catch((err: unknown) => err)
    expect(refused).toBeInstanceOf(ConflictError)
    expect(refused).toMatchObject({ current: null, lastVersion: 3 })
    // A flag of the same key starts from its own versions.
    const flag: Flag = { key: 'shared', ...FLAG_DEFAULTS, version: 1, createdAt: NOW, updatedAt: NOW, updatedBy: 'tester' }
    await store.commit({ kind: 'flag', key: 'shared', expectedVersion: 0, next: flag, audit: audit('shared') })

    await store.commit(create('shared', { users: ['new'], tenants: [] }, 4))
    // The sets were emptied by the delete: nothing of the earlier life comes back.
    expect(await loaded(store, 'shared')).toEqual({ ...headAt('shared', 4), users: ['new'], tenants: [] })
    const client = redisClient(redis.url())
    const keys = redisKeys(prefix)
    expect(await client.zscore(keys.segmentTombstones, 'shared')).toBeNull()
    expect(await client.exists(keys.flagTombstones)).toBe(0)
  })

  it('adds and removes members past the batch size of the script (SADD/SREM of 5,000 at a time)', async () => {
    const store = openStore(testPrefix(redis.url()))
    const users = ids('u', 12_345)
    const tenants = ids('t', 10_001)
    await store.commit(create('big', { users, tenants }))
    await store.commit(edit('big', 1, { users: ids('v', 7_000) }, { users: users.slice(0, 6_000), tenants: tenants.slice(5) }))
    const segment = (await store.load()).segments[0]!
    expect(segment.users.length).toBe(12_345 - 6_000 + 7_000)
    expect(new Set(segment.users)).toEqual(new Set([...users.slice(6_000), ...ids('v', 7_000)]))
    expect(segment.tenants.sort()).toEqual(tenants.slice(0, 5).sort())
  })
})

describe('RedisStore segments: notes to another replica', () => {
  it('hands another store the members change as committed (a delta), which applyMembers turns into the same members', async () => {
    const prefix = testPrefix(redis.url())
    const writer = openStore(prefix)
    await writer.commit(create('beta', { users: ['u1', 'u2'], tenants: ['t1'] }))
    const reader = openStore(prefix)
    const heard = listen(reader)
    const start = (await reader.load()).segments[0]!
    await heard.subscribed()
    const held = { users: IdTable.from(start.users), tenants: IdTable.from(start.tenants) }
    // The notes on the wire: each carries the change, not the membership.
    const wire: string[] = []
    const raw = redisClient(redis.url())
    raw.on('message', (_channel: string, message: string) => wire.push(message))
    await raw.subscribe(`${prefix}changes`)

    const writes = [
      edit('beta', 1, { users: ['u3', 'u4'] }, { users: ['u1'] }),
      describeAs('beta', 2, 'renamed'),
      edit('beta', 3, { tenants: ['t2'] }, { users: ['u2'], tenants: ['t1'] }),
    ]
    for (const write of writes) {
      const committed = await writer.commit(write)
      const change = await heard.changeAt(committed.seq)
      expect(change).toEqual(committed)
      const { head, members } = write as { head: SegmentHead; members: MembersChange }
      expect(change).toEqual({ kind: 'segment', key: 'beta', seq: committed.seq, head, members })
      applyMembers(held, change.members)
    }
    const truth = (await writer.load()).segments[0]!
    expect([...held.users].sort()).toEqual([...truth.users].sort())
    expect([...held.tenants].sort()).toEqual([...truth.tenants].sort())
    expect(truth).toMatchObject({ version: 4, description: '' })
    await eventually(() => wire.length === 3, 5000, 'the notes')
    const [header, record, members] = wire[2]!.split('\n')
    expect(header).toMatch(new RegExp(`^segment 4 beta ${writer.instanceId} \\S+ \\d+ [0-9a-f]{40}$`))
    expect(JSON.parse(record!)).toEqual({ seq: 4, version: 4, doc: headAt('beta', 4) })
    expect(JSON.parse(members!)).toEqual(writes[2]!.kind === 'segment' && writes[2]!.members)

    await writer.commit(remove('beta', 4))
    expect(await heard.changeAt(5)).toEqual({ kind: 'segment', key: 'beta', seq: 5, head: null, members: { op: 'same' } })
    expect(heard.events.filter((e) => e.type === 'rejected')).toEqual([])
  })

  it('does not apply a forged note as sent: one naming a seq Redis never issued is rejected, one with a real seq is read from Redis', async () => {
    const prefix = testPrefix(redis.url())
    const writer = openStore(prefix)
    await writer.commit(create('beta', { users: ['u1'], tenants: [] }))
    // No counter check: only the notes move this reader.
    const reader = openStore(prefix, { resyncCheckMs: 0 })
    const heard = listen(reader)
    await reader.load()
    await heard.subscribed()
    const raw = redisClient(redis.url())
    const epoch = await raw.get(`${prefix}epoch`)
    const forge = (seq: number, version: number, members: MembersChange) =>
      raw.publish(
        `${prefix}changes`,
        `segment ${seq} beta someone ${epoch} ${Date.now()} ${'0'.repeat(40)}\n` +
          `${JSON.stringify({ seq, version, doc: headAt('beta', version) })}\n${JSON.stringify(members)}`,
      )
    const evil: MembersChange = { op: 'edit', add: { users: ['evil'], tenants: [] }, remove: { users: ['u1'], tenants: [] } }

    await forge(99, 2, evil)
    await eventually(() => heard.events.some((e) => e.type === 'rejected'), 5000, 'the rejection')
    expect(heard.segmentChanges()).toEqual([])

    // A real change nobody announced (seq 2), then a forged note of it: the reader reads the segment whole.
    await unannounced(prefix, edit('beta', 1, { users: ['u2'] }))
    await forge(2, 2, evil)
    const change = await heard.changeAt(2)
    expect(change).toEqual({ kind: 'segment', key: 'beta', seq: 2, head: headAt('beta', 2), members: { op: 'replace', users: expect.any(Array), tenants: [] } })
    expect((change.members as Members).users.sort()).toEqual(['u1', 'u2'])
  })

  it('reads the members whole when a note is too large to carry them (a hint)', async () => {
    const prefix = testPrefix(redis.url())
    const writer = openStore(prefix, { segmentNoteMaxBytes: 1000 })
    await writer.commit(create('beta', { users: ids('u', 10), tenants: [] }))
    const reader = openStore(prefix)
    const heard = listen(reader)
    await reader.load()
    await heard.subscribed()
    const wire: string[] = []
    const raw = redisClient(redis.url())
    raw.on('message', (_channel: string, message: string) => wire.push(message))
    await raw.subscribe(`${prefix}changes`)

    const small = await writer.commit(edit('beta', 1, { users: ['a'] }))
    expect((await heard.changeAt(small.seq)).members).toEqual({ op: 'edit', add: { users: ['a'], tenants: [] }, remove: none })
    const large = await writer.commit(edit('beta', 2, { users: ids('big', 100) }))
    const change = await heard.changeAt(large.seq)
    expect(change).toMatchObject({ seq: large.seq, head: headAt('beta', 3), members: { op: 'replace', tenants: [] } })
    expect((change.members as Members).users).toHaveLength(111)
    // The hint carries neither the head nor the change.
    await eventually(() => wire.length === 2, 5000, 'the notes')
    expect(wire[1]!.split('\n').slice(1)).toEqual(['', ''])
  })

  it('reads the members whole when a change does not follow the last one it handed out (a note was lost)', async () => {
    const prefix = testPrefix(redis.url())
    const writer = openStore(prefix)
    await writer.commit(create('beta', { users: ['u1'], tenants: [] }))
    const reader = openStore(prefix, { resyncCheckMs: 0 })
    const heard = listen(reader)
    await reader.load()
    await heard.subscribed()

    await unannounced(prefix, edit('beta', 1, { users: ['lost'] }))
    // Version 3 on version 2, which the reader never had: applied to its version 1, 'lost' would be missing.
    const next = await writer.commit(edit('beta', 2, { users: ['u3'] }))
    const change = await heard.changeAt(next.seq)
    expect(change).toMatchObject({ seq: next.seq, head: headAt('beta', 3), members: { op: 'replace', tenants: [] } })
    expect((change.members as Members).users.sort()).toEqual(['lost', 'u1', 'u3'])
    // From there, deltas again.
    const after = await writer.commit(edit('beta', 3, { users: ['u4'] }))
    expect((await heard.changeAt(after.seq)).members).toMatchObject({ op: 'edit' })
  })

  it("returns the members whole from a commit drafted on a version it did not hand out, since the caller's members are older", async () => {
    const prefix = testPrefix(redis.url())
    const store = openStore(prefix, { resyncCheckMs: 0 })
    await store.commit(create('beta', { users: ['u1'], tenants: [] }))
    await unannounced(prefix, edit('beta', 1, { users: ['elsewhere'] }))
    // Drafted from the head Redis holds (version 2), which this store never handed out.
    const head = (await store.readSegment('beta'))!
    const change = segmentChange(await store.commit(edit('beta', head.version, { users: ['u2'] })))
    expect(change).toMatchObject({ seq: 3, head: headAt('beta', 3), members: { op: 'replace', tenants: [] } })
    expect((change.members as Members).users.sort()).toEqual(['elsewhere', 'u1', 'u2'])
    // Drafted from what it handed out: the delta as written.
    expect(segmentChange(await store.commit(edit('beta', 3, { users: ['u3'] }))).members).toMatchObject({ op: 'edit' })
  })
})

describe('RedisStore segments: load() while the segment changes', () => {
  it('reads members by SSCAN checked against the record, or atomically, never a mix of two versions', async () => {
    const prefix = testPrefix(redis.url())
    const writer = openStore(prefix)
    const reader = openStore(prefix, { resyncCheckMs: 0 })
    const base = ids('b', 30_000)
    await writer.commit(create('churn', { users: base, tenants: [] }))
    // Version v + 1 adds e<v+1>-* and removes e<v>-*: version V holds the base and e<V>-* alone.
    let version = 1
    let writing = true
    const writes = (async () => {
      while (writing) {
        await writer.commit(edit('churn', version, { users: ids(`e${version + 1}`, 1000) }, { users: version > 1 ? ids(`e${version}`, 1000) : [] }))
        version++
        // Paced: some scans finish between two edits, others are spoiled and read again.
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    })()
    const versions: number[] = []
    for (let i = 0; i < 4; i++) {
      const segment = (await reader.load()).segments[0]!
      versions.push(segment.version)
      const expected = segment.version === 1 ? base : [...base, ...ids(`e${segment.version}`, 1000)]
      expect(segment.users.length, `version ${segment.version}`).toBe(expected.length)
      expect(new Set(segment.users)).toEqual(new Set(expected))
    }
    writing = false
    await writes
    expect(new Set(versions).size).toBeGreaterThan(1)
  })
})

describe('RedisStore segments: topologies', () => {
  it('with REDIS_WAIT_REPLICAS, publishes the delta once the Redis replica holds the write', async () => {
    // Without the default 5 s wait before a diskless full sync, the replica is up at once.
    const master = await privateRedis({ args: ['--repl-diskless-sync-delay', '0'] })
    const replica = await privateRedis({ args: ['--replicaof', '127.0.0.1', String(master.port)] })
    // WAIT counts only the replicas the master holds online, and that acknowledge its writes.
    await eventually(
      async () => {
        await master.client().set('seg:probe', '1')
        return Number(await master.client().wait(1, 200)) === 1
      },
      10_000,
      'the replica to acknowledge a write',
    )
    const options = { target: { kind: 'single' as const, url: master.url }, prefix: 'seg:', auditMaxEvents: 100, firstEpochWaitMs: 0 }
    // Generous: with other suites running on two cores, the replica's acknowledgement once took over 900 ms.
    const writer = new RedisStore({ ...options, waitReplicas: 1, waitMs: 5000, commandTimeoutMs: 10_000 })
    onTestFinished(() => writer.close())
    await writer.commit(create('beta', { users: ['u1'], tenants: [] }))
    const reader = new RedisStore(options)
    onTestFinished(() => reader.close())
    const heard = listen(reader)
    await reader.load()
    await heard.subscribed()
    const committed = await writer.commit(edit('beta', 1, { users: ['u2'] }))
    expect(await replica.client().smembers('seg:segment-users:beta')).toEqual(expect.arrayContaining(['u1', 'u2']))
    expect(await heard.changeAt(committed.seq)).toEqual(committed)
    expect(segmentChange(committed).members).toMatchObject({ op: 'edit' })
  })

  it('in a Cluster, keeps the member sets in the store slot and sends the delta by sharded pub/sub', async () => {
    const { target, nodes } = await startCluster()
    const options = { target, prefix: 'seg:', auditMaxEvents: 100, firstEpochWaitMs: 0 }
    const writer = new RedisStore(options)
    onTestFinished(() => writer.close())
    await writer.commit(create('beta', { users: ids('u', 6000), tenants: ['t'] }))
    const reader = new RedisStore(options)
    onTestFinished(() => reader.close())
    const heard = listen(reader)
    await reader.load()
    await heard.subscribed()
    const committed = await writer.commit(edit('beta', 1, { users: ['new'] }, { users: ['u-0'] }))
    expect(await heard.changeAt(committed.seq)).toEqual(committed)
    const segment = (await reader.load()).segments[0]!
    expect(segment.users).toHaveLength(6000)
    expect(segment.users).toContain('new')
    // Every key of the store on one node, under the hash tag.
    const held: string[] = []
    for (const node of nodes) held.push(...(await node.client().keys('*')))
    expect(held.filter((key) => key.includes('segment-')).sort()).toEqual(['{seg:}segment-tenants:beta', '{seg:}segment-users:beta'])
    const client = nodes[0]!.client()
    const slots = new Set(await Promise.all(held.map(async (key) => Number(await client.cluster('KEYSLOT', key)))))
    expect(slots.size).toBe(1)
  })
})

describe('RedisStore segments: recovery', () => {
  it('writes segments with their members on a reseed, dropping the ones Redis held; accepting a loss keeps them', async () => {
    const prefix = testPrefix(redis.url())
    const store = openStore(prefix)
    const client = redisClient(redis.url())
    await store.commit(create('old', { users: ids('o', 10), tenants: [] }))
    await store.commit(create('kept', { users: ['k'], tenants: [] }))
    const users = ids('r', 12_000)
    const state = { flags: [], tokens: [], segments: [{ ...headAt('kept', 5), users, tenants: ['t'] }] }
    const { seq } = await store.reseed(state, { ...audit('x'), action: 'store.reseeded' })
    const snapshot = await store.load()
    expect(snapshot.segments.map(sorted)).toEqual([{ ...headAt('kept', 5), users: [...users].sort(), tenants: ['t'] }])
    expect(await client.exists(segmentMemberKeys(prefix, 'old').users)).toBe(0)
    expect(await client.hget(redisKeys(prefix).segments, 'kept')).toBe(JSON.stringify({ seq, version: 5, doc: headAt('kept', 5) }))

    await store.acceptLoss({ ...audit('x'), action: 'store.accepted' })
    expect((await store.load()).segments.map(sorted)).toEqual(snapshot.segments.map(sorted))
    // Versions go on from the reseeded ones.
    await store.commit(edit('kept', 5, { users: ['k2'] }))
    expect((await loaded(store, 'kept'))!.users).toHaveLength(12_001)
  })
})

describe('RedisStore segments: a million members', () => {
  it('edits a 1,000,000-member segment by 10,000 ids, and another store applies the delta; load() reads it whole', { timeout: 120_000 }, async () => {
    const prefix = testPrefix(redis.url())
    const writer = openStore(prefix, { commandTimeoutMs: 10_000 })
    const reader = openStore(prefix, { commandTimeoutMs: 10_000 })
    const arrived = new Map<number, number>()
    const held = { users: new IdTable(), tenants: new IdTable() }
    let subscribed = false
    reader.subscribe((event) => {
      if (event.type === 'resync') subscribed = true
      if (event.type !== 'change' || event.change.kind !== 'segment') return
      applyMembers(held, event.change.members)
      arrived.set(event.change.seq, performance.now())
    })
    await reader.load()
    await eventually(() => subscribed, 5000, 'the subscription')

    const t0 = performance.now()
    await writer.commit(create('huge'))
    for (let i = 0; i < 100; i++) await writer.commit(edit('huge', i + 1, { users: Array.from({ length: 10_000 }, () => randomUUID()) }))
    const built = performance.now() - t0
    await eventually(() => arrived.has(101), 10_000, 'the 100th edit on the reader')

    const add = Array.from({ length: 10_000 }, () => randomUUID())
    const began = performance.now()
    const change = await writer.commit(edit('huge', 101, { users: add }))
    const committed = performance.now() - began
    await eventually(() => arrived.has(change.seq), 10_000, 'the edit on the reader')
    const inForce = arrived.get(change.seq)! - began
    expect(held.users.size).toBe(1_010_000)

    // A full GC before the baseline, so the figures are the snapshot's and not the build's garbage.
    setFlagsFromString('--expose-gc')
    ;(runInNewContext('gc') as () => void)()
    const heapBefore = process.memoryUsage().heapUsed
    const rssBefore = process.memoryUsage().rss
    const loadBegan = performance.now()
    const snapshot = await writer.load()
    const loadMs = performance.now() - loadBegan
    const heapGrowth = process.memoryUsage().heapUsed - heapBefore
    const rssGrowth = process.memoryUsage().rss - rssBefore
    const segment = snapshot.segments[0]!
    expect(segment.users.length).toBe(1_010_000)
    const same = segment.users.every((id) => held.users.has(id))
    expect(same).toBe(true)

    const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MB`
    console.log(
      `1,000,000-member segment: built by 100 edits of 10,000 ids in ${built.toFixed(0)} ms; one more 10,000-id edit committed in ` +
        `${committed.toFixed(1)} ms, in force on the other store ${inForce.toFixed(1)} ms after it began; load() of 1,010,000 members ` +
        `${loadMs.toFixed(0)} ms, heap +${mb(heapGrowth)}, RSS +${mb(rssGrowth)}`,
    )
    // Sanity, not a target: a load that took minutes or held gigabytes would be a bug.
    expect(loadMs).toBeLessThan(60_000)
    expect(heapGrowth).toBeLessThan(1024 * 2 ** 20)
  })
})
