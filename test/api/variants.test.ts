// Multivariate flags over HTTP (issue 19): variants written, read and served by POST /evaluate,
// validation naming the field (and changing nothing), the audit's before/after, and GET /stream.
import type { FastifyInstance } from 'fastify'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Flag } from '../../packages/core/src/flags/schema.js'
import { ADMIN, bearer, call, createFlag, evaluateFlag, evaluateFlags, eventually, getFlag, listAudit, startApp, updateFlag } from '../support/helpers.js'
import { data, fetchEvents } from '../support/sse.js'

let app: FastifyInstance
beforeEach(async () => {
  app = await startApp()
})
afterEach(async () => {
  await app.close()
})

const COLOURS = [
  { key: 'grey', value: 'grey' },
  { key: 'blue', value: 'blue', weight: 50 },
  { key: 'green', value: 'green', weight: 50 },
]
const NL = { id: 'nl', clauses: [{ attribute: 'country', operator: 'in', values: ['NL'] }], serve: { enabled: true, variant: 'green' } }
const colour = (fields: Record<string, unknown> = {}) => ({ key: 'colour', state: 'enabled', variants: COLOURS, offVariant: 'grey', rules: [NL], ...fields })

describe('flags with variants: POST, PATCH and GET /flags', () => {
  it('stores the variants in the order given with the offVariant, and model 3', async () => {
    const created = await createFlag(app, colour())
    expect(created).toMatchObject({ key: 'colour', variants: COLOURS, offVariant: 'grey', rules: [NL], model: 3, version: 1 })
    expect(await getFlag(app, 'colour')).toEqual(created)
    const listed = (await call(app, 'GET', '/flags', { expected: 200 })).json().flags as Flag[]
    expect(listed.find((f) => f.key === 'colour')).toEqual(created)
  })

  it('changes weights, values and the offVariant by PATCH; `variants: []` makes the flag boolean again, offVariant dropped', async () => {
    await createFlag(app, colour({ rules: [] }))
    const reweighted = await updateFlag(app, 'colour', {
      variants: [COLOURS[0], { ...COLOURS[1], weight: 60 }, { ...COLOURS[2], value: 'teal', weight: 40 }],
      offVariant: 'blue',
    })
    expect(reweighted).toMatchObject({ version: 2, offVariant: 'blue', model: 3 })
    expect(reweighted.variants.map((v: { value: string; weight?: number }) => [v.value, v.weight ?? 0])).toEqual([
      ['grey', 0],
      ['blue', 60],
      ['teal', 40],
    ])
    // A PATCH of another field keeps them.
    expect(await updateFlag(app, 'colour', { description: 'the checkout button' })).toMatchObject({ variants: reweighted.variants, offVariant: 'blue' })

    const boolean = await updateFlag(app, 'colour', { variants: [] })
    expect(boolean).not.toHaveProperty('variants')
    expect(boolean).not.toHaveProperty('offVariant')
    expect(boolean).toMatchObject({ model: 1, version: 4 })
    expect(await evaluateFlag(app, 'colour', { userId: 'u1' })).toEqual({ flag: 'colour', enabled: true, reason: 'enabled', version: 4 })
  })
})

