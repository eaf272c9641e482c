// The flag CRUD endpoints: create, list (filters, cursor pagination), read, update and delete,
// with If-Match/ETag optimistic concurrency.
import type { FastifyInstance } from 'fastify'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { call, createFlag, createToken, deleteFlag, evaluateFlag, getFlag, listAudit, listFlags, startApp, updateFlag } from '../support/helpers.js'

let app: FastifyInstance
beforeEach(async () => {
  app = await startApp()
})
afterEach(async () => {
  await app.close()
})

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/

describe('POST /flags', () => {
  it('creates a dark flag with defaults and answers 201 with its ETag', async () => {
    const res = await call(app, 'POST', '/flags', { body: { key: 'copilot_v2' }, expected: 201 })
    expect(res.headers.etag).toBe('"1"')
    const flag = res.json()
    expect(flag).toEqual({
      key: 'copilot_v2',
      description: '',
      tags: [],
      state: 'disabled',
      percentage: 0,
      betaUsers: [],
      betaTenants: [],
      stickiness: 'userId',
      rules: [],
      model: 1,
      version: 1,
      createdAt: expect.stringMatching(ISO),
      updatedAt: flag.createdAt,
      updatedBy: 'bootstrap',
    })
    expect(await getFlag(app, 'copilot_v2')).toEqual(flag)
  })

  it('keeps every field given, removes duplicate ids and tags, and records the token name', async () => {
    const ops = await createToken(app, 'ops-admin', 'admin')
    const flag = await createFlag(
      app,
      {
        key: 'new_checkout',
        description: 'The new checkout',
        tags: ['payments', 'web', 'payments'],
        state: 'percentage',
        percentage: 12.5,
        betaUsers: ['alice', 'bob', 'alice'],
        betaTenants: ['acme', 'acme'],
        stickiness: 'tenantId',
      },
      201,
      ops.token,
    )
    expect(flag).toMatchObject({
      description: 'The new checkout',
      tags: ['payments', 'web'],
      state: 'percentage',
      percentage: 12.5,
      betaUsers: ['alice', 'bob'],
      betaTenants: ['acme'],
      stickiness: 'tenantId',
      updatedBy: 'ops-admin',
    })
  })

  it('answers 409 when the key exists, and leaves the existing flag alone', async () => {
    const original = await createFlag(app, { key: 'copilot_v2', description: 'first' })
    const res = await call(app, 'POST', '/flags', { body: { key: 'copilot_v2', description: 'second' }, expected: 409 })
    expect(res.json()).toMatchObject({ statusCode: 409, code: 'FLAG_EXISTS', message: expect.stringContaining('copilot_v2') })
    expect(await getFlag(app, 'copilot_v2')).toEqual(original)
  })

  it('creates a key only once when two creations race', async () => {
    const results = await Promise.all([1, 2].map((i) => call(app, 'POST', '/flags', { body: { key: 'raced', description: `attempt ${i}` } })))
    expect(results.map((r) => r.statusCode).sort()).toEqual([201, 409])
    expect(await getFlag(app, 'raced')).toEqual(results.find((r) => r.statusCode === 201)!.json())
  })

  it('accepts a key re-created after a delete, continuing its versions so no ETag is used twice', async () => {
    await createFlag(app, { key: 'copilot_v2' })
    await updateFlag(app, 'copilot_v2', { state: 'enabled' })
    await deleteFlag(app, 'copilot_v2')
    const res = await call(app, 'POST', '/flags', { body: { key: 'copilot_v2' }, expected: 201 })
    expect(res.json()).toMatchObject({ version: 3, state: 'disabled' })
    expect(res.headers.etag).toBe('"3"')
    expect((await listAudit(app, { flag: 'copilot_v2', limit: 1 })).events[0]).toMatchObject({ action: 'flag.created', version: 3 })
  })
})

