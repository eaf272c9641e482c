// Clauses and segments (evaluation/clauses.ts, segments/compile.ts): every operator matched and
// not matched, negation, missing against mistyped attributes, lists of strings, Unicode forms,
// inherited properties, and segment membership. Table-driven: one row, one verdict.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  compileClause,
  inSegment,
  matchClause,
  MATCH,
  MISSING_ATTRIBUTE,
  NO_SEGMENTS,
  NOT_MATCHED,
  SEGMENT_MISSING,
  SEGMENT_NOT_LOCAL,
  TYPE_MISMATCH,
  type ClauseCode,
  type CompiledSegment,
  type SegmentLookup,
} from '../../packages/core/src/evaluation/clauses.js'
import { compileFlag, evaluate, type Context } from '../../packages/core/src/evaluation/engine.js'
import { explain } from '../../packages/core/src/evaluation/explain.js'
import { CLAUSE_OPERATORS } from '../../packages/core/src/flags/rules.js'
import { FLAG_DEFAULTS, type Clause, type Flag } from '../../packages/core/src/flags/schema.js'
import { compileSegmentRecord, segmentLookup, type SegmentMembers } from '../../packages/core/src/segments/compile.js'

type Verdict = 'match' | 'not_matched' | 'missing' | 'type_mismatch' | 'segment_missing' | 'segment_not_local'
const VERDICTS: Record<ClauseCode, Verdict> = {
  [MATCH]: 'match',
  [NOT_MATCHED]: 'not_matched',
  [MISSING_ATTRIBUTE]: 'missing',
  [TYPE_MISMATCH]: 'type_mismatch',
  [SEGMENT_MISSING]: 'segment_missing',
  [SEGMENT_NOT_LOCAL]: 'segment_not_local',
}

const verdict = (clause: Clause, ctx: Context, segments: SegmentLookup = NO_SEGMENTS): Verdict => VERDICTS[matchClause(compileClause(clause), ctx, segments)]
const attrs = (attributes: Record<string, unknown>): Context => ({ attributes }) as Context

const segment = (key: string, fields: Partial<SegmentMembers> = {}): CompiledSegment =>
  compileSegmentRecord({ key, users: [], tenants: [], excludedUsers: [], excludedTenants: [], clauses: [], ...fields })

// Precomposed U+00E9 and e + U+0301 COMBINING ACUTE ACCENT: one string in NFC.
const CAFE_NFC = 'caf\u00e9'
const CAFE_NFD = 'cafe\u0301'

