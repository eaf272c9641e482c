// Auth abuse: every protected route refuses every kind of bad credential the same way, failed
// attempts are rate-limited per address without ever slowing authenticated traffic, and every
// response carries the security headers, CORS only for allowed origins, and nothing internal.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import { loadConfig } from '../../packages/server/src/config.js'
import { generateSecret } from '../../packages/server/src/auth/tokens.js'
import { ADMIN, bearer, createFlag, createToken, eventually, revokeToken, startApp } from '../support/helpers.js'
import { documentedRoutes, expectClientError, expectNoLeak, expectSecurityHeaders, fillPath } from '../support/hostile-helpers.js'

// Distinct client addresses, so one test's failures never lock out another's.
let nextAddress = 1
const freshAddress = () => `10.${(nextAddress >> 16) & 255}.${(nextAddress >> 8) & 255}.${nextAddress++ & 255}`

function request(app: FastifyInstance, options: InjectOptions & { from?: string }): Promise<LightMyRequestResponse> {
  const { from, ...rest } = options
  return app.inject({ remoteAddress: from ?? freshAddress(), ...rest })
}

describe('bad credentials on every protected route', () => {
  let app: FastifyInstance
  let revoked: { id: string; token: string }
  let evaluator: { id: string; token: string }
  beforeAll(async () => {
    app = await startApp({ authFailureLimit: 5 })
    await createFlag(app, { key: 'probe_value', state: 'enabled' })
    revoked = await createToken(app, 'revoked', 'admin')
    await revokeToken(app, revoked.id)
    evaluator = await createToken(app, 'evaluator', 'evaluate')
  })
  afterAll(() => app.close())

  const credentials = (): [string, Record<string, string>][] => [
    ['no header', {}],
    ['an empty header', { authorization: '' }],
    ['the bare secret', { authorization: ADMIN }],
    ['a scheme alone', { authorization: 'Bearer' }],
    ['a scheme and blanks', { authorization: 'Bearer    ' }],
    ['two secrets', { authorization: `Bearer ${ADMIN} ${ADMIN}` }],
    ['a control character', { authorization: `Bearer ${ADMIN}\u0001` }],
    ['a 5,000-character header', { authorization: `Bearer ${'A'.repeat(5000)}` }],
    ['Basic with the admin secret', { authorization: `Basic ${Buffer.from(`admin:${ADMIN}`).toString('base64')}` }],
    ['Token with the admin secret', { authorization: `Token ${ADMIN}` }],
    ['an unknown token', bearer(generateSecret())],
    ['the admin secret with one character changed', bearer(`${ADMIN.slice(0, -1)}X`)],
    ['a revoked token', bearer(revoked.token)],
  ]

  it('answers every route and every bad credential with the same 401, naming nothing', async () => {
    const bodies = new Set<string>()
    const routes = documentedRoutes(app).filter((r) => r.scope !== 'public')
    expect(routes.length).toBeGreaterThanOrEqual(10)
    for (const route of routes) {
      for (const [what, headers] of credentials()) {
        const context = `${route.method} ${route.path} with ${what}`
        const res = await request(app, { method: route.method, url: fillPath(route.path, 'probe_value'), headers, ...(route.hasBody ? { payload: {} } : {}) })
        expect(res.statusCode, context).toBe(401)
        expectClientError(res, context)
        expectSecurityHeaders(res, context)
        const { requestId: _id, ...body } = res.json()
        bodies.add(JSON.stringify(body))
      }
    }
    // One answer for all of them: nothing tells a missing header from a near-miss secret.
    expect([...bodies]).toEqual([JSON.stringify({ statusCode: 401, code: 'UNAUTHORIZED', message: 'a valid bearer token is required' })])
  })

  it('answers an evaluate token on every admin route with the same 403', async () => {
    const bodies = new Set<string>()
    for (const route of documentedRoutes(app).filter((r) => r.scope === 'admin')) {
      const res = await request(app, {
        method: route.method,
        url: fillPath(route.path, 'probe_value'),
        headers: bearer(evaluator.token),
        ...(route.hasBody ? { payload: {} } : {}),
      })
      expect(res.statusCode, `${route.method} ${route.path}`).toBe(403)
      expectClientError(res, `${route.method} ${route.path}`)
      const { requestId: _id, ...body } = res.json()
      bodies.add(JSON.stringify(body))
    }
    expect(bodies.size).toBe(1)
  })

  it('refuses before validating: a bad body with a bad token is a 401, not a 400 that reveals the schema', async () => {
    const res = await request(app, {
      method: 'POST',
      url: '/flags',
      headers: { ...bearer(generateSecret()), 'content-type': 'application/json' },
      payload: '{"key": 42',
    })
    expect(res.statusCode).toBe(401)
  })

  it('treats a route that does not exist like a protected one: 401 without a token, so routes cannot be enumerated', async () => {
    for (const url of ['/admin', '/flags/a/b', '/.env', '/debug/vars']) {
      const res = await request(app, { method: 'GET', url })
      expect(res.statusCode, url).toBe(401)
      expectClientError(res, url)
    }
  })
})