describe('POST /evaluate on a flag with variants', () => {
  it('answers the variant and its value, of every JSON type, and the offVariant when the flag is off', async () => {
    const typed: [string, unknown[]][] = [
      ['texts', ['off', 'on']],
      ['numbers', [0, 12.5]],
      ['switches', [false, true]],
      ['configs', [{ limit: 0 }, { limit: 10, regions: ['eu', 'us'], nested: { a: [1, 2] } }]],
    ]
    for (const [key, [off, on]] of typed) {
      await createFlag(app, {
        key,
        state: 'enabled',
        variants: [
          { key: 'off', value: off },
          { key: 'on', value: on, weight: 100 },
        ],
        offVariant: 'off',
      })
      expect(await evaluateFlag(app, key, { userId: 'u1' })).toEqual({ flag: key, enabled: true, reason: 'enabled', version: 1, variant: 'on', value: on })
      await updateFlag(app, key, { state: 'disabled' })
      expect(await evaluateFlag(app, key, { userId: 'u1' })).toEqual({ flag: key, enabled: false, reason: 'disabled', version: 2, variant: 'off', value: off })
    }
  })

  it("serves a matching rule's variant, the split's otherwise, in a batch too; a flag without variants answers neither field", async () => {
    await createFlag(app, colour())
    await createFlag(app, { key: 'plain', state: 'enabled' })
    expect(await evaluateFlag(app, 'colour', { userId: 'u1', attributes: { country: 'NL' } })).toMatchObject({
      reason: 'rule_match',
      ruleId: 'nl',
      variant: 'green',
      value: 'green',
    })
    const served = new Set<string>()
    for (let i = 0; i < 40; i++) {
      const answer = await evaluateFlag(app, 'colour', { userId: `user-${i}`, attributes: { country: 'DE' } })
      expect(answer.value).toBe(answer.variant)
      served.add(answer.variant)
    }
    // The split is 50/50 between blue and green; grey (weight 0) only when off.
    expect([...served].sort()).toEqual(['blue', 'green'])
    const { results } = await evaluateFlags(app, ['colour', 'plain'], { userId: 'u1', attributes: { country: 'NL' } })
    expect(results).toEqual([
      { flag: 'colour', enabled: true, reason: 'rule_match', version: 1, ruleId: 'nl', variant: 'green', value: 'green' },
      { flag: 'plain', enabled: true, reason: 'enabled', version: 1 },
    ])
  })
})

describe('validation of variants', () => {
  const long = 'x'.repeat(8200)
  // Each breaks one rule of the model; the field names the part of the body that breaks it.
  const refused: [string, Record<string, unknown>, string, RegExp][] = [
    [
      'weights not summing to 100',
      { variants: [COLOURS[0], COLOURS[1], { ...COLOURS[2], weight: 40 }] },
      'body.variants',
      /weights sum to 90: they must sum to 100/,
    ],
    ['mixed value types', { variants: [COLOURS[0], COLOURS[1], { ...COLOURS[2], value: 7 }] }, 'body.variants[2].value', /is a number, but variants\[0\]/],
    ['an offVariant not declared', { offVariant: 'purple' }, 'body.offVariant', /'purple' is not a variant the flag declares/],
    [
      'a rule naming an unknown variant',
      { rules: [{ ...NL, serve: { enabled: true, variant: 'purple' } }] },
      'body.rules[0].serve.variant',
      /'purple' is not a variant/,
    ],
    [
      'a split naming an unknown variant',
      {
        rules: [
          {
            ...NL,
            serve: {
              enabled: true,
              split: [
                { variant: 'blue', weight: 50 },
                { variant: 'purple', weight: 50 },
              ],
            },
          },
        ],
      },
      'body.rules[0].serve.split[1].variant',
      /'purple' is not a variant/,
    ],
    [
      'a value over 8 KB',
      { variants: [COLOURS[0], COLOURS[1], { ...COLOURS[2], value: long }] },
      'body.variants[2].value',
      /is 8202 bytes of JSON: at most 8192/,
    ],
    ['a null value', { variants: [COLOURS[0], COLOURS[1], { ...COLOURS[2], value: null }] }, 'body.variants[2].value', /not null/],
    ['variants removed while a rule names one', { variants: [] }, 'body.rules[0].serve.variant', /needs variants: the flag declares none/],
  ]

  it.each(refused)('refuses %s with 400 naming the field, on create and on PATCH, and changes nothing', async (_, fields, field, message) => {
    const create = await call(app, 'POST', '/flags', { body: colour(fields), expected: 400 })
    expect(create.json()).toMatchObject({ code: 'VALIDATION_FAILED', field })
    expect(create.json().message).toMatch(message)
    await call(app, 'GET', '/flags/colour', { expected: 404 })

    const before = await createFlag(app, colour())
    const events = (await listAudit(app, { flag: 'colour' })).events.length
    const patch = await call(app, 'PATCH', '/flags/colour', { body: fields, expected: 400 })
    expect(patch.json()).toMatchObject({ code: 'VALIDATION_FAILED', field })
    expect(await getFlag(app, 'colour')).toEqual(before)
    expect((await listAudit(app, { flag: 'colour' })).events).toHaveLength(events)
  })

  it('refuses a number JSON reads as Infinity (1e400), in a variant value or a clause value, naming the field; nothing is stored', async () => {
    const post = (payload: string) => app.inject({ method: 'POST', url: '/flags', headers: { ...bearer(ADMIN), 'content-type': 'application/json' }, payload })
    const variant = await post(
      '{"key":"inf","state":"enabled","variants":[{"key":"a","value":{"n":[1e400]},"weight":50},{"key":"b","value":{"n":[2]},"weight":50}],"offVariant":"b"}',
    )
    expect(variant.statusCode).toBe(400)
    expect(variant.json()).toMatchObject({ code: 'VALIDATION_FAILED', field: 'body.variants[0].value' })
    const clause = await post('{"key":"inf","rules":[{"clauses":[{"attribute":"n","operator":"in","values":[1e400]}],"serve":{"enabled":true}}]}')
    expect(clause.statusCode).toBe(400)
    expect(clause.json()).toMatchObject({ code: 'VALIDATION_FAILED', field: 'body.rules[0].clauses[0].values[0]' })
    expect((await call(app, 'GET', '/flags/inf', { expected: 404 })).statusCode).toBe(404)
    expect((await call(app, 'GET', '/flags', { expected: 200 })).json().flags.map((f: Flag) => f.key)).not.toContain('inf')
  })

  it('refuses variants on a rule of a flag without variants, and an offVariant without variants', async () => {
    const plain = await createFlag(app, { key: 'plain' })
    const rule = await call(app, 'PATCH', '/flags/plain', { body: { rules: [NL] }, expected: 400 })
    expect(rule.json()).toMatchObject({ code: 'VALIDATION_FAILED', field: 'body.rules[0].serve.variant', message: expect.stringContaining('needs variants') })
    const split = await call(app, 'POST', '/flags', {
      body: { key: 'other', rules: [{ clauses: [], serve: { enabled: true, split: [{ variant: 'a', weight: 100 }] } }] },
      expected: 400,
    })
    expect(split.json().field).toBe('body.rules[0].serve.split')
    const off = await call(app, 'PATCH', '/flags/plain', { body: { offVariant: 'a' }, expected: 400 })
    expect(off.json().field).toBe('body.offVariant')
    expect(await getFlag(app, 'plain')).toEqual(plain)
  })
})