describe('every operator, matched and not matched', () => {
  it.each<[string, Clause, Context, Verdict]>([
    ['in: a listed string', { attribute: 'country', operator: 'in', values: ['NL', 'BE'] }, attrs({ country: 'BE' }), 'match'],
    ['in: an unlisted string', { attribute: 'country', operator: 'in', values: ['NL', 'BE'] }, attrs({ country: 'DE' }), 'not_matched'],
    ['in: strings match exactly, not by case', { attribute: 'country', operator: 'in', values: ['NL'] }, attrs({ country: 'nl' }), 'not_matched'],
    ['in: a listed number', { attribute: 'seats', operator: 'in', values: [10, 20] }, attrs({ seats: 20 }), 'match'],
    ['in: an unlisted number', { attribute: 'seats', operator: 'in', values: [10, 20] }, attrs({ seats: 15 }), 'not_matched'],
    ['in: a listed boolean', { attribute: 'beta', operator: 'in', values: [true] }, attrs({ beta: true }), 'match'],
    ['in: an unlisted boolean', { attribute: 'beta', operator: 'in', values: [true] }, attrs({ beta: false }), 'not_matched'],
    ['in: mixed values, the number', { attribute: 'tier', operator: 'in', values: ['gold', 3] }, attrs({ tier: 3 }), 'match'],
    ['in: userId reads the context id', { attribute: 'userId', operator: 'in', values: ['alice'] }, { userId: 'alice' }, 'match'],
    ['in: userId is not an attribute', { attribute: 'userId', operator: 'in', values: ['alice'] }, attrs({ userId: 'alice' }), 'missing'],
    ['in: tenantId reads the context id', { attribute: 'tenantId', operator: 'in', values: ['acme'] }, { tenantId: 'acme' }, 'match'],
    ['in: another tenantId', { attribute: 'tenantId', operator: 'in', values: ['acme'] }, { tenantId: 'globex' }, 'not_matched'],
    ['not_in: an unlisted string', { attribute: 'country', operator: 'not_in', values: ['NL', 'BE'] }, attrs({ country: 'DE' }), 'match'],
    ['not_in: a listed string', { attribute: 'country', operator: 'not_in', values: ['NL', 'BE'] }, attrs({ country: 'NL' }), 'not_matched'],
    ['not_in: an unlisted number', { attribute: 'seats', operator: 'not_in', values: [1] }, attrs({ seats: 2 }), 'match'],
    ['starts_with: a prefix', { attribute: 'email', operator: 'starts_with', values: ['admin@', 'root@'] }, attrs({ email: 'root@x.io' }), 'match'],
    ['starts_with: not a prefix', { attribute: 'email', operator: 'starts_with', values: ['admin@'] }, attrs({ email: 'x-admin@x.io' }), 'not_matched'],
    ['starts_with: the whole string', { attribute: 'email', operator: 'starts_with', values: ['a@b'] }, attrs({ email: 'a@b' }), 'match'],
    ['starts_with: the empty prefix', { attribute: 'email', operator: 'starts_with', values: [''] }, attrs({ email: 'a@b' }), 'match'],
    ['ends_with: a suffix', { attribute: 'email', operator: 'ends_with', values: ['@example.com'] }, attrs({ email: 'ann@example.com' }), 'match'],
    [
      'ends_with: not a suffix',
      { attribute: 'email', operator: 'ends_with', values: ['@example.com'] },
      attrs({ email: 'ann@example.com.evil' }),
      'not_matched',
    ],
    ['contains: a substring', { attribute: 'agent', operator: 'contains', values: ['Firefox', 'Safari'] }, attrs({ agent: 'Mozilla Safari/17' }), 'match'],
    ['contains: no substring', { attribute: 'agent', operator: 'contains', values: ['Firefox'] }, attrs({ agent: 'Chrome' }), 'not_matched'],
    ['lt: below', { attribute: 'seats', operator: 'lt', values: [10] }, attrs({ seats: 9.5 }), 'match'],
    ['lt: equal is not below', { attribute: 'seats', operator: 'lt', values: [10] }, attrs({ seats: 10 }), 'not_matched'],
    ['lt: negative numbers', { attribute: 'delta', operator: 'lt', values: [-1] }, attrs({ delta: -2 }), 'match'],
    ['lte: equal', { attribute: 'seats', operator: 'lte', values: [10] }, attrs({ seats: 10 }), 'match'],
    ['lte: above', { attribute: 'seats', operator: 'lte', values: [10] }, attrs({ seats: 10.01 }), 'not_matched'],
    ['gt: above', { attribute: 'seats', operator: 'gt', values: [10] }, attrs({ seats: 11 }), 'match'],
    ['gt: equal is not above', { attribute: 'seats', operator: 'gt', values: [10] }, attrs({ seats: 10 }), 'not_matched'],
    ['gte: equal', { attribute: 'seats', operator: 'gte', values: [10] }, attrs({ seats: 10 }), 'match'],
    ['gte: below', { attribute: 'seats', operator: 'gte', values: [10] }, attrs({ seats: 9 }), 'not_matched'],
    ['gt: any of several values', { attribute: 'seats', operator: 'gt', values: [100, 5] }, attrs({ seats: 6 }), 'match'],
    ['semver_eq: the same version', { attribute: 'app', operator: 'semver_eq', values: ['2.4.0'] }, attrs({ app: '2.4.0' }), 'match'],
    ['semver_eq: build metadata ignored', { attribute: 'app', operator: 'semver_eq', values: ['2.4.0'] }, attrs({ app: 'v2.4.0+ios.77' }), 'match'],
    [
      'semver_eq: a pre-release is not the release',
      { attribute: 'app', operator: 'semver_eq', values: ['2.4.0'] },
      attrs({ app: '2.4.0-rc.1' }),
      'not_matched',
    ],
    ['semver_lt: a pre-release before its release', { attribute: 'app', operator: 'semver_lt', values: ['2.0.0'] }, attrs({ app: '2.0.0-rc.1' }), 'match'],
    ['semver_lt: numeric, not lexical', { attribute: 'app', operator: 'semver_lt', values: ['1.10.0'] }, attrs({ app: '1.9.9' }), 'match'],
    ['semver_lt: not before', { attribute: 'app', operator: 'semver_lt', values: ['1.10.0'] }, attrs({ app: '1.10.0' }), 'not_matched'],
    ['semver_gt: beta.11 after beta.2', { attribute: 'app', operator: 'semver_gt', values: ['1.0.0-beta.2'] }, attrs({ app: '1.0.0-beta.11' }), 'match'],
    [
      'semver_gt: alpha.beta not after beta',
      { attribute: 'app', operator: 'semver_gt', values: ['1.0.0-beta'] },
      attrs({ app: '1.0.0-alpha.beta' }),
      'not_matched',
    ],
    [
      'before: earlier instant',
      { attribute: 'signup', operator: 'before', values: ['2026-03-01T00:00:00Z'] },
      attrs({ signup: '2026-02-28T23:59:59Z' }),
      'match',
    ],
    [
      'before: zones honoured (01:00+02:00 is 23:00Z the day before)',
      { attribute: 'signup', operator: 'before', values: ['2026-03-01'] },
      attrs({ signup: '2026-03-01T01:00:00+02:00' }),
      'match',
    ],
    [
      'before: the same instant is not before',
      { attribute: 'signup', operator: 'before', values: ['2026-03-01'] },
      attrs({ signup: '2026-03-01T00:00:00Z' }),
      'not_matched',
    ],
    [
      'after: zones honoured (23:00-05:00 is 04:00Z the next day)',
      { attribute: 'signup', operator: 'after', values: ['2026-03-02T03:00:00Z'] },
      attrs({ signup: '2026-03-01T23:00:00-05:00' }),
      'match',
    ],
    ['after: earlier is not after', { attribute: 'signup', operator: 'after', values: ['2026-03-01'] }, attrs({ signup: '2026-02-01' }), 'not_matched'],
    ['exists: a present attribute', { attribute: 'plan', operator: 'exists', values: [] }, attrs({ plan: 'pro' }), 'match'],
    ['exists: an empty string is present', { attribute: 'plan', operator: 'exists', values: [] }, attrs({ plan: '' }), 'match'],
    ['exists: false and 0 are present', { attribute: 'plan', operator: 'exists', values: [] }, attrs({ plan: 0 }), 'match'],
    ['exists: an absent attribute', { attribute: 'plan', operator: 'exists', values: [] }, attrs({ other: 'x' }), 'not_matched'],
    ['exists: no attributes at all', { attribute: 'plan', operator: 'exists', values: [] }, {}, 'not_matched'],
    ['exists: a null attribute is absent', { attribute: 'plan', operator: 'exists', values: [] }, attrs({ plan: null }), 'not_matched'],
    ['exists: userId', { attribute: 'userId', operator: 'exists', values: [] }, { userId: 'u' }, 'match'],
  ])('%s', (_name, clause, ctx, expected) => {
    expect(verdict(clause, ctx)).toBe(expected)
  })

  it('covers every operator of the model in the table above or the segment tests below', () => {
    expect(CLAUSE_OPERATORS).toEqual([
      'in',
      'not_in',
      'starts_with',
      'ends_with',
      'contains',
      'lt',
      'lte',
      'gt',
      'gte',
      'semver_eq',
      'semver_lt',
      'semver_gt',
      'before',
      'after',
      'exists',
      'in_segment',
    ])
  })
})

