// Token administration: create (secret shown once), list (paged, never secrets), revoke
// (effective on the next request), expiry, the last use, TOKENS_MAX, and secrets kept out of the
// store and the logs.
import { createHash } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { afterEach, beforeEach, describe, expect, it, onTestFinished, vi } from 'vitest'
import { BUILT_IN_ACTORS } from '../../packages/server/src/audit/audit.js'
import { FileStore } from '../../packages/server/src/store/file.js'
import {
  ADMIN,
  call,
  captureLogs,
  createFlag,
  createToken,
  embeddedStoreText,
  evaluateFlag,
  listTokens,
  revokeToken,
  NotifyingStore,
  startApp,
  tempDir,
} from '../support/helpers.js'

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex')
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/
const T0 = Date.parse('2030-01-01T00:00:00.000Z')
const iso = (ms: number) => new Date(ms).toISOString()
const ids = (tokens: { id: string }[]) => tokens.map((t) => t.id)

/** Stops Date at `ms` for this test (timers stay real); `set` moves it. */
function frozenClock(ms: number) {
  vi.useFakeTimers({ toFake: ['Date'], now: ms })
  onTestFinished(() => void vi.useRealTimers())
  return { set: (to: number) => vi.setSystemTime(to) }
}

/** The token as GET /tokens lists it. */
async function listed(app: FastifyInstance, id: string) {
  return (await listTokens(app, { limit: 1000 })).tokens.find((t: { id: string }) => t.id === id)
}

let app: FastifyInstance
beforeEach(async () => {
  app = await startApp()
})
afterEach(async () => {
  await app.close()
})

