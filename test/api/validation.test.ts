// Input validation on flag writes: every limit at and just past its edge, unknown fields, wrong
// types and whitelists; the error names the field and the rule, and a refused write changes nothing.
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { call, createFlag, getFlag, listAudit, listFlags, startApp } from '../support/helpers.js'

let app: FastifyInstance
beforeAll(async () => {
  app = await startApp()
  await createFlag(app, { key: 'target', description: 'untouched', tags: ['keep'], betaUsers: ['alice'] })
})
afterAll(async () => {
  await app.close()
})

const many = (n: number, make: (i: number) => string) => Array.from({ length: n }, (_, i) => make(i))
const ONE_OF_STATES = /must be one of: enabled, disabled, beta_users, percentage/

/** Values a flag write must accept: [what, fields]. */
const accepted: [string, Record<string, unknown>][] = [
  ['a 1000-character description', { description: 'd'.repeat(1000) }],
  ['20 tags', { tags: many(20, (i) => `tag_${i}`) }],
  ['10,000 beta users', { betaUsers: many(10_000, (i) => `user-${i}`) }],
  ['10,000 beta tenants', { betaTenants: many(10_000, (i) => `tenant-${i}`) }],
  ['a 200-character id', { betaUsers: ['i'.repeat(200)], betaTenants: ['t'.repeat(200)] }],
  ['percentage 0', { percentage: 0 }],
  ['percentage 100', { percentage: 100 }],
  ['percentage 0.125 (three decimals)', { percentage: 0.125 }],
  ['percentage 12.345', { percentage: 12.345 }],
  ['percentage 99.999', { percentage: 99.999 }],
  ['every state', { state: 'beta_users' }],
  ['tenantId stickiness', { stickiness: 'tenantId' }],
  ['non-ASCII ids', { betaUsers: ['José', '用户', '🚀'] }],
]

/** Values a flag write must refuse: [what, fields, field named, rule]. */
const refused: [string, Record<string, unknown>, string, RegExp][] = [
  ['a 1001-character description', { description: 'd'.repeat(1001) }, 'body.description', /more than 1000 characters/],
  ['21 tags', { tags: many(21, (i) => `tag_${i}`) }, 'body.tags', /more than 20 items/],
  ['a tag that is not snake_case', { tags: ['ok', 'Not-Snake'] }, 'body.tags[1]', /pattern/],
  ['an empty tag', { tags: [''] }, 'body.tags[0]', /fewer than 1 characters/],
  ['10,001 beta users', { betaUsers: many(10_001, (i) => `user-${i}`) }, 'body.betaUsers', /more than 10000 items/],
  ['10,001 beta tenants', { betaTenants: many(10_001, (i) => `tenant-${i}`) }, 'body.betaTenants', /more than 10000 items/],
  ['a 201-character user id', { betaUsers: ['ok', 'i'.repeat(201)] }, 'body.betaUsers[1]', /more than 200 characters/],
  ['a 201-character tenant id', { betaTenants: ['t'.repeat(201)] }, 'body.betaTenants[0]', /more than 200 characters/],
  ['an empty id', { betaUsers: [''] }, 'body.betaUsers[0]', /fewer than 1 characters/],
  ['percentage 100.001', { percentage: 100.001 }, 'body.percentage', /must be <= 100/],
  ['percentage 101', { percentage: 101 }, 'body.percentage', /must be <= 100/],
  ['percentage -0.001', { percentage: -0.001 }, 'body.percentage', /must be >= 0/],
  ['percentage -1', { percentage: -1 }, 'body.percentage', /must be >= 0/],
  ['percentage with four decimals', { percentage: 12.3456 }, 'body.percentage', /at most three decimals/],
  ['percentage 0.0001', { percentage: 0.0001 }, 'body.percentage', /at most three decimals/],
  ['percentage as a string', { percentage: '50' }, 'body.percentage', /must be number/],
  ['percentage as a boolean', { percentage: true }, 'body.percentage', /must be number/],
  ['percentage null', { percentage: null }, 'body.percentage', /must be number/],
  ['description as a number', { description: 42 }, 'body.description', /must be string/],
  ['tags as a string', { tags: 'ai' }, 'body.tags', /must be array/],
  ['a numeric tag', { tags: [1] }, 'body.tags[0]', /must be string/],
  ['betaUsers as an object', { betaUsers: { alice: true } }, 'body.betaUsers', /must be array/],
  ['a numeric user id', { betaUsers: [42] }, 'body.betaUsers[0]', /must be string/],
  ['state "on"', { state: 'on' }, 'body.state', ONE_OF_STATES],
  ['state in capitals', { state: 'ENABLED' }, 'body.state', ONE_OF_STATES],
  ['state as a number', { state: 1 }, 'body.state', /must be string/],
  ['stickiness "sessionId"', { stickiness: 'sessionId' }, 'body.stickiness', /must be one of: userId, tenantId/],
  ['stickiness in the wrong case', { stickiness: 'userid' }, 'body.stickiness', /must be one of: userId, tenantId/],
  ['an unknown field', { owner: 'me' }, 'body.owner', /is not a known field/],
  ['a server-managed field', { version: 9 }, 'body.version', /is not a known field/],
  ['an updatedBy of its own', { updatedBy: 'someone-else' }, 'body.updatedBy', /is not a known field/],
]

