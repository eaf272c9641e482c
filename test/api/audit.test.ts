// The audit trail: one event per create, update, delete and token change, in the store (GET
// /audit: newest first, filtered, paginated) and on the pino log stream.
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { MemoryStore } from '../../packages/server/src/store/memory.js'
import { call, captureLogs, createFlag, createToken, listAudit, startApp } from '../support/helpers.js'

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/

let app: FastifyInstance
let logs: ReturnType<typeof captureLogs>
let ops: { id: string; token: string }
beforeEach(async () => {
  logs = captureLogs()
  app = await startApp({ logLevel: 'info' }, { logStream: logs.stream })
  ops = await createToken(app, 'ops-admin', 'admin')
})
afterEach(async () => {
  await app.close()
})

async function newestEvent(res: LightMyRequestResponse) {
  const [event] = (await listAudit(app, { limit: 1 })).events
  expect(event.requestId).toBe(res.headers['x-request-id'])
  return event
}

describe('audit events', () => {
  it('records a flag creation with every field set, the actor and version 1', async () => {
    const res = await call(app, 'POST', '/flags', { token: ops.token, body: { key: 'copilot_v2', tags: ['ai'], betaUsers: ['alice'] }, expected: 201 })
    expect(await newestEvent(res)).toEqual({
      id: expect.any(String),
      seq: expect.any(Number),
      type: 'audit',
      action: 'flag.created',
      flag: 'copilot_v2',
      actor: 'ops-admin',
      actorId: ops.id,
      requestId: res.headers['x-request-id'],
      timestamp: expect.stringMatching(ISO),
      version: 1,
      changes: {
        description: { before: null, after: '' },
        tags: { before: null, after: ['ai'] },
        state: { before: null, after: 'disabled' },
        percentage: { before: null, after: 0 },
        betaUsers: { added: ['alice'], removed: [] },
        stickiness: { before: null, after: 'userId' },
        rules: { before: null, after: [] },
      },
    })
  })

  it('records an update with only the fields that changed, before and after', async () => {
    await createFlag(app, { key: 'copilot_v2', betaUsers: ['alice', 'bob'] })
    const res = await call(app, 'PATCH', '/flags/copilot_v2', {
      token: ops.token,
      body: { state: 'percentage', percentage: 50, betaUsers: ['bob', 'tenant-admin'], description: '' },
      expected: 200,
    })
    expect(await newestEvent(res)).toMatchObject({
      action: 'flag.updated',
      flag: 'copilot_v2',
      actor: 'ops-admin',
      version: 2,
      changes: {
        state: { before: 'disabled', after: 'percentage' },
        percentage: { before: 0, after: 50 },
        betaUsers: { added: ['tenant-admin'], removed: ['alice'] },
      },
    })
    expect(Object.keys((await newestEvent(res)).changes).sort()).toEqual(['betaUsers', 'percentage', 'state'])
  })

  it('records a deletion with what was deleted and its last version', async () => {
    await createFlag(app, { key: 'copilot_v2', state: 'enabled' })
    await call(app, 'PATCH', '/flags/copilot_v2', { body: { description: 'x' }, expected: 200 })
    const res = await call(app, 'DELETE', '/flags/copilot_v2', { token: ops.token, expected: 204 })
    expect(await newestEvent(res)).toMatchObject({
      action: 'flag.deleted',
      flag: 'copilot_v2',
      actor: 'ops-admin',
      version: 2,
      changes: { state: { before: 'enabled', after: null }, description: { before: 'x', after: null } },
    })
  })

  it('records token creation and revocation, without the secret', async () => {
    const created = await call(app, 'POST', '/tokens', { token: ops.token, body: { name: 'checkout-service', scope: 'evaluate' }, expected: 201 })
    const { id, token } = created.json()
    expect(await newestEvent(created)).toMatchObject({
      action: 'token.created',
      tokenId: id,
      actor: 'ops-admin',
      changes: { name: { before: null, after: 'checkout-service' }, scope: { before: null, after: 'evaluate' } },
    })
    const expiring = await call(app, 'POST', '/tokens', {
      token: ops.token,
      body: { name: 'ci', scope: 'evaluate', expiresAt: '2099-01-01T00:00:00Z' },
      expected: 201,
    })
    expect((await newestEvent(expiring)).changes).toMatchObject({ expiresAt: { before: null, after: '2099-01-01T00:00:00.000Z' } })
    const revoked = await call(app, 'DELETE', `/tokens/${id}`, { token: ops.token, expected: 204 })
    expect(await newestEvent(revoked)).toMatchObject({
      action: 'token.revoked',
      tokenId: id,
      actor: 'ops-admin',
      changes: { name: { before: 'checkout-service', after: null }, scope: { before: 'evaluate', after: null } },
    })
    expect(JSON.stringify(await listAudit(app))).not.toContain(token)
  })

  it("records the token's id beside its name: the bootstrap token, and two tokens that had one name, stay apart", async () => {
    const byBootstrap = await call(app, 'POST', '/flags', { body: { key: 'by_bootstrap' }, expected: 201 })
    expect(await newestEvent(byBootstrap)).toMatchObject({ actor: 'bootstrap', actorId: 'bootstrap' })
    await call(app, 'DELETE', `/tokens/${ops.id}`, { expected: 204 })
    const successor = await createToken(app, 'ops-admin', 'admin')
    const bySuccessor = await call(app, 'POST', '/flags', { token: successor.token, body: { key: 'by_successor' }, expected: 201 })
    expect(await newestEvent(bySuccessor)).toMatchObject({ actor: 'ops-admin', actorId: successor.id })
    expect(successor.id).not.toBe(ops.id)
  })

  it('keeps a well-formed X-Request-Id and replaces a malformed one', async () => {
    const given = await call(app, 'POST', '/flags', { body: { key: 'given_id' }, headers: { 'x-request-id': 'deploy-42.step:3' }, expected: 201 })
    expect(given.headers['x-request-id']).toBe('deploy-42.step:3')
    expect((await newestEvent(given)).requestId).toBe('deploy-42.step:3')
    const malformed = await call(app, 'POST', '/flags', { body: { key: 'malformed_id' }, headers: { 'x-request-id': 'has spaces <script>' }, expected: 201 })
    expect(malformed.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/)
    await newestEvent(malformed)
  })

  it.each<[string, (app: FastifyInstance, reader: string) => Promise<unknown>]>([
    ['a rejected create', (a) => call(a, 'POST', '/flags', { body: { key: 'x', percentage: 101 }, expected: 400 })],
    ['a duplicate create', (a) => call(a, 'POST', '/flags', { body: { key: 'existing' }, expected: 409 })],
    ['a stale update', (a) => call(a, 'PATCH', '/flags/existing', { body: { state: 'enabled' }, headers: { 'if-match': '"9"' }, expected: 412 })],
    ['an update to nothing', (a) => call(a, 'PATCH', '/flags/existing', { body: { state: 'disabled' }, expected: 200 })],
    ['a delete of an unknown flag', (a) => call(a, 'DELETE', '/flags/unknown', { expected: 404 })],
    ['a forbidden write', (a, reader) => call(a, 'POST', '/flags', { token: reader, body: { key: 'y' }, expected: 403 })],
    ['evaluations', (a, reader) => call(a, 'POST', '/evaluate', { token: reader, body: { flags: ['existing'], context: { userId: 'u' } }, expected: 200 })],
  ])('records nothing for %s', async (_what, act) => {
    await createFlag(app, { key: 'existing' })
    const reader = await createToken(app, 'reader', 'evaluate')
    const before = (await listAudit(app)).events
    await act(app, reader.token)
    expect((await listAudit(app)).events).toEqual(before)
  })
})

