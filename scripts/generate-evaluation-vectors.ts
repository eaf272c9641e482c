// Writes test/vectors/evaluation.json (npm run vectors): published evaluation test vectors, each a
// stored flag, the segments it names and a context, with the answer every evaluator must give. Any
// SDK proves itself against the file. Deterministic: no randomness, no clock, keys in a fixed order.
//
// Expected answers are core's engine's, but not only: the HAND cases below carry answers written
// by hand from the model's rules, and generating throws when the engine disagrees with any of them.
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { bucketFromSeed, bucketSeed } from '../packages/core/src/evaluation/bucket.js'
import { compileFlag, evaluate, ruleSeed, type Context } from '../packages/core/src/evaluation/engine.js'
import { MODEL_VERSION } from '../packages/core/src/flags/defaults.js'
import { toNfc } from '../packages/core/src/flags/identity.js'
import { settleClauses, settleRules, variantsProblem } from '../packages/core/src/flags/model.js'
import type { Clause, RuleInput } from '../packages/core/src/flags/rules.js'
import { modelOf, type Flag, type FlagState, type Schedule, type Stickiness, type Variant } from '../packages/core/src/flags/schema.js'
import { scheduleProblem } from '../packages/core/src/flags/model.js'
import { compileSegmentRecord, segmentLookup } from '../packages/core/src/segments/compile.js'
import type { Segment } from '../packages/core/src/segments/schema.js'
import { EVALUATION_VECTORS_FILE, expectationOf, type EvaluationExpectation, type EvaluationVector } from '../test/support/evaluation-vectors.js'

export { EVALUATION_VECTORS_FILE }

const STAMP = '2026-11-30T00:00:00.000Z'

interface FlagFields {
  state: FlagState
  percentage?: number
  betaUsers?: string[]
  betaTenants?: string[]
  stickiness?: Stickiness
  rules?: RuleInput[]
  variants?: Variant[]
  offVariant?: string
  schedule?: Schedule
  model?: number
}

/** A flag as the API stores and returns it: rules settled (ids, NFC), lists in NFC, every field present. */
function storedFlag(key: string, f: FlagFields): Flag {
  const settled = settleRules((f.rules ?? []).map((rule, i) => ({ ...rule, id: rule.id ?? `rule-${i + 1}` })))
  if (settled.problem) throw new Error(`flag ${key}: rules${settled.problem.field} ${settled.problem.message}`)
  const rules = settled.rules
  const variants = f.variants?.length ? { variants: f.variants, offVariant: f.offVariant } : {}
  const problem = variantsProblem({ ...variants, rules }) ?? (f.schedule ? scheduleProblem(f.schedule) : undefined)
  if (problem) throw new Error(`flag ${key}: ${problem.field} ${problem.message}`)
  const schedule = f.schedule ? { schedule: f.schedule } : {}
  return {
    key,
    description: '',
    tags: [],
    state: f.state,
    percentage: f.percentage ?? 0,
    betaUsers: [...new Set((f.betaUsers ?? []).map(toNfc))],
    betaTenants: [...new Set((f.betaTenants ?? []).map(toNfc))],
    stickiness: f.stickiness ?? 'userId',
    rules,
    ...variants,
    ...schedule,
    model: f.model ?? modelOf({ rules, ...variants, ...schedule }),
    version: 1,
    createdAt: STAMP,
    updatedAt: STAMP,
    updatedBy: 'vectors',
  }
}

interface SegmentFields {
  users?: string[]
  tenants?: string[]
  excludedUsers?: string[]
  excludedTenants?: string[]
  clauses?: Clause[]
}

/** A segment record as the API returns it. */
function storedSegment(key: string, s: SegmentFields): Segment {
  const settled = settleClauses(s.clauses ?? [])
  if (settled.problem) throw new Error(`segment ${key}: clauses${settled.problem.field} ${settled.problem.message}`)
  const ids = (list: string[] | undefined) => [...new Set((list ?? []).map(toNfc))]
  return {
    key,
    description: '',
    users: ids(s.users),
    tenants: ids(s.tenants),
    excludedUsers: ids(s.excludedUsers),
    excludedTenants: ids(s.excludedTenants),
    clauses: settled.clauses,
    version: 1,
    createdAt: STAMP,
    updatedAt: STAMP,
    updatedBy: 'vectors',
  }
}

/** Core's answer for a case, at `now` (ms) when the case has one. */
function decide(flag: Flag, segments: Segment[], context: Context, now?: number): EvaluationExpectation {
  return expectationOf(evaluate(compileFlag(flag, segmentLookup(segments.map(compileSegmentRecord))), context, now))
}

type Attr = string | number | boolean | string[]
const ctxWith = (attributes: Record<string, Attr>, ids: { userId?: string; tenantId?: string } = { userId: 'user-1' }): Context => ({ ...ids, attributes })
const show = (v: unknown) => (v === undefined ? 'missing' : JSON.stringify(v))

class Cases {
  readonly list: EvaluationVector[] = []
  private readonly names = new Set<string>()

  /** `now`: the clock at evaluation (ms), for a flag whose answer depends on it. */
  add(name: string, flag: Flag, context: Context, segments: Segment[] = [], now?: number): EvaluationExpectation {
    if (this.names.has(name)) throw new Error(`two cases named ${name}`)
    this.names.add(name)
    const expected = decide(flag, segments, context, now)
    this.list.push({ name, flag, segments, context, ...(now === undefined ? {} : { now: new Date(now).toISOString() }), expected })
    return expected
  }