const refusedKeys: [string, unknown, RegExp][] = [
  ['201 characters', 'k'.repeat(201), /more than 200 characters/],
  ['empty', '', /fewer than 1 characters/],
  ['capitals', 'Copilot', /pattern/],
  ['a leading digit', '1copilot', /pattern/],
  ['a dash', 'copilot-v2', /pattern/],
  ['a space', 'copilot v2', /pattern/],
  ['non-ASCII', 'copilöt', /pattern/],
  ['a number', 42, /must be string/],
]

let counter = 0
const freshKey = () => `fresh_${++counter}`

async function snapshot() {
  return { flags: await listFlags(app, { limit: 1000 }), audit: await listAudit(app, { limit: 1000 }) }
}

function expectNamed(res: { statusCode: number; json(): Record<string, unknown> }, field: string, rule: RegExp) {
  expect(res.statusCode).toBe(400)
  const body = res.json()
  expect(body).toMatchObject({ statusCode: 400, code: 'VALIDATION_FAILED', field })
  expect(body.message).toMatch(new RegExp(`^${field.replace(/[.[\]]/g, '\\$&')} `))
  expect(body.message).toMatch(rule)
}

describe('POST /flags validation', () => {
  it.each(accepted)('accepts %s', async (_what, fields) => {
    const key = freshKey()
    const flag = await createFlag(app, { key, ...fields })
    expect(flag).toMatchObject(fields)
  })

  it('accepts a 200-character key', async () => {
    expect((await createFlag(app, { key: 'k'.repeat(200) })).key).toHaveLength(200)
  })

  it.each(refused)('refuses %s, naming the field, and creates nothing', async (_what, fields, field, rule) => {
    const before = await snapshot()
    const key = freshKey()
    expectNamed(await call(app, 'POST', '/flags', { body: { key, ...fields } }), field, rule)
    expect(await snapshot()).toEqual(before)
  })

  it.each(refusedKeys)('refuses a key with %s', async (_what, key, rule) => {
    const before = await snapshot()
    expectNamed(await call(app, 'POST', '/flags', { body: { key } }), 'body.key', rule)
    expect(await snapshot()).toEqual(before)
  })

  it('refuses a flag without a key', async () => {
    expectNamed(await call(app, 'POST', '/flags', { body: { state: 'enabled' } }), 'body.key', /is required/)
  })

  it('never truncates: a key one character over the limit is refused, not cut to collide', async () => {
    const stem = 'x'.repeat(200)
    await createFlag(app, { key: stem })
    expectNamed(await call(app, 'POST', '/flags', { body: { key: `${stem}a` } }), 'body.key', /more than 200/)
    expect((await getFlag(app, stem)).version).toBe(1)
  })

  it('serves a 200-character key on every /flags/:key route', async () => {
    const key = 'y'.repeat(200)
    await createFlag(app, { key })
    await getFlag(app, key)
    await call(app, 'PATCH', `/flags/${key}`, { body: { state: 'enabled' }, expected: 200 })
    await call(app, 'DELETE', `/flags/${key}`, { expected: 204 })
  })
})