describe('GET /audit', () => {
  beforeEach(async () => {
    // Together with the creation of ops-admin by bootstrap: seven events by two actors.
    await createFlag(app, { key: 'flag_a' })
    await call(app, 'PATCH', '/flags/flag_a', { body: { state: 'enabled' }, expected: 200 })
    await createFlag(app, { key: 'flag_b' }, 201, ops.token)
    await call(app, 'PATCH', '/flags/flag_b', { token: ops.token, body: { state: 'enabled' }, expected: 200 })
    await call(app, 'PATCH', '/flags/flag_b', { token: ops.token, body: { state: 'disabled' }, expected: 200 })
    await call(app, 'DELETE', '/flags/flag_a', { token: ops.token, expected: 204 })
  })
  const summary = (events: { action: string; flag?: string; actor: string }[]) => events.map((e) => `${e.actor} ${e.action} ${e.flag ?? ''}`.trim())

  it('answers every event, newest first', async () => {
    const { events, nextCursor } = await listAudit(app)
    expect(summary(events)).toEqual([
      'ops-admin flag.deleted flag_a',
      'ops-admin flag.updated flag_b',
      'ops-admin flag.updated flag_b',
      'ops-admin flag.created flag_b',
      'bootstrap flag.updated flag_a',
      'bootstrap flag.created flag_a',
      'bootstrap token.created',
    ])
    expect(nextCursor).toBeUndefined()
    const seqs = events.map((e: { seq: number }) => e.seq)
    expect(seqs).toEqual([...seqs].sort((a, b) => b - a))
  })

  it.each([
    [{ flag: 'flag_a' }, ['ops-admin flag.deleted flag_a', 'bootstrap flag.updated flag_a', 'bootstrap flag.created flag_a']],
    [{ actor: 'bootstrap' }, ['bootstrap flag.updated flag_a', 'bootstrap flag.created flag_a', 'bootstrap token.created']],
    [{ flag: 'flag_b', actor: 'ops-admin' }, ['ops-admin flag.updated flag_b', 'ops-admin flag.updated flag_b', 'ops-admin flag.created flag_b']],
    [{ flag: 'flag_b', actor: 'bootstrap' }, []],
    [{ actor: 'nobody' }, []],
  ])('filters by %o', async (filter, expected) => {
    expect(summary((await listAudit(app, filter)).events)).toEqual(expected)
  })

  it.each([[{}], [{ flag: 'flag_b' }], [{ actor: 'ops-admin' }]])('pages through %o with nextCursor, each event exactly once', async (filter) => {
    const all = (await listAudit(app, filter)).events
    const paged: unknown[] = []
    let cursor: string | undefined
    for (let pages = 0; pages < 20; pages++) {
      const page = await listAudit(app, { ...filter, limit: 2, cursor })
      expect(page.events.length).toBeLessThanOrEqual(2)
      paged.push(...page.events)
      cursor = page.nextCursor
      if (cursor === undefined) break
    }
    expect(paged).toEqual(all)
  })

  it.each([
    ['limit=0', 'querystring.limit'],
    ['limit=1001', 'querystring.limit'],
    ['cursor=abc', 'querystring.cursor'],
    ['cursor=-1', 'querystring.cursor'],
    ['since=1', 'querystring.since'],
  ])('answers 400 for ?%s', async (qs, field) => {
    expect((await call(app, 'GET', `/audit?${qs}`, { expected: 400 })).json()).toMatchObject({ code: 'VALIDATION_FAILED', field })
  })
})

