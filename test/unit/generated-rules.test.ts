// Rules as generated code (evaluation/generate.ts) answer exactly what the interpreter answers:
// on random rules and contexts (every operator, negation, lists, Unicode forms, mistyped and
// missing values, inherited names, segments), and when a flag's names and values are built to
// break out of the code they are written into.
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import type { CompiledSegment } from '../../packages/core/src/evaluation/clauses.js'
import { compileFlag, evaluate, type CompiledFlag, type Context } from '../../packages/core/src/evaluation/engine.js'
import { MAX_GENERATED_CLAUSES, setCodeGeneration } from '../../packages/core/src/evaluation/generate.js'
import { CLAUSE_OPERATORS } from '../../packages/core/src/flags/rules.js'
import { FLAG_DEFAULTS, type Clause, type Flag } from '../../packages/core/src/flags/schema.js'
import type { Rule } from '../../packages/core/src/flags/rules.js'
import { compileSegment, compileSegmentRecord, segmentLookup } from '../../packages/core/src/segments/compile.js'
import { IdTable } from '../../packages/core/src/segments/id-table.js'

afterEach(() => setCodeGeneration(true))

const CAFE_NFC = 'caf\u00e9'
const CAFE_NFD = 'cafe\u0301'
/** Names that are awkward in code: quotes, backslashes, line separators, inherited and special properties. */
const HOSTILE = ['a"b', "a'b", 'a\\', '\u2028x\u2029', '"]); throw new Error("x"); (["', '${x}`', '__proto__', 'constructor', 'toString', 'hasOwnProperty']
/** Few names, so random clauses and random contexts meet often; `constructor` is inherited by plain objects. */
const ATTRIBUTES = ['a', 'b', 'userId', 'tenantId', 'constructor']
const STRINGS = ['', 'de', 'DE', 'user-1@example.com', 'user-', '@example.com', CAFE_NFC, CAFE_NFD, 'caf', 'a"b']
const VERSIONS = ['1.0.0', '1.0.0-alpha', '1.0.0-alpha.1', '2.0.0-rc.1+build.5', 'v1.2.3', '01.0.0', 'not a version']
const DATES = ['2026-03-01', '2026-03-01T09:00:00Z', '2026-03-01T10:00:00+01:00', '2026-03-01T09:00:00', 'yesterday']
const SEGMENTS = ['big', 'clauses', 'remote', 'absent']

const lookup = segmentLookup([
  compileSegmentRecord({ key: 'big', users: ['u1', CAFE_NFC], tenants: ['t1'], excludedUsers: ['u2'], excludedTenants: [], clauses: [] }),
  compileSegmentRecord({
    key: 'clauses',
    users: [],
    tenants: [],
    excludedUsers: ['u1'],
    excludedTenants: [],
    clauses: [{ attribute: 'country', operator: 'in', values: ['de', CAFE_NFD] }],
  }),
  compileSegment({ key: 'remote', excludedUsers: [], excludedTenants: [], clauses: [] } as never, new IdTable(), new IdTable(), false) as CompiledSegment,
])

const valuesFor = (operator: string): fc.Arbitrary<(string | number | boolean)[]> => {
  switch (operator) {
    case 'in':
    case 'not_in':
      return fc.array(fc.oneof(fc.constantFrom(...STRINGS), fc.integer({ min: -3, max: 3 }), fc.boolean()), { minLength: 1, maxLength: 12 })
    case 'lt':
    case 'lte':
    case 'gt':
    case 'gte':
      return fc.array(fc.oneof(fc.integer({ min: -3, max: 3 }), fc.double({ min: -3, max: 3, noNaN: true })), { minLength: 1, maxLength: 3 })
    case 'semver_eq':
    case 'semver_lt':
    case 'semver_gt':
      return fc.array(fc.constantFrom(...VERSIONS.slice(0, 5)), { minLength: 1, maxLength: 3 })
    case 'before':
    case 'after':
      return fc.array(fc.constantFrom(...DATES.slice(0, 3)), { minLength: 1, maxLength: 2 })
    case 'exists':
      return fc.constant([])
    case 'in_segment':
      return fc.array(fc.constantFrom(...SEGMENTS), { minLength: 1, maxLength: 2 })
    default: // starts_with, ends_with, contains: long affixes too, past what is written out inline
      return fc.array(fc.oneof(fc.constantFrom(...STRINGS), fc.constant('user-1@example.co')), { minLength: 1, maxLength: 3 })
  }
}