describe('negate', () => {
  // Negation inverts a present, well-typed attribute's verdict, and nothing else.
  it.each<[string, Clause, Context, Verdict]>([
    ['in, negated: a listed value', { attribute: 'country', operator: 'in', values: ['NL'], negate: true }, attrs({ country: 'NL' }), 'not_matched'],
    ['in, negated: an unlisted value', { attribute: 'country', operator: 'in', values: ['NL'], negate: true }, attrs({ country: 'DE' }), 'match'],
    ['not_in, negated, is in: a listed value', { attribute: 'country', operator: 'not_in', values: ['NL'], negate: true }, attrs({ country: 'NL' }), 'match'],
    [
      'not_in, negated, is in: an unlisted value',
      { attribute: 'country', operator: 'not_in', values: ['NL'], negate: true },
      attrs({ country: 'DE' }),
      'not_matched',
    ],
    ['starts_with, negated', { attribute: 'email', operator: 'starts_with', values: ['admin'], negate: true }, attrs({ email: 'ann' }), 'match'],
    ['ends_with, negated', { attribute: 'email', operator: 'ends_with', values: ['.io'], negate: true }, attrs({ email: 'a.io' }), 'not_matched'],
    ['contains, negated', { attribute: 'email', operator: 'contains', values: ['@'], negate: true }, attrs({ email: 'ann' }), 'match'],
    ['lt, negated (>=)', { attribute: 'n', operator: 'lt', values: [5], negate: true }, attrs({ n: 5 }), 'match'],
    ['gte, negated (<)', { attribute: 'n', operator: 'gte', values: [5], negate: true }, attrs({ n: 5 }), 'not_matched'],
    ['semver_lt, negated', { attribute: 'app', operator: 'semver_lt', values: ['2.0.0'], negate: true }, attrs({ app: '2.0.0' }), 'match'],
    ['after, negated', { attribute: 'at', operator: 'after', values: ['2026-01-01'], negate: true }, attrs({ at: '2025-12-31T23:00:00Z' }), 'match'],
    ['exists, negated: absent', { attribute: 'plan', operator: 'exists', values: [], negate: true }, attrs({}), 'match'],
    ['exists, negated: present', { attribute: 'plan', operator: 'exists', values: [], negate: true }, attrs({ plan: 'pro' }), 'not_matched'],
    ['negate: false is no negation', { attribute: 'country', operator: 'in', values: ['NL'], negate: false }, attrs({ country: 'NL' }), 'match'],
  ])('%s', (_name, clause, ctx, expected) => {
    expect(verdict(clause, ctx)).toBe(expected)
  })
})

