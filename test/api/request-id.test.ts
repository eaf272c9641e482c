// Request ids: one per request, taken from a well-formed X-Request-Id or generated, returned in
// the response header and the error body, and carried by every log line the request causes.
import { describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { ADMIN, bearer, captureLogs, createToken, startApp } from '../support/helpers.js'

describe('X-Request-Id', () => {
  it('is echoed when well-formed, on successes and errors alike', async () => {
    const app = await startApp()
    try {
      for (const [method, url, headers] of [
        ['GET', '/healthz', {}],
        ['GET', '/flags', bearer(ADMIN)],
        ['GET', '/flags', {}],
        ['GET', '/flags/missing', bearer(ADMIN)],
        ['GET', '/no/such/route', bearer(ADMIN)],
      ] as const) {
        const id = `trace-${Math.random().toString(36).slice(2)}:span.1_x`
        const res = await app.inject({ method, url, headers: { ...headers, 'x-request-id': id } })
        expect(res.headers['x-request-id'], `${method} ${url}`).toBe(id)
        if (res.statusCode >= 400) expect(res.json().requestId).toBe(id)
      }
    } finally {
      await app.close()
    }
  })

  it.each([
    ['spaces', 'has spaces in it'],
    ['a quote', 'abc"def'],
    ['non-ASCII', 'idé-123'],
    ['129 characters', 'a'.repeat(129)],
    ['a log-injection attempt', 'x","level":60,"msg":"forged'],
    ['an empty value', ''],
  ])('is replaced by a generated id when it holds %s', async (_what, given) => {
    const app = await startApp()
    try {
      const res = await app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': given } })
      expect(res.headers['x-request-id']).not.toBe(given)
      expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/)
    } finally {
      await app.close()
    }
  })

  it('is generated, and unique, when absent', async () => {
    const app = await startApp()
    try {
      const ids = new Set<string>()
      for (let i = 0; i < 50; i++) ids.add((await app.inject({ method: 'GET', url: '/healthz' })).headers['x-request-id'] as string)
      expect(ids.size).toBe(50)
    } finally {
      await app.close()
    }
  })
})

describe('request log lines', () => {
  async function session(app: FastifyInstance): Promise<string[]> {
    const ids: string[] = []
    const send = async (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object, token: string | null = ADMIN) => {
      const id = `req-${ids.length}`
      ids.push(id)
      await app.inject({ method, url, payload, headers: { 'x-request-id': id, ...(token ? bearer(token) : {}) } })
    }
    await send('POST', '/flags', { key: 'checkout', tags: ['payments'] })
    await send('PATCH', '/flags/checkout', { state: 'percentage', percentage: 25 })
    await send('POST', '/evaluate', { flag: 'checkout', context: { userId: 'u1' } })
    await send('POST', '/evaluate', { flags: ['checkout', 'missing'], context: { userId: 'u1' } })
    await send('POST', '/evaluate', { flag: 'missing' })
    await send('GET', '/flags')
    await send('PATCH', '/flags/checkout', { percentage: 101 })
    await send('GET', '/flags', undefined, 'not-a-token')
    await send('GET', '/flags', undefined, null)
    await send('DELETE', '/flags/checkout')
    await send('GET', '/audit')
    await send('GET', '/nowhere')
    return ids
  }

  it('every line logged while serving a request carries its id (at debug, where evaluations log too)', async () => {
    const logs = captureLogs()
    const app = await startApp({ logLevel: 'debug' }, { logStream: logs.stream })
    const token = await createToken(app, 'evaluator', 'evaluate')
    const before = logs.records().length
    const ids = await session(app)
    await app.inject({ method: 'POST', url: '/evaluate', payload: { flag: 'checkout' }, headers: { ...bearer(token.token), 'x-request-id': 'req-last' } })
    ids.push('req-last')
    const during = logs.records().slice(before)
    await app.close()

    // Nothing else runs in this app meanwhile: every line belongs to one of the requests.
    expect(during.length).toBeGreaterThanOrEqual(ids.length)
    for (const line of during) expect(ids, JSON.stringify(line)).toContain(line.reqId)
    // And every request left at least one line: the request log itself.
    for (const id of ids)
      expect(
        during.some((l) => l.reqId === id && l.msg === 'request completed'),
        id,
      ).toBe(true)
    // The audit lines name the request too, in their own field and in the log context.
    const audit = during.filter((l) => l.msg === 'flag.created' || l.msg === 'flag.updated' || l.msg === 'flag.deleted')
    expect(audit.map((l) => [l.msg, l.reqId, l.requestId])).toEqual([
      ['flag.created', 'req-0', 'req-0'],
      ['flag.updated', 'req-1', 'req-1'],
      ['flag.deleted', 'req-9', 'req-9'],
    ])
  })

  it('at the default level, evaluate-scope successes stay out of the log, refusals do not, and every line has its id', async () => {
    const logs = captureLogs()
    const app = await startApp({ logLevel: 'info' }, { logStream: logs.stream })
    const before = logs.records().length
    const ids = await session(app)
    const during = logs.records().slice(before)
    await app.close()
    for (const line of during) expect(ids).toContain(line.reqId)
    // Routes with the evaluate scope (POST /evaluate, GET /flags) log their successes at debug only;
    // a refusal (the unknown flag, the bad and the missing token) is logged at info like any other.
    expect(during.filter((l) => (l.url === '/evaluate' || (l.url === '/flags' && l.method === 'GET')) && (l.statusCode as number) < 400)).toEqual([])
    expect(during.filter((l) => l.msg === 'request completed').map((l) => l.reqId)).toEqual([
      'req-0',
      'req-1',
      'req-4',
      'req-6',
      'req-7',
      'req-8',
      'req-9',
      'req-10',
      'req-11',
    ])
  })
})