const clause: fc.Arbitrary<Clause> = fc
  .record({ attribute: fc.constantFrom(...ATTRIBUTES), operator: fc.constantFrom(...CLAUSE_OPERATORS), negate: fc.boolean() })
  .chain(({ attribute, operator, negate }) =>
    valuesFor(operator).map((values) => (operator === 'in_segment' ? { operator, values, negate } : { attribute, operator, values, negate }) as Clause),
  )

// What a rule serves on may name a variant or a split (used when the flag has variants).
const onVariant = fc.oneof<fc.Arbitrary<Partial<Rule['serve']>>[]>(
  fc.constant({}),
  fc.constantFrom({ variant: 'a' }, { variant: 'b' }),
  fc.constant({
    split: [
      { variant: 'b', weight: 30 },
      { variant: 'a', weight: 70 },
    ],
  }),
)
const serve = fc.oneof(
  fc.boolean().chain((enabled) => (enabled ? onVariant.map((v) => ({ enabled, ...v })) : fc.constant({ enabled }))),
  fc
    .record({ percentage: fc.constantFrom(0, 33.333, 50, 100), stickiness: fc.constantFrom('userId' as const, 'tenantId' as const) })
    .chain((p) => onVariant.map((v) => ({ ...p, ...v }))),
)
const rules: fc.Arbitrary<Rule[]> = fc
  .array(fc.record({ clauses: fc.array(clause, { minLength: 1, maxLength: 4 }), serve }), { minLength: 1, maxLength: 5 })
  .map((rs) => rs.map((r, i) => ({ id: `rule-${i}`, ...r }) as Rule))

const value = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom<unknown>(...STRINGS) },
  fc.constantFrom<unknown>(...VERSIONS, ...DATES, null, {}, 0, -1, 2.5, true, false, Number.NaN),
  fc.array(fc.constantFrom(...STRINGS), { maxLength: 3 }),
  { weight: 2, arbitrary: fc.oneof(fc.integer({ min: -4, max: 4 }), fc.double({ min: -4, max: 4, noNaN: true })) },
)
const id = fc.constantFrom<unknown>('u1', 'u2', 'u3', 't1', CAFE_NFC, CAFE_NFD, '', 'de', 'user-1@example.com', 7)
const context: fc.Arbitrary<Context> = fc.record(
  {
    userId: id,
    tenantId: id,
    attributes: fc.oneof(
      { weight: 8, arbitrary: fc.record({ a: value, b: value, constructor: value }, { requiredKeys: [] }) },
      fc.constantFrom(null, undefined, {}),
    ),
  },
  { requiredKeys: [] },
) as fc.Arbitrary<Context>

const VARIANTS = {
  variants: [
    { key: 'a', value: 'A', weight: 50 },
    { key: 'b', value: { b: true }, weight: 50 },
  ],
  offVariant: 'a',
  model: 3,
}
const flagOf = (rs: Rule[], state: Flag['state'] = 'beta_users', variants = false): Flag =>
  ({ ...FLAG_DEFAULTS, key: 'f', state, percentage: 40, rules: rs, model: 2, ...(variants ? VARIANTS : {}) }) as Flag

function bothEngines(flag: Flag): { generated: CompiledFlag; interpreted: CompiledFlag } {
  const generated = compileFlag(flag, lookup)
  setCodeGeneration(false)
  const interpreted = compileFlag(flag, lookup)
  setCodeGeneration(true)
  return { generated, interpreted }
}