describe('GET /flags', () => {
  const keys = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf']
  beforeEach(async () => {
    // Created out of order: the list sorts by key.
    for (const [i, key] of [...keys].reverse().entries()) {
      await createFlag(app, { key, tags: i % 2 ? ['web'] : ['api'], state: i % 3 ? 'disabled' : 'enabled' })
    }
  })

  it('lists every flag sorted by key, without a cursor when everything fits', async () => {
    const page = await listFlags(app)
    expect(page.flags.map((f: { key: string }) => f.key)).toEqual(keys)
    expect(page.nextCursor).toBeUndefined()
  })

  async function walk(params: { tag?: string; state?: string; limit: number }): Promise<string[][]> {
    const pages: string[][] = []
    let cursor: string | undefined
    do {
      const page = await listFlags(app, { ...params, cursor })
      pages.push(page.flags.map((f: { key: string }) => f.key))
      cursor = page.nextCursor
    } while (cursor !== undefined && pages.length < 20)
    return pages
  }

  it('pages through with nextCursor, each flag exactly once', async () => {
    expect(await walk({ limit: 3 })).toEqual([keys.slice(0, 3), keys.slice(3, 6), keys.slice(6)])
  })

  it('gives no cursor after a page that ends exactly at the last flag', async () => {
    expect(await walk({ limit: 7 })).toEqual([keys])
  })

  it.each([
    [{ tag: 'web' }, (i: number) => i % 2 === 1],
    [{ tag: 'api' }, (i: number) => i % 2 === 0],
    [{ state: 'enabled' }, (i: number) => i % 3 === 0],
    [{ state: 'disabled', tag: 'api' }, (i: number) => i % 3 !== 0 && i % 2 === 0],
  ])('filters by %o, also across pages', async (filter, selected) => {
    const expected = [...keys]
      .reverse()
      .filter((_, i) => selected(i))
      .sort()
    expect((await listFlags(app, filter)).flags.map((f: { key: string }) => f.key)).toEqual(expected)
    const pages = await walk({ ...filter, limit: 1 })
    expect(pages.flat()).toEqual(expected)
    // No cursor leads to an empty last page, even when non-matching flags follow the last match.
    expect(pages.every((page) => page.length === 1)).toBe(true)
  })

  it('answers an empty page for a tag nobody has', async () => {
    expect(await listFlags(app, { tag: 'nobody' })).toEqual({ flags: [] })
  })

  it('continues after a cursor whose flag was deleted meanwhile', async () => {
    const first = await listFlags(app, { limit: 2 })
    expect(first.nextCursor).toBe('bravo')
    await deleteFlag(app, 'bravo')
    expect((await listFlags(app, { limit: 2, cursor: first.nextCursor })).flags.map((f: { key: string }) => f.key)).toEqual(['charlie', 'delta'])
  })

  it('is open to evaluate tokens', async () => {
    const reader = await createToken(app, 'reader', 'evaluate')
    expect((await listFlags(app, {}, 200, reader.token)).flags).toHaveLength(keys.length)
  })

  it.each([
    ['limit=0', 'querystring.limit'],
    ['limit=1001', 'querystring.limit'],
    ['limit=ten', 'querystring.limit'],
    ['state=on', 'querystring.state'],
    ['sort=key', 'querystring.sort'],
  ])('answers 400 for ?%s', async (qs, field) => {
    const res = await call(app, 'GET', `/flags?${qs}`, { expected: 400 })
    expect(res.json()).toMatchObject({ code: 'VALIDATION_FAILED', field })
  })
})

