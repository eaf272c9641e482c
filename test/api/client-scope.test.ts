// The browser-safe `client` scope: answers for the caller's own context, never a flag's lists or
// other users' ids. POST /stream/evaluations streams those answers, evaluating again only the
// flags that changed.
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { data, fetchEvents, type EventStream } from '../support/sse.js'
import { call, createFlag, createToken, eventually, revokeToken, startApp, updateFlag } from '../support/helpers.js'

let app: FastifyInstance
let base: string
let client: { id: string; token: string }
const opened: EventStream[] = []

beforeAll(async () => {
  app = await startApp()
  base = await app.listen({ port: 0, host: '127.0.0.1' })
  await createFlag(app, { key: 'beta_only', state: 'beta_users', betaUsers: ['alice', 'secret-customer-7'] })
  await createFlag(app, { key: 'everyone', state: 'enabled' })
  await createFlag(app, { key: 'rollout', state: 'percentage', percentage: 100 })
  client = await createToken(app, 'web-app', 'client')
})
afterAll(async () => {
  for (const stream of opened) await stream.close()
  await app.close()
})

/** POST /stream/evaluations read as a browser would: fetch with a streaming body reader. */
async function evaluations(token: string, body: unknown) {
  const stream = await fetchEvents(`${base}/stream/evaluations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  opened.push(stream)
  return stream
}

describe('a client token', () => {
  it.each([
    ['POST', '/evaluate', { flag: 'everyone', context: { userId: 'bob' } }],
    ['POST', '/ofrep/v1/evaluate/flags/everyone', { context: { targetingKey: 'bob' } }],
    ['POST', '/ofrep/v1/evaluate/flags', { context: { targetingKey: 'bob' } }],
  ] as const)('may call %s %s', async (method, url, body) => {
    const res = await call(app, method, url, { token: client.token, body })
    expect(res.statusCode).toBe(200)
  })

  it.each([
    ['GET', '/flags'],
    ['GET', '/flags/beta_only'],
    ['GET', '/stream'],
    ['GET', '/metrics'],
    ['GET', '/tokens'],
    ['GET', '/audit'],
  ] as const)('is refused %s %s with 403: it never sees a flag definition', async (method, url) => {
    const res = await call(app, method, url, { token: client.token })
    expect(res.statusCode).toBe(403)
    expect(res.body).not.toContain('secret-customer-7')
  })
})

describe('POST /stream/evaluations', () => {
  it("starts with the context's answers for every flag, in key order, and no flag's lists", async () => {
    const s = await evaluations(client.token, { context: { userId: 'alice' } })
    expect(s.status).toBe(200)
    expect(s.res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    await eventually(() => s.events.length >= 1)
    expect(s.events[0]!.event).toBe('evaluations')
    expect(data(s.events[0]!).results).toEqual([
      { flag: 'beta_only', enabled: true, reason: 'beta_user', version: 1 },
      { flag: 'everyone', enabled: true, reason: 'enabled', version: 1 },
      { flag: 'rollout', enabled: true, reason: 'percentage_in', version: 1 },
    ])
    expect(s.raw()).not.toContain('secret-customer-7')
    expect(s.raw()).not.toContain('betaUsers')
    s.close()
  })

  it('sends the new answers of the flags whose rules name a segment when its members change, and no member ids', async () => {
    await call(app, 'POST', '/segments', { body: { key: 'vip', users: ['secret-customer-8'] }, expected: 201 })
    await call(app, 'POST', '/flags', {
      body: { key: 'vip_only', state: 'beta_users', rules: [{ clauses: [{ operator: 'in_segment', values: ['vip'] }], serve: { enabled: true } }] },
      expected: 201,
    })
    const s = await evaluations(client.token, { context: { userId: 'dora' } })
    await eventually(() => s.events.length >= 1)
    expect(data(s.events[0]!).results).toContainEqual(expect.objectContaining({ flag: 'vip_only', enabled: false }))
    await call(app, 'POST', '/segments/vip/targets', { body: { add: { users: ['dora'] } }, expected: 200 })
    await eventually(() => s.events.length >= 2)
    expect(s.events[1]!.event).toBe('evaluation')
    expect(data(s.events[1]!)).toMatchObject({ flag: 'vip_only', enabled: true, reason: 'rule_match' })
    expect(s.raw()).not.toContain('secret-customer-8')
    await call(app, 'DELETE', '/flags/vip_only', { expected: 204 })
    s.close()
  })

  it('sends the new answer for a changed flag only, and nothing for flags outside `flags`', async () => {
    const all = await evaluations(client.token, { context: { userId: 'bob' } })
    const some = await evaluations(client.token, { context: { userId: 'bob' }, flags: ['everyone', 'missing'] })
    await eventually(() => all.events.length >= 1 && some.events.length >= 1)
    expect(data(some.events[0]!).results).toEqual([
      { flag: 'everyone', enabled: true, reason: 'enabled', version: 1 },
      { flag: 'missing', enabled: false, reason: 'flag_not_found' },
    ])
    await updateFlag(app, 'beta_only', { betaUsers: ['alice', 'bob', 'secret-customer-7'] })
    await updateFlag(app, 'everyone', { state: 'disabled' })
    await eventually(() => all.events.length >= 3 && some.events.length >= 2, 5000, 'the change events')
    expect(all.events.slice(1).map((e) => [e.event, data(e).flag, data(e).enabled, data(e).reason])).toEqual([
      ['evaluation', 'beta_only', true, 'beta_user'],
      ['evaluation', 'everyone', false, 'disabled'],
    ])
    expect(some.events.slice(1).map((e) => [data(e).flag, data(e).enabled])).toEqual([['everyone', false]])
    expect(all.raw()).not.toContain('secret-customer-7')
    await call(app, 'DELETE', '/flags/everyone', { expected: 204 })
    await eventually(() => some.events.length >= 3)
    expect(data(some.events[2]!)).toMatchObject({ flag: 'everyone', enabled: false, reason: 'flag_not_found' })
    all.close()
    some.close()
  })

  it('refuses a body that is not a context with 400 naming the field', async () => {
    const s = await evaluations(client.token, { context: { userId: 42 } })
    expect(s.status).toBe(400)
    expect(await s.res.json()).toMatchObject({ code: 'VALIDATION_FAILED', field: 'body.context.userId' })
  })

  it("ends with the client token's revocation, like GET /stream", async () => {
    const doomed = await createToken(app, 'doomed-web-app', 'client')
    const s = await evaluations(doomed.token, { context: { userId: 'alice' } })
    await eventually(() => s.events.length >= 1)
    await revokeToken(app, doomed.id)
    await eventually(() => s.ended(), 2000, 'the stream to end')
    expect(s.events.at(-1)!.event).toBe('revoked')
  })
})
