// Identifiers: stored ids, keys, tags and token names refuse control characters and unpaired
// surrogates (400 naming the field, nothing stored), while evaluation contexts are never refused
// for them; user and tenant ids compare in Unicode NFC on the server, in the SDK and in flagctl
// plan, and bucketing still hashes the context value exactly as given.
import fc from 'fast-check'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { createClient } from '../../packages/sdk/src/index.js'
import { computePlan } from '../../packages/flagctl/src/plan.js'
import { bucket, percentageThreshold } from '../../packages/core/src/evaluation/bucket.js'
import { compileFlag, evaluate, type Context } from '../../packages/core/src/evaluation/engine.js'
import { ASCII_NFC_TARGETS } from '../../packages/core/src/flags/identity.js'
import { FLAG_DEFAULTS, FLAG_STATES, type Flag, type Reason } from '../../packages/core/src/flags/schema.js'
import { MemoryStore } from '../../packages/server/src/store/memory.js'
import { ADMIN, call, createFlag, evaluateFlag, getFlag, listFlags, listTokens, startApp } from '../support/helpers.js'

const NFC = 'caf\u00e9'
const NFD = 'cafe\u0301'
const NOW = '2026-01-01T00:00:00.000Z'
const flagOf = (overrides: Partial<Flag>): Flag => ({
  key: 'beta_flag',
  ...FLAG_DEFAULTS,
  version: 1,
  createdAt: NOW,
  updatedAt: NOW,
  updatedBy: 'test',
  ...overrides,
})

describe('stored identifiers', () => {
  let app: FastifyInstance
  beforeAll(async () => {
    app = await startApp()
    await createFlag(app, { key: 'existing', state: 'beta_users', betaUsers: ['alice'] })
  })
  afterAll(async () => {
    await app.close()
  })

  it('refuses a lone surrogate in betaUsers (the jq finding) with 400 naming the field, and stores nothing', async () => {
    const before = await listFlags(app)
    const res = await call(app, 'POST', '/flags', { body: { key: 'jq_breaker', betaUsers: ['alice', '\ud800'] }, expected: 400 })
    expect(res.json()).toMatchObject({
      code: 'VALIDATION_FAILED',
      field: 'body.betaUsers[1]',
      message: 'body.betaUsers[1] must not contain control characters (C0, DEL, C1) or unpaired surrogates',
    })
    await getFlag(app, 'jq_breaker', 404)
    const patched = await call(app, 'PATCH', '/flags/existing', { body: { betaUsers: ['\ud800'] }, expected: 400 })
    expect(patched.json()).toMatchObject({ field: 'body.betaUsers[0]' })
    const after = await call(app, 'GET', '/flags', { expected: 200 })
    expect(after.json()).toEqual(before)
    // What jq chokes on: an escaped surrogate with no partner.
    expect(after.body).not.toMatch(/\\ud[89ab][0-9a-f]{2}(?!\\ud[c-f])/i)
  })

  it.each<[string, Record<string, unknown>, string]>([
    ['NUL in a beta user', { key: 'f', betaUsers: ['a\u0000b'] }, 'body.betaUsers[0]'],
    ['a tab (C0) in a beta user', { key: 'f', betaUsers: ['ok', 'tab\there'] }, 'body.betaUsers[1]'],
    ['DEL in a beta tenant', { key: 'f', betaTenants: ['acme\u007f'] }, 'body.betaTenants[0]'],
    ['NEL (C1) in a beta tenant', { key: 'f', betaTenants: ['\u0085acme'] }, 'body.betaTenants[0]'],
    ['a lone low surrogate in a beta tenant', { key: 'f', betaTenants: ['x\udc00'] }, 'body.betaTenants[0]'],
    ['NUL in a tag', { key: 'f', tags: ['ai\u0000'] }, 'body.tags[0]'],
    ['C1 in a tag', { key: 'f', tags: ['\u009bai'] }, 'body.tags[0]'],
    ['NUL in a key', { key: 'copilot\u0000' }, 'body.key'],
    ['a lone surrogate in a key', { key: 'copilot\ud83d' }, 'body.key'],
    ['a lone surrogate in a description', { key: 'f', description: 'half an emoji \ud83d' }, 'body.description'],
  ])('refuses %s with 400 naming the field, and stores nothing', async (_case, body, field) => {
    const res = await call(app, 'POST', '/flags', { body, expected: 400 })
    expect(res.json()).toMatchObject({ code: 'VALIDATION_FAILED', field })
    expect((await listFlags(app)).flags.map((f: Flag) => f.key)).toEqual(['existing'])
  })

  it.each([
    ['NUL', 'svc\u0000'],
    ['C1 (CSI)', 'svc\u009b'],
    ['DEL', 'svc\u007f'],
    ['a lone surrogate', 'svc\ud800'],
  ])('refuses %s in a token name with 400 naming the field, and creates no token', async (_case, name) => {
    const ids = async () => (await listTokens(app)).tokens.map((t: { id: string }) => t.id)
    const before = await ids()
    const res = await call(app, 'POST', '/tokens', { body: { name, scope: 'evaluate' }, expected: 400 })
    expect(res.json()).toMatchObject({ code: 'VALIDATION_FAILED', field: 'body.name' })
    expect(await ids()).toEqual(before)
  })

  it('accepts ids that are not control characters: accents, CJK, emoji (surrogate pairs), and newlines in a description', async () => {
    const betaUsers = ['élodie', '用户-1', 'astronaut-🧑‍🚀', 'nbsp\u00a0ok']
    const flag = await createFlag(app, { key: 'unicode_ok', description: 'two\nlines', betaUsers })
    expect(flag.betaUsers).toEqual(betaUsers)
    await call(app, 'DELETE', '/flags/unicode_ok', { expected: 204 })
  })

  it('never refuses an evaluation context for them: it only has to match', async () => {
    for (const userId of ['\u0000', '\ud800', 'a\u0085b', NFD]) {
      expect(await evaluateFlag(app, 'existing', { userId, tenantId: '\udfff' })).toMatchObject({ enabled: false, reason: 'not_targeted' })
    }
    const ofrep = await call(app, 'POST', '/ofrep/v1/evaluate/flags/existing', { body: { context: { targetingKey: '\ud800\u0000' } }, expected: 200 })
    expect(ofrep.json()).toMatchObject({ value: false })
  })
})