describe('POST /tokens', () => {
  it('answers 201 with the secret, once, and not cacheable', async () => {
    const res = await call(app, 'POST', '/tokens', { body: { name: 'checkout-service', scope: 'evaluate' }, expected: 201 })
    expect(res.headers['cache-control']).toBe('no-store')
    expect(res.json()).toEqual({
      id: expect.stringMatching(/^tok_[a-z0-9]+$/),
      name: 'checkout-service',
      scope: 'evaluate',
      createdAt: expect.stringMatching(ISO),
      createdBy: 'bootstrap',
      token: expect.stringMatching(/^sy_[A-Za-z0-9_-]{40,}$/),
    })
  })

  it('issues a different secret and id every time', async () => {
    const a = await createToken(app, 'svc-a', 'evaluate')
    const b = await createToken(app, 'svc-b', 'evaluate')
    expect(a.token).not.toBe(b.token)
    expect(a.id).not.toBe(b.id)
  })

  it('answers 409 TOKEN_EXISTS for the name of an active token, and creates nothing', async () => {
    await createToken(app, 'svc', 'evaluate')
    const res = await call(app, 'POST', '/tokens', { body: { name: 'svc', scope: 'admin' }, expected: 409 })
    expect(res.json()).toMatchObject({ code: 'TOKEN_EXISTS', message: expect.stringContaining("'svc'") })
    expect((await listTokens(app)).tokens).toHaveLength(2)
  })

  it("lets a revoked or expired token's name be used again", async () => {
    const clock = frozenClock(T0)
    const revoked = await createToken(app, 'svc', 'evaluate')
    await revokeToken(app, revoked.id)
    await createToken(app, 'svc', 'evaluate')
    await createToken(app, 'temp', 'evaluate', 201, { expiresAt: iso(T0 + 60_000) })
    await createToken(app, 'temp', 'evaluate', 409)
    clock.set(T0 + 60_000)
    await createToken(app, 'temp', 'evaluate')
  })

  it('gives concurrent creates of one name one token', async () => {
    const results = await Promise.all([1, 2, 3].map(() => call(app, 'POST', '/tokens', { body: { name: 'svc', scope: 'evaluate' } })))
    expect(results.map((r) => r.statusCode).sort()).toEqual([201, 409, 409])
  })

  it.each([...BUILT_IN_ACTORS, 'Bootstrap', 'GUARD'])("answers 400 naming body.name for '%s', a built-in actor's name", async (name) => {
    const res = await call(app, 'POST', '/tokens', { body: { name, scope: 'admin' }, expected: 400 })
    expect(res.json()).toMatchObject({ code: 'VALIDATION_FAILED', field: 'body.name', message: expect.stringContaining(`'${name}'`) })
    expect((await listTokens(app)).tokens).toHaveLength(1)
  })

  it('gives an evaluate token evaluate rights only', async () => {
    const service = await createToken(app, 'checkout-service', 'evaluate')
    await createFlag(app, { key: 'on_flag', state: 'enabled' })
    await evaluateFlag(app, 'on_flag', {}, 200, service.token)
    await createFlag(app, { key: 'other_flag' }, 403, service.token)
  })

  it('gives an admin token admin rights, and its name becomes the actor of its changes', async () => {
    const ops = await createToken(app, 'ops-admin', 'admin')
    const flag = await createFlag(app, { key: 'ops_flag' }, 201, ops.token)
    expect(flag.updatedBy).toBe('ops-admin')
    const res = await call(app, 'POST', '/tokens', { token: ops.token, body: { name: 'child', scope: 'evaluate' }, expected: 201 })
    expect(res.json().createdBy).toBe('ops-admin')
  })

  it.each<[string, Record<string, unknown>, string]>([
    ['an empty name', { name: '', scope: 'admin' }, 'body.name'],
    ['a name with a space', { name: 'my token', scope: 'admin' }, 'body.name'],
    ['a 101-character name', { name: 'n'.repeat(101), scope: 'admin' }, 'body.name'],
    ['an unknown scope', { name: 'svc', scope: 'root' }, 'body.scope'],
    ['no scope', { name: 'svc' }, 'body.scope'],
    ['a chosen secret', { name: 'svc', scope: 'admin', token: 'my-own-secret-value' }, 'body.token'],
  ])('answers 400 for %s and creates nothing', async (_what, body, field) => {
    const res = await call(app, 'POST', '/tokens', { body, expected: 400 })
    expect(res.json()).toMatchObject({ code: 'VALIDATION_FAILED', field, message: expect.stringContaining(field) })
    expect((await listTokens(app)).tokens).toHaveLength(1)
  })
})

