// Segments over HTTP: CRUD, member edits as a delta with the large-list audit rule, rules that name
// them, the 409s that keep flags and segments consistent, and what each scope may do.
import type { FastifyInstance } from 'fastify'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { MemoryStore } from '../../packages/server/src/store/memory.js'
import type { Change } from '../../packages/server/src/store/store.js'
import { call, createFlag, createToken, evaluateFlag, listAudit, startApp } from '../support/helpers.js'

let app: FastifyInstance
beforeEach(async () => {
  app = await startApp()
})
afterEach(async () => {
  await app.close()
})

const createSegment = async (body: Record<string, unknown>, expected = 201) => (await call(app, 'POST', '/segments', { body, expected })).json()
const inTesters = { id: 'testers', clauses: [{ operator: 'in_segment', values: ['beta-testers'] }], serve: { enabled: true } }

describe('segments', () => {
  it('creates, reads, lists with counts, updates with If-Match and deletes', async () => {
    const created = await createSegment({ key: 'beta-testers', users: ['alice', 'bob', 'alice'], excludedUsers: ['mallory'] })
    expect(created).toMatchObject({ key: 'beta-testers', users: ['alice', 'bob'], tenants: [], excludedUsers: ['mallory'], clauses: [], version: 1 })
    const list = (await call(app, 'GET', '/segments', { expected: 200 })).json()
    expect(list.segments).toEqual([expect.objectContaining({ key: 'beta-testers', userCount: 2, tenantCount: 0 })])
    expect(list.segments[0].users).toBeUndefined()
    await call(app, 'PATCH', '/segments/beta-testers', { body: { description: 'x' }, headers: { 'if-match': '"7"' }, expected: 412 })
    const patched = (await call(app, 'PATCH', '/segments/beta-testers', { body: { tenants: ['acme'] }, headers: { 'if-match': '"1"' }, expected: 200 })).json()
    expect(patched).toMatchObject({ users: ['alice', 'bob'], tenants: ['acme'], version: 2 })
    await createSegment({ key: 'beta-testers' }, 409)
    await call(app, 'DELETE', '/segments/beta-testers', { expected: 204 })
    await call(app, 'GET', '/segments/beta-testers', { expected: 404 })
    // A key used before continues its versions.
    expect((await createSegment({ key: 'beta-testers' })).version).toBe(3)
  })

  it('matches through rules: excluded ids first, then members, then the segment clauses', async () => {
    await createSegment({
      key: 'beta-testers',
      users: ['alice', 'mallory'],
      excludedUsers: ['mallory'],
      clauses: [{ attribute: 'email', operator: 'ends_with', values: ['@example.com'] }],
    })
    await createFlag(app, { key: 'beta', state: 'beta_users', rules: [inTesters] })
    const on = { enabled: true, reason: 'rule_match', ruleId: 'testers' }
    expect(await evaluateFlag(app, 'beta', { userId: 'alice' })).toMatchObject(on)
    expect(await evaluateFlag(app, 'beta', { userId: 'mallory', attributes: { email: 'm@example.com' } })).toMatchObject({ enabled: false })
    expect(await evaluateFlag(app, 'beta', { userId: 'carol', attributes: { email: 'carol@example.com' } })).toMatchObject(on)
    expect(await evaluateFlag(app, 'beta', { userId: 'dave' })).toMatchObject({ enabled: false, reason: 'not_targeted' })
  })

  it('edits members as a delta, atomically, audited by the large-list rule', async () => {
    await createSegment({ key: 'big' })
    const ids = Array.from({ length: 10_000 }, (_, i) => `user-${i}`)
    const first = (await call(app, 'POST', '/segments/big/targets', { body: { add: { users: ids } }, expected: 200 })).json()
    expect(first).toMatchObject({ key: 'big', userCount: 10_000, version: 2 })
    expect(first.users).toBeUndefined()
    const second = (
      await call(app, 'POST', '/segments/big/targets', { body: { add: { users: ['user-1', 'new'] }, remove: { users: ['user-2', 'absent'] } }, expected: 200 })
    ).json()
    expect(second).toMatchObject({ userCount: 10_000, version: 3 })
    const [event, bulk] = (await listAudit(app, {})).events.filter((e: { action: string }) => e.action === 'segment.updated')
    expect(event).toMatchObject({ segment: 'big', version: 3, changes: { users: { added: ['new'], removed: ['user-2'] } } })
    expect(bulk.changes.users.added).toHaveLength(1000)
    expect(bulk.changes.users.addedCount).toBe(10_000)
    // An edit that changes nothing writes nothing.
    expect((await call(app, 'POST', '/segments/big/targets', { body: { add: { users: ['new'] } }, expected: 200 })).json().version).toBe(3)
    const both = await call(app, 'POST', '/segments/big/targets', { body: { add: { users: ['x'] }, remove: { users: ['x'] } }, expected: 400 })
    expect(both.json().field).toBe('body.add.users[0]')
    // Members are in force at once.
    await createFlag(app, { key: 'f', state: 'beta_users', rules: [{ clauses: [{ operator: 'in_segment', values: ['big'] }], serve: { enabled: true } }] })
    expect(await evaluateFlag(app, 'f', { userId: 'new' })).toMatchObject({ enabled: true })
    expect(await evaluateFlag(app, 'f', { userId: 'user-2' })).toMatchObject({ enabled: false })
  })

  it('refuses a rule naming a missing segment (409), and deleting a segment a flag uses (409 naming the flags)', async () => {
    const missing = await call(app, 'POST', '/flags', { body: { key: 'beta', rules: [inTesters] }, expected: 409 })
    expect(missing.json()).toMatchObject({ code: 'UNKNOWN_SEGMENT', field: 'body.rules[0].clauses[0].values[0]' })
    await createSegment({ key: 'beta-testers' })
    await createFlag(app, { key: 'beta', rules: [inTesters] })
    await createFlag(app, { key: 'gamma', rules: [inTesters] })
    const inUse = await call(app, 'DELETE', '/segments/beta-testers', { expected: 409 })
    expect(inUse.json()).toMatchObject({ code: 'SEGMENT_IN_USE', message: expect.stringContaining("flags 'beta', 'gamma'") })
  })

  it('refuses bad segment input with 400 naming the field', async () => {
    const inside = await call(app, 'POST', '/segments', { body: { key: 's', clauses: [{ operator: 'in_segment', values: ['t'] }] }, expected: 400 })
    expect(inside.json().field).toBe('body.clauses[0].operator')
    expect((await call(app, 'POST', '/segments', { body: { key: 'Bad Key' }, expected: 400 })).json().field).toBe('body.key')
    expect((await call(app, 'POST', '/segments', { body: { key: 's', users: Array(10_001).fill('u') }, expected: 400 })).json().field).toBe('body.users')
    await call(app, 'GET', '/segments/s', { expected: 404 })
  })

  it('lets evaluate tokens read and only admin tokens write', async () => {
    await createSegment({ key: 'beta-testers', users: ['alice'] })
    const evaluator = await createToken(app, 'dash', 'evaluate')
    const client = await createToken(app, 'web', 'client')
    await call(app, 'GET', '/segments/beta-testers', { token: evaluator.token, expected: 200 })
    await call(app, 'GET', '/segments', { token: evaluator.token, expected: 200 })
    await call(app, 'GET', '/segments', { token: client.token, expected: 403 })
    await call(app, 'POST', '/segments/beta-testers/targets', { token: evaluator.token, body: { add: { users: ['x'] } }, expected: 403 })
    await call(app, 'DELETE', '/segments/beta-testers', { token: evaluator.token, expected: 403 })
  })
})

