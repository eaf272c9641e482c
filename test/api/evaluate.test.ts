// POST /evaluate over HTTP: one flag, a list of flags, or every flag, for each state and reason.
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bucket } from '../../packages/core/src/evaluation/bucket.js'
import { call, captureLogs, createFlag, createToken, evaluateFlag, evaluateFlags, startApp, updateFlag } from '../support/helpers.js'

let app: FastifyInstance
beforeAll(async () => {
  app = await startApp()
  const beta = { betaUsers: ['alice'], betaTenants: ['acme'] }
  await createFlag(app, { key: 'off_flag', state: 'disabled', ...beta })
  await createFlag(app, { key: 'on_flag', state: 'enabled' })
  await createFlag(app, { key: 'beta_flag', state: 'beta_users', ...beta })
  await createFlag(app, { key: 'half_flag', state: 'percentage', percentage: 50, ...beta })
  await createFlag(app, { key: 'tenant_flag', state: 'percentage', percentage: 50, stickiness: 'tenantId' })
})
afterAll(async () => {
  await app.close()
})

// Ids on either side of the 50 % threshold, found with the published bucketing.
const idWhere = (key: string, predicate: (b: number) => boolean) => {
  for (let i = 0; ; i++) if (predicate(bucket(key, `id-${i}`))) return `id-${i}`
}
const halfIn = idWhere('half_flag', (b) => b < 50_000)
const halfOut = idWhere('half_flag', (b) => b >= 50_000)
const tenantIn = idWhere('tenant_flag', (b) => b < 50_000)
const tenantOut = idWhere('tenant_flag', (b) => b >= 50_000)

describe('POST /evaluate with one flag', () => {
  it.each<[string, Record<string, unknown>, boolean, string]>([
    ['off_flag', { userId: 'alice', tenantId: 'acme' }, false, 'disabled'],
    ['on_flag', { userId: 'bob' }, true, 'enabled'],
    ['on_flag', {}, true, 'enabled'],
    ['beta_flag', { userId: 'alice' }, true, 'beta_user'],
    ['beta_flag', { userId: 'bob', tenantId: 'acme' }, true, 'beta_tenant'],
    ['beta_flag', { userId: 'bob', tenantId: 'globex' }, false, 'not_targeted'],
    ['beta_flag', {}, false, 'not_targeted'],
    ['half_flag', { userId: 'alice' }, true, 'beta_user'],
    ['half_flag', { userId: halfOut, tenantId: 'acme' }, true, 'beta_tenant'],
    ['half_flag', { userId: halfIn }, true, 'percentage_in'],
    ['half_flag', { userId: halfOut }, false, 'percentage_out'],
    ['half_flag', { tenantId: 'globex' }, false, 'missing_context'],
    ['tenant_flag', { userId: halfOut, tenantId: tenantIn }, true, 'percentage_in'],
    ['tenant_flag', { userId: halfIn, tenantId: tenantOut }, false, 'percentage_out'],
    ['tenant_flag', { userId: halfIn }, false, 'missing_context'],
  ])('%s for %o → enabled %s, reason %s', async (flag, context, enabled, reason) => {
    expect(await evaluateFlag(app, flag, context)).toEqual({ flag, enabled, reason, version: 1 })
  })

  it('treats a missing context as an empty one', async () => {
    const res = await call(app, 'POST', '/evaluate', { body: { flag: 'half_flag' }, expected: 200 })
    expect(res.json()).toEqual({ flag: 'half_flag', enabled: false, reason: 'missing_context', version: 1 })
  })

  it('ignores attributes (kept for later targeting rules)', async () => {
    expect(await evaluateFlag(app, 'half_flag', { userId: halfIn, attributes: { plan: 'pro', seats: 12, trial: false } })).toMatchObject({
      reason: 'percentage_in',
    })
  })

  it('answers 404 for an unknown flag, naming it', async () => {
    const res = await call(app, 'POST', '/evaluate', { body: { flag: 'nope', context: {} }, expected: 404 })
    expect(res.json()).toMatchObject({ statusCode: 404, code: 'FLAG_NOT_FOUND', message: "flag 'nope' does not exist" })
  })

  it('is open to evaluate tokens', async () => {
    const service = await createToken(app, 'checkout-service', 'evaluate')
    expect(await evaluateFlag(app, 'on_flag', {}, 200, service.token)).toMatchObject({ enabled: true })
  })

  it('answers with the version that decided', async () => {
    await createFlag(app, { key: 'moving_flag' })
    await updateFlag(app, 'moving_flag', { state: 'enabled' })
    expect(await evaluateFlag(app, 'moving_flag')).toEqual({ flag: 'moving_flag', enabled: true, reason: 'enabled', version: 2 })
  })
})

