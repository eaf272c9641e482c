// Versions are never reused under a flag key: a deleted flag leaves a tombstone with its last
// version in the store, and a flag re-created in its place continues from it, so an ETag of an
// earlier life never matches a later one. On every store, across restarts and replicas, with the
// tombstones bounded; and a weak ETag in If-Match never matches.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it, onTestFinished } from 'vitest'
import type { AuditDraft } from '../../packages/core/src/audit/schema.js'
import { ConflictError } from '../../packages/server/src/store/errors.js'
import { FLAG_DEFAULTS, type Flag } from '../../packages/core/src/flags/schema.js'
import { DATA_FILE, FileStore } from '../../packages/server/src/store/file.js'
import { MemoryStore } from '../../packages/server/src/store/memory.js'
import { RedisStore } from '../../packages/server/src/store/redis.js'
import type { Store, Write } from '../../packages/server/src/store/store.js'
import { call, createFlag, deleteFlag, getFlag, startApp, tempDir, updateFlag } from '../support/helpers.js'
import { testPrefix, useSharedRedis } from '../support/redis-helpers.js'

const redis = useSharedRedis()

const NOW = '2026-01-01T00:00:00.000Z'
const flagAt = (key: string, version: number): Flag => ({ key, ...FLAG_DEFAULTS, version, createdAt: NOW, updatedAt: NOW, updatedBy: 'test' })
const audit = (key: string, action: AuditDraft['action']): AuditDraft => ({
  id: `${key}-${Math.random()}`,
  type: 'audit',
  action,
  flag: key,
  actor: 'test',
  requestId: 'r',
  timestamp: NOW,
  changes: {},
})
/** A create at `version`, an update from `from`, a delete of the flag at `from`. */
const create = (key: string, version = 1): Write => ({ kind: 'flag', key, expectedVersion: 0, next: flagAt(key, version), audit: audit(key, 'flag.created') })
const update = (key: string, from: number): Write => ({
  kind: 'flag',
  key,
  expectedVersion: from,
  next: flagAt(key, from + 1),
  audit: audit(key, 'flag.updated'),
})
const remove = (key: string, from: number): Write => ({ kind: 'flag', key, expectedVersion: from, next: null, audit: audit(key, 'flag.deleted') })

const refusal = (store: Store, write: Write) =>
  store.commit(write).then(
    () => undefined,
    (err: unknown) => err,
  )

describe('DELETE then POST /flags', () => {
  it('re-creates the flag at its last version + 1; an If-Match of the first life answers 412', async () => {
    const app = await startApp()
    onTestFinished(() => app.close())
    await createFlag(app, { key: 'phoenix' })
    await updateFlag(app, 'phoenix', { state: 'enabled' }, 200, { 'if-match': '"1"' })
    await deleteFlag(app, 'phoenix', 204, { 'if-match': '"2"' })

    const reborn = await call(app, 'POST', '/flags', { body: { key: 'phoenix' }, expected: 201 })
    expect(reborn.headers.etag).toBe('"3"')
    expect(reborn.json()).toMatchObject({ version: 3, state: 'disabled' })
    // ETags the first life handed out, as a client still holding them would send them.
    for (const stale of ['"1"', '"2"']) {
      await call(app, 'PATCH', '/flags/phoenix', { body: { state: 'enabled' }, headers: { 'if-match': stale }, expected: 412 })
      await deleteFlag(app, 'phoenix', 412, { 'if-match': stale })
    }
    expect(await getFlag(app, 'phoenix')).toMatchObject({ version: 3, state: 'disabled' })
    expect((await updateFlag(app, 'phoenix', { state: 'enabled' }, 200, { 'if-match': '"3"' })).version).toBe(4)
  })

  it('continues across a restart on the embedded store (from the journal, then from the folded data file)', async () => {
    const dir = tempDir()
    onTestFinished(() => dir.remove())
    const crashed = await startApp({}, { store: new FileStore(dir.path) })
    // Closed only at the end (it no longer holds the lock then, so it writes nothing).
    onTestFinished(() => crashed.close())
    await createFlag(crashed, { key: 'phoenix' })
    await updateFlag(crashed, 'phoenix', { state: 'enabled' })
    await deleteFlag(crashed, 'phoenix')
    // A second process on the directory, as after kill -9: the tombstone comes back from the journal.
    const second = await startApp({}, { store: new FileStore(dir.path) })
    expect((await createFlag(second, { key: 'phoenix' })).version).toBe(3)
    await deleteFlag(second, 'phoenix')
    await second.close()
    expect(readFileSync(join(dir.path, DATA_FILE), 'utf8')).toContain('{"tombstone":{"key":"phoenix","version":3}}')

    const app = await startApp({}, { store: new FileStore(dir.path) })
    onTestFinished(() => app.close())
    expect((await createFlag(app, { key: 'phoenix' })).version).toBe(4)
    await call(app, 'PATCH', '/flags/phoenix', { body: { state: 'enabled' }, headers: { 'if-match': '"3"' }, expected: 412 })
  })
})

