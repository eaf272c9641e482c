// Targeting v2 over HTTP: rules on flags (validation naming the exact field, ids, rule_match),
// explain, OFREP's attributes, and flags of a model newer than this build.
import type { FastifyInstance } from 'fastify'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { MemoryStore } from '../../packages/server/src/store/memory.js'
import { draftEvent } from '../../packages/server/src/audit/audit.js'
import { FLAG_DEFAULTS, MODEL_VERSION, type Flag } from '../../packages/core/src/flags/schema.js'
import { call, createFlag, createToken, evaluateFlag, startApp, updateFlag } from '../support/helpers.js'

let app: FastifyInstance
beforeEach(async () => {
  app = await startApp()
})
afterEach(async () => {
  await app.close()
})

const dutchPro = {
  id: 'dutch-pro',
  clauses: [
    { attribute: 'country', operator: 'in', values: ['NL'] },
    { attribute: 'plan', operator: 'in', values: ['pro'] },
  ],
  serve: { enabled: true },
}

describe('rules on flags', () => {
  it('stores rules with their ids, generates missing ones and sets the model the flag needs', async () => {
    const flag = await createFlag(app, { key: 'pricing', state: 'beta_users', rules: [dutchPro, { clauses: [], serve: { percentage: 10 } }] })
    expect(flag.model).toBe(2)
    expect(flag.rules[0].id).toBe('dutch-pro')
    expect(flag.rules[1].id).toMatch(/^rule-[0-9a-f]{8}$/)
    const plain = await createFlag(app, { key: 'plain' })
    expect(plain).toMatchObject({ rules: [], model: 1 })
    // A PATCH without rules keeps them, ids included; one that sends rules back keeps the ids it sends.
    const patched = await updateFlag(app, 'pricing', { description: 'new pricing' })
    expect(patched.rules).toEqual(flag.rules)
    const cleared = await updateFlag(app, 'pricing', { rules: [] })
    expect(cleared).toMatchObject({ rules: [], model: 1 })
  })

  it('answers rule_match with the rule that decided, first matching rule first', async () => {
    await createFlag(app, {
      key: 'pricing',
      state: 'percentage',
      percentage: 0,
      rules: [{ id: 'blocked', clauses: [{ attribute: 'country', operator: 'in', values: ['KP'] }], serve: { enabled: false } }, dutchPro],
    })
    expect(await evaluateFlag(app, 'pricing', { userId: 'u1', attributes: { country: 'NL', plan: 'pro' } })).toMatchObject({
      enabled: true,
      reason: 'rule_match',
      ruleId: 'dutch-pro',
    })
    expect(await evaluateFlag(app, 'pricing', { userId: 'u1', attributes: { country: 'KP', plan: 'pro' } })).toMatchObject({
      enabled: false,
      reason: 'rule_match',
      ruleId: 'blocked',
    })
    // No rule matches: the fall-through percentage (0 %), as before rules existed, and no ruleId.
    const fallthrough = await evaluateFlag(app, 'pricing', { userId: 'u1', attributes: { country: 'DE' } })
    expect(fallthrough).toEqual({ flag: 'pricing', enabled: false, reason: 'percentage_out', version: 1 })
  })

  it('keeps disabled and enabled absolute whatever the rules say', async () => {
    await createFlag(app, { key: 'killed', state: 'disabled', rules: [dutchPro] })
    await createFlag(app, { key: 'launched', state: 'enabled', rules: [{ clauses: [], serve: { enabled: false } }] })
    const context = { userId: 'u', attributes: { country: 'NL', plan: 'pro' } }
    expect(await evaluateFlag(app, 'killed', context)).toMatchObject({ enabled: false, reason: 'disabled' })
    expect(await evaluateFlag(app, 'launched', context)).toMatchObject({ enabled: true, reason: 'enabled' })
  })

  it('refuses a rule that breaks the model with 400 naming the exact field, and changes nothing', async () => {
    await createFlag(app, { key: 'pricing' })
    const bad: [unknown[], string][] = [
      [[dutchPro, dutchPro], 'body.rules[1].id'],
      [[{ clauses: [{ attribute: 'seats', operator: 'gt', values: [5, 'ten'] }], serve: { enabled: true } }], 'body.rules[0].clauses[0].values[1]'],
      [[{ clauses: [{ attribute: 'v', operator: 'semver_gt', values: ['1.2'] }], serve: { enabled: true } }], 'body.rules[0].clauses[0].values[0]'],
      [
        [{ clauses: [{ attribute: 'at', operator: 'before', values: ['2026-03-01T09:00:00'] }], serve: { enabled: true } }],
        'body.rules[0].clauses[0].values[0]',
      ],
      [[{ clauses: [{ operator: 'in', values: ['x'] }], serve: { enabled: true } }], 'body.rules[0].clauses[0].attribute'],
      [[{ clauses: [], serve: { enabled: true, percentage: 5 } }], 'body.rules[0].serve'],
      [[{ clauses: [], serve: { enabled: true, stickiness: 'tenantId' } }], 'body.rules[0].serve.stickiness'],
      [[{ clauses: [{ attribute: 'a', operator: 'exists', values: ['x'] }], serve: { enabled: true } }], 'body.rules[0].clauses[0].values'],
      [[{ clauses: [{ attribute: 'a', operator: 'matches', values: ['.*'] }], serve: { enabled: true } }], 'body.rules[0].clauses[0].operator'],
    ]
    for (const [rules, field] of bad) {
      const res = await call(app, 'PATCH', '/flags/pricing', { body: { rules }, expected: 400 })
      expect(res.json(), JSON.stringify(rules)).toMatchObject({ code: 'VALIDATION_FAILED', field })
    }
    const tooMany = Array.from({ length: 3 }, () => ({
      clauses: [{ attribute: 'id', operator: 'in', values: Array.from({ length: 4000 }, (_, i) => `v${i}`) }],
      serve: { enabled: true },
    }))
    expect((await call(app, 'PATCH', '/flags/pricing', { body: { rules: tooMany }, expected: 400 })).json().field).toBe('body.rules[2].clauses[0].values')
    expect((await call(app, 'GET', '/flags/pricing', { expected: 200 })).json()).toMatchObject({ version: 1, rules: [] })
  })

  it('takes list attributes: a clause matches when any element does', async () => {
    await createFlag(app, {
      key: 'qa',
      state: 'beta_users',
      rules: [{ clauses: [{ attribute: 'groups', operator: 'in', values: ['qa'] }], serve: { enabled: true } }],
    })
    expect(await evaluateFlag(app, 'qa', { attributes: { groups: ['dev', 'qa'] } })).toMatchObject({ enabled: true, reason: 'rule_match' })
    expect(await evaluateFlag(app, 'qa', { attributes: { groups: ['dev'] } })).toMatchObject({ enabled: false, reason: 'not_targeted' })
    const res = await call(app, 'POST', '/evaluate', { body: { flag: 'qa', context: { attributes: { groups: ['x'.repeat(1001)] } } }, expected: 400 })
    expect(res.json().field).toBe('body.context.attributes.groups')
  })
})

