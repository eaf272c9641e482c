// The embedded store's journal: each write appends one line and leaves the data file alone, a
// crash at any point loads as the state after some prefix of the acknowledged writes, and a
// journal that is damaged anywhere but its torn last line stops the load untouched.
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import type { AuditEvent } from '../../packages/core/src/audit/schema.js'
import { FLAG_DEFAULTS, type Flag } from '../../packages/core/src/flags/schema.js'
import { DataFileError, FileStore } from '../../packages/server/src/store/file.js'
import type { Write } from '../../packages/server/src/store/store.js'
import { tempDir } from '../support/helpers.js'

const dirs: { remove(): void }[] = []
afterEach(() => {
  for (const dir of dirs.splice(0)) dir.remove()
})

function newDir(): string {
  const dir = tempDir()
  dirs.push(dir)
  return dir.path
}

async function open(dir: string, compactEvery = 1000): Promise<FileStore> {
  const store = new FileStore(dir, { compactEvery })
  await store.load()
  return store
}

const NOW = '2026-01-01T00:00:00.000Z'

/**
 * The write that moves `key` from `current` to a version with `description`, or deletes it; a
 * create continues from `lastVersion`, the version the key's deleted flag had.
 */
function flagWrite(key: string, current: Flag | null, change: { description: string } | 'delete', lastVersion = 0): Write {
  const version = (current?.version ?? lastVersion) + 1
  const next: Flag | null =
    change === 'delete'
      ? null
      : { ...FLAG_DEFAULTS, ...current, key, description: change.description, version, createdAt: NOW, updatedAt: NOW, updatedBy: 'test' }
  const action = change === 'delete' ? 'flag.deleted' : current ? 'flag.updated' : 'flag.created'
  return {
    kind: 'flag',
    key,
    expectedVersion: current?.version ?? 0,
    next,
    audit: { id: `${key}-${version}`, type: 'audit', action, flag: key, version, actor: 'test', requestId: 'req', timestamp: NOW, changes: {} },
  }
}

/** A store and the state it should hold, kept side by side. */
class Model {
  readonly flags = new Map<string, Flag>()
  /** The last version of each deleted flag: a re-created one continues from it. */
  readonly tombstones = new Map<string, number>()
  readonly events: string[] = []

  constructor(public store: FileStore) {}

  async write(key: string, change: { description: string } | 'delete'): Promise<void> {
    const current = this.flags.get(key) ?? null
    if (change === 'delete' && !current) return
    const write = flagWrite(key, current, change, this.tombstones.get(key))
    await this.store.commit(write)
    if (write.kind === 'flag' && write.next) this.flags.set(key, write.next)
    else {
      this.flags.delete(key)
      this.tombstones.set(key, current!.version)
    }
    this.events.push(write.audit.id)
  }
}

async function expectHolds(store: FileStore, model: Model): Promise<void> {
  const snapshot = await store.load()
  const byKey = (a: Flag, b: Flag) => (a.key < b.key ? -1 : 1)
  expect([...snapshot.flags].sort(byKey)).toEqual([...model.flags.values()].sort(byKey))
  expect(snapshot.seq).toBe(model.events.length)
  const { events } = await store.readAudit({ limit: Number.MAX_SAFE_INTEGER })
  expect(events.map((e: AuditEvent) => e.id).reverse()).toEqual(model.events)
}

const lines = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean).length : 0)