describe('auth-failure rate limiting', () => {
  const LIMIT = 5
  let app: FastifyInstance
  let evaluator: { id: string; token: string }
  beforeAll(async () => {
    app = await startApp({ authFailureLimit: LIMIT, authFailureWindowSeconds: 60 })
    await createFlag(app, { key: 'checkout', state: 'enabled' })
    evaluator = await createToken(app, 'evaluator', 'evaluate')
  })
  afterAll(() => app.close())

  const evaluate = (from: string, token = evaluator.token) =>
    request(app, { from, method: 'POST', url: '/evaluate', headers: bearer(token), payload: { flag: 'checkout', context: { userId: 'u1' } } })
  const guess = (from: string, method: InjectOptions['method'] = 'GET', url = '/flags') =>
    request(app, { from, method, url, headers: bearer(generateSecret()) })

  it(`locks an address out after ${LIMIT} failed attempts with 429 and Retry-After`, async () => {
    const from = freshAddress()
    for (let i = 0; i < LIMIT; i++) expect((await guess(from)).statusCode).toBe(401)
    await eventually(async () => (await guess(from)).statusCode === 429, 2000, 'the lockout')
    const res = await guess(from, 'PATCH', '/flags/checkout')
    expect(res.statusCode).toBe(429)
    expectClientError(res, 'lockout')
    expectSecurityHeaders(res, 'lockout')
    expect(res.json()).toMatchObject({ code: 'RATE_LIMITED' })
    const retryAfter = Number(res.headers['retry-after'])
    expect(Number.isInteger(retryAfter)).toBe(true)
    expect(retryAfter).toBeGreaterThan(0)
    expect(retryAfter).toBeLessThanOrEqual(60)
  })

  // Finding: twenty 403s a minute (a valid token on a route of the other scope, an ordinary mistake
  // while learning) locked the address out with 429.
  it('never counts a 403: a valid token on a route of another scope is a mistake, not a guess', async () => {
    const from = freshAddress()
    const learner = await createToken(app, 'learner', 'evaluate')
    for (let i = 0; i < LIMIT * 2; i++)
      expect((await request(app, { from, method: 'GET', url: '/tokens', headers: bearer(learner.token) })).statusCode).toBe(403)
    expect((await request(app, { from, method: 'GET', url: '/audit', headers: bearer(learner.token) })).statusCode).toBe(403)
    expect((await evaluate(from)).statusCode).toBe(200)
    // 401s from the same address still count.
    for (let i = 0; i < LIMIT; i++) await guess(from)
    await eventually(async () => (await guess(from)).statusCode === 429, 2000, 'the lockout')
  })

  it('refuses every token this address has not already used, so a correct guess looks like a wrong one', async () => {
    const from = freshAddress()
    for (let i = 0; i < LIMIT; i++) await guess(from)
    await eventually(async () => (await guess(from)).statusCode === 429, 2000, 'the lockout')
    expect((await request(app, { from, method: 'GET', url: '/tokens', headers: bearer(ADMIN) })).statusCode).toBe(429)
    expect((await evaluate(from)).statusCode).toBe(429)
  })

  it('never slows a token that authenticated from the address before the lockout', async () => {
    const from = freshAddress()
    // A service evaluating steadily while a misconfigured neighbour behind the same address fails.
    for (let i = 0; i < LIMIT; i++) {
      expect((await evaluate(from)).statusCode).toBe(200)
      expect((await guess(from)).statusCode).toBe(401)
    }
    await eventually(async () => (await guess(from)).statusCode === 429, 2000, 'the lockout')
    for (let i = 0; i < 200; i++) expect((await evaluate(from)).statusCode).toBe(200)
  })

  it('never counts authenticated requests: heavy evaluate traffic from one address is never limited', async () => {
    const from = freshAddress()
    const answers = await Promise.all(Array.from({ length: 500 }, () => evaluate(from)))
    expect(answers.filter((r) => r.statusCode !== 200)).toEqual([])
    expect(answers.every((r) => r.headers['retry-after'] === undefined && r.headers['x-ratelimit-limit'] === undefined)).toBe(true)
  })

  it('limits one address without touching another', async () => {
    const attacker = freshAddress()
    for (let i = 0; i < LIMIT; i++) await guess(attacker)
    await eventually(async () => (await guess(attacker)).statusCode === 429, 2000, 'the lockout')
    const neighbour = freshAddress()
    expect((await evaluate(neighbour)).statusCode).toBe(200)
    expect((await guess(neighbour)).statusCode).toBe(401)
  })

  it('keeps the probes open during a lockout', async () => {
    const from = freshAddress()
    for (let i = 0; i < LIMIT; i++) await guess(from)
    await eventually(async () => (await guess(from)).statusCode === 429, 2000, 'the lockout')
    for (const url of ['/healthz', '/readyz', '/openapi.json']) expect((await request(app, { from, method: 'GET', url })).statusCode, url).toBe(200)
  })

  it('logs a lockout once, with the address and never the guessed secrets', async () => {
    const { captureLogs } = await import('../support/helpers.js')
    const logs = captureLogs()
    const logged = await startApp({ authFailureLimit: 2, logLevel: 'info' }, { logStream: logs.stream })
    const secrets = Array.from({ length: 6 }, () => generateSecret())
    for (const secret of secrets) await logged.inject({ remoteAddress: '192.0.2.7', method: 'GET', url: '/flags', headers: bearer(secret) })
    await logged.close()
    const lockouts = logs.records().filter((r) => r.msg === 'auth.locked_out')
    expect(lockouts).toHaveLength(1)
    expect(lockouts[0]).toMatchObject({ client: '192.0.2.7', failures: 2, windowSeconds: 60, reqId: expect.any(String) })
    for (const secret of secrets) expect(logs.text()).not.toContain(secret)
  })

  it('opens again when the window ends', async () => {
    const short = await startApp({ authFailureLimit: 2, authFailureWindowSeconds: 1 })
    try {
      const from = '192.0.2.8'
      const attempt = () => short.inject({ remoteAddress: from, method: 'GET', url: '/flags', headers: bearer(generateSecret()) })
      await attempt()
      await attempt()
      await eventually(async () => (await attempt()).statusCode === 429, 2000, 'the lockout')
      await eventually(async () => (await attempt()).statusCode === 401, 5000, 'the end of the window')
    } finally {
      await short.close()
    }
  })

  it('is off with AUTH_FAILURE_LIMIT=0', async () => {
    const open = await startApp({ authFailureLimit: 0 })
    try {
      for (let i = 0; i < 50; i++) expect((await open.inject({ method: 'GET', url: '/flags', headers: bearer(generateSecret()) })).statusCode).toBe(401)
    } finally {
      await open.close()
    }
  })

  it('keys on X-Forwarded-For only behind a trusted proxy (TRUST_PROXY)', async () => {
    const attempt = (target: FastifyInstance, client: string) =>
      target.inject({ remoteAddress: '127.0.0.1', method: 'GET', url: '/flags', headers: { ...bearer(generateSecret()), 'x-forwarded-for': client } })
    const proxied = await startApp({ authFailureLimit: 2, trustProxy: '127.0.0.1' })
    const direct = await startApp({ authFailureLimit: 2 })
    try {
      // Behind the proxy: each client has its own count.
      await attempt(proxied, '198.51.100.1')
      await attempt(proxied, '198.51.100.1')
      await eventually(async () => (await attempt(proxied, '198.51.100.1')).statusCode === 429, 2000, 'the lockout')
      expect((await attempt(proxied, '198.51.100.2')).statusCode).toBe(401)
      // Not trusted: the header is ignored, so forging it does not escape the limit.
      await attempt(direct, '198.51.100.3')
      await attempt(direct, '198.51.100.4')
      await eventually(async () => (await attempt(direct, '198.51.100.5')).statusCode === 429, 2000, 'the lockout')
    } finally {
      await proxied.close()
      await direct.close()
    }
  })
})