describe('GET /tokens', () => {
  it('lists the bootstrap token and every created token, without secrets or hashes', async () => {
    const a = await createToken(app, 'svc-a', 'evaluate')
    const b = await createToken(app, 'ops', 'admin')
    const res = await call(app, 'GET', '/tokens', { expected: 200 })
    const { tokens } = res.json()
    expect(tokens[0]).toMatchObject({ id: 'bootstrap', name: 'bootstrap', scope: 'admin', createdBy: 'environment' })
    expect(tokens.slice(1).map((t: { id: string; name: string; scope: string }) => [t.id, t.name, t.scope])).toEqual(
      expect.arrayContaining([
        [a.id, 'svc-a', 'evaluate'],
        [b.id, 'ops', 'admin'],
      ]),
    )
    expect(tokens).toHaveLength(3)
    // Only the admin token has been used (by this very listing).
    expect(Object.keys(tokens[0]).sort()).toEqual(['createdAt', 'createdBy', 'id', 'lastUsedAt', 'name', 'scope'])
    for (const t of tokens.slice(1)) expect(Object.keys(t).sort()).toEqual(['createdAt', 'createdBy', 'id', 'name', 'scope'])
    for (const secret of [ADMIN, a.token, b.token]) {
      expect(res.body).not.toContain(secret)
      expect(res.body).not.toContain(sha256(secret))
    }
  })

  it('pages by id: limit and cursor, with a nextCursor only when another token follows', async () => {
    for (let i = 0; i < 5; i++) await createToken(app, `svc-${i}`, 'evaluate')
    const all = ids((await listTokens(app)).tokens)
    expect(all).toHaveLength(6)
    expect(all).toEqual([...all].sort())
    expect(all[0]).toBe('bootstrap')

    const first = await listTokens(app, { limit: 4 })
    expect(ids(first.tokens)).toEqual(all.slice(0, 4))
    expect(first.nextCursor).toBe(all[3])
    const second = await listTokens(app, { limit: 4, cursor: first.nextCursor })
    expect(ids(second.tokens)).toEqual(all.slice(4))
    expect(second).not.toHaveProperty('nextCursor')
    expect(await listTokens(app, { limit: 6 })).not.toHaveProperty('nextCursor')
    // A cursor whose token was revoked meanwhile resumes where it was.
    await revokeToken(app, all[3]!)
    expect(ids((await listTokens(app, { limit: 4, cursor: all[3] })).tokens)).toEqual(all.slice(4))
  })

  it('answers 100 tokens to a page by default', async () => {
    for (let i = 0; i < 100; i++) await createToken(app, `svc-${i}`, 'evaluate')
    const first = await listTokens(app)
    expect(first.tokens).toHaveLength(100)
    const second = await listTokens(app, { cursor: first.nextCursor })
    expect(second.tokens).toHaveLength(1)
    expect(second).not.toHaveProperty('nextCursor')
  })

  it.each([
    ['limit=0', 'querystring.limit'],
    ['limit=1001', 'querystring.limit'],
    ['cursor=not-an-id!', 'querystring.cursor'],
    ['after=tok_1', 'querystring.after'],
  ])('answers 400 to ?%s', async (q, field) => {
    expect((await call(app, 'GET', `/tokens?${q}`, { expected: 400 })).json()).toMatchObject({ code: 'VALIDATION_FAILED', field })
  })

  it('shows when this replica last accepted each token, without a store write per request', async () => {
    const clock = frozenClock(T0)
    const svc = await createToken(app, 'svc', 'evaluate')
    const expiring = await createToken(app, 'expiring', 'evaluate', 201, { expiresAt: iso(T0 + 10_000) })
    expect(await listed(app, svc.id)).not.toHaveProperty('lastUsedAt')
    const seq = (await app.switchyard.store.load()).seq

    clock.set(T0 + 5_000)
    for (let i = 0; i < 20; i++) await call(app, 'GET', '/flags', { token: svc.token, expected: 200 })
    await call(app, 'GET', '/flags', { token: expiring.token, expected: 200 })
    expect((await listed(app, svc.id)).lastUsedAt).toBe(iso(T0 + 5_000))
    // A refused request is not a use.
    clock.set(T0 + 20_000)
    await call(app, 'GET', '/flags', { token: expiring.token, expected: 401 })
    expect((await listed(app, expiring.id)).lastUsedAt).toBe(iso(T0 + 5_000))
    expect((await app.switchyard.store.load()).seq).toBe(seq)
  })
})

describe('TOKENS_MAX', () => {
  it('refuses one more token with 409 TOKEN_LIMIT_REACHED, expired ones counted, until one is revoked', async () => {
    const small = await startApp({ tokensMax: 2 })
    onTestFinished(() => small.close())
    const clock = frozenClock(T0)
    const expired = await createToken(small, 'a', 'evaluate', 201, { expiresAt: iso(T0 + 1_000) })
    await createToken(small, 'b', 'evaluate')
    clock.set(T0 + 2_000)
    const res = await call(small, 'POST', '/tokens', { body: { name: 'c', scope: 'evaluate' }, expected: 409 })
    expect(res.json()).toMatchObject({ code: 'TOKEN_LIMIT_REACHED', message: expect.stringContaining('TOKENS_MAX') })
    await revokeToken(small, expired.id)
    await createToken(small, 'c', 'evaluate')
  })

  it('holds against concurrent creates', async () => {
    const small = await startApp({ tokensMax: 3 })
    onTestFinished(() => small.close())
    const results = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => call(small, 'POST', '/tokens', { body: { name: `svc-${i}`, scope: 'evaluate' } })))
    expect(results.map((r) => r.statusCode).sort()).toEqual([201, 201, 201, 409, 409, 409])
    expect((await listTokens(small)).tokens).toHaveLength(4)
  })
})

