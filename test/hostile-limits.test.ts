// The edges an attacker pushes on: the body limit (413), the batch cap (400), extreme nesting and
// sizes, prototype names used as real flag keys, and malformed HTTP on a real socket.
import { connect } from 'node:net'
import { Readable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { MAX_BATCH_FLAGS } from '../src/flags/schema.js'
import { ADMIN, bearer, call, createFlag, deleteFlag, evaluateFlag, evaluateFlags, getFlag, listFlags, startApp } from './helpers.js'
import { expectClientError, stateDump } from './hostile-helpers.js'

describe('the body limit', () => {
  let app: FastifyInstance
  beforeAll(async () => {
    app = await startApp()
  })
  afterAll(() => app.close())

  it('refuses a body one byte over the default 8 MiB with 413, on every body route', async () => {
    const limit = app.switchyard.config.bodyLimit
    expect(limit).toBe(8 * 1024 * 1024)
    const payload = `{"description":"${'x'.repeat(limit - 17)}"}`
    expect(Buffer.byteLength(payload)).toBe(limit + 1)
    for (const [method, url] of [['POST', '/flags'], ['PATCH', '/flags/any_flag'], ['POST', '/evaluate'], ['POST', '/tokens']] as const) {
      const res = await app.inject({ method, url, headers: { ...bearer(ADMIN), 'content-type': 'application/json' }, payload })
      expect(res.statusCode, url).toBe(413)
      expectClientError(res, url)
      expect(res.json()).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', message: `body is larger than the ${limit} byte limit` })
    }
  })

  it('refuses a streamed body without a length once it passes the limit', async () => {
    const small = await startApp({ bodyLimit: 4096 })
    try {
      const chunks = Array.from({ length: 64 }, () => Buffer.from(`"${'y'.repeat(126)}",`))
      const res = await small.inject({ method: 'POST', url: '/evaluate', headers: { ...bearer(ADMIN), 'content-type': 'application/json' }, payload: Readable.from([Buffer.from('{"flags":['), ...chunks]) })
      expect(res.statusCode).toBe(413)
      expectClientError(res, 'streamed')
    } finally {
      await small.close()
    }
  })
})

describe('the batch cap', () => {
  let app: FastifyInstance
  beforeAll(async () => {
    app = await startApp()
    await createFlag(app, { key: 'capped', state: 'enabled' })
  })
  afterAll(() => app.close())

  it(`answers a batch of ${MAX_BATCH_FLAGS} keys`, async () => {
    const keys = Array.from({ length: MAX_BATCH_FLAGS }, (_, i) => (i === 0 ? 'capped' : `missing_${i}`))
    const { results } = await evaluateFlags(app, keys, { userId: 'u1' })
    expect(results).toHaveLength(MAX_BATCH_FLAGS)
    expect(results[0]).toMatchObject({ flag: 'capped', enabled: true })
  })

  it(`refuses ${MAX_BATCH_FLAGS + 1} keys with a 400 naming the field and the rule`, async () => {
    const keys = Array.from({ length: MAX_BATCH_FLAGS + 1 }, () => 'capped')
    const res = await call(app, 'POST', '/evaluate', { body: { flags: keys }, expected: 400 })
    expectClientError(res, 'batch')
    expect(res.json()).toMatchObject({ field: 'body.flags', message: `body.flags must NOT have more than ${MAX_BATCH_FLAGS} items` })
  })
})

describe('extreme shapes', () => {
  let app: FastifyInstance
  beforeAll(async () => {
    app = await startApp()
    await createFlag(app, { key: 'target' })
  })
  afterAll(() => app.close())

  it.each([
    ['arrays 200,000 deep', `{"flags":${'['.repeat(200_000)}${']'.repeat(200_000)}}`],
    ['objects 100,000 deep', `{"context":{"attributes":${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}}}`],
    ['prototype keys 10,000 deep', `{"context":${'{"constructor":'.repeat(10_000)}1${'}'.repeat(10_000)}}`],
    ['100,000 keys in one object', `{"context":{"attributes":{${Array.from({ length: 100_000 }, (_, i) => `"k${i}":${i}`).join(',')}}}}`],
    ['a 1 MB string', `{"flag":"${'a'.repeat(1_000_000)}"}`],
    ['a NUL byte in a key', '{"flag":"tar\\u0000get"}'],
  ])('refuses %s with a 400, without a crash or a stall', async (_what, payload) => {
    for (const [method, url] of [['POST', '/evaluate'], ['POST', '/flags'], ['PATCH', '/flags/target']] as const) {
      const before = await stateDump(app)
      const res = await app.inject({ method, url, headers: { ...bearer(ADMIN), 'content-type': 'application/json' }, payload })
      expectClientError(res, `${method} ${url}`)
      expect(res.statusCode).toBe(400)
      expect(await stateDump(app)).toBe(before)
    }
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200)
  })

  it('accepts a beta list at its 10,000-id limit and refuses one more', async () => {
    const ids = Array.from({ length: 10_000 }, (_, i) => `user-${i}`)
    await call(app, 'PATCH', '/flags/target', { body: { betaUsers: ids }, expected: 200 })
    const res = await call(app, 'PATCH', '/flags/target', { body: { betaUsers: [...ids, 'one-more'] }, expected: 400 })
    expect(res.json()).toMatchObject({ field: 'body.betaUsers' })
    expect((await getFlag(app, 'target')).betaUsers).toHaveLength(10_000)
  })
})