describe('security headers', () => {
  it('are on every response: success, every kind of refusal, docs, metrics', async () => {
    const app = await startApp({ authFailureLimit: 1, bodyLimit: 2048 })
    const loading = await startApp({}, { load: false })
    try {
      await createFlag(app, { key: 'checkout' })
      const admin = bearer(ADMIN)
      const cases: [string, InjectOptions][] = [
        ['200', { method: 'GET', url: '/flags', headers: admin }],
        ['201', { method: 'POST', url: '/flags', headers: admin, payload: { key: 'created' } }],
        ['204', { method: 'DELETE', url: '/flags/created', headers: admin }],
        ['400', { method: 'PATCH', url: '/flags/checkout', headers: admin, payload: { percentage: 101 } }],
        ['401', { method: 'GET', url: '/flags', remoteAddress: '192.0.2.1' }],
        ['404', { method: 'GET', url: '/flags/missing', headers: admin }],
        ['409', { method: 'POST', url: '/flags', headers: admin, payload: { key: 'checkout' } }],
        ['412', { method: 'PATCH', url: '/flags/checkout', headers: { ...admin, 'if-match': '"9"' }, payload: { state: 'enabled' } }],
        [
          '413',
          {
            method: 'POST',
            url: '/flags',
            headers: { ...admin, 'content-type': 'application/json' },
            payload: JSON.stringify({ key: 'big', description: 'x'.repeat(4096) }),
          },
        ],
        ['415', { method: 'POST', url: '/flags', headers: { ...admin, 'content-type': 'application/xml' }, payload: '<key>x</key>' }],
        ['429', { method: 'GET', url: '/flags', remoteAddress: '192.0.2.1' }],
        ['docs', { method: 'GET', url: '/docs/static/index.html' }],
        ['metrics', { method: 'GET', url: '/metrics', headers: admin }],
      ]
      for (const [what, options] of cases) {
        const res = await app.inject(options)
        if (/^\d+$/.test(what)) expect(res.statusCode, what).toBe(Number(what))
        expectSecurityHeaders(res, what)
        expectNoLeak(res, what)
      }
      const notReady = await loading.inject({ method: 'GET', url: '/flags', headers: admin })
      expect(notReady.statusCode).toBe(503)
      expectSecurityHeaders(notReady, '503 while loading')
    } finally {
      await app.close()
      await loading.close()
    }
  })
})

