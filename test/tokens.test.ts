// Token administration: create (secret shown once), list (never secrets), revoke (effective on
// the next request), and secrets kept out of the store and the logs.
import { createHash } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { FileStore } from '../src/store/file.js'
import { ADMIN, call, captureLogs, createFlag, createToken, embeddedStoreText, evaluateFlag, listTokens, revokeToken, startApp, tempDir } from './helpers.js'

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex')
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/

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

  it('issues a different secret and id every time, even for the same name', async () => {
    const a = await createToken(app, 'svc', 'evaluate')
    const b = await createToken(app, 'svc', 'evaluate')
    expect(a.token).not.toBe(b.token)
    expect(a.id).not.toBe(b.id)
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
    for (const t of tokens) expect(Object.keys(t).sort()).toEqual(['createdAt', 'createdBy', 'id', 'name', 'scope'])
    for (const secret of [ADMIN, a.token, b.token]) {
      expect(res.body).not.toContain(secret)
      expect(res.body).not.toContain(sha256(secret))
    }
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
