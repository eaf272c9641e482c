// Probes and public documents: /healthz, /readyz (ready only once the state is loaded), /docs
// and /openapi.json, the headers every response carries, and the 404 for unknown routes.
import type { FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import { FileStore } from '../../packages/server/src/store/file.js'
import { call, createToken, startApp, tempDir } from '../support/helpers.js'

let app: FastifyInstance
afterEach(async () => {
  await app.close()
})

describe('GET /healthz and GET /readyz', () => {
  it('answer without a token once the state is loaded', async () => {
    app = await startApp()
    expect((await call(app, 'GET', '/healthz', { token: null, expected: 200 })).json()).toEqual({
      status: 'ok',
      ready: true,
      store: { kind: 'memory', status: 'up' },
      revision: 0,
      stale: false,
    })
    expect((await call(app, 'GET', '/readyz', { token: null, expected: 200 })).json()).toEqual({ status: 'ready', store: { kind: 'memory', status: 'up' } })
  })

  it('report the embedded store by kind', async () => {
    const data = tempDir()
    try {
      app = await startApp({}, { store: new FileStore(data.path) })
      expect((await call(app, 'GET', '/readyz', { token: null, expected: 200 })).json().store).toEqual({ kind: 'file', status: 'up' })
    } finally {
      data.remove()
    }
  })

  it('while the state is loading: alive, not ready, and every API route answers 503', async () => {
    app = await startApp({}, { load: false })
    expect((await call(app, 'GET', '/healthz', { token: null, expected: 200 })).json()).toMatchObject({ status: 'ok', ready: false })
    expect((await call(app, 'GET', '/readyz', { token: null, expected: 503 })).json()).toMatchObject({ status: 'loading' })
    for (const [method, url] of [
      ['GET', '/flags'],
      ['POST', '/evaluate'],
      ['GET', '/audit'],
    ] as const) {
      const res = await call(app, method, url, { body: method === 'POST' ? { flag: 'x' } : undefined, expected: 503 })
      expect(res.json()).toMatchObject({ statusCode: 503, code: 'NOT_READY' })
    }
    await call(app, 'GET', '/openapi.json', { token: null, expected: 200 })
    await call(app, 'GET', '/docs', { token: null, expected: 200 })

    await app.switchyard.sync.start()
    await call(app, 'GET', '/readyz', { token: null, expected: 200 })
    await call(app, 'GET', '/flags', { expected: 200 })
  })
})

describe('GET /docs', () => {
  it('serves Swagger UI with a Content-Security-Policy that lets its own scripts run', async () => {
    app = await startApp()
    const res = await call(app, 'GET', '/docs', { token: null, expected: 200 })
    expect(res.headers['content-type']).toMatch(/text\/html/)
    expect(res.body).toContain('Swagger UI')
    const csp = String(res.headers['content-security-policy'])
    expect(csp).toContain("script-src 'self'")
    expect(csp).not.toContain('upgrade-insecure-requests')
    const initializer = await call(app, 'GET', '/docs/static/swagger-initializer.js', { token: null, expected: 200 })
    expect(initializer.body).toContain('SwaggerUIBundle')
  })
})

describe('GET /openapi.json', () => {
  it('serves the generated OpenAPI 3 document without a token', async () => {
    app = await startApp()
    const doc = (await call(app, 'GET', '/openapi.json', { token: null, expected: 200 })).json()
    expect(doc.openapi).toBe('3.0.3')
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/flags', '/flags/{key}', '/evaluate', '/tokens', '/tokens/{id}', '/audit', '/healthz', '/readyz']),
    )
    expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(['Flag', 'FlagCreate', 'FlagPatch', 'Error', 'AuditEvent', 'Token']))
    const ids = Object.values(doc.paths as Record<string, Record<string, { operationId: string }>>).flatMap((ops) =>
      Object.values(ops).map((op) => op.operationId),
    )
    expect(new Set(ids).size).toBe(ids.length)
  })
})

describe('every response', () => {
  it.each([
    ['GET', '/healthz', null, 200],
    ['GET', '/flags', undefined, 200],
    ['GET', '/flags', null, 401],
    ['GET', '/flags/nope', undefined, 404],
    ['GET', '/no/such/route', undefined, 404],
  ] as const)('%s %s carries x-request-id and security headers', async (method, url, token, status) => {
    app = await startApp()
    const res = await call(app, method, url, { token, expected: status })
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/)
    expect(res.headers['x-content-type-options']).toBe('nosniff')
    if (status >= 400) expect(res.json()).toMatchObject({ statusCode: status, requestId: res.headers['x-request-id'] })
  })

  it('answers an unknown route with 404 in the error shape', async () => {
    app = await startApp()
    expect((await call(app, 'GET', '/no/such/route', { expected: 404 })).json()).toMatchObject({ code: 'NOT_FOUND', message: 'no such route' })
  })

  // Finding: an evaluate token on an unknown route got 403, as if it were a scope problem.
  it.each([
    [null, 401],
    ['evaluate', 404],
    ['client', 404],
  ] as const)('answers an unknown route 404 to any valid token, 401 without one (%s → %i)', async (who, status) => {
    app = await startApp()
    const token = who === null ? null : (await createToken(app, 'svc', who)).token
    for (const method of ['GET', 'POST', 'DELETE'] as const) {
      expect((await call(app, method, '/no/such/route', { token, expected: status })).json()).toMatchObject({ statusCode: status })
    }
  })
})