describe('segments under review findings', () => {
  it('deletes a segment past SEGMENT_INLINE_MAX with 204, and the replica keeps counting revisions', async () => {
    const small = await startApp({ segmentInlineMax: 2 })
    try {
      await call(small, 'POST', '/segments', { body: { key: 'big', users: ['a', 'b', 'c'] }, expected: 201 })
      await call(small, 'DELETE', '/segments/big', { expected: 204 })
      const later = await call(small, 'POST', '/flags', { body: { key: 'later' }, expected: 201 })
      const revision = later.headers['x-switchyard-revision']
      await call(small, 'GET', '/flags/later', { headers: { 'x-switchyard-min-revision': String(revision) }, expected: 200 })
    } finally {
      await small.close()
    }
  })

  it('refuses a segment delete while a flag write naming it is committing on this replica, and the reverse', async () => {
    /** A store whose durable flag write takes a while, as an fsync can. */
    class SlowFlags extends MemoryStore {
      protected override async persist(change: Change): Promise<void> {
        if (change.kind === 'flag' || change.kind === 'segment') await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }
    const slow = await startApp({}, { store: new SlowFlags() })
    try {
      await call(slow, 'POST', '/segments', { body: { key: 'testers', users: ['alice'] }, expected: 201 })
      const [flag, del] = await Promise.all([
        call(slow, 'POST', '/flags', { body: { key: 'f', state: 'beta_users', rules: [inTesters] } }),
        new Promise((resolve) => setTimeout(resolve, 10)).then(() => call(slow, 'DELETE', '/segments/testers')),
      ])
      // Whichever comes first wins; never both, which would leave a flag naming a deleted segment.
      expect([flag.statusCode, del.statusCode]).toSatisfy(([f, d]: number[]) => (f === 201 && d === 409) || (f === 409 && d === 204))
      const flagExists = (await call(slow, 'GET', '/flags/f')).statusCode === 200
      const segmentExists = (await call(slow, 'GET', '/segments/testers')).statusCode === 200
      expect(!flagExists || segmentExists).toBe(true)
    } finally {
      await slow.close()
    }
  })

  it('a PATCH of users replaces the users alone; a member edit keeps the compiled segment (no work per member)', async () => {
    const seen: Change[] = []
    class Watching extends MemoryStore {
      protected override async persist(change: Change): Promise<void> {
        seen.push(change)
      }
    }
    const watched = await startApp({}, { store: new Watching() })
    try {
      await call(watched, 'POST', '/segments', { body: { key: 's', users: ['a'], tenants: ['t1', 't2'] }, expected: 201 })
      const patched = (await call(watched, 'PATCH', '/segments/s', { body: { users: ['b'] }, expected: 200 })).json()
      expect(patched).toMatchObject({ users: ['b'], tenants: ['t1', 't2'] })
      expect(seen.at(-1)).toMatchObject({ kind: 'segment', members: { op: 'replace', users: ['b'] } })
      expect((seen.at(-1) as { members: { tenants?: string[] } }).members.tenants).toBeUndefined()
      const before = watched.switchyard.segments.lookup('s')
      await call(watched, 'POST', '/segments/s/targets', { body: { add: { users: ['c'] } }, expected: 200 })
      expect(watched.switchyard.segments.lookup('s')).toBe(before)
      expect(before!.users.has('c')).toBe(true)
    } finally {
      await watched.close()
    }
  })
})
