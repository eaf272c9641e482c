// Variants in the engine (evaluation/variants.ts, engine.ts): which variant each answer serves,
// the split bucket recomputed from its published formula, and the two properties issue 19 asks
// for: a weight change moves the fewest users, a percentage change moves no one between variants.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { compileFlag, evaluate, type Context } from '../../packages/core/src/evaluation/engine.js'
import { variantsProblem } from '../../packages/core/src/flags/model.js'
import { FLAG_DEFAULTS, type Flag, type Rule, type Variant } from '../../packages/core/src/flags/schema.js'
import { referenceBucket } from '../support/reference-bucket.js'
import { bucketFromSeed, bucketPairFromSeeds, bucketSeed, secondBucket } from '../../packages/core/src/evaluation/bucket.js'

const COLOURS: Variant[] = [
  { key: 'blue', value: 'BLUE', weight: 50 },
  { key: 'green', value: 'GREEN', weight: 50 },
  { key: 'grey', value: 'GREY' },
]

const flagOf = (fields: Partial<Flag> = {}): Flag =>
  ({ ...FLAG_DEFAULTS, key: 'colour', state: 'enabled', variants: COLOURS, offVariant: 'grey', model: 3, version: 1, ...fields }) as Flag
const rule = (id: string, country: string, serve: Rule['serve']): Rule => ({
  id,
  clauses: [{ attribute: 'country', operator: 'in', values: [country] }],
  serve,
})

/** The split bucket as the README publishes it: fmix32(FNV-1a-32(UTF-8("<key>:variant:<id>"))) mod 100000. */
const splitBucket = (key: string, id: string) => referenceBucket(`${key}:variant:${id}`)

const ids = (n: number, prefix = 'user') => Array.from({ length: n }, (_, i) => `${prefix}-${i}`)

describe('which variant an answer serves', () => {
  const ctx = (country: string, userId: string | undefined = 'user-7'): Context => ({ ...(userId ? { userId } : {}), attributes: { country } })
  const variantOf = (flag: Flag, c: Context) => {
    const d = evaluate(compileFlag(flag), c)
    return { enabled: d.enabled, reason: d.reason, ruleId: d.ruleId, variant: d.variant, value: d.value }
  }
  const split = splitBucket('colour', 'user-7') < 50_000 ? 'blue' : 'green'

  it.each<[string, Partial<Flag>, Context, { enabled: boolean; reason: string; ruleId?: string; variant: string }]>([
    ['disabled: the offVariant', { state: 'disabled' }, ctx('NL'), { enabled: false, reason: 'disabled', variant: 'grey' }],
    ['enabled, no rule: the default split', {}, ctx('NL'), { enabled: true, reason: 'enabled', variant: split }],
    [
      'enabled: a rule serving on chooses the variant',
      { rules: [rule('nl', 'NL', { enabled: true, variant: 'grey' })] },
      ctx('NL'),
      { enabled: true, reason: 'rule_match', ruleId: 'nl', variant: 'grey' },
    ],
    [
      'enabled: a rule serving off does not apply; the next one does',
      { rules: [rule('off', 'NL', { enabled: false }), rule('nl', 'NL', { enabled: true, variant: 'green' })] },
      ctx('NL'),
      { enabled: true, reason: 'rule_match', ruleId: 'nl', variant: 'green' },
    ],
    [
      'enabled: a rule percentage that leaves the context out does not apply',
      { rules: [rule('none', 'NL', { percentage: 0, variant: 'grey' })] },
      ctx('NL'),
      { enabled: true, reason: 'enabled', variant: split },
    ],
    ['beta_users, not listed, no rule: the offVariant', { state: 'beta_users' }, ctx('NL'), { enabled: false, reason: 'not_targeted', variant: 'grey' }],
    [
      'beta_users, listed: the default split',
      { state: 'beta_users', betaUsers: ['user-7'] },
      ctx('NL'),
      { enabled: true, reason: 'beta_user', variant: split },
    ],
    [
      'a rule serving off: the offVariant',
      { state: 'beta_users', rules: [rule('off', 'NL', { enabled: false })] },
      ctx('NL'),
      { enabled: false, reason: 'rule_match', ruleId: 'off', variant: 'grey' },
    ],
    [
      'a rule serving on without a variant: the default split',
      { state: 'beta_users', rules: [rule('on', 'NL', { enabled: true })] },
      ctx('NL'),
      { enabled: true, reason: 'rule_match', ruleId: 'on', variant: split },
    ],
    [
      "a rule's own split",
      { state: 'beta_users', rules: [rule('s', 'NL', { enabled: true, split: [{ variant: 'grey', weight: 100 }] })] },
      ctx('NL'),
      { enabled: true, reason: 'rule_match', ruleId: 's', variant: 'grey' },
    ],
    ['percentage 100: the default split', { state: 'percentage', percentage: 100 }, ctx('NL'), { enabled: true, reason: 'percentage_in', variant: split }],
    ['percentage 0: the offVariant', { state: 'percentage', percentage: 0 }, ctx('NL'), { enabled: false, reason: 'percentage_out', variant: 'grey' }],
    [
      'percentage without the id: the offVariant',
      { state: 'percentage', percentage: 100 },
      ctx('NL', ''),
      { enabled: false, reason: 'missing_context', variant: 'grey' },
    ],
    ['enabled without the id: the split’s first variant', {}, ctx('NL', ''), { enabled: true, reason: 'enabled', variant: 'blue' }],
  ])('%s', (_, fields, c, expected) => {
    const got = variantOf(flagOf(fields), c)
    expect(got).toEqual({ ruleId: undefined, ...expected, value: expected.variant.toUpperCase() })
  })

  it('answers no variant for a flag without variants, exactly as before', () => {
    const d = evaluate(compileFlag(flagOf({ variants: undefined, offVariant: undefined, model: 1 })), ctx('NL'))
    expect(d).toEqual({ enabled: true, reason: 'enabled' })
  })

  it('serves values no caller can change', () => {
    const flag = flagOf({ variants: [{ key: 'on', value: { limits: { seats: 5 } }, weight: 100 }], offVariant: 'on' })
    const d = evaluate(compileFlag(flag), ctx('NL'))
    expect(() => ((d.value as { limits: { seats: number } }).limits.seats = 6)).toThrow(TypeError)
    expect(flag.variants![0]!.value).toEqual({ limits: { seats: 5 } })
  })
})