describe('audit and stream', () => {
  it('records the variants and the offVariant before and after in the audit trail', async () => {
    await createFlag(app, colour({ rules: [] }))
    const weights = [COLOURS[0], { ...COLOURS[1], weight: 70 }, { ...COLOURS[2], weight: 30 }]
    await updateFlag(app, 'colour', { variants: weights, offVariant: 'blue' })
    await updateFlag(app, 'colour', { variants: [] })
    const [cleared, updated, created] = (await listAudit(app, { flag: 'colour' })).events
    expect(created).toMatchObject({
      action: 'flag.created',
      changes: { variants: { before: null, after: COLOURS }, offVariant: { before: null, after: 'grey' } },
    })
    expect(updated).toMatchObject({
      action: 'flag.updated',
      changes: { variants: { before: COLOURS, after: weights }, offVariant: { before: 'grey', after: 'blue' } },
    })
    expect(cleared).toMatchObject({
      action: 'flag.updated',
      changes: { variants: { before: weights, after: null }, offVariant: { before: 'blue', after: null } },
    })
  })

  it('carries the flag with its variants on GET /stream: in the state, and in each change', async () => {
    const created = await createFlag(app, colour())
    const base = await app.listen({ port: 0, host: '127.0.0.1' })
    const stream = await fetchEvents(`${base}/stream`, { headers: bearer(ADMIN) })
    try {
      await eventually(() => stream.events.length >= 1, 5000, 'the state event')
      expect(data(stream.events[0]!).flags).toEqual([created])
      const updated = await updateFlag(app, 'colour', { variants: [COLOURS[0], { ...COLOURS[1], weight: 100 }, { ...COLOURS[2], weight: 0 }] })
      const cleared = await updateFlag(app, 'colour', { variants: [], rules: [] })
      await eventually(() => stream.events.length >= 3, 5000, 'two change events')
      expect(stream.events.slice(1).map((e) => data(e).flag)).toEqual([updated, cleared])
      expect(data(stream.events[1]!).flag.variants[1]).toEqual({ key: 'blue', value: 'blue', weight: 100 })
      expect(data(stream.events[2]!).flag).not.toHaveProperty('variants')
    } finally {
      await stream.close()
    }
  })
})