describe('token expiry', () => {
  it('records expiresAt in UTC, answers it once created, and lists it', async () => {
    const created = await createToken(app, 'svc', 'evaluate', 201, { expiresAt: '2099-06-01T12:00:00+02:00' })
    expect(created.expiresAt).toBe('2099-06-01T10:00:00.000Z')
    expect(await listed(app, created.id)).toMatchObject({ expiresAt: '2099-06-01T10:00:00.000Z' })
  })

  it.each([
    ['in the past', iso(T0 - 1), 'body.expiresAt must be in the future'],
    ['now', iso(T0), 'body.expiresAt must be in the future'],
    ['not a date-time', 'tomorrow', 'body.expiresAt must match format'],
    ['a date without a time', '2099-01-01', 'body.expiresAt must match format'],
  ])('answers 400 to an expiresAt %s, and creates nothing', async (_what, expiresAt, message) => {
    frozenClock(T0)
    const res = await call(app, 'POST', '/tokens', { body: { name: 'svc', scope: 'evaluate', expiresAt }, expected: 400 })
    expect(res.json()).toMatchObject({ code: 'VALIDATION_FAILED', field: 'body.expiresAt', message: expect.stringContaining(message) })
    expect((await listTokens(app)).tokens).toHaveLength(1)
  })

  it('refuses an expired token from its expiresAt on, with the 401 an unknown token gets, and lists it still', async () => {
    const clock = frozenClock(T0)
    const svc = await createToken(app, 'svc', 'admin', 201, { expiresAt: iso(T0 + 60_000) })
    clock.set(T0 + 59_999)
    await call(app, 'GET', '/flags', { token: svc.token, expected: 200 })
    clock.set(T0 + 60_000)
    const expired = await call(app, 'GET', '/flags', { token: svc.token, expected: 401 })
    const unknown = await call(app, 'GET', '/flags', { token: 'sy_unknown-secret', expected: 401 })
    const { requestId: _a, ...body } = expired.json()
    const { requestId: _b, ...unknownBody } = unknown.json()
    expect(body).toEqual(unknownBody)
    await call(app, 'POST', '/evaluate', { token: svc.token, body: { context: {} }, expected: 401 })
    await call(app, 'GET', '/tokens', { token: svc.token, expected: 401 })
    expect(await listed(app, svc.id)).toMatchObject({ name: 'svc', expiresAt: iso(T0 + 60_000) })
  })

  it('is enforced by a replica that learned of the token from the store', async () => {
    const clock = frozenClock(T0)
    const otherStore = new NotifyingStore()
    const other = await startApp({}, { store: otherStore })
    onTestFinished(() => other.close())
    const svc = await createToken(app, 'svc', 'evaluate', 201, { expiresAt: iso(T0 + 60_000) })
    // What a store notification hands the other replica: the record as committed.
    const { tokens, seq } = await app.switchyard.store.load()
    otherStore.notify({ type: 'change', change: { kind: 'token', id: svc.id, seq, token: tokens.find((t) => t.id === svc.id)! } })
    await call(other, 'GET', '/flags', { token: svc.token, expected: 200 })
    clock.set(T0 + 60_000)
    await call(other, 'GET', '/flags', { token: svc.token, expected: 401 })
  })

  it('isExpired tells whether a record has expired at a given time; one without expiresAt never does', async () => {
    const registry = app.switchyard.tokens
    const record = { id: 'tok_x', name: 'x', scope: 'evaluate' as const, hash: '', createdAt: iso(T0), createdBy: 'bootstrap' }
    expect(registry.isExpired({ ...record, expiresAt: iso(T0 + 1) }, T0)).toBe(false)
    expect(registry.isExpired({ ...record, expiresAt: iso(T0 + 1) }, T0 + 1)).toBe(true)
    expect(registry.isExpired(record, Number.MAX_SAFE_INTEGER)).toBe(false)
    // A value no one could have written through the API fails closed.
    expect(registry.isExpired({ ...record, expiresAt: 'garbage' }, T0)).toBe(true)
  })
})