describe('missing and mistyped attributes never match, negated or not', () => {
  const OPS: [Clause, unknown][] = [
    // [clause, a value of the wrong type for it]
    [{ attribute: 'a', operator: 'in', values: ['NL'] }, 5],
    [{ attribute: 'a', operator: 'in', values: [5] }, '5'],
    [{ attribute: 'a', operator: 'in', values: [true] }, 'true'],
    [{ attribute: 'a', operator: 'not_in', values: ['NL'] }, 5],
    [{ attribute: 'a', operator: 'not_in', values: ['NL'] }, false],
    [{ attribute: 'a', operator: 'not_in', values: [1, 2] }, '3'],
    [{ attribute: 'a', operator: 'starts_with', values: ['1'] }, 12],
    [{ attribute: 'a', operator: 'ends_with', values: ['e'] }, true],
    [{ attribute: 'a', operator: 'contains', values: ['x'] }, 0],
    [{ attribute: 'a', operator: 'lt', values: [10] }, '5'],
    [{ attribute: 'a', operator: 'lte', values: [10] }, true],
    [{ attribute: 'a', operator: 'gt', values: [10] }, '11'],
    [{ attribute: 'a', operator: 'gte', values: [10] }, ['11']],
    [{ attribute: 'a', operator: 'semver_eq', values: ['1.0.0'] }, '1.0'],
    [{ attribute: 'a', operator: 'semver_lt', values: ['2.0.0'] }, 1],
    [{ attribute: 'a', operator: 'semver_gt', values: ['1.0.0'] }, 'latest'],
    [{ attribute: 'a', operator: 'before', values: ['2026-01-01'] }, '2025-12-31T09:00:00'],
    [{ attribute: 'a', operator: 'after', values: ['2026-01-01'] }, 1_767_225_600_000],
    [{ attribute: 'a', operator: 'before', values: ['2026-01-01'] }, '2025-02-29'],
  ]

  it.each(OPS.map(([clause, wrong]) => [`${clause.operator} ${JSON.stringify(clause.values)} with ${JSON.stringify(wrong)}`, clause, wrong] as const))(
    '%s: type_mismatch, also negated; missing: missing, also negated',
    (_name, clause, wrong) => {
      expect(verdict(clause, attrs({ a: wrong }))).toBe('type_mismatch')
      expect(verdict({ ...clause, negate: true }, attrs({ a: wrong }))).toBe('type_mismatch')
      expect(verdict(clause, attrs({ b: 'x' }))).toBe('missing')
      expect(verdict({ ...clause, negate: true }, attrs({ b: 'x' }))).toBe('missing')
      expect(verdict(clause, {})).toBe('missing')
      expect(verdict(clause, attrs({ a: null }))).toBe('missing')
      expect(verdict({ ...clause, negate: true }, attrs({ a: null }))).toBe('missing')
    },
  )

  it.each<[string, unknown]>([
    ['a nested object', { country: 'NL' }],
    ['a function', () => 'NL'],
  ])('%s is no value: missing', (_name, value) => {
    expect(verdict({ attribute: 'a', operator: 'in', values: ['NL'] }, attrs({ a: value }))).toBe('missing')
    expect(verdict({ attribute: 'a', operator: 'not_in', values: ['NL'] }, attrs({ a: value }))).toBe('missing')
    expect(verdict({ attribute: 'a', operator: 'exists', values: [] }, attrs({ a: value }))).toBe('not_matched')
  })

  it('explain() names the types an in/not_in clause compares when the attribute has none of them', () => {
    const f = compileFlag({
      key: 'f',
      ...FLAG_DEFAULTS,
      state: 'beta_users',
      rules: [{ id: 'r', clauses: [{ attribute: 'country', operator: 'not_in', values: ['NL', 1] }], serve: { enabled: true } }],
      model: 2,
      version: 1,
      createdAt: '2026-01-01T00:00:00.000Z',
      updatedAt: '2026-01-01T00:00:00.000Z',
      updatedBy: 't',
    })
    const result = explain('f', f, attrs({ country: true }))
    expect(result).toMatchObject({ enabled: false, reason: 'not_targeted' })
    expect(result.explanation?.rules?.[0]?.failedClause).toEqual({
      index: 0,
      attribute: 'country',
      operator: 'not_in',
      outcome: 'type_mismatch',
      message: 'country is true, not a string or a number',
    })
  })

  it('a missing userId or tenantId is missing', () => {
    expect(verdict({ attribute: 'userId', operator: 'not_in', values: ['x'] }, { tenantId: 't' })).toBe('missing')
    expect(verdict({ attribute: 'tenantId', operator: 'starts_with', values: ['x'] }, { userId: 'u' })).toBe('missing')
  })
})