describe('POST /evaluate with a batch', () => {
  it('answers one result per flag, in the order asked, reporting unknown flags per flag', async () => {
    const { results } = await evaluateFlags(app, ['on_flag', 'nope', 'beta_flag', 'off_flag'], { userId: 'alice' })
    expect(results).toEqual([
      { flag: 'on_flag', enabled: true, reason: 'enabled', version: 1 },
      { flag: 'nope', enabled: false, reason: 'flag_not_found' },
      { flag: 'beta_flag', enabled: true, reason: 'beta_user', version: 1 },
      { flag: 'off_flag', enabled: false, reason: 'disabled', version: 1 },
    ])
  })

  it('answers an empty list for an empty list', async () => {
    expect(await evaluateFlags(app, [], { userId: 'alice' })).toEqual({ results: [] })
  })

  it('evaluates every flag, in key order, when neither flag nor flags is given', async () => {
    const fresh = await startApp()
    try {
      expect(await evaluateFlags(fresh, undefined)).toEqual({ results: [] })
      await createFlag(fresh, { key: 'b_flag', state: 'enabled' })
      await createFlag(fresh, { key: 'a_flag', state: 'beta_users', betaUsers: ['alice'] })
      await createFlag(fresh, { key: 'c_flag', state: 'disabled' })
      // Created b, a, c: answered a, b, c, as OFREP's bulk evaluation answers.
      const { results } = await evaluateFlags(fresh, undefined, { userId: 'bob' })
      expect(results).toEqual([
        { flag: 'a_flag', enabled: false, reason: 'not_targeted', version: 1 },
        { flag: 'b_flag', enabled: true, reason: 'enabled', version: 1 },
        { flag: 'c_flag', enabled: false, reason: 'disabled', version: 1 },
      ])
    } finally {
      await fresh.close()
    }
  })

  it('refuses flag and flags together', async () => {
    const res = await call(app, 'POST', '/evaluate', { body: { flag: 'on_flag', flags: ['off_flag'], context: {} }, expected: 400 })
    expect(res.json()).toMatchObject({ code: 'VALIDATION_FAILED', field: 'body.flags', message: expect.stringContaining('body.flag') })
  })

  it('refuses more than 1000 keys', async () => {
    const flags = Array.from({ length: 1001 }, (_, i) => `f${i}`)
    expect((await call(app, 'POST', '/evaluate', { body: { flags }, expected: 400 })).json()).toMatchObject({ field: 'body.flags' })
    expect((await evaluateFlags(app, flags.slice(0, 1000))).results).toHaveLength(1000)
  })
})

describe('POST /evaluate validation', () => {
  it.each<[string, unknown, string]>([
    ['an unknown top-level field', { flag: 'on_flag', user: 'x' }, 'body.user'],
    ['an unknown context field', { flag: 'on_flag', context: { email: 'a@b.c' } }, 'body.context.email'],
    ['a numeric userId', { flag: 'on_flag', context: { userId: 42 } }, 'body.context.userId'],
    ['an empty userId', { flag: 'on_flag', context: { userId: '' } }, 'body.context.userId'],
    ['a 201-character tenantId', { flag: 'on_flag', context: { tenantId: 't'.repeat(201) } }, 'body.context.tenantId'],
    ['a nested attribute', { flag: 'on_flag', context: { attributes: { plan: { tier: 1 } } } }, 'body.context.attributes.plan'],
    ['a flag key that cannot exist', { flag: 'Not-A-Key' }, 'body.flag'],
    ['flags that is not a list', { flags: 'on_flag' }, 'body.flags'],
  ])('answers 400 for %s, naming the field', async (_name, body, field) => {
    const res = await call(app, 'POST', '/evaluate', { body: body as Record<string, unknown>, expected: 400 })
    expect(res.json()).toMatchObject({ statusCode: 400, code: 'VALIDATION_FAILED', field, message: expect.stringContaining(field) })
  })
})

describe('evaluation logging', () => {
  it('logs evaluations at debug level only, never at info', async () => {
    for (const level of ['info', 'debug'] as const) {
      const logs = captureLogs()
      const logged = await startApp({ logLevel: level }, { logStream: logs.stream })
      try {
        await createFlag(logged, { key: 'on_flag', state: 'enabled' })
        await evaluateFlag(logged, 'on_flag', { userId: 'alice' })
        await evaluateFlags(logged, ['on_flag'])
        const messages = logs.records().map((r) => r.msg)
        if (level === 'info') expect(messages.filter((m) => m === 'flag.evaluated' || m === 'flags.evaluated')).toEqual([])
        else expect(messages).toEqual(expect.arrayContaining(['flag.evaluated', 'flags.evaluated']))
        // Evaluations are never audited.
        expect(
          logs
            .records()
            .filter((r) => r.type === 'audit')
            .map((r) => r.action),
        ).toEqual(['flag.created'])
      } finally {
        await logged.close()
      }
    }
  })
})
