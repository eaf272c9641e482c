import { OFREPApi } from '@openfeature/ofrep-core'
import { OFREPProvider } from '@openfeature/ofrep-provider'
import { OpenFeature, type Client } from '@openfeature/server-sdk'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { bucket, bucketFromSeed } from '../../packages/core/src/evaluation/bucket.js'
import { variantSeed } from '../../packages/core/src/evaluation/variants.js'
import { ADMIN, createFlag, createFlagPerState, createToken, deleteFlag, evaluateFlag, startApp, updateFlag } from '../support/helpers.js'

const DOMAIN = 'ofrep-test'

/** The first `user-<n>` whose bucket for `flag` is inside (or outside) a 50 % rollout. */
function userFor(flag: string, inside: boolean): string {
  for (let n = 0; ; n++) if (bucket(flag, `user-${n}`) < 50_000 === inside) return `user-${n}`
}

let app: FastifyInstance
let base: string
let token: string
let client: Client

async function ofrep(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}/ofrep/v1/evaluate/${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
  const text = await res.text()
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined }
}

beforeAll(async () => {
  app = await startApp()
  await createFlagPerState(app)
  base = await app.listen({ port: 0, host: '127.0.0.1' })
  // An evaluate-scoped token is all OFREP needs.
  token = (await createToken(app, 'ofrep-client', 'evaluate')).token
  await OpenFeature.setProviderAndWait(DOMAIN, new OFREPProvider({ baseUrl: base, headers: [['authorization', `Bearer ${token}`]] }))
  client = OpenFeature.getClient(DOMAIN)
})

afterAll(async () => {
  await OpenFeature.close()
  await app?.close()
})

describe('OFREP through @openfeature/server-sdk and @openfeature/ofrep-provider', () => {
  const inside = userFor('rollout', true)
  const outside = userFor('rollout', false)
  const cases: { name: string; flag: string; context: { targetingKey: string; tenantId?: string }; fallback: boolean; value: boolean; reason: string }[] = [
    { name: 'an enabled flag', flag: 'on', context: { targetingKey: 'bob' }, fallback: false, value: true, reason: 'STATIC' },
    { name: 'a disabled flag', flag: 'off', context: { targetingKey: 'bob' }, fallback: true, value: false, reason: 'DISABLED' },
    { name: 'a beta user', flag: 'beta', context: { targetingKey: 'alice' }, fallback: false, value: true, reason: 'TARGETING_MATCH' },
    { name: 'a beta tenant', flag: 'beta', context: { targetingKey: 'bob', tenantId: 'acme' }, fallback: false, value: true, reason: 'TARGETING_MATCH' },
    { name: 'someone outside the beta', flag: 'beta', context: { targetingKey: 'bob', tenantId: 'globex' }, fallback: true, value: false, reason: 'DEFAULT' },
    { name: 'a user inside the percentage', flag: 'rollout', context: { targetingKey: inside }, fallback: false, value: true, reason: 'SPLIT' },
    { name: 'a user outside the percentage', flag: 'rollout', context: { targetingKey: outside }, fallback: true, value: false, reason: 'SPLIT' },
  ]

  for (const c of cases) {
    it(`answers ${c.name} as POST /evaluate does, with reason ${c.reason}`, async () => {
      const details = await client.getBooleanDetails(c.flag, c.fallback, c.context)
      const server = await evaluateFlag(app, c.flag, { userId: c.context.targetingKey, ...(c.context.tenantId ? { tenantId: c.context.tenantId } : {}) })
      expect(details).toMatchObject({ flagKey: c.flag, value: c.value, reason: c.reason, variant: c.value ? 'on' : 'off' })
      expect(details.errorCode).toBeUndefined()
      expect(details.flagMetadata).toEqual({ version: server.version, switchyardReason: server.reason })
      expect(server.enabled).toBe(c.value)
      expect(await client.getBooleanValue(c.flag, c.fallback, c.context)).toBe(c.value)
    })
  }

  it('gives the default with FLAG_NOT_FOUND for an unknown flag', async () => {
    const details = await client.getBooleanDetails('no_such_flag', true, { targetingKey: 'bob' })
    expect(details).toMatchObject({ value: true, reason: 'ERROR', errorCode: 'FLAG_NOT_FOUND' })
    expect(await client.getBooleanValue('no_such_flag', false, { targetingKey: 'bob' })).toBe(false)
  })

  it('gives the default with TARGETING_KEY_MISSING for a percentage rollout without a targeting key', async () => {
    const details = await client.getBooleanDetails('rollout', true, { tenantId: 'acme' })
    expect(details).toMatchObject({ value: true, reason: 'ERROR', errorCode: 'TARGETING_KEY_MISSING' })
    expect(details.errorMessage).toContain('targetingKey')
  })

  it('needs no targeting key where the flag does not bucket on one', async () => {
    expect(await client.getBooleanDetails('on', false, {})).toMatchObject({ value: true, reason: 'STATIC' })
    expect(await client.getBooleanDetails('beta', false, { tenantId: 'acme' })).toMatchObject({ value: true, reason: 'TARGETING_MATCH' })
  })

  it('gives the default with INVALID_CONTEXT for a tenant rollout without a tenantId', async () => {
    const details = await client.getBooleanDetails('by_tenant', true, { targetingKey: 'bob' })
    expect(details).toMatchObject({ value: true, reason: 'ERROR', errorCode: 'INVALID_CONTEXT' })
  })

  it('gives the default with TYPE_MISMATCH when asked for a string', async () => {
    const details = await client.getStringDetails('on', 'x', { targetingKey: 'bob' })
    expect(details).toMatchObject({ value: 'x', errorCode: 'TYPE_MISMATCH' })
  })

  it('sees a change on the next evaluation', async () => {
    await createFlag(app, { key: 'toggled', state: 'disabled' })
    expect(await client.getBooleanValue('toggled', true, { targetingKey: 'bob' })).toBe(false)
    await updateFlag(app, 'toggled', { state: 'enabled' })
    expect(await client.getBooleanValue('toggled', false, { targetingKey: 'bob' })).toBe(true)
  })
})