describe('ids compare in Unicode NFC', () => {
  it('on the server: a beta id written in NFD is stored in NFC and matches a context in either form', async () => {
    const app = await startApp()
    onTestFinished(() => app.close())
    const flag = await createFlag(app, { key: 'cafe', state: 'beta_users', betaUsers: [NFD, NFC, 'bob'], betaTenants: [NFD] })
    expect(flag.betaUsers).toEqual([NFC, 'bob'])
    expect(flag.betaTenants).toEqual([NFC])
    for (const id of [NFC, NFD]) {
      expect(await evaluateFlag(app, 'cafe', { userId: id })).toMatchObject({ enabled: true, reason: 'beta_user' })
      expect(await evaluateFlag(app, 'cafe', { userId: 'x', tenantId: id })).toMatchObject({ enabled: true, reason: 'beta_tenant' })
    }
    // NFC is not case folding nor compatibility mapping: these stay other ids.
    for (const other of ['Café', 'cafe', 'ｃａｆé']) expect(await evaluateFlag(app, 'cafe', { userId: other })).toMatchObject({ reason: 'not_targeted' })
  })

  it('on the server and in the SDK alike, for flags stored in either form (one stored before ids were normalised)', async () => {
    // Written straight to the store, as a flag saved before this rule would be: NFD users, NFC tenants.
    const store = new MemoryStore()
    const stored = flagOf({ key: 'legacy', state: 'beta_users', betaUsers: [NFD], betaTenants: [NFC] })
    await store.commit({
      kind: 'flag',
      key: 'legacy',
      expectedVersion: 0,
      next: stored,
      audit: { id: 'e', type: 'audit', action: 'flag.created', flag: 'legacy', actor: 'test', requestId: 'r', timestamp: NOW, changes: {} },
    })
    const app = await startApp({}, { store })
    onTestFinished(() => app.close())
    await createFlag(app, { key: 'fresh', state: 'beta_users', betaUsers: [NFC], betaTenants: [NFD] })
    const url = await app.listen({ port: 0, host: '127.0.0.1' })
    const sdk = await createClient({ url, token: ADMIN })
    onTestFinished(() => sdk.close())
    expect(sdk.flag('legacy')!.betaUsers).toEqual([NFD])

    const contexts: Context[] = [{ userId: NFC }, { userId: NFD }, { userId: 'x', tenantId: NFC }, { userId: 'x', tenantId: NFD }, { userId: 'cafe' }]
    for (const key of ['legacy', 'fresh']) {
      for (const context of contexts) {
        const server = await evaluateFlag(app, key, { ...context })
        expect(sdk.evaluate(key, context), `${key} ${JSON.stringify(context)}`).toEqual(server)
        expect(server.reason).toBe(context.userId === 'cafe' ? 'not_targeted' : context.tenantId ? 'beta_tenant' : 'beta_user')
      }
    }
  })

  it('matches an ASCII id given through a character whose NFC is ASCII (KELVIN SIGN is K)', () => {
    const compiled = compileFlag(flagOf({ state: 'beta_users', betaUsers: ['Kate'], betaTenants: ['a;b', 'x`'] }))
    expect(evaluate(compiled, { userId: '\u212Aate' }).reason).toBe('beta_user')
    expect(evaluate(compiled, { tenantId: 'a\u037Eb' }).reason).toBe('beta_tenant')
    expect(evaluate(compiled, { tenantId: 'x\u1FEF' }).reason).toBe('beta_tenant')
    expect(evaluate(compiled, { userId: 'kate' }).reason).toBe('not_targeted')
  })

  it('knows every character whose NFC is ASCII, so plain ASCII lists can skip normalising on a miss', () => {
    // A string's NFC is ASCII only when its canonical decomposition is: check every code point.
    const targets = new Set<string>()
    for (let cp = 0x80; cp <= 0x10ffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue
      const decomposed = String.fromCodePoint(cp).normalize('NFD')
      // eslint-disable-next-line no-control-regex -- the whole ASCII range, control characters included, is the point
      if (/^[\x00-\x7f]*$/.test(decomposed)) for (const c of decomposed) targets.add(c)
    }
    expect([...targets].sort()).toEqual([...ASCII_NFC_TARGETS].sort())
  })

  it('but bucketing hashes the context value as given: NFC and NFD of one id may fall on either side of a rollout', () => {
    const key = 'rollout'
    const [low, high] = [NFC, NFD].sort((a, b) => bucket(key, a) - bucket(key, b))
    expect(bucket(key, low!)).not.toBe(bucket(key, high!))
    // The threshold between the two buckets: the lower one is in, the higher one out.
    const percentage = bucket(key, high!) / 1000
    expect(percentageThreshold(percentage)).toBe(bucket(key, high!))
    const compiled = compileFlag(flagOf({ key, state: 'percentage', percentage }))
    expect(evaluate(compiled, { userId: low }).reason).toBe('percentage_in')
    expect(evaluate(compiled, { userId: high }).reason).toBe('percentage_out')
  })

  it('in flagctl plan: a flags file listing ids in NFD plans no change against the NFC the service stores', () => {
    const live = flagOf({ key: 'cafe', state: 'beta_users', betaUsers: [NFC, 'bob'], betaTenants: [NFC] })
    expect(
      computePlan([live], { version: 1, flags: [{ key: 'cafe', state: 'beta_users', betaUsers: ['bob', NFD], betaTenants: [NFD] }] }, false).steps,
    ).toEqual([])
  })
})