describe('lists of strings', () => {
  it.each<[string, Clause, unknown, Verdict]>([
    ['in: one element listed', { attribute: 'groups', operator: 'in', values: ['qa'] }, ['dev', 'qa'], 'match'],
    ['in: no element listed', { attribute: 'groups', operator: 'in', values: ['qa'] }, ['dev', 'ops'], 'not_matched'],
    ['not_in: one element listed', { attribute: 'groups', operator: 'not_in', values: ['qa'] }, ['dev', 'qa'], 'not_matched'],
    ['not_in: no element listed', { attribute: 'groups', operator: 'not_in', values: ['qa'] }, ['dev', 'ops'], 'match'],
    ['starts_with: one element', { attribute: 'groups', operator: 'starts_with', values: ['team-'] }, ['x', 'team-a'], 'match'],
    ['ends_with: none', { attribute: 'groups', operator: 'ends_with', values: ['-admin'] }, ['x', 'team-a'], 'not_matched'],
    ['contains: one element', { attribute: 'groups', operator: 'contains', values: ['ad'] }, ['x', 'admins'], 'match'],
    ['semver_gt: one element', { attribute: 'apps', operator: 'semver_gt', values: ['2.0.0'] }, ['1.0.0', '2.1.0'], 'match'],
    ['semver_gt: a valid element matches beside an invalid one', { attribute: 'apps', operator: 'semver_gt', values: ['2.0.0'] }, ['junk', '2.1.0'], 'match'],
    ['semver_gt: invalid elements only', { attribute: 'apps', operator: 'semver_gt', values: ['2.0.0'] }, ['junk', 'x'], 'type_mismatch'],
    ['before: one element', { attribute: 'dates', operator: 'before', values: ['2026-01-01'] }, ['2027-01-01', '2025-01-01'], 'match'],
    ['lt: a list of strings is no number', { attribute: 'n', operator: 'lt', values: [5] }, ['1', '2'], 'type_mismatch'],
    ['in: the empty list has no listed element', { attribute: 'groups', operator: 'in', values: ['qa'] }, [], 'not_matched'],
    ['not_in: the empty list has no listed element', { attribute: 'groups', operator: 'not_in', values: ['qa'] }, [], 'match'],
    ['lt: the empty list is still no number', { attribute: 'n', operator: 'lt', values: [5] }, [], 'type_mismatch'],
    ['in numbers: the empty list is still no number', { attribute: 'n', operator: 'not_in', values: [5] }, [], 'type_mismatch'],
    ['exists: the empty list is present', { attribute: 'groups', operator: 'exists', values: [] }, [], 'match'],
  ])('%s', (_name, clause, value, expected) => {
    expect(verdict(clause, attrs({ [clause.attribute!]: value }))).toBe(expected)
  })

  it('negated: a list matches when no element does', () => {
    expect(verdict({ attribute: 'g', operator: 'contains', values: ['a'], negate: true }, attrs({ g: ['xyz', 'bcd'] }))).toBe('match')
    expect(verdict({ attribute: 'g', operator: 'contains', values: ['a'], negate: true }, attrs({ g: ['xyz', 'abc'] }))).toBe('not_matched')
  })
})