describe('prototype names as real keys', () => {
  let app: FastifyInstance
  beforeAll(async () => {
    app = await startApp()
  })
  afterAll(() => app.close())

  it('evaluates them as unknown flags before they exist', async () => {
    const { results } = await evaluateFlags(app, ['constructor', 'prototype', 'to_string', 'has_own_property', 'value_of'], { userId: 'u1' })
    expect(results.map((r: { reason: string }) => r.reason)).toEqual(Array(5).fill('flag_not_found'))
    await evaluateFlag(app, 'constructor', {}, 404)
    await call(app, 'GET', '/flags/prototype', { expected: 404 })
    await call(app, 'DELETE', '/tokens/__proto__', { expected: 404 })
    await call(app, 'DELETE', '/tokens/constructor', { expected: 404 })
  })

  it('stores, lists, evaluates and deletes flags named constructor and prototype like any other', async () => {
    await createFlag(app, { key: 'constructor', state: 'enabled' })
    await createFlag(app, { key: 'prototype', state: 'beta_users', betaUsers: ['__proto__', 'constructor'] })
    expect((await listFlags(app)).flags.map((f: { key: string }) => f.key)).toEqual(['constructor', 'prototype'])
    expect(await evaluateFlag(app, 'constructor')).toMatchObject({ enabled: true, reason: 'enabled' })
    expect(await evaluateFlag(app, 'prototype', { userId: '__proto__' })).toMatchObject({ enabled: true, reason: 'beta_user' })
    expect(await evaluateFlag(app, 'prototype', { userId: 'toString' })).toMatchObject({ enabled: false, reason: 'not_targeted' })
    await deleteFlag(app, 'constructor')
    await evaluateFlag(app, 'constructor', {}, 404)
    expect(Object.prototype).not.toHaveProperty('enabled')
    expect(({} as { constructor: unknown }).constructor).toBe(Object)
  })

  it('refuses __proto__ as a key, where the pattern forbids it', async () => {
    const res = await call(app, 'POST', '/flags', { body: '{"key":"__proto__"}', expected: 400 })
    expect(res.json()).toMatchObject({ field: 'body.key' })
  })
})

describe('malformed HTTP on a real socket', () => {
  let app: FastifyInstance
  let port: number
  beforeAll(async () => {
    app = await startApp()
    await app.listen({ port: 0, host: '127.0.0.1' })
    port = (app.server.address() as { port: number }).port
  })
  afterAll(() => app.close())

  /** Writes raw bytes and reads what comes back until the server closes or a short while passes. */
  function raw(text: string): Promise<string> {
    return new Promise((resolve) => {
      const socket = connect(port, '127.0.0.1')
      let out = ''
      const done = () => resolve(out)
      socket.on('data', (chunk) => (out += chunk.toString()))
      socket.on('close', done)
      socket.on('error', done)
      socket.write(text)
      socket.setTimeout(500, () => socket.destroy())
    })
  }

  const auth = `Authorization: Bearer ${ADMIN}\r\nContent-Type: application/json\r\n`
  it.each([
    ['a garbage request line', 'GARBAGE\r\n\r\n'],
    ['a NUL byte in a header', 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\u0000b\r\n\r\n'],
    ['two Content-Lengths', `POST /evaluate HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}`],
    ['Content-Length with chunked (request smuggling)', `POST /evaluate HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`],
    ['a malformed chunk', `POST /evaluate HTTP/1.1\r\nHost: x\r\n${auth}Transfer-Encoding: chunked\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n`],
    ['a 20 kB header', `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`],
    ['raw UTF-8 in the path', 'GET /flags/\u00e9 HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['a body shorter than its length', `POST /evaluate HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: 100\r\n\r\n{}`],
  ])('answers %s with a 4xx (or nothing) and keeps serving', async (_what, text) => {
    const answer = await raw(text)
    const status = /^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]
    if (status !== undefined) expect(Number(status)).toBeGreaterThanOrEqual(400)
    if (status !== undefined) expect(Number(status)).toBeLessThan(500)
    expect(answer).not.toMatch(/node_modules|\bat .+:\d+:\d+/)
    const res = await fetch(`http://127.0.0.1:${port}/healthz`)
    expect(res.status).toBe(200)
  })

  it('serves no file outside Swagger UI’s own, however the path is spelled', async () => {
    for (const path of ['/docs/static/../../../../etc/passwd', '/docs/static/..%2f..%2f..%2f..%2fetc%2fpasswd', '/docs/static/%2e%2e/%2e%2e/package.json', '/docs/static/....//....//etc/passwd']) {
      const answer = await raw(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)
      expect(answer, path).toMatch(/^HTTP\/1\.1 4\d\d/)
      expect(answer, path).not.toContain('root:')
      expect(answer, path).not.toContain('"dependencies"')
    }
  })
})