describe('the audit trail size', () => {
  it('keeps the newest AUDIT_MAX_EVENTS events, dropping the oldest', async () => {
    const small = await startApp({}, { store: new MemoryStore({ auditMaxEvents: 100 }) })
    try {
      for (let i = 0; i < 105; i++) await createFlag(small, { key: `flag_${i}` })
      const { events } = await listAudit(small, { limit: 1000 })
      expect(events).toHaveLength(100)
      expect(events[0].flag).toBe('flag_104')
      expect(events.at(-1).flag).toBe('flag_5')
    } finally {
      await small.close()
    }
  })
})

describe('the audit log line', () => {
  it('reaches the pino log stream for every change, with the same fields as the stored event', async () => {
    await createFlag(app, { key: 'copilot_v2' }, 201, ops.token)
    await call(app, 'PATCH', '/flags/copilot_v2', { token: ops.token, body: { state: 'enabled' }, expected: 200 })
    await call(app, 'DELETE', '/flags/copilot_v2', { token: ops.token, expected: 204 })
    const { id } = await createToken(app, 'svc', 'evaluate')
    await call(app, 'DELETE', `/tokens/${id}`, { expected: 204 })

    const stored = (await listAudit(app)).events.reverse()
    const logged = logs.records().filter((r) => r.type === 'audit')
    expect(logged.map((r) => r.msg)).toEqual(['token.created', 'flag.created', 'flag.updated', 'flag.deleted', 'token.created', 'token.revoked'])
    expect(logged).toHaveLength(stored.length)
    for (const [i, line] of logged.entries()) {
      expect(line).toMatchObject(stored[i])
      expect(line.level).toBe(30)
      expect(line.reqId).toBe(stored[i].requestId)
    }
  })
})