describe('Unicode: attributes and values compare in NFC', () => {
  it('has a precomposed and a decomposed café that differ as strings', () => {
    expect(CAFE_NFC).not.toBe(CAFE_NFD)
    expect(CAFE_NFD.normalize('NFC')).toBe(CAFE_NFC)
  })

  it.each<[string, Clause, unknown, Verdict]>([
    ['in: decomposed attribute, precomposed value', { attribute: 'shop', operator: 'in', values: [CAFE_NFC] }, CAFE_NFD, 'match'],
    ['in: precomposed attribute, decomposed value', { attribute: 'shop', operator: 'in', values: [CAFE_NFD] }, CAFE_NFC, 'match'],
    ['not_in: decomposed attribute, precomposed value', { attribute: 'shop', operator: 'not_in', values: [CAFE_NFC] }, CAFE_NFD, 'not_matched'],
    ['in: a list element in the other form', { attribute: 'shop', operator: 'in', values: [CAFE_NFC] }, ['x', CAFE_NFD], 'match'],
    ['starts_with: across forms', { attribute: 'shop', operator: 'starts_with', values: [CAFE_NFD] }, `${CAFE_NFC} noir`, 'match'],
    ['ends_with: across forms', { attribute: 'shop', operator: 'ends_with', values: [CAFE_NFC] }, `le ${CAFE_NFD}`, 'match'],
    ['contains: across forms', { attribute: 'shop', operator: 'contains', values: [CAFE_NFC] }, `un ${CAFE_NFD} noir`, 'match'],
    // In NFC, é is one character: the plain e of "cafe" is not a prefix of it.
    ['starts_with: "cafe" is not a prefix of café in any form', { attribute: 'shop', operator: 'starts_with', values: ['cafe'] }, CAFE_NFD, 'not_matched'],
    ['in: Kelvin sign K is the letter K', { attribute: 'unit', operator: 'in', values: ['K'] }, '\u212a', 'match'],
    ['in: emoji and CJK as they are', { attribute: 'name', operator: 'in', values: ['用户-🚀'] }, '用户-🚀', 'match'],
    ['in: a different accent does not match', { attribute: 'shop', operator: 'in', values: [CAFE_NFC] }, 'caf\u00e8', 'not_matched'],
  ])('%s', (_name, clause, value, expected) => {
    expect(verdict(clause, attrs({ [clause.attribute!]: value }))).toBe(expected)
  })

  it('userId matches in NFC too', () => {
    expect(verdict({ attribute: 'userId', operator: 'in', values: [`jos${'\u00e9'}`] }, { userId: 'jose\u0301' })).toBe('match')
  })
})

describe('inherited properties are not attributes', () => {
  const NAMES = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', '__defineGetter__']
  it.each(NAMES)('%s on a plain object is not present', (name) => {
    const ctx = attrs({ country: 'NL' })
    expect(verdict({ attribute: name, operator: 'exists', values: [] }, ctx)).toBe('not_matched')
    expect(verdict({ attribute: name, operator: 'exists', values: [], negate: true }, ctx)).toBe('match')
    expect(verdict({ attribute: name, operator: 'not_in', values: ['x'] }, ctx)).toBe('missing')
    expect(verdict({ attribute: name, operator: 'contains', values: ['function'] }, ctx)).toBe('missing')
    expect(verdict({ attribute: name, operator: 'in', values: ['x'] }, { userId: 'u' })).toBe('missing')
  })

  it('an own attribute of such a name is present (as JSON.parse makes it)', () => {
    const ctx = { attributes: JSON.parse('{"constructor": "x", "__proto__": "y", "toString": "z"}') } as Context
    expect(verdict({ attribute: 'constructor', operator: 'in', values: ['x'] }, ctx)).toBe('match')
    expect(verdict({ attribute: '__proto__', operator: 'in', values: ['y'] }, ctx)).toBe('match')
    expect(verdict({ attribute: 'toString', operator: 'in', values: ['z'] }, ctx)).toBe('match')
  })
})

