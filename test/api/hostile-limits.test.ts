// The edges an attacker pushes on: the body limits (413), JSON nesting, the batch cap (400), extreme
// sizes, prototype names used as real flag keys, malformed HTTP and trickled bodies on a real socket.
import { connect } from 'node:net'
import { Readable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { MAX_BATCH_FLAGS } from '../../packages/core/src/flags/schema.js'
import { nestsDeeperThan } from '../../packages/server/src/plugins/json-body.js'
import { ADMIN, bearer, call, createFlag, deleteFlag, evaluateFlag, evaluateFlags, eventually, getFlag, listFlags, startApp } from '../support/helpers.js'
import { expectClientError, stateDump } from '../support/hostile-helpers.js'

describe('the body limit', () => {
  let app: FastifyInstance
  beforeAll(async () => {
    app = await startApp()
  })
  afterAll(() => app.close())

  it('refuses a body one byte over the default 8 MiB with 413, on every admin body route', async () => {
    const limit = app.switchyard.config.bodyLimit
    expect(limit).toBe(8 * 1024 * 1024)
    const payload = `{"description":"${'x'.repeat(limit - 17)}"}`
    expect(Buffer.byteLength(payload)).toBe(limit + 1)
    for (const [method, url] of [
      ['POST', '/flags'],
      ['PATCH', '/flags/any_flag'],
      ['POST', '/tokens'],
    ] as const) {
      const res = await app.inject({ method, url, headers: { ...bearer(ADMIN), 'content-type': 'application/json' }, payload })
      expect(res.statusCode, url).toBe(413)
      expectClientError(res, url)
      expect(res.json()).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', message: `body is larger than the ${limit} byte limit` })
    }
  })

  it('refuses a streamed body without a length once it passes the limit', async () => {
    const small = await startApp({ bodyLimit: 4096, evaluateBodyLimit: 4096 })
    try {
      const chunks = Array.from({ length: 64 }, () => Buffer.from(`"${'y'.repeat(126)}",`))
      const res = await small.inject({
        method: 'POST',
        url: '/evaluate',
        headers: { ...bearer(ADMIN), 'content-type': 'application/json' },
        payload: Readable.from([Buffer.from('{"flags":['), ...chunks]),
      })
      expect(res.statusCode).toBe(413)
      expectClientError(res, 'streamed')
    } finally {
      await small.close()
    }
  })
})

describe('the evaluation routes’ body limit and JSON nesting', () => {
  let app: FastifyInstance
  beforeAll(async () => {
    app = await startApp()
    await createFlag(app, { key: 'target' })
  })
  afterAll(() => app.close())

  const post = (url: string, payload: string, method: 'POST' | 'PATCH' = 'POST') =>
    app.inject({ method, url, headers: { ...bearer(ADMIN), 'content-type': 'application/json' }, payload })
  const OFREP = ['/ofrep/v1/evaluate/flags', '/ofrep/v1/evaluate/flags/target']

  it('refuses a 300 KB body on POST /evaluate and both OFREP routes with 413 in the one error shape', async () => {
    expect(app.switchyard.config.evaluateBodyLimit).toBe(256 * 1024)
    const payload = JSON.stringify({ context: { userId: 'u1', attributes: { pad: 'x'.repeat(300 * 1024) } } })
    for (const url of ['/evaluate', ...OFREP]) {
      const res = await post(url, payload)
      expect(res.statusCode, url).toBe(413)
      expectClientError(res, url)
      expect(res.json()).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', message: 'body is larger than the 262144 byte limit' })
    }
  })

  it('still accepts a 300 KB admin body: a PATCH with a long beta list', async () => {
    const betaUsers = Array.from({ length: 10_000 }, (_, i) => `customer-${String(i).padStart(6, '0')}-eu-west-1-production`)
    const payload = JSON.stringify({ betaUsers })
    expect(Buffer.byteLength(payload)).toBeGreaterThan(300 * 1024)
    const res = await post('/flags/target', payload, 'PATCH')
    expect(res.statusCode, res.body).toBe(200)
    expect((await getFlag(app, 'target')).betaUsers).toHaveLength(10_000)
  })

  it('refuses a body nested 10,000 deep with a 400 naming the depth, on every route, before parsing it', async () => {
    const depth = 'body nests arrays and objects more than 32 levels deep'
    // Unterminated, so JSON.parse would call it invalid JSON: the depth is settled before it runs.
    const payload = `{"context":{"attributes":${'{"a":['.repeat(5_000)}`
    for (const [method, url] of [
      ['POST', '/evaluate'],
      ['POST', '/flags'],
      ['PATCH', '/flags/target'],
    ] as const) {
      const res = await post(url, payload, method)
      expectClientError(res, url)
      expect(res.json()).toMatchObject({ statusCode: 400, code: 'VALIDATION_FAILED', field: 'body', message: depth })
    }
    for (const url of OFREP) {
      const res = await post(url, payload)
      expect(res.statusCode, url).toBe(400)
      expect(res.json()).toMatchObject({ errorCode: 'PARSE_ERROR', errorDetails: depth })
    }
    const withCharset = await app.inject({
      method: 'POST',
      url: '/evaluate',
      headers: { ...bearer(ADMIN), 'content-type': 'application/json; charset=utf-8' },
      payload,
    })
    expect(withCharset.json()).toMatchObject({ statusCode: 400, message: depth })
  })

  it('parses a body at the depth limit and refuses one level more', async () => {
    const nested = (levels: number) => `{"context":{"attributes":{"a":${'['.repeat(levels - 3)}1${']'.repeat(levels - 3)}}}}`
    const atLimit = await post('/evaluate', nested(32))
    expect(atLimit.json()).toMatchObject({ statusCode: 400, field: 'body.context.attributes.a' })
    const over = await post('/evaluate', nested(33))
    expect(over.json()).toMatchObject({ statusCode: 400, field: 'body', message: expect.stringContaining('32 levels') })
  })

  it('keeps refusing __proto__ and constructor.prototype in a body, as Fastify’s own parser does', async () => {
    for (const payload of ['{"key":"poison","__proto__":{"polluted":true}}', '{"key":"poison","constructor":{"prototype":{"polluted":true}}}']) {
      const res = await post('/flags', payload)
      expectClientError(res, payload)
      expect(res.statusCode).toBe(400)
    }
    await getFlag(app, 'poison', 404)
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined()
  })

  it.each([
    ['brackets inside strings', '{"a":"[[[[{{{{"}', 1, false],
    ['brackets after an escaped quote', '{"a":"\\"[[[["}', 1, false],
    ['an escaped backslash that ends a string', '{"a":"\\\\"}', 1, false],
    ['brackets after an escaped backslash ends the string', '["\\\\",[[', 2, true],
    ['exactly the limit', '[[[]]]', 3, false],
    ['one level over', '[[[[]]]]', 3, true],
    ['siblings, not nesting', '[[],[],[],[]]', 2, false],
  ])('nestsDeeperThan: %s', (_what, text, max, deeper) => {
    expect(nestsDeeperThan(text, max)).toBe(deeper)
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
    // POST /evaluate with the admin routes' limit, so these bodies reach its parser and schema.
    app = await startApp({ evaluateBodyLimit: 8 * 1024 * 1024 })
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
    for (const [method, url] of [
      ['POST', '/evaluate'],
      ['POST', '/flags'],
      ['PATCH', '/flags/target'],
    ] as const) {
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
    [
      'Content-Length with chunked (request smuggling)',
      `POST /evaluate HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    ],
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
    for (const path of [
      '/docs/static/../../../../etc/passwd',
      '/docs/static/..%2f..%2f..%2f..%2fetc%2fpasswd',
      '/docs/static/%2e%2e/%2e%2e/package.json',
      '/docs/static/....//....//etc/passwd',
    ]) {
      const answer = await raw(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)
      expect(answer, path).toMatch(/^HTTP\/1\.1 4\d\d/)
      expect(answer, path).not.toContain('root:')
      expect(answer, path).not.toContain('"dependencies"')
    }
  })
})

describe('a request that does not arrive in time (REQUEST_TIMEOUT_MS)', () => {
  let app: FastifyInstance
  let port: number
  beforeAll(async () => {
    app = await startApp({ requestTimeoutMs: 1000 })
    await createFlag(app, { key: 'slow', state: 'enabled' })
    await app.listen({ port: 0, host: '127.0.0.1' })
    port = (app.server.address() as { port: number }).port
  })
  afterAll(() => app.close())

  /** Sends the headers and `{"flag":"slow"`, then the rest of the announced 1,000 bytes (blanks and `}`) `chunkSize` bytes every `everyMs`. */
  function trickle(chunkSize: number, everyMs: number) {
    const socket = connect(port, '127.0.0.1')
    const head = '{"flag":"slow"'
    const rest = `${' '.repeat(1000 - head.length - 1)}}`
    let answer = ''
    let sent = 0
    let closed = false
    socket.on('data', (chunk) => (answer += chunk.toString()))
    socket.on('close', () => (closed = true))
    socket.on('error', () => undefined)
    socket.write(
      `POST /evaluate HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ADMIN}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n${head}`,
    )
    const timer = setInterval(() => {
      if (closed || sent >= rest.length) return
      socket.write(rest.slice(sent, sent + chunkSize))
      sent += chunkSize
    }, everyMs)
    return {
      answer: () => answer,
      closed: () => closed,
      sent: () => sent,
      stop: () => {
        clearInterval(timer)
        socket.destroy()
      },
    }
  }

  it('answers 408 and closes the connection when the body trickles in a byte every 200 ms', async () => {
    const slow = trickle(1, 200)
    try {
      await eventually(() => slow.closed(), 10_000, 'the server to cut the trickled request')
      expect(slow.answer()).toMatch(/^HTTP\/1\.1 408 /)
      expect(slow.sent()).toBeLessThan(100)
    } finally {
      slow.stop()
    }
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200)
  })

  it('answers a slow body that is complete within the timeout', async () => {
    const slow = trickle(200, 100)
    try {
      await eventually(() => /\r\n\r\n\{.*\}$/s.test(slow.answer()), 10_000, 'the answer')
      expect(slow.answer()).toMatch(/^HTTP\/1\.1 200 /)
      expect(slow.answer()).toContain('"enabled":true')
    } finally {
      slow.stop()
    }
  })
})