  /** A case whose answer was written by hand: the engine must agree. */
  hand(name: string, flag: Flag, context: Context, expected: EvaluationExpectation, segments: Segment[] = [], now?: number): void {
    const got = this.add(`hand: ${name}`, flag, context, segments, now)
    if (JSON.stringify(got) !== JSON.stringify(expected)) {
      throw new Error(`hand-written case "${name}": the engine answers ${JSON.stringify(got)}, the case says ${JSON.stringify(expected)}`)
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Hand-written cases: each answer reasoned from the model, not taken from the engine.

const on = (ruleId?: string): EvaluationExpectation => (ruleId ? { enabled: true, reason: 'rule_match', ruleId } : { enabled: true, reason: 'enabled' })
const ruleOff = (ruleId: string): EvaluationExpectation => ({ enabled: false, reason: 'rule_match', ruleId })
const NOT_TARGETED: EvaluationExpectation = { enabled: false, reason: 'not_targeted' }
const CAFE_NFC = 'caf\u00e9'
const CAFE_NFD = 'cafe\u0301'

function handCases(cases: Cases): void {
  const oneRule = (key: string, clauses: Clause[], serve: RuleInput['serve'] = { enabled: true }, id = 'r', state: FlagState = 'beta_users', percentage = 0) =>
    storedFlag(key, { state, percentage, rules: [{ id, clauses, serve }] })
  const everyoneOff = { id: 'everyone-off', clauses: [], serve: { enabled: false } }

  cases.hand('enabled answers enabled with no context', storedFlag('hand_enabled', { state: 'enabled' }), {}, on())
  cases.hand(
    'enabled is absolute: a rule serving false to everyone is not read',
    storedFlag('hand_enabled_rules', { state: 'enabled', rules: [everyoneOff] }),
    { userId: 'u' },
    on(),
  )
  cases.hand(
    'disabled is absolute: a beta user is off',
    storedFlag('hand_disabled', { state: 'disabled', betaUsers: ['alice'] }),
    { userId: 'alice' },
    { enabled: false, reason: 'disabled' },
  )
  cases.hand(
    'beta lists come before rules: a listed user beats a rule serving false to everyone',
    storedFlag('hand_beta_first', { state: 'beta_users', betaUsers: ['alice'], rules: [everyoneOff] }),
    { userId: 'alice' },
    { enabled: true, reason: 'beta_user' },
  )
  cases.hand(
    'beta lists come before rules: a listed tenant too',
    storedFlag('hand_beta_first', { state: 'percentage', percentage: 0, betaTenants: ['acme'], rules: [everyoneOff] }),
    { userId: 'bob', tenantId: 'acme' },
    { enabled: true, reason: 'beta_tenant' },
  )
  cases.hand('a rule without clauses matches every context', oneRule('hand_everyone', [], { enabled: true }, 'everyone'), {}, on('everyone'))
  const benelux = oneRule('hand_benelux', [{ attribute: 'country', operator: 'in', values: ['NL', 'BE'] }], { enabled: true }, 'benelux')
  cases.hand('in: a listed country matches', benelux, ctxWith({ country: 'BE' }), on('benelux'))
  cases.hand('in: another country falls through to not_targeted', benelux, ctxWith({ country: 'DE' }), NOT_TARGETED)
  const noDutch = oneRule('hand_no_dutch', [{ attribute: 'country', operator: 'in', values: ['NL'] }], { enabled: false }, 'no-nl', 'percentage', 100)
  cases.hand('a matching rule serving false beats a 100 % rollout', noDutch, ctxWith({ country: 'NL' }), ruleOff('no-nl'))
  cases.hand('no rule matches: the 100 % rollout decides', noDutch, ctxWith({ country: 'DE' }), { enabled: true, reason: 'percentage_in' })
  cases.hand('no rule matches: a 0 % rollout is percentage_out', { ...noDutch, percentage: 0 }, ctxWith({ country: 'DE' }), {
    enabled: false,
    reason: 'percentage_out',
  })
  cases.hand('no rule matches and no userId: missing_context', noDutch, ctxWith({ country: 'DE' }, {}), { enabled: false, reason: 'missing_context' })
  const notDutch = oneRule('hand_not_in', [{ attribute: 'country', operator: 'not_in', values: ['NL'] }], { enabled: true }, 'not-nl')
  cases.hand('not_in: an unlisted country matches', notDutch, ctxWith({ country: 'DE' }), on('not-nl'))
  cases.hand('not_in: a number where strings are listed is mistyped and never matches', notDutch, ctxWith({ country: 5 }), NOT_TARGETED)
  cases.hand('not_in: a missing attribute never matches', notDutch, ctxWith({ region: 'EU' }), NOT_TARGETED)
  const inNegated = oneRule('hand_in_negated', [{ attribute: 'country', operator: 'in', values: ['NL'], negate: true }], { enabled: true }, 'neg')
  cases.hand('in negated: the listed value does not match', inNegated, ctxWith({ country: 'NL' }), NOT_TARGETED)
  cases.hand('in negated: a mistyped value still does not match', inNegated, ctxWith({ country: true }), NOT_TARGETED)
  const minors = oneRule('hand_lt', [{ attribute: 'age', operator: 'lt', values: [18] }], { enabled: true }, 'minor')
  cases.hand('lt: 17 < 18', minors, ctxWith({ age: 17 }), on('minor'))
  cases.hand('lt: the string "17" is not a number', minors, ctxWith({ age: '17' }), NOT_TARGETED)
  cases.hand(
    'gte negated: 18 is >= 18, so the negated clause fails',
    oneRule('hand_gte', [{ attribute: 'age', operator: 'gte', values: [18], negate: true }]),
    ctxWith({ age: 18 }),
    NOT_TARGETED,
  )
  cases.hand(
    'semver_lt: a release candidate comes before its release',
    oneRule('hand_semver', [{ attribute: 'app', operator: 'semver_lt', values: ['2.0.0'] }]),
    ctxWith({ app: '2.0.0-rc.1' }),
    on('r'),
  )
  cases.hand(
    'semver_gt: beta.11 is after beta.2 (numeric identifiers)',
    oneRule('hand_semver', [{ attribute: 'app', operator: 'semver_gt', values: ['1.0.0-beta.2'] }]),
    ctxWith({ app: '1.0.0-beta.11' }),
    on('r'),
  )
  cases.hand(
    'semver_gt: alpha.1 is before alpha.beta (numeric below alphanumeric)',
    oneRule('hand_semver', [{ attribute: 'app', operator: 'semver_gt', values: ['1.0.0-alpha.beta'] }]),
    ctxWith({ app: '1.0.0-alpha.1' }),
    NOT_TARGETED,
  )
  cases.hand(
    'semver_eq: build metadata is ignored',
    oneRule('hand_semver', [{ attribute: 'app', operator: 'semver_eq', values: ['1.0.0'] }]),
    ctxWith({ app: '1.0.0+build.5' }),
    on('r'),
  )
  cases.hand(
    'semver_eq: "1.0" is no version, so not even the negated clause matches',
    oneRule('hand_semver', [{ attribute: 'app', operator: 'semver_eq', values: ['1.0.0'], negate: true }]),
    ctxWith({ app: '1.0' }),
    NOT_TARGETED,
  )
  cases.hand(
    'before: 00:30 at +01:00 is 23:30Z the day before',
    oneRule('hand_dates', [{ attribute: 'signup', operator: 'before', values: ['2026-03-01T00:00:00Z'] }]),
    ctxWith({ signup: '2026-03-01T00:30:00+01:00' }),
    on('r'),
  )
  cases.hand(
    'after: 20:00 at -05:00 is 01:00Z the next day',
    oneRule('hand_dates', [{ attribute: 'signup', operator: 'after', values: ['2026-03-01'] }]),
    ctxWith({ signup: '2026-02-28T20:00:00-05:00' }),
    on('r'),
  )
  cases.hand(
    'before: a date-time without a zone is no instant',
    oneRule('hand_dates', [{ attribute: 'signup', operator: 'before', values: ['2030-01-01'] }]),
    ctxWith({ signup: '2026-03-01T09:00:00' }),
    NOT_TARGETED,
  )
  cases.hand(
    'before: Feb 29 of a non-leap year is no date',
    oneRule('hand_dates', [{ attribute: 'signup', operator: 'before', values: ['2030-01-01'] }]),
    ctxWith({ signup: '2025-02-29' }),
    NOT_TARGETED,
  )
  cases.hand(
    'exists: an empty string is present',
    oneRule('hand_exists', [{ attribute: 'plan', operator: 'exists', values: [] }]),
    ctxWith({ plan: '' }),
    on('r'),
  )
  cases.hand(
    'exists negated: an absent attribute matches',
    oneRule('hand_exists', [{ attribute: 'plan', operator: 'exists', values: [], negate: true }]),
    ctxWith({ country: 'NL' }),
    on('r'),
  )
  cases.hand(
    'exists: "constructor" is no attribute of a context that does not send it',
    oneRule('hand_exists', [{ attribute: 'constructor', operator: 'exists', values: [] }]),
    ctxWith({ plan: 'pro' }),
    NOT_TARGETED,
  )
  cases.hand(
    'in: a decomposed café matches the stored (NFC) café',
    oneRule('hand_nfc', [{ attribute: 'shop', operator: 'in', values: [CAFE_NFC] }]),
    ctxWith({ shop: CAFE_NFD }),
    on('r'),
  )
  cases.hand(
    'beta list: a decomposed José is the listed José',
    storedFlag('hand_nfc', { state: 'beta_users', betaUsers: ['Jos\u00e9'] }),
    { userId: 'Jose\u0301' },
    { enabled: true, reason: 'beta_user' },
  )
  cases.hand(
    'a list of strings matches when one element does',
    oneRule('hand_list', [{ attribute: 'groups', operator: 'in', values: ['qa'] }]),
    ctxWith({ groups: ['dev', 'qa'] }),
    on('r'),
  )
  const ordered = storedFlag('hand_order', {
    state: 'beta_users',
    rules: [
      { id: 'pro-off', clauses: [{ attribute: 'plan', operator: 'in', values: ['pro'] }], serve: { enabled: false } },
      { id: 'dutch-on', clauses: [{ attribute: 'country', operator: 'in', values: ['NL'] }], serve: { enabled: true } },
    ],
  })
  cases.hand('rule order: the first matching rule decides', ordered, ctxWith({ plan: 'pro', country: 'NL' }), ruleOff('pro-off'))
  cases.hand('rule order: a later rule decides when earlier ones do not match', ordered, ctxWith({ plan: 'free', country: 'NL' }), on('dutch-on'))
  cases.hand(
    'all clauses must match: the second clause missing fails the rule',
    storedFlag('hand_and', {
      state: 'beta_users',
      rules: [
        {
          id: 'both',
          clauses: [
            { attribute: 'country', operator: 'in', values: ['NL'] },
            { attribute: 'plan', operator: 'in', values: ['pro'] },
          ],
          serve: { enabled: true },
        },
      ],
    }),
    ctxWith({ country: 'NL' }),
    NOT_TARGETED,
  )
  const testers = storedSegment('testers', { users: ['alice', 'bob'], excludedUsers: ['bob'], excludedTenants: ['evil-corp'] })
  const inTesters = oneRule('hand_segment', [{ operator: 'in_segment', values: ['testers'] }], { enabled: true }, 'testers')
  cases.hand('segment: a listed user is in', inTesters, { userId: 'alice' }, on('testers'), [testers])
  cases.hand('segment: a user both listed and excluded is out', inTesters, { userId: 'bob' }, NOT_TARGETED, [testers])
  cases.hand('segment: a listed user of an excluded tenant is out', inTesters, { userId: 'alice', tenantId: 'evil-corp' }, NOT_TARGETED, [testers])
  cases.hand(
    'segment: a context matching all its clauses is in',
    oneRule('hand_segment', [{ operator: 'in_segment', values: ['staff'] }], { enabled: true }, 'staff'),
    ctxWith({ email: 'ann@corp.example' }),
    on('staff'),
    [storedSegment('staff', { clauses: [{ attribute: 'email', operator: 'ends_with', values: ['@corp.example'] }] })],
  )
  cases.hand(
    'segment: an unknown segment never matches',
    oneRule('hand_segment', [{ operator: 'in_segment', values: ['gone'] }]),
    { userId: 'alice' },
    NOT_TARGETED,
  )
  cases.hand(
    'segment: an unknown segment never matches, negated either',
    oneRule('hand_segment', [{ operator: 'in_segment', values: ['gone'], negate: true }]),
    { userId: 'alice' },
    NOT_TARGETED,
  )
  cases.hand(
    'segment negated: a non-member matches',
    oneRule('hand_segment', [{ operator: 'in_segment', values: ['testers'], negate: true }]),
    { userId: 'carol' },
    on('r'),
    [testers],
  )
  cases.hand(
    'rule percentage: no userId to bucket is missing_context, naming the rule',
    oneRule('hand_rule_pct', [], { percentage: 100 }, 'half'),
    ctxWith({}, { tenantId: 'acme' }),
    { enabled: false, reason: 'missing_context', ruleId: 'half' },
  )
  cases.hand(
    'rule percentage: 100 % by tenant is on',
    oneRule('hand_rule_pct', [], { percentage: 100, stickiness: 'tenantId' }, 'tenants'),
    { tenantId: 'acme' },
    on('tenants'),
  )
  cases.hand('rule percentage: 0 % is off, naming the rule', oneRule('hand_rule_pct', [], { percentage: 0 }, 'none'), { userId: 'u' }, ruleOff('none'))
  cases.hand(
    'a flag of a newer model answers unsupported_model',
    storedFlag('hand_model', { state: 'enabled', model: MODEL_VERSION + 1 }),
    { userId: 'u' },
    {
      enabled: false,
      reason: 'unsupported_model',
    },
  )
}

// ---------------------------------------------------------------------------------------------
// Generated cases: systematic, answers from core's engine.

/** Per operator, clauses and the attribute values probed against them (undefined: absent). */
const OPERATOR_PROBES: { clause: Clause; probes: (Attr | undefined)[] }[] = [
  {
    clause: { attribute: 'country', operator: 'in', values: ['NL', 'BE'] },
    probes: ['NL', 'BE', 'DE', 'nl', '', ['DE', 'BE'], ['DE'], [], 5, true, undefined],
  },
  { clause: { attribute: 'seats', operator: 'in', values: [1, 2.5, -3] }, probes: [1, 2.5, -3, 3, 0, '1', true, ['1'], [], undefined] },
  { clause: { attribute: 'beta', operator: 'in', values: [true] }, probes: [true, false, 'true', 1, undefined] },
  { clause: { attribute: 'tier', operator: 'in', values: ['gold', 3] }, probes: ['gold', 3, 'silver', 4, false, ['x', 'gold'], undefined] },
  { clause: { attribute: 'country', operator: 'not_in', values: ['NL', 'BE'] }, probes: ['NL', 'DE', '', ['DE', 'FR'], ['DE', 'NL'], [], 5, false, undefined] },
  { clause: { attribute: 'seats', operator: 'not_in', values: [10] }, probes: [10, 11, '11', [], undefined] },
  {
    clause: { attribute: 'email', operator: 'starts_with', values: ['admin@', 'root@'] },
    probes: ['admin@example.com', 'root@x', 'admin@', 'x-admin@example.com', 'ADMIN@example.com', '', ['x', 'root@y'], 42, true, undefined],
  },
  {
    clause: { attribute: 'email', operator: 'ends_with', values: ['@example.com'] },
    probes: ['ann@example.com', '@example.com', 'ann@example.com.evil', 'ann@EXAMPLE.com', ['a@b.c', 'z@example.com'], 7, undefined],
  },
  {
    clause: { attribute: 'agent', operator: 'contains', values: ['Firefox', 'Safari/'] },
    probes: ['Mozilla/5.0 Firefox/130', 'AppleWebKit Safari/605', 'Safari', 'firefox', ['Chrome', 'Edge'], 130, undefined],
  },
  { clause: { attribute: 'seats', operator: 'lt', values: [10] }, probes: [9, 9.999, 10, 11, -1, 0, '9', true, ['9'], [], undefined] },
  { clause: { attribute: 'seats', operator: 'lte', values: [10] }, probes: [10, 10.001, 9, '10', undefined] },
  { clause: { attribute: 'seats', operator: 'gt', values: [10, 100] }, probes: [11, 10, 101, 1e9, -1e9, '11', false, undefined] },
  { clause: { attribute: 'seats', operator: 'gte', values: [0.5] }, probes: [0.5, 0.4999, 1, '0.5', [], undefined] },
  {
    clause: { attribute: 'app', operator: 'semver_eq', values: ['2.4.0'] },
    probes: ['2.4.0', 'v2.4.0', '2.4.0+ios.77', '2.4.0-rc.1', '2.4.1', '2.4', 240, ['2.3.0', '2.4.0'], undefined],
  },
  {
    clause: { attribute: 'app', operator: 'semver_lt', values: ['2.0.0'] },
    probes: ['1.9.9', '1.10.0', '2.0.0-rc.1', '2.0.0', '10.0.0', 'latest', ['junk', '1.0.0'], undefined],
  },
  {
    clause: { attribute: 'app', operator: 'semver_gt', values: ['1.0.0-beta.2'] },
    probes: ['1.0.0-beta.11', '1.0.0-beta.2', '1.0.0-beta', '1.0.0', '01.0.0', undefined],
  },
  {
    clause: { attribute: 'signup', operator: 'before', values: ['2026-03-01T00:00:00Z'] },
    probes: [
      '2026-02-28',
      '2026-03-01',
      '2026-02-28T23:59:59.999Z',
      '2026-03-01T00:30:00+01:00',
      '2026-02-28T20:00:00-05:00',
      '2026-02-28T10:00:00',
      1772323200000,
      undefined,
    ],
  },
  {
    clause: { attribute: 'signup', operator: 'after', values: ['2026-03-01'] },
    probes: [
      '2026-03-02',
      '2026-03-01',
      '2026-03-01T00:00:00.001Z',
      '2026-02-28T20:00:00-05:00',
      '2026-03-01T08:59:00+09:00',
      '2026-02-29',
      'tomorrow',
      undefined,
    ],
  },
  { clause: { attribute: 'plan', operator: 'exists', values: [] }, probes: ['pro', '', 0, false, [], undefined] },
  { clause: { attribute: 'userId', operator: 'in', values: ['alice', 'bob'] }, probes: [] },
  { clause: { attribute: 'tenantId', operator: 'starts_with', values: ['acme-'] }, probes: [] },
]

function operatorCases(cases: Cases): void {
  for (const [i, { clause, probes }] of OPERATOR_PROBES.entries()) {
    for (const negate of [false, true]) {
      // Not negated: beta_users, the rule serves true (a miss is not_targeted). Negated: a 100 %
      // rollout, the rule serves false (a miss is percentage_in), so both serves are exercised.
      const c: Clause = negate ? { ...clause, negate: true } : clause
      const flag = negate
        ? storedFlag(`op_${i}_negated`, { state: 'percentage', percentage: 100, rules: [{ id: 'clause', clauses: [c], serve: { enabled: false } }] })
        : storedFlag(`op_${i}`, { state: 'beta_users', rules: [{ id: 'clause', clauses: [c], serve: { enabled: true } }] })
      const label = `operators: ${clause.operator} ${JSON.stringify(clause.values)}${negate ? ' negated' : ''}`
      if (clause.attribute === 'userId' || clause.attribute === 'tenantId') {
        const ids =
          clause.attribute === 'userId'
            ? [{ userId: 'alice' }, { userId: 'carol' }, { userId: 'Alice' }, { tenantId: 'alice' }, { userId: 'bob', attributes: { userId: 'x' } }]
            : [
                { userId: 'u', tenantId: 'acme-eu' },
                { userId: 'u', tenantId: 'acme' },
                { userId: 'u', tenantId: 'globex' },
                { userId: 'u', attributes: { tenantId: 'acme-x' } },
              ]
        for (const ctx of ids) cases.add(`${label}: ${JSON.stringify(ctx)}`, flag, ctx)
        continue
      }
      for (const probe of probes) {
        const ctx = probe === undefined ? ctxWith({ other: 'x' }) : ctxWith({ [clause.attribute!]: probe })
        cases.add(`${label}: ${clause.attribute} ${show(probe)}`, flag, ctx)
      }
      cases.add(`${label}: no attributes at all`, flag, { userId: 'user-1' })
    }
  }
}

// SemVer 2.0, item 11, ascending, then build metadata and the v prefix.
const SEMVER_ORDER = ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0']

function semverCases(cases: Cases): void {
  for (const operator of ['semver_eq', 'semver_lt', 'semver_gt'] as const) {
    for (const value of SEMVER_ORDER) {
      const flag = storedFlag('semver_order', {
        state: 'beta_users',
        rules: [{ id: 'version', clauses: [{ attribute: 'app', operator, values: [value] }], serve: { enabled: true } }],
      })
      for (const app of SEMVER_ORDER) cases.add(`semver pre-releases: ${app} ${operator} ${value}`, flag, ctxWith({ app }))
    }
  }
  const extra: [string, string, string][] = [
    ['semver_eq', '1.0.0', '1.0.0+20130313144700'],
    ['semver_eq', '1.0.0-rc.1', 'v1.0.0-rc.1+exp.sha.5114f85'],
    ['semver_lt', '1.0.0', '1.0.0-0'],
    ['semver_gt', '1.0.0-0', '1.0.0-0.0'],
    ['semver_lt', '1.0.0-x-y', '1.0.0-x.y'],
    ['semver_lt', '1.0.0-alpha', '1.0.0-Alpha'],
    ['semver_gt', '1.0.0-1', '1.0.0-0a'],
    ['semver_gt', '1.0.0-99999999999999999', '1.0.0-100000000000000000'],
    ['semver_lt', '1.0.0-100000000000000000', '1.0.0-99999999999999999'],
    ['semver_gt', '0.9.9', '0.10.0'],
    ['semver_lt', '10.0.0', '9.99.999'],
    ['semver_eq', '1.2.3', '1.2.3-'],
    ['semver_eq', '1.2.3', '1.2.03'],
    ['semver_eq', '1.2.3', '1.2.3.4'],
  ]
  for (const [operator, value, app] of extra) {
    const flag = storedFlag('semver_edges', {
      state: 'beta_users',
      rules: [{ id: 'version', clauses: [{ attribute: 'app', operator: operator as Clause['operator'], values: [value] }], serve: { enabled: true } }],
    })
    cases.add(`semver edges: ${app} ${operator} ${value}`, flag, ctxWith({ app }))
  }
}

// One instant, 2026-03-01T00:00:00Z, written in several zones, and instants either side of it.
const INSTANTS = [
  '2026-03-01',
  '2026-03-01T00:00:00Z',
  '2026-03-01T01:00:00+01:00',
  '2026-02-28T19:00:00-05:00',
  '2026-03-01T05:30:00+05:30',
  '2026-03-01T14:00:00+1400',
  '2026-02-28T23:59:59.999Z',
  '2026-03-01T00:00:00.001Z',
  '2026-03-01T00:59:59+01:00',
  '2026-02-28T19:00:01-05:00',
  '2026-02-28T12:00:00-12:00',
  '2026-03-01t00:00:00z',
  '2026-03-01 09:00:00+09:00',
  '2024-02-29T12:00:00+02:00',
  '0099-12-31T23:59:59Z',
]
const CLAUSE_INSTANTS = ['2026-03-01', '2026-03-01T09:00:00+09:00', '2026-02-28T19:00:00.000-05:00', '2026-03-01T00:00:00.0005Z']
const NOT_INSTANTS = ['2026-03-01T00:00:00', '2025-02-29', '2026-02-30T00:00:00Z', '2026-03-01T24:00:00Z', '2026-03-01T00:00:00+24:00', '2026/03/01', '']

function dateCases(cases: Cases): void {
  for (const operator of ['before', 'after'] as const) {
    for (const value of CLAUSE_INSTANTS) {
      const flag = storedFlag('dates_zones', {
        state: 'beta_users',
        rules: [{ id: 'date', clauses: [{ attribute: 'at', operator, values: [value] }], serve: { enabled: true } }],
      })
      for (const at of INSTANTS) cases.add(`dates across zones: ${at} ${operator} ${value}`, flag, ctxWith({ at }))
      for (const at of NOT_INSTANTS) cases.add(`dates refused: ${JSON.stringify(at)} ${operator} ${value}`, flag, ctxWith({ at }))
    }
  }
}

function unicodeCases(cases: Cases): void {
  const strings: [string, string][] = [
    ['café precomposed', CAFE_NFC],
    ['café decomposed', CAFE_NFD],
    ['Kelvin sign', '\u212a'],
    ['letter K', 'K'],
    ['Ångström sign', '\u212b'],
    ['Å precomposed', '\u00c5'],
    ['A + ring', 'A\u030a'],
    ['Hangul syllable', '\ud55c'],
    ['Hangul jamo', '\u1112\u1161\u11ab'],
    ['CJK', '用户-42'],
    ['emoji', 'user-🚀'],
    ['ZWJ family', '👨‍👩‍👧'],
    ['Arabic', 'مستخدم'],
    ['Cyrillic', 'пользователь'],
  ]
  const targets: [string, Clause][] = [
    ['in café', { attribute: 'name', operator: 'in', values: [CAFE_NFC] }],
    ['in K', { attribute: 'name', operator: 'in', values: ['K'] }],
    ['in Å', { attribute: 'name', operator: 'in', values: ['\u00c5'] }],
    ['in 한', { attribute: 'name', operator: 'in', values: ['\ud55c'] }],
    ['starts_with caf', { attribute: 'name', operator: 'starts_with', values: ['caf'] }],
    ['starts_with cafe', { attribute: 'name', operator: 'starts_with', values: ['cafe'] }],
    ['ends_with é', { attribute: 'name', operator: 'ends_with', values: ['\u00e9'] }],
    ['contains 🚀', { attribute: 'name', operator: 'contains', values: ['🚀'] }],
    ['contains 👩', { attribute: 'name', operator: 'contains', values: ['👩'] }],
    ['not_in café', { attribute: 'name', operator: 'not_in', values: [CAFE_NFD] }],
  ]
  for (const [label, clause] of targets) {
    const flag = storedFlag('unicode_clauses', { state: 'beta_users', rules: [{ id: 'name', clauses: [clause], serve: { enabled: true } }] })
    for (const [what, name] of strings) cases.add(`unicode: ${what} vs ${label}`, flag, ctxWith({ name }))
  }
  const beta = storedFlag('unicode_beta', { state: 'beta_users', betaUsers: [CAFE_NFD, 'Jos\u00e9', '\u212a', '🚀'], betaTenants: ['A\u030angström'] })
  for (const [what, id] of [...strings, ['José decomposed', 'Jose\u0301'] as [string, string], ['Ångström precomposed', '\u00c5ngström'] as [string, string]]) {
    cases.add(`unicode: beta lists (stored in NFC) for userId ${what}`, beta, { userId: id })
    cases.add(`unicode: beta lists (stored in NFC) for tenantId ${what}`, beta, { userId: 'nobody', tenantId: id })
  }
  const members = storedSegment('unicode-members', { users: [CAFE_NFD, '用户-42'], excludedUsers: ['\u212a'], tenants: ['K'] })
  const flag = storedFlag('unicode_segment', {
    state: 'beta_users',
    rules: [{ id: 'members', clauses: [{ operator: 'in_segment', values: ['unicode-members'] }], serve: { enabled: true } }],
  })
  for (const [what, id] of strings) cases.add(`unicode: segment members (stored in NFC) for userId ${what}`, flag, { userId: id, tenantId: 'K' }, [members])
}

function ruleOrderCases(cases: Cases): void {
  const flag = storedFlag('rule_order', {
    state: 'percentage',
    percentage: 50,
    betaUsers: ['vip'],
    rules: [
      { id: 'blocked', clauses: [{ attribute: 'country', operator: 'in', values: ['KP'] }], serve: { enabled: false } },
      {
        id: 'dutch-pro',
        clauses: [
          { attribute: 'country', operator: 'in', values: ['NL'] },
          { attribute: 'plan', operator: 'in', values: ['pro', 'enterprise'] },
        ],
        serve: { enabled: true },
      },
      { id: 'staff', clauses: [{ attribute: 'email', operator: 'ends_with', values: ['@corp.example'] }], serve: { enabled: true } },
      { id: 'old-app', clauses: [{ attribute: 'app', operator: 'semver_lt', values: ['2.0.0'] }], serve: { enabled: false } },
      { id: 'dutch-half', clauses: [{ attribute: 'country', operator: 'in', values: ['NL'] }], serve: { percentage: 50 } },
    ],
  })
  const countries = ['KP', 'NL', 'DE', undefined]
  const plans = ['pro', 'free', undefined]
  const emails = ['ann@corp.example', 'ann@gmail.example', undefined]
  const apps = ['1.9.0', '2.0.0', 'x']
  let n = 0
  for (const country of countries) {
    for (const plan of plans) {
      for (const email of emails) {
        for (const app of apps) {
          const attributes: Record<string, Attr> = {}
          if (country !== undefined) attributes.country = country
          if (plan !== undefined) attributes.plan = plan
          if (email !== undefined) attributes.email = email
          attributes.app = app
          const userId = n % 7 === 0 ? 'vip' : `user-${n}`
          cases.add(`rule order: ${userId} ${JSON.stringify(attributes)}`, flag, { userId, attributes })
          n++
        }
      }
    }
  }
  for (const id of ['first', 'second']) {
    const reversed = storedFlag(`rule_order_${id}`, {
      state: 'beta_users',
      rules:
        id === 'first'
          ? [
              { id: 'on', clauses: [], serve: { enabled: true } },
              { id: 'off', clauses: [], serve: { enabled: false } },
            ]
          : [
              { id: 'off', clauses: [], serve: { enabled: false } },
              { id: 'on', clauses: [], serve: { enabled: true } },
            ],
    })
    cases.add(`rule order: two rules matching everyone, ${id === 'first' ? 'on' : 'off'} first`, reversed, { userId: 'u' })
  }
}

function segmentCases(cases: Cases): void {
  const segments = [
    storedSegment('beta-testers', {
      users: ['alice', 'bob', 'zoe'],
      tenants: ['acme'],
      excludedUsers: ['bob', 'mallory'],
      excludedTenants: ['evil-corp'],
    }),
    storedSegment('pros', {
      users: ['zoe'],
      excludedTenants: ['acme'],
      clauses: [
        { attribute: 'plan', operator: 'in', values: ['pro', 'enterprise'] },
        { attribute: 'seats', operator: 'gte', values: [10] },
      ],
    }),
    storedSegment('everyone-but', { excludedUsers: ['mallory'], clauses: [{ attribute: 'seats', operator: 'exists', values: [] }] }),
  ]
  const contexts: Context[] = [
    { userId: 'alice' },
    { userId: 'bob' },
    { userId: 'zoe', tenantId: 'acme' },
    { userId: 'carol', tenantId: 'acme' },
    { userId: 'mallory', tenantId: 'acme' },
    { userId: 'alice', tenantId: 'evil-corp' },
    { userId: 'dave', attributes: { plan: 'pro', seats: 12 } },
    { userId: 'dave', attributes: { plan: 'pro', seats: 9 } },
    { userId: 'dave', attributes: { plan: 'pro', seats: '12' } },
    { userId: 'dave', attributes: { plan: 'pro' } },
    { userId: 'dave', tenantId: 'acme', attributes: { plan: 'enterprise', seats: 50 } },
    { userId: 'mallory', attributes: { plan: 'pro', seats: 50 } },
    { attributes: { plan: 'pro', seats: 10 } },
    { tenantId: 'acme' },
    {},
  ]
  const clauses: [string, Clause[]][] = [
    ['in_segment beta-testers', [{ operator: 'in_segment', values: ['beta-testers'] }]],
    ['in_segment pros', [{ operator: 'in_segment', values: ['pros'] }]],
    ['in_segment everyone-but', [{ operator: 'in_segment', values: ['everyone-but'] }]],
    ['in_segment beta-testers or pros', [{ operator: 'in_segment', values: ['beta-testers', 'pros'] }]],
    ['in_segment beta-testers negated', [{ operator: 'in_segment', values: ['beta-testers'], negate: true }]],
    [
      'in_segment pros and not beta-testers',
      [
        { operator: 'in_segment', values: ['pros'] },
        { operator: 'in_segment', values: ['beta-testers'], negate: true },
      ],
    ],
    ['in_segment unknown', [{ operator: 'in_segment', values: ['no-such-segment'] }]],
    ['in_segment unknown negated', [{ operator: 'in_segment', values: ['no-such-segment'], negate: true }]],
    ['in_segment unknown or beta-testers', [{ operator: 'in_segment', values: ['no-such-segment', 'beta-testers'] }]],
  ]
  for (const [i, [label, c]] of clauses.entries()) {
    const flag = storedFlag(`segments_${i}`, { state: 'beta_users', rules: [{ id: 'segment', clauses: c, serve: { enabled: true } }] })
    // The segments a case carries are those of its flag's rules that exist.
    const named = new Set(c.flatMap((x) => x.values.map(String)))
    const held = segments.filter((s) => named.has(s.key))
    for (const ctx of contexts) cases.add(`segments with exclusions: ${label} for ${JSON.stringify(ctx)}`, flag, ctx, held)
  }
}

function rulePercentageCases(cases: Cases): void {
  const flag = storedFlag('rule_rollout', {
    state: 'beta_users',
    rules: [
      { id: 'dutch-30', clauses: [{ attribute: 'country', operator: 'in', values: ['NL'] }], serve: { percentage: 30 } },
      { id: 'tenants-12.5', clauses: [{ attribute: 'country', operator: 'in', values: ['BE'] }], serve: { percentage: 12.5, stickiness: 'tenantId' } },
      { id: 'rest-70', clauses: [], serve: { percentage: 70 } },
    ],
  })
  for (let i = 0; i < 60; i++) cases.add(`rule percentages: 30 % by userId, user-${i * 7919}`, flag, ctxWith({ country: 'NL' }, { userId: `user-${i * 7919}` }))
  for (let i = 0; i < 30; i++)
    cases.add(`rule percentages: 12.5 % by tenantId, tenant-${i}`, flag, ctxWith({ country: 'BE' }, { userId: 'u', tenantId: `tenant-${i}` }))
  for (let i = 0; i < 30; i++) cases.add(`rule percentages: 70 % for the rest, user-${i}`, flag, ctxWith({ country: 'DE' }, { userId: `user-${i}` }))
  cases.add('rule percentages: by tenantId without a tenantId', flag, ctxWith({ country: 'BE' }, { userId: 'u' }))
  cases.add('rule percentages: by userId without a userId', flag, ctxWith({ country: 'NL' }, { tenantId: 't' }))
  // The seed is `<flagKey>:<ruleId>:`, not the flag's: the same id lands in different buckets.
  for (const userId of ['user-42', 'José', '用户-42', '🚀']) {
    const ruleBucket = bucketFromSeed(ruleSeed('rule_edges', 'edge'), userId)
    for (const [what, threshold] of [
      ['just above', ruleBucket + 1],
      ['equal to', ruleBucket],
    ] as const) {
      const edge = storedFlag('rule_edges', {
        state: 'percentage',
        percentage: 100,
        rules: [{ id: 'edge', clauses: [], serve: { percentage: threshold / 1000 } }],
      })
      cases.add(`rule percentages: threshold ${what} ${userId}'s bucket ${ruleBucket}`, edge, { userId })
    }
  }
  // Beside a flag-level rollout, which the rule's percentage does not replace for non-matching contexts.
  const both = storedFlag('rule_and_flag_rollout', {
    state: 'percentage',
    percentage: 50,
    rules: [{ id: 'pro-half', clauses: [{ attribute: 'plan', operator: 'in', values: ['pro'] }], serve: { percentage: 50 } }],
  })
  for (let i = 0; i < 20; i++) {
    cases.add(`rule percentages: pro through the rule, user-${i}`, both, ctxWith({ plan: 'pro' }, { userId: `user-${i}` }))
    cases.add(`rule percentages: free through the flag's rollout, user-${i}`, both, ctxWith({ plan: 'free' }, { userId: `user-${i}` }))
  }
}

function stateCases(cases: Cases): void {
  const states: FlagState[] = ['enabled', 'disabled', 'beta_users', 'percentage']
  const contexts: Context[] = [
    {},
    { userId: 'alice' },
    { tenantId: 'acme' },
    { userId: 'bob', tenantId: 'acme' },
    { userId: 'carol', tenantId: 'globex' },
    { userId: 'Alice' },
    { userId: 'carol', attributes: { country: 'NL' } },
    { tenantId: 'globex', attributes: { country: 'NL' } },
  ]
  for (const state of states) {
    for (const withRules of [false, true]) {
      for (const stickiness of ['userId', 'tenantId'] as const) {
        if (stickiness === 'tenantId' && state !== 'percentage') continue
        const flag = storedFlag(`states_${state}`, {
          state,
          percentage: 50,
          betaUsers: ['alice'],
          betaTenants: ['acme'],
          stickiness,
          rules: withRules ? [{ id: 'dutch-off', clauses: [{ attribute: 'country', operator: 'in', values: ['NL'] }], serve: { enabled: false } }] : [],
        })
        for (const ctx of contexts) cases.add(`states: ${state}${withRules ? ' with a rule' : ''}, stickiness ${stickiness}, ${JSON.stringify(ctx)}`, flag, ctx)
      }
    }
  }
  for (const model of [1, 2, 3, 4]) {
    const flag = storedFlag('states_model', { state: 'percentage', percentage: 100, model })
    cases.add(`states: model ${model}`, flag, { userId: 'u' })
  }
}

function missingAndMistypedCases(cases: Cases): void {
  // Two rules: the first needs attributes the context may lack or mistype; the second catches all.
  const flag = storedFlag('missing_mistyped', {
    state: 'beta_users',
    rules: [
      {
        id: 'strict',
        clauses: [
          { attribute: 'plan', operator: 'not_in', values: ['free'] },
          { attribute: 'seats', operator: 'lt', values: [100], negate: true },
          { attribute: 'app', operator: 'semver_gt', values: ['1.0.0'], negate: true },
        ],
        serve: { enabled: true },
      },
      { id: 'fallback', clauses: [{ attribute: 'plan', operator: 'exists', values: [], negate: true }], serve: { enabled: false } },
    ],
  })
  const plans: (Attr | undefined)[] = ['pro', 'free', 1, true, ['pro'], [], undefined]
  const seats: (Attr | undefined)[] = [150, 50, '150', undefined]
  const apps: (Attr | undefined)[] = ['0.9.0', '1.0.1', 'v0', undefined]
  for (const plan of plans) {
    for (const seat of seats) {
      for (const app of apps) {
        const attributes: Record<string, Attr> = {}
        if (plan !== undefined) attributes.plan = plan
        if (seat !== undefined) attributes.seats = seat
        if (app !== undefined) attributes.app = app
        cases.add(`missing and mistyped: plan ${show(plan)}, seats ${show(seat)}, app ${show(app)}`, flag, ctxWith(attributes))
      }
    }
  }
  for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf']) {
    for (const operator of ['exists', 'not_in'] as const) {
      const rule = { id: 'inherited', clauses: [{ attribute: name, operator, values: operator === 'exists' ? [] : ['x'] }], serve: { enabled: true } }
      cases.add(
        `missing and mistyped: inherited name ${name} ${operator}`,
        storedFlag('inherited_names', { state: 'beta_users', rules: [rule] }),
        ctxWith({ plan: 'pro' }),
      )
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Variants (model 3).

const COLOURS: Variant[] = [
  { key: 'blue', value: 'BLUE', weight: 50 },
  { key: 'green', value: 'GREEN', weight: 50 },
  { key: 'grey', value: 'GREY' },
]
const byCountry = (id: string, country: string, serve: RuleInput['serve']): RuleInput => ({
  id,
  clauses: [{ attribute: 'country', operator: 'in', values: [country] }],
  serve,
})

/** The split bucket, written out: fmix32(FNV-1a-32("<key>:variant:<id>")) mod 100000. */
const splitBucket = (key: string, id: string) => bucketFromSeed(bucketSeed(`${key}:variant`), id)

function variantHandCases(cases: Cases): void {
  const flag = (fields: Partial<FlagFields>) => storedFlag('hand_variants', { state: 'enabled', variants: COLOURS, offVariant: 'grey', ...fields })
  const colour = (variant: string, answer: EvaluationExpectation): EvaluationExpectation => ({ ...answer, variant, value: variant.toUpperCase() })
  cases.hand('variants: disabled serves the offVariant', flag({ state: 'disabled' }), { userId: 'u' }, colour('grey', { enabled: false, reason: 'disabled' }))
  for (const userId of ['user-1', 'user-2', 'José', '🚀']) {
    const split = splitBucket('hand_variants', userId) < 50_000 ? 'blue' : 'green'
    cases.hand(`variants: enabled serves the split's variant for ${userId}`, flag({}), { userId }, colour(split, on()))
  }
  cases.hand('variants: enabled without the id serves the split’s first variant', flag({}), {}, colour('blue', on()))
  cases.hand(
    'variants: in the enabled state a rule serving off does not apply, the next rule chooses',
    flag({ rules: [byCountry('off', 'NL', { enabled: false }), byCountry('grey-nl', 'NL', { enabled: true, variant: 'grey' })] }),
    ctxWith({ country: 'NL' }),
    colour('grey', on('grey-nl')),
  )
  cases.hand(
    'variants: a rule serving off serves the offVariant',
    flag({ state: 'beta_users', rules: [byCountry('off', 'NL', { enabled: false })] }),
    ctxWith({ country: 'NL' }),
    colour('grey', ruleOff('off')),
  )
  cases.hand('variants: not targeted serves the offVariant', flag({ state: 'beta_users' }), { userId: 'u' }, colour('grey', NOT_TARGETED))
  cases.hand(
    "variants: a rule's own split of one variant",
    flag({ state: 'beta_users', rules: [byCountry('all-grey', 'NL', { enabled: true, split: [{ variant: 'grey', weight: 100 }] })] }),
    ctxWith({ country: 'NL' }),
    colour('grey', on('all-grey')),
  )
  cases.hand(
    'variants: percentage 0 serves the offVariant',
    flag({ state: 'percentage', percentage: 0 }),
    { userId: 'u' },
    colour('grey', { enabled: false, reason: 'percentage_out' }),
  )
  cases.hand(
    'variants: percentage without the id serves the offVariant',
    flag({ state: 'percentage', percentage: 100 }),
    {},
    colour('grey', { enabled: false, reason: 'missing_context' }),
  )
}

function variantCases(cases: Cases): void {
  const types: [string, Variant[]][] = [
    ['strings', COLOURS],
    [
      'numbers',
      [
        { key: 'small', value: 10, weight: 33.333 },
        { key: 'zero', value: 0 },
        { key: 'large', value: 1e6, weight: 66.667 },
      ],
    ],
    [
      'booleans',
      [
        { key: 'yes', value: true, weight: 25 },
        { key: 'no', value: false, weight: 75 },
      ],
    ],
    [
      'objects',
      [
        { key: 'basic', value: { seats: 5, features: ['a'] }, weight: 90 },
        { key: 'pro', value: { seats: 50, features: ['a', 'b'], support: { sla: '24h' } }, weight: 10 },
      ],
    ],
    [
      'arrays',
      [
        { key: 'one', value: ['x'], weight: 50.5 },
        { key: 'two', value: ['x', 'y'], weight: 49.5 },
      ],
    ],
  ]
  for (const [type, variants] of types) {
    for (const state of ['enabled', 'percentage', 'beta_users'] as const) {
      const flag = storedFlag(`variants_${type}`, { state, percentage: 40, betaUsers: ['user-3'], variants, offVariant: variants[1]!.key })
      for (let i = 0; i < 12; i++) cases.add(`variants: ${type}, ${state}, user-${i}`, flag, { userId: `user-${i}` })
    }
  }
  // The same ids under 50/50 and 60/40: only ids whose bucket lies between the boundaries change.
  for (const weights of [
    [50, 50],
    [60, 40],
    [0, 100],
  ]) {
    const flag = storedFlag('variants_weights', {
      state: 'enabled',
      variants: [
        { key: 'a', value: 'A', weight: weights[0]! },
        { key: 'b', value: 'B', weight: weights[1]! },
      ],
      offVariant: 'a',
    })
    for (let i = 0; i < 40; i++) cases.add(`variants: weights ${weights.join('/')}, user-${i * 31}`, flag, { userId: `user-${i * 31}` })
  }
  // Sticky by tenant; and rules choosing variants, by variant, by split (with its own stickiness), through a percentage.
  const tenantFlag = storedFlag('variants_tenants', { state: 'enabled', stickiness: 'tenantId', variants: COLOURS, offVariant: 'grey' })
  for (let i = 0; i < 15; i++) cases.add(`variants: sticky by tenant, tenant-${i}`, tenantFlag, { userId: 'same', tenantId: `tenant-${i}` })
  const ruled = (state: FlagState) =>
    storedFlag('variants_rules', {
      state,
      percentage: 30,
      variants: COLOURS,
      offVariant: 'grey',
      rules: [
        byCountry('nl-green', 'NL', { enabled: true, variant: 'green' }),
        byCountry('be-split', 'BE', {
          enabled: true,
          split: [
            { variant: 'grey', weight: 20 },
            { variant: 'blue', weight: 80 },
          ],
          stickiness: 'tenantId',
        }),
        byCountry('de-half', 'DE', { percentage: 50, variant: 'blue' }),
        byCountry('fr-off', 'FR', { enabled: false }),
        byCountry('it-on', 'IT', { enabled: true }),
      ],
    })
  for (const state of ['enabled', 'beta_users', 'percentage'] as const) {
    for (const country of ['NL', 'BE', 'DE', 'FR', 'IT', 'ES']) {
      for (let i = 0; i < 6; i++) {
        cases.add(`variants: rules, ${state}, ${country}, user-${i}`, ruled(state), ctxWith({ country }, { userId: `user-${i}`, tenantId: `tenant-${i}` }))
      }
    }
  }
}

/** Every case, hand-written ones first. */
export function evaluationCases(): EvaluationVector[] {
  const cases = new Cases()
  handCases(cases)
  variantHandCases(cases)
  stateCases(cases)
  operatorCases(cases)
  missingAndMistypedCases(cases)
  semverCases(cases)
  dateCases(cases)
  unicodeCases(cases)
  ruleOrderCases(cases)
  segmentCases(cases)
  rulePercentageCases(cases)
  variantCases(cases)
  scheduleCases(cases)
  return cases.list
}

// ---------------------------------------------------------------------------------------------
// Schedules (model 4): the same flag answered at several instants.

const T0 = Date.parse('2030-03-02T09:00:00Z')
const DAY = 86_400_000
const iso = (ms: number) => new Date(ms).toISOString()

function scheduleCases(cases: Cases): void {
  const ramp = (from: number, to: number, days: number, interval?: string): Schedule => ({
    ramp: { from, to, start: iso(T0), end: iso(T0 + days * DAY), ...(interval ? { interval } : {}) },
  })
  const steps: Schedule = {
    steps: [
      { at: iso(T0), state: 'beta_users' },
      { at: iso(T0 + DAY), percentage: 5 },
      { at: iso(T0 + 2 * DAY), state: 'enabled' },
    ],
  }
  const flags: [string, FlagFields][] = [
    ['sched_ramp', { state: 'disabled', schedule: ramp(1, 100, 7) }],
    ['sched_ramp_hourly', { state: 'beta_users', betaUsers: ['user-3'], schedule: ramp(0, 100, 2, '1h') }],
    ['sched_ramp_down', { state: 'enabled', schedule: ramp(100, 0, 3) }],
    ['sched_steps', { state: 'disabled', betaUsers: ['user-1'], schedule: steps }],
    ['sched_paused', { state: 'percentage', percentage: 10, schedule: { ...ramp(1, 100, 7), paused: true } }],
    [
      'sched_with_rules',
      {
        state: 'disabled',
        rules: [{ id: 'nl', clauses: [{ attribute: 'country', operator: 'in', values: ['NL'] }], serve: { enabled: true } }],
        schedule: ramp(0, 100, 4),
      },
    ],
    ['sched_tenant', { state: 'disabled', stickiness: 'tenantId', schedule: ramp(10, 90, 1) }],
    ['sched_variants', { state: 'disabled', variants: COLOURS, offVariant: 'grey', schedule: ramp(0, 100, 7) }],
  ]
  const instants = [-1, 0, 1, 0.25 * DAY, DAY - 1, DAY, 1.5 * DAY, 2 * DAY, 3.5 * DAY, 7 * DAY - 1, 7 * DAY, 30 * DAY]
  const contexts: Context[] = [
    {},
    { userId: 'user-1' },
    { userId: 'user-3', tenantId: 'acme' },
    ...Array.from({ length: 3 }, (_, i) => ({ userId: `user-${i * 7919}` })),
  ]
  for (const [key, fields] of flags) {
    const flag = storedFlag(key, fields)
    for (const offset of instants)
      for (const [i, context] of [...contexts, ctxWith({ country: 'NL' }, { userId: 'user-2' })].entries())
        cases.add(`schedule: ${key} at T0${offset < 0 ? '' : '+'}${offset}ms #${i}`, flag, context, [], T0 + offset)
  }

  // By hand: the instant a user's bucket falls below the ramp's threshold, from the published formula.
  const flag = storedFlag('sched_hand', { state: 'disabled', schedule: ramp(1, 100, 7) })
  const userId = 'user-42'
  const b = bucketFromSeed(bucketSeed('sched_hand'), userId)
  const span = 7 * DAY
  // threshold(t) = 1000 + floor(99000 · (t − T0) / span) > b first at t = T0 + ceil((b + 1 − 1000) · span / 99000)
  const first = T0 + Math.ceil(((b + 1 - 1000) * span) / 99_000)
  if (b >= 1000) {
    cases.hand('a ramp lets a user in the ms its threshold passes their bucket', flag, { userId }, { enabled: true, reason: 'percentage_in' }, [], first)
    cases.hand('a ramp: the ms before, the same user is out', flag, { userId }, { enabled: false, reason: 'percentage_out' }, [], first - 1)
  }
  cases.hand("a ramp before its start: the flag's own state", flag, { userId }, { enabled: false, reason: 'disabled' }, [], T0 - 1)
  cases.hand('a ramp after its end: to, 100 %', flag, { userId }, { enabled: true, reason: 'percentage_in' }, [], T0 + 30 * DAY)
  const stepped = storedFlag('sched_hand_steps', { state: 'disabled', betaUsers: ['alice'], schedule: steps })
  cases.hand('a step to beta_users lets the beta user in', stepped, { userId: 'alice' }, { enabled: true, reason: 'beta_user' }, [], T0)
  cases.hand('a step to beta_users leaves others out', stepped, { userId: 'bob' }, NOT_TARGETED, [], T0)
  cases.hand('the last step, enabled, is absolute', stepped, {}, on(), [], T0 + 2 * DAY)
  const paused = storedFlag('sched_hand_paused', { state: 'enabled', schedule: { ...ramp(0, 1, 7), paused: true } })
  cases.hand('a paused schedule is not read', paused, {}, on(), [], T0 + DAY)
}

const DESCRIPTION =
  'Evaluation test vectors for Switchyard flags with targeting rules, segments, variants and schedules: every evaluator (server, SDK, any ' +
  "other client) must give each case's expected answer. Generated by scripts/generate-evaluation-vectors.ts (npm run vectors); " +
  "cases named 'hand: …' carry answers written by hand, which the generator checks the engine against."

const CONTRACT = [
  'Each case: build the segments from `segments`, compile `flag`, evaluate it for `context`, and compare enabled, reason, ruleId, variant and ' +
    'value with `expected` (ruleId present in the answer exactly when present in `expected`; variant and value exactly when the flag has variants ' +
    'and the answer is neither unsupported_model nor segment_not_local).',
  '`flag` is a stored flag as GET /flags/:key returns it; `segments` are segment records as GET /segments/:key returns them, holding every ' +
    'segment the rules name that exists (a name with no record is a segment that does not exist); `context` is one POST /evaluate accepts.',
  '`now`, when present, is the clock at evaluation: a flag with a `schedule` (model 4) is evaluated in the phase in force then; a case without ' +
    '`now` has a flag that does not read the clock.',
  'A flag whose `model` is above `model` answers unsupported_model (enabled false) whatever its state.',
  'State enabled answers enabled and disabled answers disabled, absolutely: beta lists are not read, and rules only on a flag with variants ' + '(below).',
  'States beta_users and percentage: betaUsers (userId) first, then betaTenants (tenantId), then the rules in order; the first rule whose clauses ' +
    'all match decides (a rule with no clauses matches every context). When none does: beta_users answers not_targeted; percentage buckets ' +
    'by `stickiness` as bucketing.json specifies (percentage_in when bucket < round(percentage * 1000), else percentage_out; missing_context ' +
    'when the context lacks that id).',
  'A rule serving {enabled} answers rule_match with that value and the rule id. A rule serving {percentage, stickiness (default userId)} ' +
    'answers rule_match, enabled when bucket < round(percentage * 1000), with the seed `<flagKey>:<ruleId>:` (bucket as in bucketing.json ' +
    'with flagKey replaced by `<flagKey>:<ruleId>`); without that id it answers missing_context with the rule id.',
  'Ids (beta lists, segment members, userId/tenantId in clauses) and string comparisons are in Unicode NFC: stored values are NFC, a context ' +
    'value is normalised before comparing. Bucketing hashes the id exactly as given.',
  'A clause reads `userId` or `tenantId` from the context, any other name from `attributes` (own properties only: `constructor` and the like ' +
    'are absent unless sent). A clause matches when the value matches any of `values`; a list of strings matches when any element does.',
  'A missing attribute, or one of the wrong type, never matches, negated or not: strings for starts_with/ends_with/contains, numbers for ' +
    'lt/lte/gt/gte, SemVer 2.0 strings for semver_* (precedence per SemVer 2.0, build metadata ignored, a leading v allowed), ISO-8601 dates ' +
    'or date-times with a zone for before/after (a date is midnight UTC; a date-time without a zone is no instant), and for in/not_in a ' +
    'type among its values. An empty list is a list of strings without elements: no string comparison matches it (so not_in and negated ' +
    'string clauses do), and it is mistyped for numbers and for an in/not_in without string values. `negate` inverts only the verdict on a present, ' +
    'well-typed value; not_in is in negated. `exists` matches any present value, negated: an absent one.',
  'Variants (model 3): an answer that is off (disabled, not_targeted, percentage_out, missing_context, a rule serving off) serves `offVariant`. ' +
    "An answer that is on serves the deciding rule's `serve.variant`, else a split: the rule's `serve.split` (hashing its `serve.stickiness`, " +
    "default the flag's `stickiness`), else the flag's default split (the variants' weights, a missing weight 0, hashing the flag's `stickiness`). " +
    'In state enabled the rules are evaluated only to choose the variant: the first matching rule whose answer is on decides (rule_match with ' +
    'its id); a matching rule whose answer is off is passed over; with none, the default split (reason enabled).',
  'A split: bucket = fmix32(FNV-1a-32(UTF-8("<flagKey>:variant:<id>"))) mod 100000 (bucketing.json with flagKey replaced by ' +
    "`<flagKey>:variant`); the split's shares in order, each of round(weight * 1000) buckets, shares of weight 0 skipped: the first share whose " +
    'cumulative upper bound is above the bucket serves. A context without the id gets the first share of weight above 0.',
  'Schedules (model 4), unless `schedule.paused` is true (then the schedule is not read): `steps` in time order, each from its `at` on setting ' +
    "the state and/or percentage (a step with only a percentage sets the state percentage; a field left out keeps its value), the flag's own " +
    "state and percentage before the first step. A `ramp`: before `start` the flag's own state and percentage; from `start` on the state " +
    'percentage with threshold = round(from * 1000) + floor((round(to * 1000) − round(from * 1000)) * e / (end − start)) (floor toward minus ' +
    'infinity), e = t − start rounded down to a multiple of `interval` (1 ms without one), instants in integer ms; from `end` on round(to * 1000). ' +
    'The threshold replaces round(percentage * 1000); nothing else (rule percentages, variant weights) moves.',
  'in_segment matches when the context is in any of the named segments that exist; a segment whose names none exist never matches, negated ' +
    'or not. Membership: an excluded userId or tenantId is out; then a listed userId or tenantId is in; then a context matching every one of ' +
    "the segment's clauses is in (a segment without clauses holds only its listed ids).",
]

/** The file's text: top-level fields pretty-printed, one case a line. */
export function generateEvaluationVectors(): string {
  const cases = evaluationCases()
  const lines = [
    '{',
    `  "description": ${JSON.stringify(DESCRIPTION)},`,
    '  "contract": [',
    CONTRACT.map((line) => `    ${JSON.stringify(line)}`).join(',\n'),
    '  ],',
    `  "model": ${MODEL_VERSION},`,
    '  "cases": [',
    cases.map((c) => `    ${JSON.stringify(c)}`).join(',\n'),
    '  ]',
    '}',
  ]
  return lines.join('\n') + '\n'
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(EVALUATION_VECTORS_FILE, generateEvaluationVectors())
  console.log(`wrote ${EVALUATION_VECTORS_FILE}`)
}