describe('CORS', () => {
  const ALLOWED = 'https://console.example.com'
  const preflight = (app: FastifyInstance, origin: string) =>
    app.inject({
      method: 'OPTIONS',
      url: '/flags/checkout',
      headers: { origin, 'access-control-request-method': 'PATCH', 'access-control-request-headers': 'authorization, content-type, if-match' },
    })

  it('is off by default: no CORS header for any origin, and no preflight answer', async () => {
    const app = await startApp()
    try {
      const res = await app.inject({ method: 'GET', url: '/flags', headers: { ...bearer(ADMIN), origin: ALLOWED } })
      expect(res.statusCode).toBe(200)
      expect(res.headers['access-control-allow-origin']).toBeUndefined()
      const pre = await preflight(app, ALLOWED)
      expect(pre.statusCode).toBeGreaterThanOrEqual(400)
      expect(pre.headers['access-control-allow-origin']).toBeUndefined()
      expect(pre.headers['access-control-allow-methods']).toBeUndefined()
    } finally {
      await app.close()
    }
  })

  describe('with CORS_ORIGINS', () => {
    let app: FastifyInstance
    beforeAll(async () => {
      app = await startApp({ corsOrigins: [ALLOWED, 'http://localhost:3000'] })
      await createFlag(app, { key: 'checkout' })
    })
    afterAll(() => app.close())

    it('answers the preflight of an allowed origin before any token is checked', async () => {
      const res = await preflight(app, ALLOWED)
      expect(res.statusCode).toBe(204)
      expect(res.headers).toMatchObject({
        'access-control-allow-origin': ALLOWED,
        'access-control-allow-methods': expect.stringContaining('PATCH'),
        'access-control-allow-headers': expect.stringContaining('authorization'),
        'access-control-max-age': '600',
        vary: expect.stringContaining('Origin'),
      })
      expect(res.headers['access-control-allow-credentials']).toBeUndefined()
    })

    it('allows the origin on answers and on errors, exposing the ETag and request id', async () => {
      const ok = await app.inject({ method: 'GET', url: '/flags/checkout', headers: { ...bearer(ADMIN), origin: ALLOWED } })
      expect(ok.statusCode).toBe(200)
      expect(ok.headers['access-control-allow-origin']).toBe(ALLOWED)
      expect(ok.headers['access-control-expose-headers']).toMatch(/etag.*x-request-id/)
      const refused = await app.inject({ method: 'GET', url: '/flags/checkout', headers: { origin: ALLOWED } })
      expect(refused.statusCode).toBe(401)
      expect(refused.headers['access-control-allow-origin']).toBe(ALLOWED)
    })

    it.each(['https://evil.example.com', 'https://console.example.com.evil.com', 'http://console.example.com', 'null', ''])(
      'refuses origin %j',
      async (origin) => {
        const pre = await preflight(app, origin)
        expect(pre.statusCode).not.toBe(204)
        expect(pre.headers['access-control-allow-origin']).toBeUndefined()
        const res = await app.inject({ method: 'GET', url: '/flags/checkout', headers: { ...bearer(ADMIN), origin } })
        expect(res.statusCode).toBe(200)
        expect(res.headers['access-control-allow-origin']).toBeUndefined()
      },
    )
  })

  it('refuses a wildcard or a malformed origin in CORS_ORIGINS at startup', () => {
    for (const value of ['*', 'https://*.example.com', 'example.com', 'https://example.com/', 'https://a.com,,https://b.com']) {
      expect(() => loadConfig({ CORS_ORIGINS: value }), value).toThrow(/CORS_ORIGINS/)
    }
    expect(loadConfig({ CORS_ORIGINS: 'https://a.example.com, http://localhost:3000' }).corsOrigins).toEqual(['https://a.example.com', 'http://localhost:3000'])
    expect(loadConfig({}).corsOrigins).toEqual([])
  })
})
