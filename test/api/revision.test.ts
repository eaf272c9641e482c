// Freshness a client can see and ask for (issue 15): X-Switchyard-Revision on every response, a
// write's revision including the write, and X-Switchyard-Min-Revision waiting or answering 503.
import { afterAll, describe, expect, it } from 'vitest'
import { call, createFlag, startApp } from '../support/helpers.js'

const app = await startApp({ minRevisionWaitMs: 50, corsOrigins: ['https://console.example'] })
afterAll(() => app.close())

const revisionOf = (res: { headers: Record<string, unknown> }) => Number(res.headers['x-switchyard-revision'])

describe('X-Switchyard-Revision', () => {
  it('is on every answer, and a write answers with the revision that includes it', async () => {
    const before = revisionOf(await call(app, 'GET', '/flags', { expected: 200 }))
    const created = await call(app, 'POST', '/flags', { body: { key: 'fresh' }, expected: 201 })
    expect(revisionOf(created)).toBe(before + 1)
    const updated = await call(app, 'PATCH', '/flags/fresh', { body: { state: 'enabled' }, expected: 200 })
    expect(revisionOf(updated)).toBe(before + 2)
    expect(revisionOf(await call(app, 'GET', '/flags/fresh', { expected: 200 }))).toBe(before + 2)
    expect(revisionOf(await call(app, 'POST', '/evaluate', { body: { flags: ['fresh'], context: {} }, expected: 200 }))).toBe(before + 2)
    // Refusals carry it too: it says what the replica held when it answered.
    expect(revisionOf(await call(app, 'GET', '/flags/missing', { expected: 404 }))).toBe(before + 2)
  })
})

describe('X-Switchyard-Min-Revision', () => {
  it('answers at once when the replica holds that revision', async () => {
    const { headers } = await call(app, 'POST', '/flags', { body: { key: 'waited_for' }, expected: 201 })
    const min = String(headers['x-switchyard-revision'])
    const res = await call(app, 'GET', '/flags/waited_for', { headers: { 'x-switchyard-min-revision': min }, expected: 200 })
    expect(res.json()).toMatchObject({ key: 'waited_for' })
  })

  it('answers 503 STALE_REPLICA with Retry-After when the replica does not get there within MIN_REVISION_WAIT_MS', async () => {
    await createFlag(app, { key: 'stale_read' })
    const current = revisionOf(await call(app, 'GET', '/flags', { expected: 200 }))
    for (const [method, url, body] of [
      ['GET', '/flags/stale_read', undefined],
      ['POST', '/evaluate', { flags: ['stale_read'], context: {} }],
      ['POST', '/ofrep/v1/evaluate/flags/stale_read', { context: { targetingKey: 'u1' } }],
    ] as const) {
      const res = await call(app, method, url, { body, headers: { 'x-switchyard-min-revision': String(current + 1000) }, expected: 503 })
      expect(res.json()).toMatchObject({ code: 'STALE_REPLICA' })
      expect(res.json().message).toContain(`up to revision ${current}, not yet ${current + 1000}`)
      expect(res.headers['retry-after']).toBe('1')
    }
  })

  it('refuses a value that is not a revision with 400 naming the header, before any wait', async () => {
    for (const bad of ['-1', 'abc', '1.5', '9999999999999999']) {
      const res = await call(app, 'GET', '/flags', { headers: { 'x-switchyard-min-revision': bad }, expected: 400 })
      expect(res.json()).toMatchObject({ code: 'VALIDATION_FAILED', field: 'headers.x-switchyard-min-revision' })
    }
  })

  it('needs a token like any other request: no wait is granted to an anonymous caller', async () => {
    await call(app, 'GET', '/flags', { token: null, headers: { 'x-switchyard-min-revision': '999999' }, expected: 401 })
  })

  it('CORS lets a browser send the request header and read the response header', async () => {
    const preflight = await app.inject({
      method: 'OPTIONS',
      url: '/evaluate',
      headers: { origin: 'https://console.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-switchyard-min-revision' },
    })
    expect(preflight.headers['access-control-allow-headers']).toContain('x-switchyard-min-revision')
    const res = await call(app, 'GET', '/flags', { headers: { origin: 'https://console.example' }, expected: 200 })
    expect(res.headers['access-control-expose-headers']).toContain('x-switchyard-revision')
  })
})