describe('the split bucket', () => {
  it('serves, for 20,000 ids, the variant whose range holds fmix32(FNV-1a-32("<key>:variant:<id>")) mod 100000', () => {
    const flag = compileFlag(
      flagOf({
        variants: [
          { key: 'a', value: 1, weight: 33.333 },
          { key: 'b', value: 2, weight: 0 },
          { key: 'c', value: 3, weight: 66.667 },
        ],
        offVariant: 'b',
      }),
    )
    const wrong = ids(20_000).filter((id) => evaluate(flag, { userId: id }).variant !== (splitBucket('colour', id) < 33_333 ? 'a' : 'c'))
    expect(wrong).toEqual([])
  })

  it('hashes the tenant when the flag is sticky by tenant, and is independent of the on/off bucket', () => {
    const flag = compileFlag(flagOf({ stickiness: 'tenantId', state: 'percentage', percentage: 50 }))
    let inAndBlue = 0
    for (const id of ids(20_000, 'tenant')) {
      const d = evaluate(flag, { userId: 'same-user', tenantId: id })
      if (d.enabled) expect(d.variant).toBe(splitBucket('colour', id) < 50_000 ? 'blue' : 'green')
      if (d.enabled && d.variant === 'blue') inAndBlue++
    }
    // Independent buckets: about a quarter are both in and blue (not a half, not none).
    expect(inAndBlue).toBeGreaterThan(4_500)
    expect(inAndBlue).toBeLessThan(5_500)
  })
})

describe('both buckets in one pass (bucketPairFromSeeds)', () => {
  it('equals the two buckets hashed apart, for ASCII, odd and even lengths, and non-ASCII at any position (property)', () => {
    const seedA = bucketSeed('flag')
    const seedB = bucketSeed('flag:variant')
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', 'Z', '-', '9', 'é', '用', '\ud83d\ude80', '\ud800'), maxLength: 41 }), (id) => {
        expect([bucketPairFromSeeds(seedA, seedB, id), secondBucket()]).toEqual([bucketFromSeed(seedA, id), bucketFromSeed(seedB, id)])
      }),
      { numRuns: 2000, seed: 19 },
    )
  })
})