describe('POST /ofrep/v1/evaluate/flags/:key', () => {
  it('answers the OFREP success shape', async () => {
    const res = await ofrep('flags/beta', { context: { targetingKey: 'alice', plan: 'pro', seats: 3, trial: false } })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^application\/json/)
    expect(res.body).toEqual({ key: 'beta', value: true, reason: 'TARGETING_MATCH', variant: 'on', metadata: { version: 1, switchyardReason: 'beta_user' } })
  })

  it('answers 404 FLAG_NOT_FOUND for an unknown flag, whatever its spelling', async () => {
    for (const key of ['nope', 'Not-A-Switchyard-Key', 'k'.repeat(300)]) {
      const res = await ofrep(`flags/${key}`, { context: {} })
      expect(res.status).toBe(404)
      expect(res.body).toEqual({ key, errorCode: 'FLAG_NOT_FOUND', errorDetails: `flag '${key}' does not exist` })
    }
  })

  it('answers 400 TARGETING_KEY_MISSING with the flag key', async () => {
    const res = await ofrep('flags/rollout', { context: { plan: 'pro' } })
    expect(res.status).toBe(400)
    expect(res.body).toMatchObject({ key: 'rollout', errorCode: 'TARGETING_KEY_MISSING' })
  })

  it('treats an empty targeting key as missing', async () => {
    const res = await ofrep('flags/rollout', { context: { targetingKey: '' } })
    expect(res.body).toMatchObject({ errorCode: 'TARGETING_KEY_MISSING' })
  })

  it('evaluates with an empty context when the body has none', async () => {
    expect((await ofrep('flags/on', {})).body).toMatchObject({ value: true, reason: 'STATIC' })
  })

  it('evaluates with an empty context when there is no body at all', async () => {
    const res = await fetch(`${base}/ofrep/v1/evaluate/flags/on`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ key: 'on', value: true })
  })

  it('ignores unknown top-level fields that some providers send', async () => {
    expect((await ofrep('flags/on', { context: {}, flags: ['on'] })).status).toBe(200)
  })

  it('answers 400 PARSE_ERROR for a body that is not JSON', async () => {
    const res = await ofrep('flags/on', '{"context": ')
    expect(res.status).toBe(400)
    expect(res.body).toMatchObject({ key: 'on', errorCode: 'PARSE_ERROR' })
  })

  it('answers 400 INVALID_CONTEXT naming the field for a context Switchyard cannot hold', async () => {
    const invalid: [unknown, string][] = [
      [{ targetingKey: 42 }, 'context.targetingKey'],
      [{ targetingKey: 'u', tenantId: true }, 'context.tenantId'],
      [{ targetingKey: 'u', address: { city: 'Oslo' } }, 'context.address'],
      [{ targetingKey: 'u', roles: ['admin', 7] }, 'context.roles'],
      [{ targetingKey: 'u', gone: null }, 'context.gone'],
      [{ targetingKey: 'u'.repeat(201) }, 'context.targetingKey'],
      [{ targetingKey: 'u', note: 'n'.repeat(1001) }, 'context.note'],
      ['not an object', 'context'],
    ]
    for (const [context, field] of invalid) {
      const res = await ofrep('flags/on', { context })
      expect(res.status, JSON.stringify(context)).toBe(400)
      expect(res.body).toMatchObject({ key: 'on', errorCode: 'INVALID_CONTEXT' })
      expect(res.body.errorDetails).toContain(field)
    }
  })

  it('keeps the limits POST /evaluate has on attributes', async () => {
    const many = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`a${i}`, i]))
    const res = await ofrep('flags/on', { context: { targetingKey: 'u', ...many } })
    expect(res.body).toMatchObject({ errorCode: 'INVALID_CONTEXT' })
    expect((await ofrep('flags/on', { context: { targetingKey: 'u', ...Object.fromEntries(Object.entries(many).slice(0, 100)) } })).status).toBe(200)
  })

  it('keeps the service error shape for a missing token, and accepts admin tokens too', async () => {
    const res = await fetch(`${base}/ofrep/v1/evaluate/flags/on`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
    expect(res.status).toBe(401)
    expect(await res.json()).toMatchObject({ statusCode: 401, code: 'UNAUTHORIZED' })
    expect((await ofrep('flags/on', {}, { authorization: `Bearer ${ADMIN}` })).status).toBe(200)
  })
})