describe('POST /evaluate with explain', () => {
  it('returns the decision trace to an evaluate token, and 403 to a client token', async () => {
    await createFlag(app, { key: 'pricing', state: 'percentage', percentage: 50, rules: [dutchPro] })
    const evaluator = await createToken(app, 'dashboard', 'evaluate')
    const client = await createToken(app, 'web', 'client')
    const body = { flag: 'pricing', context: { userId: 'user-42', attributes: { country: 'DE' } }, explain: true }
    const res = await call(app, 'POST', '/evaluate', { token: evaluator.token, body, expected: 200 })
    const plain = await evaluateFlag(app, 'pricing', body.context)
    expect(res.json()).toMatchObject({ ...plain, explanation: { state: 'percentage', model: 2 } })
    const { explanation } = res.json()
    expect(explanation.betaUsers).toEqual({ userId: 'user-42', listed: false })
    expect(explanation.rules).toEqual([
      {
        id: 'dutch-pro',
        matched: false,
        failedClause: { index: 0, attribute: 'country', operator: 'in', outcome: 'not_matched', message: expect.stringContaining('"DE"') },
      },
    ])
    expect(explanation.fallthrough).toEqual({ stickiness: 'userId', bucket: expect.any(Number), threshold: 50000 })
    expect(explanation.fallthrough.bucket < 50000).toBe(plain.enabled)
    const refused = await call(app, 'POST', '/evaluate', { token: client.token, body, expected: 403 })
    expect(refused.json().message).toContain('explain')
    // The same client token evaluates without explain.
    await call(app, 'POST', '/evaluate', { token: client.token, body: { ...body, explain: false }, expected: 200 })
  })

  it('says why a clause failed: a missing attribute and a mistyped one', async () => {
    await createFlag(app, {
      key: 'seats',
      state: 'beta_users',
      rules: [
        { id: 'big', clauses: [{ attribute: 'seats', operator: 'gte', values: [100] }], serve: { enabled: true } },
        { id: 'beta', clauses: [{ attribute: 'app', operator: 'semver_gt', values: ['2.0.0'] }], serve: { enabled: true } },
      ],
    })
    const res = await call(app, 'POST', '/evaluate', { body: { flag: 'seats', context: { attributes: { app: 'latest' } }, explain: true }, expected: 200 })
    const [big, beta] = res.json().explanation.rules
    expect(big.failedClause).toMatchObject({ outcome: 'missing_attribute', message: 'the context has no "seats"' })
    expect(beta.failedClause).toMatchObject({ outcome: 'type_mismatch', message: 'app is "latest", not a SemVer 2.0 version' })
    expect(res.json()).toMatchObject({ enabled: false, reason: 'not_targeted' })
  })
})