describe('a write to the embedded store', () => {
  it('appends one journal line and leaves the data file as it was until the journal is folded in', async () => {
    const dir = newDir()
    const model = new Model(await open(dir, 3))
    await model.write('a', { description: 'one' })
    expect(existsSync(model.store.path)).toBe(false)
    expect(lines(model.store.journalPath)).toBe(1)

    await model.write('b', { description: 'two' })
    expect(lines(model.store.journalPath)).toBe(2)
    // The third write reaches compactEvery: the fold runs after it and before the fourth, which
    // starts a new journal.
    await model.write('a', { description: 'three' })
    await model.write('b', 'delete')
    expect(JSON.parse(readFileSync(model.store.path, 'utf8').split('\n')[0]!).seq).toBe(3)
    expect(lines(model.store.journalPath)).toBe(1)
    const dataFile = readFileSync(model.store.path, 'utf8')
    await model.write('c', { description: 'five' })
    expect(readFileSync(model.store.path, 'utf8')).toBe(dataFile)
    expect(lines(model.store.journalPath)).toBe(2)

    await expectHolds(await open(dir), model)
  })

  it('keeps a flag with variants through the journal and the fold: values, a weight change, variants removed (issue 19)', async () => {
    const dir = newDir()
    const store = await open(dir, 2)
    const variants = [
      { key: 'a', value: { nested: ['x', 'y'], n: 1 }, weight: 100 },
      { key: 'b', value: { nested: [], n: 2 } },
    ]
    const v1 = { ...FLAG_DEFAULTS, key: 'v', variants, offVariant: 'a', model: 3, version: 1, createdAt: NOW, updatedAt: NOW, updatedBy: 'test' } as Flag
    const v2 = {
      ...v1,
      variants: [
        { ...variants[0]!, weight: 40 },
        { ...variants[1]!, weight: 60 },
      ],
      version: 2,
    }
    const { variants: _v, offVariant: _o, ...v3 } = { ...v2, model: 1, version: 3 }
    const audit = (version: number) => ({
      id: `v-${version}`,
      type: 'audit' as const,
      action: 'flag.updated' as const,
      flag: 'v',
      version,
      actor: 't',
      requestId: 'r',
      timestamp: NOW,
      changes: {},
    })
    await store.commit({ kind: 'flag', key: 'v', expectedVersion: 0, next: v1, audit: audit(1) })
    await store.commit({ kind: 'flag', key: 'v', expectedVersion: 1, next: v2, audit: audit(2) })
    await store.close()
    const reopened = await open(dir, 2)
    expect((await reopened.load()).flags).toEqual([v2])
    await reopened.commit({ kind: 'flag', key: 'v', expectedVersion: 2, next: v3 as Flag, audit: audit(3) })
    await reopened.close()
    expect((await (await open(dir)).load()).flags).toEqual([v3])
  })

  it('keeps a scheduled flag through the journal and the fold: its ramp, paused, then cleared (issue 20)', async () => {
    const dir = newDir()
    const store = await open(dir, 2)
    const ramp = { from: 1, to: 100, start: '2030-03-02T09:00:00.000Z', end: '2030-03-09T09:00:00.000Z', interval: '1h' }
    const v1 = { ...FLAG_DEFAULTS, key: 's', schedule: { ramp }, model: 4, version: 1, createdAt: NOW, updatedAt: NOW, updatedBy: 'test' } as Flag
    const v2 = { ...v1, state: 'percentage', percentage: 15.142, schedule: { ramp, paused: true, pausedAt: '2030-03-03T09:00:00.000Z' }, version: 2 } as Flag
    const { schedule: _s, ...v3 } = { ...v2, model: 1, version: 3 }
    const audit = (version: number) => ({
      id: `s-${version}`,
      type: 'audit' as const,
      action: 'flag.updated' as const,
      flag: 's',
      version,
      actor: 't',
      requestId: 'r',
      timestamp: NOW,
      changes: {},
      schedule: version === 2 ? ('paused' as const) : ('set' as const),
    })
    await store.commit({ kind: 'flag', key: 's', expectedVersion: 0, next: v1, audit: audit(1) })
    await store.commit({ kind: 'flag', key: 's', expectedVersion: 1, next: v2, audit: audit(2) })
    await store.close()
    const reopened = await open(dir, 2)
    expect((await reopened.load()).flags).toEqual([v2])
    expect((await reopened.readAudit({ flag: 's', limit: 10 })).events.map((e) => e.schedule)).toEqual(['paused', 'set'])
    await reopened.commit({ kind: 'flag', key: 's', expectedVersion: 2, next: v3 as Flag, audit: audit(3) })
    await reopened.close()
    expect((await (await open(dir)).load()).flags).toEqual([v3])
  })

  it('replays a token change from the journal as well as a flag change', async () => {
    const dir = newDir()
    const store = await open(dir)
    const token = { id: 'tok_1', name: 'checkout', scope: 'evaluate' as const, hash: 'ab'.repeat(32), createdAt: NOW, createdBy: 'test' }
    await store.commit({
      kind: 'token',
      id: token.id,
      next: token,
      audit: { id: 'e1', type: 'audit', action: 'token.created', actor: 'test', requestId: 'r', timestamp: NOW, changes: {} },
    })
    expect((await (await open(dir)).load()).tokens).toEqual([token])
  })

  it('leaves a single data file after close, with a write still in flight when close was called', async () => {
    const dir = newDir()
    const model = new Model(await open(dir))
    await model.write('a', { description: 'one' })
    const inFlight = model.write('a', { description: 'two' })
    await model.store.close()
    await inFlight
    expect(existsSync(model.store.journalPath)).toBe(false)
    await expectHolds(await open(dir), model)
  })
})

