// Flags and contexts the benchmark cases share, built deterministically.
import { FLAG_DEFAULTS, type Clause, type Flag, type Rule } from '../packages/core/src/flags/schema.js'
import type { Write } from '../packages/server/src/store/store.js'

export const BENCH_TOKEN = 'bench-admin-token-0123456789abcdef'

export function makeFlag(key: string, overrides: Partial<Flag> = {}): Flag {
  const now = '2026-01-01T00:00:00.000Z'
  return {
    key,
    ...FLAG_DEFAULTS,
    rules: [],
    model: 1,
    state: 'percentage',
    percentage: 50,
    version: 1,
    createdAt: now,
    updatedAt: now,
    updatedBy: 'bench',
    ...overrides,
  }
}

// ---- 20 rules × 5 clauses (in, starts_with, gte, lt, in), no two clauses alike. Rules 1–19 fail
// on their last clause, so every evaluation runs all 100 clauses before rule 20 matches: the most
// work such a flag can take (an evaluator that remembered clause results could not skip any).
export const RULES = 20
export const COUNTRIES = ['NL', 'BE', 'DE', 'FR']
const PREFIXES = ['u', 'us', 'use', 'user', 'user-']

function ruleClauses(i: number): Clause[] {
  return [
    { attribute: 'country', operator: 'in', values: [...COUNTRIES, `X${i}`] },
    { attribute: 'email', operator: 'starts_with', values: [`${PREFIXES[i % PREFIXES.length]!}`] },
    { attribute: 'seats', operator: 'gte', values: [-i] },
    { attribute: 'age', operator: 'lt', values: [120 + i] },
    { attribute: 'plan', operator: 'in', values: [`plan-${i}`] },
  ]
}

/** The 20 rules; `attributesFor(i)` gives a context's attributes that rule 20 matches. */
export function twentyRules(): Rule[] {
  return Array.from({ length: RULES }, (_, i) => ({ id: `rule-${i + 1}`, clauses: ruleClauses(i), serve: { enabled: true } }))
}

/** Two variants of an object value, 50/50. */
export const BENCH_VARIANTS = [
  { key: 'control', value: { colour: 'blue', label: 'Buy' }, weight: 50 },
  { key: 'treatment', value: { colour: 'orange', label: 'Buy now' }, weight: 50 },
]

/**
 * `count` flags: bench_flag (percentage 50) first, then bench_rules (the same with `rules`) when
 * rules are given and bench_variants (the same with two variants) when asked, the rest cycling
 * through every state.
 */
export function makeFlags(count: number, betaUsers = 0, rules: Rule[] = [], variants = false): Flag[] {
  const states = ['enabled', 'disabled', 'beta_users', 'percentage'] as const
  const flags = [makeFlag('bench_flag', { betaUsers: Array.from({ length: betaUsers }, (_, i) => `beta-user-${i}`) })]
  if (rules.length > 0) flags.push(makeFlag('bench_rules', { rules, model: 2 }))
  if (variants) flags.push(makeFlag('bench_variants', { variants: BENCH_VARIANTS, offVariant: 'control', model: 3 }))
  for (let i = flags.length; i < count; i++) flags.push(makeFlag(`flag_${i}`, { state: states[i % 4]!, percentage: (i * 7) % 100 }))
  return flags
}

/** The store write that seeds a flag directly, as a deployment that already holds it would. */
export function seedWrite(flag: Flag, expectedVersion = 0): Write {
  const action = expectedVersion === 0 ? 'flag.created' : 'flag.updated'
  return {
    kind: 'flag',
    key: flag.key,
    expectedVersion,
    next: flag,
    audit: {
      id: `${flag.key}@${flag.version}`,
      type: 'audit',
      action,
      flag: flag.key,
      actor: 'bench',
      requestId: 'seed',
      timestamp: flag.createdAt,
      changes: {},
    },
  }
}

/** The engine cases' plain percentage flag (model 1, no rules), and the same flag with two variants (50/50). */
export const percentageFlag = (): Flag => makeFlag('bench_percentage', { state: 'percentage', percentage: 37.5 })
export const percentageFlagWithVariants = (): Flag =>
  makeFlag('bench_percentage', {
    state: 'percentage',
    percentage: 37.5,
    variants: [
      { key: 'control', value: 'blue', weight: 50 },
      { key: 'treatment', value: 'green', weight: 50 },
    ],
    offVariant: 'control',
    model: 3,
  })

/** The contexts the percentage cases evaluate: UUID-length ids, through JSON as a server receives them. */
export const percentageContexts = (): { userId: string; tenantId: string }[] =>
  JSON.parse(JSON.stringify(Array.from({ length: 4096 }, (_, i) => ({ userId: `user-${i}-3f2a9c1e-7b4d-4e8a-9c2f`, tenantId: `tenant-${i % 50}` })))) as {
    userId: string
    tenantId: string
  }[]