describe('OFREP with rules', () => {
  it('maps every context field but targetingKey and tenantId to an attribute, lists of strings included', async () => {
    await createFlag(app, {
      key: 'qa',
      state: 'beta_users',
      rules: [{ id: 'qa', clauses: [{ attribute: 'groups', operator: 'in', values: ['qa'] }], serve: { enabled: true } }],
    })
    const res = await call(app, 'POST', '/ofrep/v1/evaluate/flags/qa', { body: { context: { targetingKey: 'u', groups: ['qa'] } }, expected: 200 })
    expect(res.json()).toMatchObject({ value: true, reason: 'TARGETING_MATCH', metadata: { switchyardReason: 'rule_match' } })
  })
})

describe('flags of a newer model', () => {
  /** A flag as a newer build would store it: a model this build does not speak, a field it does not know. */
  const future: Flag & { schedule: unknown } = {
    key: 'future',
    ...FLAG_DEFAULTS,
    state: 'enabled',
    model: MODEL_VERSION + 1,
    schedule: { steps: [{ at: '2026-12-01T09:00:00Z', percentage: 5 }] },
    version: 1,
    createdAt: '2026-11-30T00:00:00.000Z',
    updatedAt: '2026-11-30T00:00:00.000Z',
    updatedBy: 'newer-build',
  }

  it('answers unsupported_model, and refuses to rewrite the flag', async () => {
    const store = new MemoryStore()
    const replica = await startApp({}, { store })
    try {
      const actor = { id: 'newer', name: 'newer', requestId: 'r', log: replica.log }
      const change = await store.commit({
        kind: 'flag',
        key: 'future',
        expectedVersion: 0,
        next: future,
        audit: draftEvent(actor, 'flag.created', { flag: 'future' }, {}),
      })
      replica.switchyard.sync['applyChange'](change)
      expect(await evaluateFlag(replica, 'future')).toEqual({ flag: 'future', enabled: false, reason: 'unsupported_model', version: 1 })
      const ofrep = await call(replica, 'POST', '/ofrep/v1/evaluate/flags/future', { body: {}, expected: 400 })
      expect(ofrep.json()).toMatchObject({ errorCode: 'GENERAL' })
      const patch = await call(replica, 'PATCH', '/flags/future', { body: { state: 'disabled' }, expected: 409 })
      expect(patch.json()).toMatchObject({ code: 'MODEL_UNSUPPORTED' })
      await call(replica, 'DELETE', '/flags/future', { expected: 409 })
      expect(await store.readFlag('future')).toEqual(future)
    } finally {
      await replica.close()
    }
  })

  it('refuses to start on a store that holds one (a downgrade)', async () => {
    const store = new MemoryStore()
    const actor = { id: 'newer', name: 'newer', requestId: 'r', log: app.log }
    await store.commit({ kind: 'flag', key: 'future', expectedVersion: 0, next: future, audit: draftEvent(actor, 'flag.created', { flag: 'future' }, {}) })
    await expect(startApp({}, { store })).rejects.toThrow(
      `1 flag(s) of a newer flag model than this build speaks (up to ${MODEL_VERSION}): 'future' (model ${MODEL_VERSION + 1})`,
    )
  })
})
