// Segments in the embedded store: member edits journal as additions and removals (never the whole
// membership), survive a restart from the journal alone and from a folded data file, and keep
// their version sequence across a delete.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { FileStore } from '../../packages/server/src/store/file.js'
import { ConflictError } from '../../packages/server/src/store/errors.js'
import type { MembersChange, SegmentHead, SegmentWrite } from '../../packages/server/src/store/store.js'
import { tempDir } from '../support/helpers.js'
import { segmentHead } from '../support/segments.js'

const dirs: { remove(): void }[] = []
afterEach(() => {
  for (const dir of dirs.splice(0)) dir.remove()
})

const NOW = '2026-01-01T00:00:00.000Z'
const head = (key: string, version: number, description = ''): SegmentHead => segmentHead(key, version, description)
const write = (key: string, expectedVersion: number, next: SegmentHead | null, members: MembersChange): SegmentWrite => ({
  kind: 'segment',
  key,
  expectedVersion,
  head: next,
  members,
  audit: {
    id: `${key}-${expectedVersion}`,
    type: 'audit',
    action: 'segment.updated',
    segment: key,
    actor: 'test',
    requestId: 'r',
    timestamp: NOW,
    changes: {},
  },
})
const ids = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `user-${String(from + i).padStart(31, '0')}`)

async function open(dir: string, compactEvery = 1000): Promise<FileStore> {
  const store = new FileStore(dir, { compactEvery })
  await store.load()
  return store
}

describe('segments in the embedded store', () => {
  it('journals a member edit as its delta and replays it after a restart', async () => {
    const dir = tempDir()
    dirs.push(dir)
    let store = await open(dir.path)
    await store.commit(write('big', 0, head('big', 1), { op: 'replace', users: ids(5000), tenants: ['acme'] }))
    const before = readFileSync(join(dir.path, 'switchyard.journal')).length
    await store.commit(
      write('big', 1, head('big', 2, 'edited'), { op: 'edit', add: { users: ['new'], tenants: [] }, remove: { users: [ids(1)[0]!], tenants: ['acme'] } }),
    )
    const line = readFileSync(join(dir.path, 'switchyard.journal')).length - before
    expect(line).toBeLessThan(1000)
    await store.close()
    store = await open(dir.path)
    const [segment] = (await store.load()).segments
    expect(segment).toMatchObject({ key: 'big', description: 'edited', version: 2, tenants: [] })
    expect(segment!.users).toHaveLength(5000)
    expect(segment!.users).toContain('new')
    expect(segment!.users).not.toContain(ids(1)[0])
    await store.close()
  })

  it('keeps segments through a fold into the data file, and continues versions after a delete', async () => {
    const dir = tempDir()
    dirs.push(dir)
    let store = await open(dir.path, 2)
    await store.commit(write('s', 0, head('s', 1), { op: 'replace', users: ['a', 'b'], tenants: [] }))
    await store.commit(write('s', 1, head('s', 2), { op: 'edit', add: { users: ['c'], tenants: [] }, remove: { users: ['a'], tenants: [] } }))
    await store.commit(write('t', 0, head('t', 1), { op: 'replace', users: [], tenants: ['x'] }))
    await store.commit(write('t', 1, null, { op: 'same' }))
    await store.close()
    store = await open(dir.path)
    const snapshot = await store.load()
    expect(snapshot.segments).toEqual([{ ...head('s', 2), users: ['b', 'c'], tenants: [] }])
    await expect(store.commit(write('t', 0, head('t', 1), { op: 'replace', users: [], tenants: [] }))).rejects.toMatchObject({ lastVersion: 1 })
    await expect(store.commit(write('s', 1, head('s', 2), { op: 'same' }))).rejects.toBeInstanceOf(ConflictError)
    await store.commit(write('t', 0, head('t', 2), { op: 'replace', users: [], tenants: [] }))
    expect(await store.readSegment('t')).toMatchObject({ version: 2 })
    await store.close()
  })
})

describe('segments in the embedded store after a crash', () => {
  it('replays an edit of the excluded ids from the journal alone', async () => {
    const dir = tempDir()
    const copy = tempDir()
    dirs.push(dir, copy)
    const store = await open(dir.path)
    await store.commit(write('s', 0, head('s', 1), { op: 'replace', users: ['a'], tenants: [] }))
    await store.commit(write('s', 1, { ...head('s', 2), excludedUsers: ['mallory'] }, { op: 'same' }))
    // A crash: the data directory as it is now, without the fold close() would do.
    for (const name of ['switchyard.json', 'switchyard.journal']) {
      try {
        writeFileSync(join(copy.path, name), readFileSync(join(dir.path, name)))
      } catch {
        // no data file yet
      }
    }
    await store.close()
    const crashed = await open(copy.path)
    expect((await crashed.load()).segments[0]).toMatchObject({ version: 2, excludedUsers: ['mallory'], users: ['a'] })
    await crashed.close()
  })
})