describe('segments', () => {
  const beta = segment('beta', {
    users: ['alice', 'bob', CAFE_NFC],
    tenants: ['acme'],
    excludedUsers: ['bob', 'mallory'],
    excludedTenants: ['evil-corp'],
  })
  const pros = segment('pros', {
    clauses: [
      { attribute: 'plan', operator: 'in', values: ['pro', 'enterprise'] },
      { attribute: 'seats', operator: 'gte', values: [10] },
    ],
    excludedTenants: ['acme'],
    users: ['zoe'],
  })
  const listsOnly = segment('lists-only', { users: ['carol'] })

  it.each<[string, CompiledSegment, Context, boolean]>([
    ['a listed user is in', beta, { userId: 'alice' }, true],
    ['a listed tenant is in', beta, { userId: 'nobody', tenantId: 'acme' }, true],
    ['an unlisted user is out', beta, { userId: 'dave' }, false],
    ['no context is out', beta, {}, false],
    ['excluded beats included: a user both listed and excluded is out', beta, { userId: 'bob' }, false],
    ['excluded beats included: an excluded user of a listed tenant is out', beta, { userId: 'mallory', tenantId: 'acme' }, false],
    ['excluded beats included: a listed user of an excluded tenant is out', beta, { userId: 'alice', tenantId: 'evil-corp' }, false],
    ['ids match in NFC: a decomposed id finds the precomposed member', beta, { userId: CAFE_NFD }, true],
    ['ids are not attributes', beta, { attributes: { userId: 'alice' } } as Context, false],
    ['a context matching every clause is in', pros, { userId: 'u', attributes: { plan: 'pro', seats: 12 } }, true],
    ['a context matching only some clauses is out', pros, { userId: 'u', attributes: { plan: 'pro', seats: 9 } }, false],
    ['a context missing an attribute of a clause is out', pros, { userId: 'u', attributes: { plan: 'pro' } }, false],
    ['a mistyped attribute is out', pros, { userId: 'u', attributes: { plan: 'pro', seats: '12' } }, false],
    ['an excluded tenant is out whatever its clauses say', pros, { tenantId: 'acme', attributes: { plan: 'pro', seats: 12 } }, false],
    ['a listed user is in without matching the clauses', pros, { userId: 'zoe', attributes: { plan: 'free' } }, true],
    ['no clauses: only listed ids are in', listsOnly, { userId: 'carol' }, true],
    ['no clauses: nobody else', listsOnly, { userId: 'dave', attributes: { plan: 'pro' } }, false],
  ])('%s', (_name, s, ctx, expected) => {
    expect(inSegment(s, ctx)).toBe(expected)
  })

  const lookup = segmentLookup([beta, pros, listsOnly])
  it.each<[string, Clause, Context, Verdict]>([
    ['in_segment: a member', { operator: 'in_segment', values: ['beta'] }, { userId: 'alice' }, 'match'],
    ['in_segment: not a member', { operator: 'in_segment', values: ['beta'] }, { userId: 'dave' }, 'not_matched'],
    ['in_segment: a member of any of the segments', { operator: 'in_segment', values: ['beta', 'lists-only'] }, { userId: 'carol' }, 'match'],
    ['in_segment, negated: not a member', { operator: 'in_segment', values: ['beta'], negate: true }, { userId: 'dave' }, 'match'],
    ['in_segment, negated: an excluded user', { operator: 'in_segment', values: ['beta'], negate: true }, { userId: 'bob' }, 'match'],
    ['in_segment, negated: a member', { operator: 'in_segment', values: ['beta'], negate: true }, { userId: 'alice' }, 'not_matched'],
    ['in_segment: an unknown segment', { operator: 'in_segment', values: ['gone'] }, { userId: 'alice' }, 'segment_missing'],
    [
      'in_segment, negated: an unknown segment still never matches',
      { operator: 'in_segment', values: ['gone'], negate: true },
      { userId: 'x' },
      'segment_missing',
    ],
    ['in_segment: an unknown key beside a known one is skipped', { operator: 'in_segment', values: ['gone', 'beta'] }, { userId: 'alice' }, 'match'],
  ])('%s', (_name, clause, ctx, expected) => {
    expect(verdict(clause, ctx, lookup)).toBe(expected)
  })

  it('in_segment on a segment this process does not hold answers segment_not_local', () => {
    const remote: CompiledSegment = { ...segment('huge'), local: false }
    const withRemote = segmentLookup([beta, remote])
    expect(verdict({ operator: 'in_segment', values: ['huge'] }, { userId: 'alice' }, withRemote)).toBe('segment_not_local')
    expect(verdict({ operator: 'in_segment', values: ['huge'], negate: true }, { userId: 'alice' }, withRemote)).toBe('segment_not_local')
  })

  it('compileSegment holds Sets in NFC and notes the lists that need a second, normalised look-up', () => {
    const s = segment('s', { users: [CAFE_NFD, 'plain'], tenants: ['acme'], excludedUsers: ['K'], excludedTenants: [] })
    expect(s.local).toBe(true)
    expect([...s.users]).toEqual([CAFE_NFC, 'plain'])
    expect(s.nfc).toEqual({ users: true, tenants: false, excludedUsers: true, excludedTenants: false })
    expect(inSegment(s, { userId: '\u212a' })).toBe(false)
  })

  it('a segment of 100,000 members answers from its Set', () => {
    const users = Array.from({ length: 100_000 }, (_, i) => `member-${i}`)
    const big = segment('big', { users })
    expect(big.users.size).toBe(100_000)
    expect(inSegment(big, { userId: 'member-99999' })).toBe(true)
    expect(inSegment(big, { userId: 'member-100000' })).toBe(false)
  })
})