describe('POST /ofrep/v1/evaluate/flags', () => {
  const api = () => new OFREPApi(base)
  const auth = () => ({ headers: [['authorization', `Bearer ${token}`]] as [string, string][] })

  it('evaluates every flag, sorted by key, with per-flag errors in the list', async () => {
    const res = await ofrep('flags', { context: { targetingKey: 'alice' } })
    expect(res.status).toBe(200)
    const keys = res.body.flags.map((f: { key: string }) => f.key)
    expect(keys).toEqual([...keys].sort())
    expect(keys).toEqual(expect.arrayContaining(['beta', 'by_tenant', 'off', 'on', 'rollout']))
    const byKey = Object.fromEntries(res.body.flags.map((f: { key: string }) => [f.key, f]))
    expect(byKey.beta).toMatchObject({ value: true, reason: 'TARGETING_MATCH' })
    expect(byKey.by_tenant).toMatchObject({ errorCode: 'INVALID_CONTEXT' })
    expect(byKey.rollout).toMatchObject({ value: bucket('rollout', 'alice') < 50_000, reason: 'SPLIT' })
  })

  it('returns an ETag and 304 to a matching If-None-Match, through the OFREP client', async () => {
    const first = await api().postBulkEvaluateFlags({ context: { targetingKey: 'alice' } }, auth())
    expect(first.httpStatus).toBe(200)
    const etag = first.httpResponse!.headers.get('etag')!
    expect(etag).toMatch(/^"[\w-]+"$/)
    const again = await api().postBulkEvaluateFlags({ context: { targetingKey: 'alice' } }, { headers: [...auth().headers, ['if-none-match', etag]] })
    expect(again.httpStatus).toBe(304)
    expect(again.httpResponse!.headers.get('etag')).toBe(etag)
  })

  it('matches weak tags and tag lists, and not other tags', async () => {
    const { headers } = await ofrep('flags', { context: { targetingKey: 'alice' } })
    const etag = headers.get('etag')!
    expect((await ofrep('flags', { context: { targetingKey: 'alice' } }, { 'if-none-match': `"other", W/${etag}` })).status).toBe(304)
    expect((await ofrep('flags', { context: { targetingKey: 'alice' } }, { 'if-none-match': '"other"' })).status).toBe(200)
  })

  const etagOf = async (context: Record<string, unknown>) => (await ofrep('flags', { context })).headers.get('etag')!

  it('answers 304 on the ETag of the last 200 without reading a single flag', async () => {
    const { flags } = app.switchyard
    const first = await ofrep('flags', { context: { targetingKey: 'alice', plan: 'pro' } })
    expect(first.status).toBe(200)
    const etag = first.headers.get('etag')!
    const reads = [vi.spyOn(flags, 'keys'), vi.spyOn(flags, 'all'), vi.spyOn(flags, 'get'), vi.spyOn(flags, 'list')]
    try {
      const again = await ofrep('flags', { context: { targetingKey: 'alice', plan: 'pro' } }, { 'if-none-match': etag })
      expect(again.status).toBe(304)
      expect(again.headers.get('etag')).toBe(etag)
      for (const read of reads) expect(read).not.toHaveBeenCalled()
      // The spies do see a request that evaluates.
      expect((await ofrep('flags', { context: { targetingKey: 'alice', plan: 'pro' } }, { 'if-none-match': '"other"' })).status).toBe(200)
      expect(reads[0]).toHaveBeenCalled()
    } finally {
      for (const read of reads) read.mockRestore()
    }
  })

  it('changes the ETag with every flag change, whether or not it alters an answer', async () => {
    const alice = { targetingKey: 'alice' }
    const tags = [await etagOf(alice)]
    await createFlag(app, { key: 'etag_probe', state: 'disabled' })
    tags.push(await etagOf(alice))
    await updateFlag(app, 'etag_probe', { description: 'answers stay the same' })
    tags.push(await etagOf(alice))
    await updateFlag(app, 'etag_probe', { state: 'enabled' })
    tags.push(await etagOf(alice))
    const stale = await ofrep('flags', { context: alice }, { 'if-none-match': tags[2]! })
    expect(stale.status).toBe(200)
    expect(stale.body.flags).toContainEqual(expect.objectContaining({ key: 'etag_probe', value: true }))
    await deleteFlag(app, 'etag_probe')
    tags.push(await etagOf(alice))
    expect(new Set(tags).size).toBe(tags.length)
    expect(await etagOf(alice)).toBe(tags.at(-1))
  })

  it('gives each context its own ETag, whatever the order of its attributes', async () => {
    const tag = await etagOf({ targetingKey: 'alice', plan: 'pro', region: 'eu' })
    expect(await etagOf({ region: 'eu', plan: 'pro', targetingKey: 'alice' })).toBe(tag)
    const others = [
      { targetingKey: 'bob', plan: 'pro', region: 'eu' },
      { targetingKey: 'alice', plan: 'pro', region: 'us' },
      { targetingKey: 'alice', plan: 'pro' },
      { targetingKey: 'alice', plan: 'pro', region: 'eu', tenantId: 'acme' },
    ]
    for (const other of others) expect(await etagOf(other), JSON.stringify(other)).not.toBe(tag)
    expect(await etagOf({ targetingKey: 'alice', seats: 1 })).not.toBe(await etagOf({ targetingKey: 'alice', seats: '1' }))
    expect((await ofrep('flags', { context: others[0] }, { 'if-none-match': tag })).status).toBe(200)
  })

  it('answers 400 INVALID_CONTEXT without a key for a bad context', async () => {
    const res = await ofrep('flags', { context: { targetingKey: 7 } })
    expect(res.status).toBe(400)
    expect(res.body).toMatchObject({ errorCode: 'INVALID_CONTEXT' })
    expect(res.body.key).toBeUndefined()
  })
})