/** The engine as it was before NFC: exact Set lookups. For ASCII ids the engine must answer the same. */
function exactMatchEngine(flag: Flag, ctx: Context): Reason {
  const users = new Set(flag.betaUsers)
  const tenants = new Set(flag.betaTenants)
  const beta =
    ctx.userId !== undefined && users.has(ctx.userId) ? 'beta_user' : ctx.tenantId !== undefined && tenants.has(ctx.tenantId) ? 'beta_tenant' : undefined
  switch (flag.state) {
    case 'enabled':
      return 'enabled'
    case 'disabled':
      return 'disabled'
    case 'beta_users':
      return beta ?? 'not_targeted'
    case 'percentage': {
      if (beta) return beta
      const value = flag.stickiness === 'tenantId' ? ctx.tenantId : ctx.userId
      if (value === undefined || value === '') return 'missing_context'
      return bucket(flag.key, value) < percentageThreshold(flag.percentage) ? 'percentage_in' : 'percentage_out'
    }
  }
}

describe('the engine, for any ids', () => {
  it('puts a context id in a beta list exactly when its NFC is the NFC of a listed id (property)', () => {
    // Characters that compose, decompose or map to ASCII under NFC, among plain ones.
    const unit = fc.constantFrom(
      'a',
      'e',
      'K',
      ';',
      '`',
      'x',
      '\u0301',
      '\u0308',
      '\u00e9',
      '\u00c5',
      '\u212b',
      '\u212a',
      '\u037e',
      '\u1fef',
      '\u1e9b',
      '\uac00',
      '\u1100',
      '\u1161',
      '😀',
    )
    const id = fc.string({ unit, minLength: 1, maxLength: 4 })
    // Another spelling of the same id: decomposed, composed, or through the characters whose NFC is ASCII.
    const respell = (s: string, how: number) =>
      [s, s.normalize('NFD'), s.normalize('NFC'), s.replaceAll('K', '\u212a').replaceAll(';', '\u037e').replaceAll('`', '\u1fef')][how]!
    const scenario = fc.array(id, { minLength: 1, maxLength: 4 }).chain((listed) =>
      fc.tuple(
        fc.constant(listed),
        fc.oneof(
          id,
          fc.tuple(fc.constantFrom(...listed), fc.nat(3)).map(([s, how]) => respell(s, how)),
        ),
      ),
    )
    fc.assert(
      fc.property(scenario, ([listed, given]) => {
        const compiled = compileFlag(flagOf({ state: 'beta_users', betaUsers: listed, betaTenants: listed }))
        const expected = listed.some((l) => l.normalize('NFC') === given.normalize('NFC'))
        expect(evaluate(compiled, { userId: given }).reason).toBe(expected ? 'beta_user' : 'not_targeted')
        expect(evaluate(compiled, { tenantId: given }).reason).toBe(expected ? 'beta_tenant' : 'not_targeted')
      }),
      { numRuns: 2000 },
    )
  })
})

describe('the engine, for ASCII ids', () => {
  it('answers exactly as before NFC matching (property)', () => {
    const asciiId = fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 12 })
    const scenario = fc
      .record({
        state: fc.constantFrom(...FLAG_STATES),
        percentage: fc.integer({ min: 0, max: 100_000 }).map((n) => n / 1000),
        stickiness: fc.constantFrom('userId' as const, 'tenantId' as const),
        betaUsers: fc.uniqueArray(asciiId, { maxLength: 5 }),
        betaTenants: fc.uniqueArray(asciiId, { maxLength: 5 }),
      })
      .chain((f) => {
        const id = fc.option(fc.oneof(asciiId, fc.constantFrom('', ...f.betaUsers, ...f.betaTenants)), { nil: undefined })
        return fc.tuple(fc.constant(f), fc.array(fc.record({ userId: id, tenantId: id }), { minLength: 1, maxLength: 10 }))
      })
    fc.assert(
      fc.property(scenario, ([fields, contexts]) => {
        const flag = flagOf(fields)
        const compiled = compileFlag(flag)
        for (const context of contexts) expect(evaluate(compiled, context).reason).toBe(exactMatchEngine(flag, context))
      }),
      { numRuns: 1000 },
    )
  })
})