describe('If-Match with a weak ETag', () => {
  it('never matches: PATCH and DELETE answer 412 and change nothing', async () => {
    const app = await startApp()
    onTestFinished(() => app.close())
    await createFlag(app, { key: 'guarded' })
    for (const weak of ['W/"1"', 'W/1']) {
      await call(app, 'PATCH', '/flags/guarded', { body: { state: 'enabled' }, headers: { 'if-match': weak }, expected: 412 })
      await deleteFlag(app, 'guarded', 412, { 'if-match': weak })
    }
    expect(await getFlag(app, 'guarded')).toMatchObject({ version: 1, state: 'disabled' })
  })
})

/** A store, and how the next step reaches the same state: the same store, a reopened one, another replica. */
interface Subject {
  open(maxTombstones?: number): Promise<{ store: Store; again(): Promise<Store> }>
}

const dirs: { remove(): void }[] = []
afterEach(() => {
  for (const dir of dirs.splice(0)) dir.remove()
})

const subjects: [string, Subject][] = [
  [
    'memory',
    {
      async open(maxTombstones) {
        const store = new MemoryStore({ maxTombstones })
        return { store, again: async () => store }
      },
    },
  ],
  [
    'embedded (closed and reopened)',
    {
      async open(maxTombstones) {
        const dir = tempDir()
        dirs.push(dir)
        let store = new FileStore(dir.path, { maxTombstones })
        await store.load()
        const again = async () => {
          await store.close()
          store = new FileStore(dir.path, { maxTombstones })
          await store.load()
          onTestFinished(() => store.close())
          return store
        }
        return { store, again }
      },
    },
  ],
  [
    'Redis (a second replica)',
    {
      async open(maxTombstones) {
        const prefix = testPrefix(redis.url())
        const replica = () => {
          const store = new RedisStore({ target: { kind: 'single', url: redis.url() }, prefix, auditMaxEvents: 1000, maxTombstones })
          onTestFinished(() => store.close())
          return store
        }
        return { store: replica(), again: async () => replica() }
      },
    },
  ],
]

describe.each(subjects)('the %s store', (_name, subject) => {
  it('refuses a create over a tombstone with the version to continue from, and takes that one', async () => {
    const { store, again } = await subject.open()
    await store.commit(create('phoenix'))
    await store.commit(update('phoenix', 1))
    await store.commit(remove('phoenix', 2))
    const next = await again()
    const refused = await refusal(next, create('phoenix'))
    expect(refused).toBeInstanceOf(ConflictError)
    expect(refused).toMatchObject({ current: null, lastVersion: 2 })
    await next.commit(create('phoenix', 3))
    expect(await next.readFlag('phoenix')).toMatchObject({ version: 3 })
    // Neither a tombstone nor a version skipped ahead: a create must be exactly the next version.
    await next.commit(remove('phoenix', 3))
    expect(await refusal(next, create('phoenix', 9))).toMatchObject({ current: null, lastVersion: 3 })
  })

  it('never brings a deleted flag back through an update based on its last version', async () => {
    const { store, again } = await subject.open()
    await store.commit(create('gone'))
    await store.commit(remove('gone', 1))
    const next = await again()
    expect(await refusal(next, update('gone', 1))).toMatchObject({ current: null })
    expect(await next.readFlag('gone')).toBeNull()
    expect((await next.load()).flags).toEqual([])
  })

  it('keeps at most maxTombstones: the lowest version goes, and keys without one continue from it', async () => {
    const { store, again } = await subject.open(2)
    for (const [key, versions] of [
      ['a', 1],
      ['b', 2],
      ['c', 3],
    ] as const) {
      await store.commit(create(key))
      for (let v = 1; v < versions; v++) await store.commit(update(key, v))
      await store.commit(remove(key, versions))
    }
    const next = await again()
    // a's tombstone (1) was dropped for the cap and became the floor; b and c keep theirs.
    expect(await refusal(next, create('a'))).toMatchObject({ lastVersion: 1 })
    expect(await refusal(next, create('never_seen'))).toMatchObject({ lastVersion: 1 })
    expect(await refusal(next, create('b'))).toMatchObject({ lastVersion: 2 })
    expect(await refusal(next, create('c'))).toMatchObject({ lastVersion: 3 })
    await next.commit(create('a', 2))
    await next.commit(create('c', 4))
  })
})

describe('the embedded data file', () => {
  it('still loads a switchyard/v2 file written before tombstones (no tombstone count in its trailer)', async () => {
    const dir = tempDir()
    dirs.push(dir)
    const flag = flagAt('old', 4)
    const lines = [{ format: 'switchyard/v2', seq: 7 }, { flag }, { end: { flags: 1, tokens: 0, audit: 0 } }]
    writeFileSync(join(dir.path, DATA_FILE), lines.map((l) => `${JSON.stringify(l)}\n`).join(''))
    const store = new FileStore(dir.path)
    onTestFinished(() => store.close())
    expect(await store.load()).toEqual({ seq: 7, epoch: expect.any(String), flags: [flag], tokens: [], segments: [] })
    await store.commit(remove('old', 4))
    expect(await refusal(store, create('old'))).toMatchObject({ lastVersion: 4 })
  })
})