describe('attribute reads cached for one evaluation', () => {
  const flag: Flag = {
    key: 'cached',
    ...FLAG_DEFAULTS,
    state: 'beta_users',
    rules: [
      {
        id: 'a',
        clauses: [
          { attribute: 'plan', operator: 'in', values: ['pro'] },
          { attribute: 'seats', operator: 'gt', values: [100] },
        ],
        serve: { enabled: true },
      },
      { id: 'b', clauses: [{ attribute: 'plan', operator: 'in', values: ['free'] }], serve: { enabled: false } },
    ],
    model: 2,
    version: 1,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    updatedBy: 't',
  }

  it('reads a context object changed between two evaluations afresh', () => {
    const f = compileFlag(flag)
    const ctx = { userId: 'u', attributes: { plan: 'pro', seats: 500 } as Record<string, string | number> }
    expect(evaluate(f, ctx)).toMatchObject({ enabled: true, ruleId: 'a' })
    ctx.attributes.plan = 'free'
    expect(evaluate(f, ctx)).toMatchObject({ enabled: false, ruleId: 'b' })
    expect(explain('cached', f, ctx)).toMatchObject({ enabled: false, ruleId: 'b' })
    ctx.attributes.plan = 'pro'
    expect(explain('cached', f, ctx).explanation?.rules?.[0]).toEqual({ id: 'a', matched: true })
  })

  it('keeps the values of two flags, and of a segment evaluated inside a rule, apart', () => {
    const other = compileFlag(
      { ...flag, key: 'other', rules: [{ id: 'seg', clauses: [{ operator: 'in_segment', values: ['s'] }], serve: { enabled: true } }] },
      segmentLookup([segment('s', { clauses: [{ attribute: 'seats', operator: 'lt', values: [10] }] })]),
    )
    const f = compileFlag(flag)
    for (const [plan, seats] of [
      ['pro', 500],
      ['pro', 5],
      ['free', 5],
      ['x', 500],
    ] as const) {
      const ctx = { attributes: { plan, seats } }
      expect(evaluate(f, ctx).ruleId).toBe(plan === 'pro' && seats > 100 ? 'a' : plan === 'free' ? 'b' : undefined)
      expect(evaluate(other, ctx).enabled).toBe(seats < 10)
    }
  })
})

describe('evaluation never throws', () => {
  const flag = (clauses: Clause[]): Flag => ({
    key: 'f',
    ...FLAG_DEFAULTS,
    state: 'percentage',
    percentage: 50,
    rules: [{ id: 'r', clauses, serve: { enabled: true } }],
    model: 2,
    version: 1,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    updatedBy: 't',
  })
  const ALL: Clause[] = [
    { attribute: 'a', operator: 'in', values: ['x', 1, true] },
    { attribute: 'a', operator: 'not_in', values: ['x'] },
    { attribute: 'a', operator: 'starts_with', values: ['x'] },
    { attribute: 'a', operator: 'ends_with', values: ['x'] },
    { attribute: 'a', operator: 'contains', values: ['x'] },
    { attribute: 'a', operator: 'lt', values: [1] },
    { attribute: 'a', operator: 'lte', values: [1] },
    { attribute: 'a', operator: 'gt', values: [1] },
    { attribute: 'a', operator: 'gte', values: [1] },
    { attribute: 'a', operator: 'semver_eq', values: ['1.0.0'] },
    { attribute: 'a', operator: 'semver_lt', values: ['1.0.0'] },
    { attribute: 'a', operator: 'semver_gt', values: ['1.0.0'] },
    { attribute: 'a', operator: 'before', values: ['2026-01-01'] },
    { attribute: 'a', operator: 'after', values: ['2026-01-01'] },
    { attribute: 'a', operator: 'exists', values: [] },
    { operator: 'in_segment', values: ['s'] },
    { attribute: 'userId', operator: 'in', values: ['x'] },
  ]
  const lookup = segmentLookup([segment('s', { users: ['x'], clauses: [{ attribute: 'a', operator: 'contains', values: ['x'] }] })])

  it('for any JSON value as an attribute, in any clause, negated or not', () => {
    const compiled = ALL.flatMap((c) => [compileFlag(flag([c]), lookup), compileFlag(flag([{ ...c, negate: true }]), lookup)])
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        for (const f of compiled) {
          const ctx = { userId: 'u', attributes: { a: value } } as Context
          const d = evaluate(f, ctx)
          if (typeof d.enabled !== 'boolean') return false
          if (explain('f', f, ctx).enabled !== d.enabled) return false
        }
        return true
      }),
      { numRuns: 300 },
    )
  })

  it.each<[string, unknown]>([
    ['attributes: null', { attributes: null }],
    ['attributes: an array', { attributes: ['x'] }],
    ['attributes: a string', { attributes: 'abc' }],
    ['userId: a number', { userId: 42, tenantId: 7 }],
    ['userId: null', { userId: null, attributes: { a: 'x' } }],
  ])('for a context that breaks its type (%s), as plain JavaScript can pass', (_name, ctx) => {
    for (const c of ALL) {
      const f = compileFlag(flag([c]), lookup)
      expect(() => evaluate(f, ctx as Context)).not.toThrow()
      expect(() => explain('f', f, ctx as Context)).not.toThrow()
    }
  })
})