describe('GET /flags/:key', () => {
  it('answers the flag with its version as ETag', async () => {
    await createFlag(app, { key: 'copilot_v2' })
    await updateFlag(app, 'copilot_v2', { state: 'enabled' })
    const res = await call(app, 'GET', '/flags/copilot_v2', { expected: 200 })
    expect(res.headers.etag).toBe('"2"')
    expect(res.json()).toMatchObject({ key: 'copilot_v2', state: 'enabled', version: 2 })
  })

  it('answers 404 naming the flag', async () => {
    const res = await call(app, 'GET', '/flags/nope', { expected: 404 })
    expect(res.json()).toMatchObject({ statusCode: 404, code: 'FLAG_NOT_FOUND', message: "flag 'nope' does not exist" })
  })

  it('answers 400 for a key that cannot exist', async () => {
    expect((await call(app, 'GET', '/flags/Not-A-Key', { expected: 400 })).json()).toMatchObject({ field: 'params.key' })
  })
})

describe('PATCH /flags/:key', () => {
  let created: Record<string, unknown>
  beforeEach(async () => {
    created = await createFlag(app, { key: 'copilot_v2', description: 'copilot', tags: ['ai'] })
  })

  it('changes only the given fields, bumps the version and answers the new ETag', async () => {
    const ops = await createToken(app, 'ops-admin', 'admin')
    const res = await call(app, 'PATCH', '/flags/copilot_v2', {
      body: { state: 'percentage', percentage: 50, betaUsers: ['tenant-admin'] },
      token: ops.token,
      expected: 200,
    })
    expect(res.headers.etag).toBe('"2"')
    const flag = res.json()
    expect(flag).toEqual({
      ...created,
      state: 'percentage',
      percentage: 50,
      betaUsers: ['tenant-admin'],
      version: 2,
      updatedAt: expect.stringMatching(ISO),
      updatedBy: 'ops-admin',
    })
    expect(flag.createdAt).toBe(created.createdAt)
    expect(await getFlag(app, 'copilot_v2')).toEqual(flag)
  })

  it('is seen by the very next evaluation', async () => {
    expect(await evaluateFlag(app, 'copilot_v2', { userId: 'u1' })).toMatchObject({ enabled: false, reason: 'disabled', version: 1 })
    await updateFlag(app, 'copilot_v2', { state: 'enabled' })
    expect(await evaluateFlag(app, 'copilot_v2', { userId: 'u1' })).toMatchObject({ enabled: true, reason: 'enabled', version: 2 })
  })

  it('answers a change to nothing with the flag as it is: no new version, no audit event', async () => {
    const before = (await listAudit(app)).events.length
    const flag = await updateFlag(app, 'copilot_v2', { description: 'copilot', tags: ['ai'] })
    expect(flag).toEqual(created)
    expect((await listAudit(app)).events).toHaveLength(before)
  })

  it('answers 404 for an unknown flag', async () => {
    expect((await call(app, 'PATCH', '/flags/nope', { body: { state: 'enabled' }, expected: 404 })).json()).toMatchObject({ code: 'FLAG_NOT_FOUND' })
  })

  it.each([['"1"'], ['1'], ['*']])('applies the change with If-Match: %s', async (ifMatch) => {
    const flag = await updateFlag(app, 'copilot_v2', { state: 'enabled' }, 200, { 'if-match': ifMatch })
    expect(flag.version).toBe(2)
  })

  it('answers 412 on a stale version and changes nothing', async () => {
    await updateFlag(app, 'copilot_v2', { state: 'enabled' }, 200, { 'if-match': '"1"' })
    const res = await call(app, 'PATCH', '/flags/copilot_v2', { body: { state: 'disabled' }, headers: { 'if-match': '"1"' }, expected: 412 })
    expect(res.json()).toMatchObject({ statusCode: 412, code: 'VERSION_MISMATCH', message: expect.stringContaining('version 2') })
    expect(await getFlag(app, 'copilot_v2')).toMatchObject({ state: 'enabled', version: 2 })
    expect((await updateFlag(app, 'copilot_v2', { state: 'disabled' }, 200, { 'if-match': '"2"' })).version).toBe(3)
  })

  it('answers 412 for a weak ETag, which never matches (If-Match compares strongly)', async () => {
    const res = await call(app, 'PATCH', '/flags/copilot_v2', { body: { state: 'enabled' }, headers: { 'if-match': 'W/"1"' }, expected: 412 })
    expect(res.json()).toMatchObject({ code: 'VERSION_MISMATCH' })
    await deleteFlag(app, 'copilot_v2', 412, { 'if-match': 'W/"1"' })
    expect(await getFlag(app, 'copilot_v2')).toMatchObject({ state: 'disabled', version: 1 })
  })

  it('answers 412 for a version the flag never reached', async () => {
    await call(app, 'PATCH', '/flags/copilot_v2', { body: { state: 'enabled' }, headers: { 'if-match': '"7"' }, expected: 412 })
    expect((await getFlag(app, 'copilot_v2')).version).toBe(1)
  })

  it('lets exactly one of two concurrent changes based on the same version win', async () => {
    const results = await Promise.all(
      ['enabled', 'beta_users'].map((state) => call(app, 'PATCH', '/flags/copilot_v2', { body: { state }, headers: { 'if-match': '"1"' } })),
    )
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 412])
    const winner = results.find((r) => r.statusCode === 200)!.json()
    expect(await getFlag(app, 'copilot_v2')).toEqual(winner)
    expect(winner.version).toBe(2)
  })

  it('applies concurrent changes without If-Match one after the other, losing none', async () => {
    await Promise.all([
      updateFlag(app, 'copilot_v2', { description: 'changed' }),
      updateFlag(app, 'copilot_v2', { tags: ['ai', 'beta'] }),
      updateFlag(app, 'copilot_v2', { percentage: 5 }),
    ])
    expect(await getFlag(app, 'copilot_v2')).toMatchObject({ description: 'changed', tags: ['ai', 'beta'], percentage: 5, version: 4 })
  })

  it('answers 400 for an If-Match that is not a version', async () => {
    const res = await call(app, 'PATCH', '/flags/copilot_v2', { body: { state: 'enabled' }, headers: { 'if-match': 'yesterday' }, expected: 400 })
    expect(res.json()).toMatchObject({ field: 'headers.if-match' })
  })

  it('refuses to change the key or the server-managed fields', async () => {
    for (const field of ['key', 'version', 'createdAt', 'updatedAt', 'updatedBy']) {
      const res = await call(app, 'PATCH', '/flags/copilot_v2', { body: { [field]: 'x' }, expected: 400 })
      expect(res.json()).toMatchObject({ field: `body.${field}`, message: `body.${field} is not a known field` })
    }
    expect(await getFlag(app, 'copilot_v2')).toEqual(created)
  })
})