describe('after a crash', () => {
  it('drops a torn last line, and the next write cuts it off before appending', async () => {
    const dir = newDir()
    const model = new Model(await open(dir))
    await model.write('a', { description: 'kept' })
    appendFileSync(model.store.journalPath, '{"change":{"kind":"flag","key":"a","seq":2,"fl')

    model.store = await open(dir)
    await expectHolds(model.store, model)
    await model.write('a', { description: 'after' })
    expect(readFileSync(model.store.journalPath, 'utf8')).not.toContain('"fl\n')
    expect(lines(model.store.journalPath)).toBe(2)
    await expectHolds(await open(dir), model)
  })

  it('skips journal lines the data file already holds (a crash between writing it and removing the journal)', async () => {
    const dir = newDir()
    const model = new Model(await open(dir, 2))
    await model.write('a', { description: 'one' })
    await model.write('a', { description: 'two' })
    const journal = readFileSync(model.store.journalPath)
    await model.write('a', { description: 'three' })
    // As if the old journal had survived the fold: its lines come before the new one.
    writeFileSync(model.store.journalPath, Buffer.concat([journal, readFileSync(model.store.journalPath)]))
    await expectHolds(await open(dir), model)
  })

  it('loads the state after some prefix of the writes, wherever the process stopped', async () => {
    const step = fc.record({
      key: fc.constantFrom('a', 'b', 'c'),
      change: fc.oneof(fc.record({ description: fc.string({ maxLength: 20 }) }), fc.constant('delete' as const)),
      // Stop here without closing, as kill -9 would, and start again; maybe mid-way through an append.
      crash: fc.constantFrom('none', 'none', 'none', 'crash', 'torn'),
    })
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 5 }), fc.array(step, { maxLength: 25 }), async (compactEvery, steps) => {
        const dir = newDir()
        const model = new Model(await open(dir, compactEvery))
        for (const { key, change, crash } of steps) {
          await model.write(key, change)
          if (crash === 'none') continue
          if (crash === 'torn') appendFileSync(model.store.journalPath, '{"change":{"kind":"flag"')
          model.store = await open(dir, compactEvery)
          await expectHolds(model.store, model)
        }
        await model.store.close()
        await expectHolds(await open(dir), model)
      }),
      { numRuns: 40 },
    )
  })
})

describe('a damaged journal', () => {
  async function damaged(edit: (journal: string) => string): Promise<{ dir: string; journal: string }> {
    const dir = newDir()
    const model = new Model(await open(dir))
    for (const description of ['one', 'two', 'three']) await model.write('a', { description })
    const journal = edit(readFileSync(model.store.journalPath, 'utf8'))
    writeFileSync(model.store.journalPath, journal)
    return { dir, journal }
  }

  it.each<[string, (journal: string) => string, RegExp]>([
    ['a line that is not JSON', (j) => j.replace(/^[^\n]*\n/, 'not json\n'), /journal .* is corrupt at byte 0/],
    ['a line of another shape', (j) => j.replace(/\n[^\n]*\n/, '\n{"change":{"kind":"flag"},"event":{}}\n'), /journal .* is corrupt at byte \d+/],
    ['a missing line', (j) => j.replace(/\n[^\n]*\n/, '\n'), /journal .* skips from change 1 to 3/],
  ])('stops the load on %s, naming the journal and leaving it as it was', async (_what, edit, message) => {
    const { dir, journal } = await damaged(edit)
    const store = new FileStore(dir)
    const load = store.load()
    await expect(load).rejects.toThrow(DataFileError)
    await expect(load).rejects.toThrow(message)
    expect(readFileSync(store.journalPath, 'utf8')).toBe(journal)
  })
})