describe('rules as generated code', () => {
  it('are generated for a flag with rules, and not when code generation is refused', () => {
    const rule: Rule = { id: 'r', clauses: [{ attribute: 'country', operator: 'in', values: ['de'] }], serve: { enabled: true } }
    const { generated, interpreted } = bothEngines(flagOf([rule]))
    expect(generated.decideRules).toBeTypeOf('function')
    expect(interpreted.decideRules).toBeNull()
  })

  it('answer exactly what the interpreter answers, on random rules and contexts', () => {
    fc.assert(
      fc.property(
        rules,
        fc.array(context, { minLength: 1, maxLength: 8 }),
        fc.constantFrom<Flag['state']>('beta_users', 'percentage', 'enabled'),
        fc.boolean(),
        (rs, contexts, state, variants) => {
          const { generated, interpreted } = bothEngines(flagOf(rs, state, variants))
          expect(generated.decideRules).not.toBeNull()
          for (const ctx of contexts) expect(evaluate(generated, ctx)).toEqual(evaluate(interpreted, ctx))
        },
      ),
      { numRuns: 3000, seed: 18 },
    )
  })

  it('read a name or value built to break out of the code as data', () => {
    const clauses: Clause[] = HOSTILE.map((name, i) => ({
      attribute: name,
      operator: i % 2 ? 'in' : 'starts_with',
      values: [name, HOSTILE[(i + 1) % HOSTILE.length]!],
    }))
    const flag = flagOf(clauses.map((c, i) => ({ id: `rule-${i}`, clauses: [c], serve: { enabled: true } })))
    const { generated, interpreted } = bothEngines(flag)
    expect(generated.decideRules).not.toBeNull()
    HOSTILE.forEach((name, i) => {
      // JSON.parse makes own properties of every name, __proto__ included, as a request body does.
      const ctx = JSON.parse(JSON.stringify({ attributes: { [name]: name } })) as Context
      expect(evaluate(generated, ctx)).toEqual({ enabled: true, reason: 'rule_match', ruleId: `rule-${i}` })
      expect(evaluate(interpreted, ctx)).toEqual(evaluate(generated, ctx))
    })
    expect(evaluate(generated, { attributes: {} })).toEqual({ enabled: false, reason: 'not_targeted' })
  })

  it('keep code small when values are many: a clause of 10,000 prefixes is matched by a loop, a flag past 60 KB of code is interpreted', () => {
    const prefixes = Array.from({ length: 10_000 }, (_, i) => `prefix-${String(i).padStart(5, '0')}`)
    const many = bothEngines(flagOf([{ id: 'r', clauses: [{ attribute: 'a', operator: 'starts_with', values: prefixes }], serve: { enabled: true } }]))
    expect(many.generated.decideRules).not.toBeNull()
    expect(many.generated.decideRules!.toString().length).toBeLessThan(2_000)
    for (const a of ['prefix-09999-x', 'prefix-1', 'other'])
      expect(evaluate(many.generated, { attributes: { a } })).toEqual(evaluate(many.interpreted, { attributes: { a } }))
    // Sixteen 12-character prefixes a clause are written out; forty such rules would be about 230 KB.
    const rules = Array.from({ length: 40 }, (_, i) => ({
      id: `r${i}`,
      clauses: [{ attribute: 'a', operator: 'starts_with', values: prefixes.slice(i * 16, i * 16 + 16).map((p) => p.slice(0, 12)) }],
      serve: { enabled: true },
    })) as Rule[]
    expect(compileFlag(flagOf(rules)).decideRules).toBeNull()
    expect(compileFlag(flagOf(rules.slice(0, 4))).decideRules).not.toBeNull()
  })

  it('compare with a bound that is not finite as the interpreter does (a flag that skipped validation)', () => {
    for (const [operator, bound, negate] of [
      ['lt', Infinity, true],
      ['gt', -Infinity, false],
      ['gte', NaN, true],
    ] as const) {
      const { generated, interpreted } = bothEngines(
        flagOf([{ id: 'r', clauses: [{ attribute: 'n', operator, values: [bound], negate }], serve: { enabled: true } }]),
      )
      expect(evaluate(generated, { attributes: { n: 1 } }), `${operator} ${bound}`).toEqual(evaluate(interpreted, { attributes: { n: 1 } }))
    }
  })

  it('read the context’s attributes only when a clause needs them, as the interpreter does', () => {
    const { generated, interpreted } = bothEngines(
      flagOf([{ id: 'r', clauses: [{ attribute: 'userId', operator: 'in', values: ['u'] }], serve: { enabled: true } }]),
    )
    const ctx = {
      userId: 'u',
      get attributes(): Record<string, string> {
        throw new Error('read')
      },
    } as Context
    expect(evaluate(generated, ctx)).toEqual({ enabled: true, reason: 'rule_match', ruleId: 'r' })
    expect(evaluate(interpreted, ctx)).toEqual(evaluate(generated, ctx))
  })

  it(`are interpreted past ${MAX_GENERATED_CLAUSES} clauses, with the same answers`, () => {
    const many = Array.from({ length: MAX_GENERATED_CLAUSES / 4 + 1 }, (_, i) => ({
      id: `rule-${i}`,
      clauses: Array.from({ length: 4 }, (_, j) => ({ attribute: 'n', operator: 'gte', values: [i + j] }) as Clause),
      serve: { enabled: true },
    }))
    const f = compileFlag(flagOf(many), lookup)
    expect(f.decideRules).toBeNull()
    expect(evaluate(f, { attributes: { n: 3 } })).toEqual({ enabled: true, reason: 'rule_match', ruleId: 'rule-0' })
  })
})
