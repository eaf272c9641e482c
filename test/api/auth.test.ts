// The auth matrix: every route the app serves, with no token, an unknown token, a revoked token,
// an evaluate token and an admin token. The routes come from the app itself (its OpenAPI document,
// cross-checked against its router), so a new route cannot escape the matrix.
import { request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, describe, expect, it } from 'vitest'
import { ADMIN, bearer, call, createToken, NotifyingStore, revokeToken, startApp } from '../support/helpers.js'

const store = new NotifyingStore()
const app = await startApp({}, { store })
afterAll(async () => {
  await app.close()
})
// Routes that let a token through may stream and never end, so those probes go over HTTP.
await app.listen({ port: 0, host: '127.0.0.1' })
const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`

type Operation = { 'x-scope'?: string; security?: unknown[] }
const doc = app.swagger() as unknown as { paths: Record<string, Record<string, Operation>> }

interface Route {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE'
  path: string
  scope: string
  public: boolean
}
const routes: Route[] = Object.entries(doc.paths).flatMap(([path, operations]) =>
  Object.entries(operations).map(([method, op]) => ({
    method: method.toUpperCase() as Route['method'],
    path,
    scope: op['x-scope'] ?? 'undeclared',
    public: Array.isArray(op.security) && op.security.length === 0,
  })),
)
const name = (r: Route) => `${r.method} ${r.path}`
// Any value that passes the path parameter patterns; the auth check runs before validation anyway.
const urlOf = (r: Route) => r.path.replace(/\{[^}]+\}/g, 'probe_value')
/** The status a route answers, read from the status line; the connection is then dropped. */
function statusFor(route: Route, token: string): Promise<number> {
  const body = route.method === 'POST' || route.method === 'PATCH' ? '{}' : undefined
  return new Promise((resolve, reject) => {
    const headers = { ...bearer(token), ...(body ? { 'content-type': 'application/json' } : {}) }
    const req = request(base + urlOf(route), { method: route.method, headers, agent: false }, (res) => {
      resolve(res.statusCode!)
      res.destroy()
    })
    req.on('error', reject)
    req.end(body)
  })
}
const protectedRoutes = routes.filter((r) => r.scope !== 'public')
const adminRoutes = routes.filter((r) => r.scope === 'admin')
const evaluateRoutes = routes.filter((r) => r.scope === 'evaluate')
const clientRoutes = routes.filter((r) => r.scope === 'client')

/** Every method and path the router serves, read from printRoutes (which includes hidden routes). */
function routerRoutes(): string[] {
  const out: string[] = []
  const stack: string[] = []
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^((?:│ {3}| {4})*)[├└]── (.*?)(?: \(([^)]*)\))?$/.exec(line)
    if (!m) continue
    const depth = m[1]!.length / 4
    stack.length = depth
    stack.push(m[2]!)
    const path = stack.join('').replace(/:(\w+)/g, '{$1}')
    for (const method of (m[3] ?? '').split(', ').filter((x) => x && x !== 'HEAD')) out.push(`${method} ${path}`)
  }
  return out
}

const revoked = await createToken(app, 'revoked-admin', 'admin')
await revokeToken(app, revoked.id)
const evaluator = await createToken(app, 'evaluator', 'evaluate')
const browser = await createToken(app, 'browser', 'client')
// An admin token as a replica holds it once the store has told it of the token and it has expired since.
const expired = await createToken(app, 'expired-admin', 'admin', 201, { expiresAt: new Date(Date.now() + 3_600_000).toISOString() })
{
  const { tokens, seq } = await app.switchyard.store.load()
  const record = tokens.find((t) => t.id === expired.id)!
  store.notify({ type: 'change', change: { kind: 'token', id: record.id, seq: seq + 1, token: { ...record, expiresAt: '2000-01-01T00:00:00.000Z' } } })
}

describe('the route list', () => {
  it('holds every route the router serves, apart from Swagger UI and the OpenAPI document', () => {
    const documented = new Set(routes.map(name))
    const served = routerRoutes()
    expect(served).toEqual(expect.arrayContaining(['PATCH /flags/{key}', 'DELETE /tokens/{id}', 'GET /openapi.json', 'GET /docs']))
    const undocumented = served.filter((r) => !documented.has(r) && !/ \/docs\b/.test(r) && r !== 'GET /openapi.json')
    expect(undocumented).toEqual([])
    expect(routes.length).toBeGreaterThanOrEqual(12)
  })

  it('declares a scope on every route, public exactly where no token is documented', () => {
    for (const r of routes) {
      expect(['public', 'client', 'evaluate', 'admin'], name(r)).toContain(r.scope)
      expect(r.public, name(r)).toBe(r.scope === 'public')
    }
  })

  it.each([
    ['POST /flags', 'admin'],
    ['GET /flags', 'evaluate'],
    ['GET /flags/{key}', 'evaluate'],
    ['PATCH /flags/{key}', 'admin'],
    ['DELETE /flags/{key}', 'admin'],
    ['POST /evaluate', 'client'],
    ['POST /ofrep/v1/evaluate/flags', 'client'],
    ['POST /ofrep/v1/evaluate/flags/{key}', 'client'],
    ['POST /stream/evaluations', 'client'],
    ['GET /stream', 'evaluate'],
    ['GET /metrics', 'evaluate'],
    ['POST /tokens', 'admin'],
    ['GET /tokens', 'admin'],
    ['DELETE /tokens/{id}', 'admin'],
    ['GET /audit', 'admin'],
    ['GET /healthz', 'public'],
    ['GET /readyz', 'public'],
  ])('%s needs scope %s', (route, scope) => {
    expect(routes.find((r) => name(r) === route)?.scope).toBe(scope)
  })
})

describe.each(protectedRoutes.map((r) => [name(r), r] as const))('%s', (_name, route) => {
  it.each([
    ['no token', null],
    ['an unknown token', 'sy_not-a-token-anyone-issued'],
    ['a revoked token', revoked.token],
    ['an expired token', expired.token],
  ])('answers 401 to %s', async (_what, token) => {
    const res = await call(app, route.method, urlOf(route), { token, expected: 401 })
    expect(res.json()).toMatchObject({ statusCode: 401, code: 'UNAUTHORIZED', requestId: res.headers['x-request-id'] })
  })

  it('lets an admin token through', async () => {
    expect([401, 403]).not.toContain(await statusFor(route, ADMIN))
  })
})

describe.each(adminRoutes.map((r) => [name(r), r] as const))('%s (admin)', (_name, route) => {
  it.each([
    ['an evaluate token', evaluator.token],
    ['a client token', browser.token],
  ])('answers 403 to %s', async (_what, token) => {
    const res = await call(app, route.method, urlOf(route), { token, expected: 403 })
    expect(res.json()).toMatchObject({ statusCode: 403, code: 'FORBIDDEN' })
  })
})

describe.each(evaluateRoutes.map((r) => [name(r), r] as const))('%s (evaluate)', (_name, route) => {
  it('lets an evaluate token through', async () => {
    expect([401, 403]).not.toContain(await statusFor(route, evaluator.token))
  })

  it('answers 403 to a client token: it never sees flag definitions', async () => {
    const res = await call(app, route.method, urlOf(route), { token: browser.token, expected: 403 })
    expect(res.json()).toMatchObject({ statusCode: 403, code: 'FORBIDDEN' })
  })
})

describe.each(clientRoutes.map((r) => [name(r), r] as const))('%s (client)', (_name, route) => {
  it.each([
    ['a client token', browser.token],
    ['an evaluate token', evaluator.token],
  ])('lets %s through', async (_what, token) => {
    expect([401, 403]).not.toContain(await statusFor(route, token))
  })
})

describe('public routes', () => {
  it.each([...routes.filter((r) => r.public).map(name), 'GET /openapi.json', 'GET /docs', 'GET /docs/static/index.html'])(
    '%s needs no token',
    async (route) => {
      const [method, path] = route.split(' ') as [Route['method'], string]
      const res = await call(app, method, path, { token: null })
      expect(res.statusCode).toBeLessThan(400)
    },
  )
})

describe('the Authorization header', () => {
  it.each([
    ['the bare secret', ADMIN],
    ['another scheme', `Basic ${ADMIN}`],
    ['a scheme without a secret', 'Bearer'],
    ['a scheme and blanks', 'Bearer    '],
    ['the secret with a different case', `Bearer ${ADMIN.toUpperCase()}`],
    ['a 2,000-character value', `Bearer ${'x'.repeat(2000)}`],
  ])('answers 401 to %s', async (_what, authorization) => {
    await call(app, 'GET', '/tokens', { token: null, headers: { authorization }, expected: 401 })
  })

  it('accepts the scheme in any case', async () => {
    await call(app, 'GET', '/tokens', { token: null, headers: { authorization: `bearer ${ADMIN}` }, expected: 200 })
  })
})