describe('DELETE /tokens/:id', () => {
  it('revokes a token from its very next request', async () => {
    const service = await createToken(app, 'checkout-service', 'evaluate')
    await call(app, 'GET', '/flags', { token: service.token, expected: 200 })
    const res = await revokeToken(app, service.id)
    expect(res.body).toBe('')
    await call(app, 'GET', '/flags', { token: service.token, expected: 401 })
    expect((await listTokens(app)).tokens.map((t: { id: string }) => t.id)).toEqual(['bootstrap'])
  })

  it('leaves the other tokens working', async () => {
    const a = await createToken(app, 'svc-a', 'evaluate')
    const b = await createToken(app, 'svc-b', 'evaluate')
    await revokeToken(app, a.id)
    await call(app, 'GET', '/flags', { token: b.token, expected: 200 })
  })

  it('answers 404 for an unknown or already revoked token', async () => {
    const service = await createToken(app, 'svc', 'evaluate')
    await revokeToken(app, service.id)
    expect((await revokeToken(app, service.id, 404)).json()).toMatchObject({ code: 'TOKEN_NOT_FOUND' })
    await revokeToken(app, 'tok_unknown', 404)
  })

  it('answers 409 for the bootstrap token, which keeps working', async () => {
    expect((await revokeToken(app, 'bootstrap', 409)).json()).toMatchObject({ code: 'TOKEN_PROTECTED', message: expect.stringContaining('ADMIN_TOKEN') })
    await listTokens(app)
  })

  it('answers 400 for an id that cannot exist', async () => {
    expect((await call(app, 'DELETE', '/tokens/not-an-id!', { expected: 400 })).json()).toMatchObject({ field: 'params.id' })
  })

  it('lets an admin token revoke itself, effective on its next request', async () => {
    const ops = await createToken(app, 'ops', 'admin')
    await call(app, 'DELETE', `/tokens/${ops.id}`, { token: ops.token, expected: 204 })
    await call(app, 'GET', '/tokens', { token: ops.token, expected: 401 })
  })
})

describe('token secrets', () => {
  it('are stored only as sha256 hashes', async () => {
    const dir = tempDir()
    const store = new FileStore(dir.path)
    const fileApp = await startApp({}, { store })
    try {
      const service = await createToken(fileApp, 'checkout-service', 'evaluate')
      const text = embeddedStoreText(store)
      expect(text).toContain(sha256(service.token))
      expect(text).not.toContain(service.token)
      expect(text).not.toContain(ADMIN)
    } finally {
      await fileApp.close()
      dir.remove()
    }
  })

  it('never reach a log line, even at trace level', async () => {
    const logs = captureLogs()
    const logged = await startApp({ logLevel: 'trace' }, { logStream: logs.stream })
    try {
      const service = await createToken(logged, 'checkout-service', 'evaluate')
      await call(logged, 'GET', '/flags', { token: service.token, expected: 200 })
      await call(logged, 'GET', '/flags', { token: 'sy_wrong-secret-for-the-log', expected: 401 })
      await revokeToken(logged, service.id)
      expect(logs.records().length).toBeGreaterThan(3)
      for (const secret of [ADMIN, service.token, 'sy_wrong-secret-for-the-log']) expect(logs.text()).not.toContain(secret)
    } finally {
      await logged.close()
    }
  })
})