describe('path parameters', () => {
  it.each([
    ['a 201-character key', `/flags/${'k'.repeat(201)}`, 'params.key'],
    ['a key that is not snake_case', '/flags/Copilot-V2', 'params.key'],
    ['a far too long segment', `/flags/${'k'.repeat(5000)}`, undefined],
    ['a malformed escape', '/flags/%E0%A4%A', undefined],
  ])('answers 400 in the error shape to %s', async (_what, url, field) => {
    const res = await call(app, 'GET', url, { expected: 400 })
    expect(res.json()).toMatchObject({ statusCode: 400, code: 'VALIDATION_FAILED', requestId: res.headers['x-request-id'], ...(field ? { field } : {}) })
  })
})

describe('PATCH /flags/:key validation', () => {
  it.each(accepted)('accepts %s', async (_what, fields) => {
    const key = freshKey()
    await createFlag(app, { key })
    expect(await call(app, 'PATCH', `/flags/${key}`, { body: fields, expected: 200 }).then((r) => r.json())).toMatchObject(fields)
  })

  it.each(refused)('refuses %s, naming the field, and changes nothing', async (_what, fields, field, rule) => {
    const before = await snapshot()
    const target = await getFlag(app, 'target')
    expectNamed(await call(app, 'PATCH', '/flags/target', { body: fields }), field, rule)
    expect(await getFlag(app, 'target')).toEqual(target)
    expect(await snapshot()).toEqual(before)
  })

  it('refuses one bad field among good ones, applying none of them', async () => {
    const target = await getFlag(app, 'target')
    expectNamed(await call(app, 'PATCH', '/flags/target', { body: { state: 'enabled', description: 'changed', percentage: 150 } }), 'body.percentage', /<= 100/)
    expect(await getFlag(app, 'target')).toEqual(target)
  })

  it('refuses an empty change', async () => {
    expectNamed(await call(app, 'PATCH', '/flags/target', { body: {} }), 'body', /at least 1 field/)
  })
})

describe('request bodies', () => {
  it.each<[string, string, string]>([
    ['malformed JSON', '{"key": "broken"', 'POST /flags'],
    ['an array', '[{"key":"a"}]', 'POST /flags'],
    ['a bare string', '"copilot"', 'PATCH /flags/target'],
    ['null', 'null', 'PATCH /flags/target'],
    ['a __proto__ key', '{"key":"proto_flag","__proto__":{"state":"enabled"}}', 'POST /flags'],
    ['a constructor.prototype key', '{"state":"enabled","constructor":{"prototype":{"x":1}}}', 'PATCH /flags/target'],
  ])('refuses %s with 400 in the error shape', async (_what, payload, route) => {
    const before = await snapshot()
    const [method, url] = route.split(' ') as ['POST' | 'PATCH', string]
    const res = await call(app, method, url, { body: payload })
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject({ statusCode: 400, code: 'VALIDATION_FAILED', message: expect.any(String), requestId: res.headers['x-request-id'] })
    expect(await snapshot()).toEqual(before)
  })

  it('refuses a body that is not JSON with 415', async () => {
    const res = await call(app, 'POST', '/flags', { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'key=form_flag' })
    expect(res.statusCode).toBe(415)
    expect(res.json()).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE' })
  })

  it('refuses a body over BODY_LIMIT with 413', async () => {
    const small = await startApp({ bodyLimit: 2048 })
    try {
      const res = await call(small, 'POST', '/flags', { body: { key: 'big', description: 'd'.repeat(999), betaUsers: many(200, (i) => `user-${i}`) } })
      expect(res.statusCode).toBe(413)
      expect(res.json()).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', message: expect.stringContaining('2048') })
      await getFlag(small, 'big', 404)
    } finally {
      await small.close()
    }
  })
})