describe('DELETE /flags/:key', () => {
  beforeEach(async () => {
    await createFlag(app, { key: 'copilot_v2' })
  })

  it('deletes the flag: 204, then 404 to reads and evaluations', async () => {
    const res = await deleteFlag(app, 'copilot_v2')
    expect(res.body).toBe('')
    await getFlag(app, 'copilot_v2', 404)
    await evaluateFlag(app, 'copilot_v2', { userId: 'u1' }, 404)
    expect((await listFlags(app)).flags).toEqual([])
  })

  it('answers 404 for an unknown flag, and for a second delete', async () => {
    await deleteFlag(app, 'nope', 404)
    await deleteFlag(app, 'copilot_v2')
    await deleteFlag(app, 'copilot_v2', 404)
  })

  it('answers 412 on a stale If-Match and keeps the flag; deletes with the right one', async () => {
    await updateFlag(app, 'copilot_v2', { state: 'enabled' })
    const res = await deleteFlag(app, 'copilot_v2', 412, { 'if-match': '"1"' })
    expect(res.json()).toMatchObject({ code: 'VERSION_MISMATCH' })
    expect((await getFlag(app, 'copilot_v2')).version).toBe(2)
    await deleteFlag(app, 'copilot_v2', 204, { 'if-match': '"2"' })
    await getFlag(app, 'copilot_v2', 404)
  })
})