describe('OFREP on flags with variants', () => {
  const users = Array.from({ length: 40 }, (_, i) => `user-${i}`)

  beforeAll(async () => {
    const split = (a: unknown, b: unknown) => [
      { key: 'a', value: a, weight: 50 },
      { key: 'b', value: b, weight: 50 },
    ]
    await createFlag(app, { key: 'v_string', state: 'percentage', percentage: 60, variants: split('blue', 'green'), offVariant: 'a' })
    await createFlag(app, { key: 'v_number', state: 'enabled', variants: split(10, 2.5), offVariant: 'a' })
    await createFlag(app, { key: 'v_bool', state: 'enabled', variants: split(false, true), offVariant: 'a' })
    await createFlag(app, {
      key: 'v_object',
      state: 'enabled',
      variants: split({ limit: 1, tiers: ['free'] }, { limit: 5, tiers: ['pro', 'team'] }),
      offVariant: 'a',
      rules: [{ id: 'dutch', clauses: [{ attribute: 'country', operator: 'in', values: ['NL'] }], serve: { enabled: true, variant: 'b' } }],
    })
    await createFlag(app, { key: 'v_off', state: 'disabled', variants: split('blue', 'green'), offVariant: 'b' })
    await createFlag(app, { key: 'v_array', state: 'enabled', variants: split(['x'], ['y', 'z']), offVariant: 'a' })
  })

  it("answers the variant's typed value and key, as POST /evaluate chose them, with enabled in the metadata", async () => {
    const seen = new Set<string>()
    for (const flag of ['v_string', 'v_number', 'v_bool', 'v_object']) {
      for (const user of users) {
        const res = await ofrep(`flags/${flag}`, { context: { targetingKey: user } })
        const server = await evaluateFlag(app, flag, { userId: user })
        expect(res.status, `${flag} ${user}`).toBe(200)
        expect(res.body).toEqual({
          key: flag,
          value: server.value,
          variant: server.variant,
          reason: server.reason === 'enabled' ? 'STATIC' : server.reason === 'rule_match' ? 'TARGETING_MATCH' : 'SPLIT',
          metadata: { version: server.version, switchyardReason: server.reason, enabled: server.enabled },
        })
        seen.add(`${flag}:${server.variant}:${server.enabled}`)
      }
    }
    // Both variants of every flag were served, and the percentage flag answered off too (its offVariant).
    for (const flag of ['v_string', 'v_number', 'v_bool', 'v_object'])
      for (const v of ['a', 'b']) expect([...seen].some((s) => s.startsWith(`${flag}:${v}:true`))).toBe(true)
    expect(seen).toContain('v_string:a:false')
  })

  it('keeps JSON types: a false boolean variant, a float, a nested object', async () => {
    const user = users.find((u) => bucketVariant('v_bool', u) === 'a')!
    expect((await ofrep('flags/v_bool', { context: { targetingKey: user } })).body).toMatchObject({ value: false, variant: 'a', reason: 'STATIC' })
    const res = await ofrep('flags/v_object', { context: { targetingKey: 'u', country: 'NL' } })
    expect(res.body).toMatchObject({ value: { limit: 5, tiers: ['pro', 'team'] }, variant: 'b', reason: 'TARGETING_MATCH' })
    expect(typeof (await ofrep('flags/v_number', { context: { targetingKey: 'u' } })).body.value).toBe('number')
  })

  it('serves the offVariant when the flag is off, with reason DISABLED', async () => {
    const res = await ofrep('flags/v_off', { context: { targetingKey: 'u' } })
    expect(res.body).toEqual({
      key: 'v_off',
      value: 'green',
      variant: 'b',
      reason: 'DISABLED',
      metadata: { version: 1, switchyardReason: 'disabled', enabled: false },
    })
  })

  it('answers 400 GENERAL for a flag serving arrays, which OFREP does not carry, and lists it so in bulk', async () => {
    const res = await ofrep('flags/v_array', { context: { targetingKey: 'u' } })
    expect(res.status).toBe(400)
    expect(res.body).toMatchObject({ key: 'v_array', errorCode: 'GENERAL' })
    expect(res.body.errorDetails).toContain('arrays')
    const bulk = await ofrep('flags', { context: { targetingKey: 'u' } })
    const byKey = Object.fromEntries(bulk.body.flags.map((f: { key: string }) => [f.key, f]))
    expect(byKey.v_array).toMatchObject({ errorCode: 'GENERAL' })
    expect(byKey.v_off).toMatchObject({ value: 'green', variant: 'b' })
    expect(byKey.v_object).toMatchObject({ value: { limit: expect.any(Number) }, variant: expect.stringMatching(/^[ab]$/) })
    // Flags without variants answer as before.
    expect(byKey.on).toEqual({ key: 'on', value: true, reason: 'STATIC', variant: 'on', metadata: { version: 1, switchyardReason: 'enabled' } })
  })

  it('gives typed values through @openfeature/ofrep-provider, and its TYPE_MISMATCH for another type', async () => {
    const user = users[3]!
    const server = await evaluateFlag(app, 'v_string', { userId: user })
    expect(await client.getStringDetails('v_string', 'fallback', { targetingKey: user })).toMatchObject({ value: server.value, variant: server.variant })
    expect(await client.getNumberValue('v_number', -1, { targetingKey: user })).toBe((await evaluateFlag(app, 'v_number', { userId: user })).value)
    expect(await client.getObjectValue('v_object', {}, { targetingKey: 'u', country: 'NL' })).toEqual({ limit: 5, tiers: ['pro', 'team'] })
    expect(await client.getNumberDetails('v_string', 7, { targetingKey: user })).toMatchObject({ value: 7, errorCode: 'TYPE_MISMATCH' })
  })
})

/** The variant a 50/50 split of `a` then `b` serves `user`, by the split formula. */
function bucketVariant(flag: string, user: string): string {
  return bucketFromSeed(variantSeed(flag), user) < 50_000 ? 'a' : 'b'
}
