// The SDK and segments: it holds small segments whole and edits them by each change's delta,
// answers segment_not_local (the caller's fallback) for a segment past SEGMENT_INLINE_MAX unless
// asked to hold every segment, follows a segment across that line both ways, and explains.
import type { FastifyInstance } from 'fastify'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createClient, type SwitchyardClient } from '../../packages/sdk/src/index.js'
import { ADMIN, call, createFlag, eventually, startApp } from '../support/helpers.js'

const clients: SwitchyardClient[] = []
async function connect(url: string, extra: { largeSegments?: boolean } = {}) {
  const client = await createClient({ url, token: ADMIN, reconnect: { minDelayMs: 20, maxDelayMs: 200 }, ...extra })
  clients.push(client)
  return client
}
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
})

const inSegment = (segment: string) => ({ id: `in-${segment}`, clauses: [{ operator: 'in_segment', values: [segment] }], serve: { enabled: true } })
const targets = (app: FastifyInstance, key: string, body: Record<string, unknown>) => call(app, 'POST', `/segments/${key}/targets`, { body, expected: 200 })

describe('SDK segments', () => {
  let app: FastifyInstance
  let url: string
  beforeAll(async () => {
    app = await startApp({ streamHeartbeatMs: 1000, segmentInlineMax: 3 })
    url = await app.listen({ port: 0, host: '127.0.0.1' })
    await call(app, 'POST', '/segments', { body: { key: 'small', users: ['alice'] }, expected: 201 })
    await call(app, 'POST', '/segments', { body: { key: 'large', users: ['a', 'b', 'c', 'd'] }, expected: 201 })
    await createFlag(app, { key: 'uses_small', state: 'beta_users', rules: [inSegment('small')] })
    await createFlag(app, { key: 'uses_large', state: 'beta_users', rules: [inSegment('large')] })
  })
  afterAll(async () => {
    await app?.close()
  })

  it('evaluates small segments locally and follows member edits', async () => {
    const sdk = await connect(url)
    expect(sdk.evaluate('uses_small', { userId: 'alice' })).toMatchObject({ enabled: true, reason: 'rule_match', ruleId: 'in-small' })
    expect(sdk.isEnabled('uses_small', { userId: 'bob' })).toBe(false)
    await targets(app, 'small', { add: { users: ['bob'] }, remove: { users: ['alice'] } })
    await eventually(() => sdk.isEnabled('uses_small', { userId: 'bob' }), 5000, 'bob added')
    expect(sdk.isEnabled('uses_small', { userId: 'alice' })).toBe(false)
  })

  it('answers segment_not_local and the fallback for a segment past SEGMENT_INLINE_MAX, unless it holds every segment', async () => {
    const sdk = await connect(url)
    expect(sdk.evaluate('uses_large', { userId: 'a' })).toMatchObject({ enabled: false, reason: 'segment_not_local' })
    expect(sdk.isEnabled('uses_large', { userId: 'a' }, true)).toBe(true)
    expect(sdk.isEnabled('uses_large', { userId: 'z' }, true)).toBe(true)
    const all = await connect(url, { largeSegments: true })
    expect(all.evaluate('uses_large', { userId: 'a' })).toMatchObject({ enabled: true, reason: 'rule_match' })
    expect(all.isEnabled('uses_large', { userId: 'z' }, true)).toBe(false)
  })

  it('keeps an enabled flag with variants on when a rule choosing its variant needs a segment it does not hold: only the value falls back', async () => {
    const variants = [
      { key: 'plain', value: 'plain', weight: 100 },
      { key: 'vip', value: 'vip' },
    ]
    const rule = { ...inSegment('large'), serve: { enabled: true, variant: 'vip' } }
    await createFlag(app, { key: 'enabled_variants', state: 'enabled', variants, offVariant: 'plain', rules: [rule] })
    const sdk = await connect(url)
    await eventually(() => sdk.evaluate('enabled_variants', { userId: 'a' }).reason !== 'flag_not_found', 5000, 'flag arrives')
    expect(sdk.evaluate('enabled_variants', { userId: 'a' })).toMatchObject({ enabled: true, reason: 'segment_not_local' })
    expect(sdk.isEnabled('enabled_variants', { userId: 'a' }, false)).toBe(true)
    expect(sdk.getString('enabled_variants', { userId: 'a' }, 'fallback')).toBe('fallback')
    const all = await connect(url, { largeSegments: true })
    expect(all.getString('enabled_variants', { userId: 'a' }, 'fallback')).toBe('vip')
  })

  it('follows a segment across SEGMENT_INLINE_MAX both ways', async () => {
    await call(app, 'POST', '/segments', { body: { key: 'grows', users: ['a'] }, expected: 201 })
    await createFlag(app, { key: 'uses_grows', state: 'beta_users', rules: [inSegment('grows')] })
    const sdk = await connect(url)
    await eventually(() => sdk.evaluate('uses_grows', { userId: 'a' }).reason === 'rule_match', 5000, 'flag arrives')
    await targets(app, 'grows', { add: { users: ['b', 'c', 'd'] } })
    await eventually(() => sdk.evaluate('uses_grows', { userId: 'a' }).reason === 'segment_not_local', 5000, 'segment grew past the line')
    await targets(app, 'grows', { remove: { users: ['a', 'b'] } })
    await eventually(() => sdk.evaluate('uses_grows', { userId: 'c' }).reason === 'rule_match', 5000, 'segment back under the line, whole')
    expect(sdk.isEnabled('uses_grows', { userId: 'a' })).toBe(false)
    expect(sdk.isEnabled('uses_grows', { userId: 'd' })).toBe(true)
  })

  it('explains like the server does', async () => {
    const sdk = await connect(url)
    const context = { userId: 'nobody' }
    const server = (await call(app, 'POST', '/evaluate', { body: { flag: 'uses_small', context, explain: true }, expected: 200 })).json()
    expect(sdk.explain('uses_small', context)).toEqual(server)
    expect(server.explanation.rules[0].failedClause).toMatchObject({ operator: 'in_segment', outcome: 'not_matched' })
  })
})