describe('moving the fewest users', () => {
  it('50/50 → 60/40 reassigns at most 10.1 % of a million ids', () => {
    const before = compileFlag(flagOf())
    const after = compileFlag(flagOf({ variants: [{ ...COLOURS[0]!, weight: 60 }, { ...COLOURS[1]!, weight: 40 }, COLOURS[2]!] }))
    let moved = 0
    for (let i = 0; i < 1_000_000; i++) {
      const ctx = { userId: `id-${i}` }
      if (evaluate(before, ctx).variant !== evaluate(after, ctx).variant) moved++
    }
    expect(moved / 1_000_000).toBeLessThanOrEqual(0.101)
    expect(moved).toBeGreaterThan(90_000) // the boundary did move
  })

  it('any weight change moves only the ids between the old and the new boundaries (property)', () => {
    const weights = fc.array(fc.integer({ min: 0, max: 100_000 }), { minLength: 2, maxLength: 5 }).map((xs) => {
      const total = xs.reduce((a, b) => a + b, 0) || 1
      const scaled = xs.map((x) => Math.floor((x * 100_000) / total))
      scaled[0]! += 100_000 - scaled.reduce((a, b) => a + b, 0)
      return scaled.map((w) => w / 1000)
    })
    fc.assert(
      fc.property(weights, weights, (a, b) => {
        const n = Math.min(a.length, b.length)
        const variants = (ws: number[]) => ws.slice(0, n).map((w, i) => ({ key: `v${i}`, value: i, weight: w }))
        const fix = (ws: number[]) => ws.slice(0, n).map((w, i) => (i === 0 ? w + ws.slice(n).reduce((x, y) => x + y, 0) : w))
        const [wa, wb] = [fix(a), fix(b)]
        const before = compileFlag(flagOf({ variants: variants(wa), offVariant: 'v0' }))
        const after = compileFlag(flagOf({ variants: variants(wb), offVariant: 'v0' }))
        // The least any assignment must move: the buckets whose variant's range shrank.
        const bound = wa.reduce((sum, w, i) => sum + Math.max(0, Math.round(w * 1000) - Math.round(wb[i]! * 1000)), 0) / 100_000
        let moved = 0
        const sample = ids(4_000)
        for (const id of sample) if (evaluate(before, { userId: id }).variant !== evaluate(after, { userId: id }).variant) moved++
        // Contiguous ranges in a stable order move at most the sum of the boundary shifts.
        const shifts = wa.reduce((sum, _, i) => {
          const edge = (ws: number[]) => Math.round(ws.slice(0, i + 1).reduce((x, y) => x + y, 0) * 1000)
          return sum + Math.abs(edge(wa) - edge(wb))
        }, 0)
        expect(moved / sample.length).toBeLessThanOrEqual(shifts / 100_000 + 0.03)
        expect(moved / sample.length).toBeGreaterThanOrEqual(bound - 0.03)
      }),
      { numRuns: 60, seed: 19 },
    )
  })

  it('a percentage change never changes the variant of a user who stays on (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100_000 }), fc.integer({ min: 0, max: 100_000 }), (p, q) => {
        const before = compileFlag(flagOf({ state: 'percentage', percentage: p / 1000 }))
        const after = compileFlag(flagOf({ state: 'percentage', percentage: q / 1000 }))
        for (const id of ids(3_000)) {
          const [x, y] = [evaluate(before, { userId: id }), evaluate(after, { userId: id })]
          if (x.enabled && y.enabled) expect(y.variant).toBe(x.variant)
        }
      }),
      { numRuns: 40, seed: 19 },
    )
  })
})

describe('variantsProblem (the checks past the schema)', () => {
  it.each<[string, Partial<Flag>, string, RegExp]>([
    [
      'weights that do not sum to 100',
      {
        variants: [
          { key: 'a', value: 1, weight: 60 },
          { key: 'b', value: 2, weight: 30 },
        ],
      },
      '.variants',
      /sum to 90/,
    ],
    [
      'mixed value types',
      {
        variants: [
          { key: 'a', value: 'x', weight: 50 },
          { key: 'b', value: 2, weight: 50 },
        ],
      },
      '.variants[1].value',
      /a number.*a string/,
    ],
    ['an offVariant not declared', { offVariant: 'red' }, '.offVariant', /'red' is not a variant/],
    ['no offVariant', { offVariant: undefined }, '.offVariant', /is required/],
    ['a rule naming an unknown variant', { rules: [rule('r', 'NL', { enabled: true, variant: 'red' })] }, '.rules[0].serve.variant', /'red' is not a variant/],
    [
      'a split naming an unknown variant',
      { rules: [rule('r', 'NL', { enabled: true, split: [{ variant: 'red', weight: 100 }] })] },
      '.rules[0].serve.split[0].variant',
      /'red'/,
    ],
    [
      'a split not summing to 100',
      { rules: [rule('r', 'NL', { enabled: true, split: [{ variant: 'blue', weight: 99.999 }] })] },
      '.rules[0].serve.split',
      /99.999/,
    ],
    ['a variant on a rule serving off', { rules: [rule('r', 'NL', { enabled: false, variant: 'blue' })] }, '.rules[0].serve.variant', /serves on/],
    ['a key declared twice', { variants: [...COLOURS, { key: 'blue', value: 'B' }] }, '.variants[3].key', /already the key of variants\[0\]/],
    ['null', { variants: [{ key: 'a', value: null, weight: 100 }], offVariant: 'a' }, '.variants[0].value', /not null/],
    ['a value over 8 KB', { variants: [{ key: 'a', value: 'x'.repeat(8191), weight: 100 }], offVariant: 'a' }, '.variants[0].value', /8193 bytes/],
    ['an offVariant without variants', { variants: [] }, '.offVariant', /declares none/],
    ['Infinity (1e400 parsed)', { variants: [{ key: 'a', value: { limits: [1, Infinity] }, weight: 100 }], offVariant: 'a' }, '.variants[0].value', /finite/],
  ])('%s', (_, fields, field, message) => {
    const problem = variantsProblem(flagOf(fields))
    expect(problem?.field).toBe(field)
    expect(problem?.message).toMatch(message)
  })

  it('accepts weights of three decimals that sum to exactly 100', () => {
    const thirds = ['a', 'b', 'c'].map((key, i) => ({ key, value: [i], weight: i === 2 ? 33.334 : 33.333 }))
    expect(variantsProblem(flagOf({ variants: thirds, offVariant: 'a' }))).toBeUndefined()
  })
})
