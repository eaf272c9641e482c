// The checks on rules and clauses that a JSON Schema cannot state: what each operator's values
// must be, ids unique within a flag, the 10,000-value budget. The server answers 400 with the
// field; the flags file reports it with its line. Ids are settled here (generated when absent).
import { randomBytes } from 'node:crypto'
import { toNfc } from './identity.js'
import { MAX_CLAUSE_VALUES, type Clause, type Rule, type RuleInput } from './rules.js'
import { durationMs, parseInstant, parseSemver } from './values.js'
import { MAX_VARIANT_VALUE_BYTES, variantType, type SplitShare, type Variant } from './variants.js'
import { MAX_RAMP_DAYS, MIN_GUARD_INTERVAL_MS, SCHEDULE_PAST_GRACE_MS, type Guard, type Schedule } from './schedule.js'

export interface ModelProblem {
  /** Relative to the rules or clauses list: `[2].clauses[0].values[1]`. */
  field: string
  message: string
}

const SEGMENT_KEY = /^[a-z][a-z0-9_-]*$/
const NUMBER_OPS = new Set(['lt', 'lte', 'gt', 'gte'])
const STRING_OPS = new Set(['starts_with', 'ends_with', 'contains'])
const SEMVER_OPS = new Set(['semver_eq', 'semver_lt', 'semver_gt'])
const DATE_OPS = new Set(['before', 'after'])

// JSON.parse reads a number too large for a double (1e400) as Infinity, which JSON cannot write back.
const NOT_FINITE = 'must be a finite number (a number this large is read as Infinity)'

/** Whether a JSON value holds a number that is not finite anywhere inside it. */
function holdsNonFinite(value: unknown): boolean {
  if (typeof value === 'number') return !Number.isFinite(value)
  if (typeof value !== 'object' || value === null) return false
  return Object.values(value).some(holdsNonFinite)
}

/** The problem with one clause, if any; `inSegment`: whether in_segment is allowed here (not inside a segment). */
export function clauseProblem(clause: Clause, at: string, inSegment: boolean): ModelProblem | undefined {
  const { operator, values } = clause
  if (operator !== 'in_segment' && clause.attribute === undefined) return { field: `${at}.attribute`, message: `is required for operator ${operator}` }
  if (operator === 'in_segment' && !inSegment) return { field: `${at}.operator`, message: 'in_segment cannot be used inside a segment' }
  if (operator === 'exists') return values.length > 0 ? { field: `${at}.values`, message: 'must be empty for operator exists' } : undefined
  if (values.length === 0) return { field: `${at}.values`, message: `must hold at least one value for operator ${operator}` }
  for (const [i, value] of values.entries()) {
    const field = `${at}.values[${i}]`
    if (typeof value === 'number' && !Number.isFinite(value)) return { field, message: NOT_FINITE }
    if (NUMBER_OPS.has(operator) && (typeof value !== 'number' || !Number.isFinite(value)))
      return { field, message: `must be a number for operator ${operator}` }
    if (STRING_OPS.has(operator) && typeof value !== 'string') return { field, message: `must be a string for operator ${operator}` }
    if (SEMVER_OPS.has(operator) && (typeof value !== 'string' || parseSemver(value) === null))
      return { field, message: `must be a SemVer 2.0 version (such as 1.4.0 or 2.0.0-rc.1) for operator ${operator}` }
    if (DATE_OPS.has(operator) && (typeof value !== 'string' || Number.isNaN(parseInstant(value))))
      return { field, message: `must be an ISO-8601 date (2026-03-01) or date-time with a zone (2026-03-01T09:00:00+01:00) for operator ${operator}` }
    if (operator === 'in_segment' && (typeof value !== 'string' || !SEGMENT_KEY.test(value))) return { field, message: 'must be a segment key' }
  }
  return undefined
}

/** Clause values in the form they are compared in: strings in NFC. */
function normalClause(clause: Clause): Clause {
  return { ...clause, values: clause.values.map((v) => (typeof v === 'string' ? toNfc(v) : v)) }
}

/** A new rule id: short, and unlikely to meet another in one flag. */
const newRuleId = () => `rule-${randomBytes(4).toString('hex')}`

/**
 * Settles rules for storing: ids generated where absent, clause strings in NFC. Returns the first
 * problem instead when a rule breaks a rule of the model.
 */
export function settleRules(rules: readonly RuleInput[]): { rules: Rule[]; problem?: undefined } | { problem: ModelProblem; rules?: undefined } {
  const seen = new Map<string, number>()
  let budget = 0
  const settled: Rule[] = []
  for (const [i, rule] of rules.entries()) {
    const at = `[${i}]`
    const { enabled, percentage, stickiness } = rule.serve
    if ((enabled === undefined) === (percentage === undefined))
      return { problem: { field: `${at}.serve`, message: 'must hold exactly one of enabled and percentage' } }
    if (stickiness !== undefined && percentage === undefined && rule.serve.split === undefined)
      return { problem: { field: `${at}.serve.stickiness`, message: 'applies only to a percentage or a split' } }
    if (rule.id !== undefined) {
      const first = seen.get(rule.id)
      if (first !== undefined) return { problem: { field: `${at}.id`, message: `'${rule.id}' is already the id of rules[${first}]` } }
      seen.set(rule.id, i)
    }
    for (const [j, clause] of rule.clauses.entries()) {
      const problem = clauseProblem(clause, `${at}.clauses[${j}]`, true)
      if (problem) return { problem }
      budget += clause.values.length
      if (budget > MAX_CLAUSE_VALUES)
        return { problem: { field: `${at}.clauses[${j}].values`, message: `takes the flag past ${MAX_CLAUSE_VALUES} clause values in all` } }
    }
  }
  for (const rule of rules) {
    let id = rule.id
    while (id === undefined || (rule.id === undefined && seen.has(id))) id = newRuleId()
    seen.set(id, -1)
    settled.push({ ...rule, id, clauses: rule.clauses.map(normalClause) })
  }
  return { rules: settled }
}

/** Settles a segment's clauses: NFC strings, no in_segment; the first problem otherwise. */
export function settleClauses(clauses: readonly Clause[]): { clauses: Clause[]; problem?: undefined } | { problem: ModelProblem; clauses?: undefined } {
  let budget = 0
  for (const [i, clause] of clauses.entries()) {
    const problem = clauseProblem(clause, `[${i}]`, false)
    if (problem) return { problem }
    budget += clause.values.length
    if (budget > MAX_CLAUSE_VALUES) return { problem: { field: `[${i}].values`, message: `takes the segment past ${MAX_CLAUSE_VALUES} clause values in all` } }
  }
  return { clauses: clauses.map(normalClause) }
}

/** The segment keys a set of rules names. */
export function segmentsNamed(rules: readonly RuleInput[]): Set<string> {
  const keys = new Set<string>()
  for (const rule of rules) for (const clause of rule.clauses) if (clause.operator === 'in_segment') for (const v of clause.values) keys.add(String(v))
  return keys
}

/** Weights in thousandths of a percent, summed exactly: 33.333 + 33.333 + 33.334 is 100. */
const thousandths = (weights: readonly (number | undefined)[]) => weights.reduce<number>((sum, w) => sum + Math.round((w ?? 0) * 1000), 0)
const WHOLE = 100_000
const article = (type: string) => (type === 'array' || type === 'object' ? `an ${type}` : `a ${type}`)
const UTF8 = new TextEncoder()
const percent = (t: number) => `${t / 1000}`

/** A split's problem, if any: variants declared, each once, weights summing to 100. `at` names the split. */
function splitProblem(split: readonly SplitShare[], declared: ReadonlySet<string>, at: string): ModelProblem | undefined {
  const seen = new Map<string, number>()
  for (const [k, share] of split.entries()) {
    if (!declared.has(share.variant)) return { field: `${at}[${k}].variant`, message: `'${share.variant}' is not a variant the flag declares` }
    const first = seen.get(share.variant)
    if (first !== undefined) return { field: `${at}[${k}].variant`, message: `'${share.variant}' is already in the split at [${first}]` }
    seen.set(share.variant, k)
  }
  const sum = thousandths(split.map((s) => s.weight))
  return sum === WHOLE ? undefined : { field: at, message: `weights sum to ${percent(sum)}: they must sum to 100` }
}

/**
 * The checks on a flag's variants and on what its rules serve with them, past the schema: keys
 * unique, values of one JSON type (not null, at most 8 KB of JSON), weights summing to 100,
 * offVariant declared, and every variant a rule or split names declared. Fields are relative to
 * the flag (`.variants[1].value`, `.rules[0].serve.variant`).
 */
export function variantsProblem(flag: { variants?: readonly Variant[]; offVariant?: string; rules?: readonly RuleInput[] }): ModelProblem | undefined {
  const variants = flag.variants ?? []
  const declared = new Map<string, number>()
  for (const [i, variant] of variants.entries()) {
    const at = `.variants[${i}]`
    const first = declared.get(variant.key)
    if (first !== undefined) return { field: `${at}.key`, message: `'${variant.key}' is already the key of variants[${first}]` }
    declared.set(variant.key, i)
    const type = variantType(variant.value)
    if (type === undefined) return { field: `${at}.value`, message: 'must be a string, number, boolean, object or array (not null)' }
    if (holdsNonFinite(variant.value)) return { field: `${at}.value`, message: `${NOT_FINITE}, wherever it is inside the value` }
    const expected = variantType(variants[0]!.value)
    if (i > 0 && expected !== undefined && type !== expected)
      return { field: `${at}.value`, message: `is ${article(type)}, but variants[0].value is ${article(expected)}: every variant of a flag holds one type` }
    const bytes = UTF8.encode(JSON.stringify(variant.value)).length
    if (bytes > MAX_VARIANT_VALUE_BYTES) return { field: `${at}.value`, message: `is ${bytes} bytes of JSON: at most ${MAX_VARIANT_VALUE_BYTES}` }
  }
  if (variants.length > 0) {
    const sum = thousandths(variants.map((v) => v.weight))
    if (sum !== WHOLE) return { field: '.variants', message: `weights sum to ${percent(sum)}: they must sum to 100 (a variant without a weight counts 0)` }
    if (flag.offVariant === undefined)
      return { field: '.offVariant', message: 'is required when the flag declares variants: the variant served when it is off' }
    if (!declared.has(flag.offVariant)) return { field: '.offVariant', message: `'${flag.offVariant}' is not a variant the flag declares` }
  } else if (flag.offVariant !== undefined) return { field: '.offVariant', message: 'needs variants: the flag declares none' }
  const keys = new Set(declared.keys())
  for (const [i, rule] of (flag.rules ?? []).entries()) {
    const at = `.rules[${i}].serve`
    const { variant, split, enabled } = rule.serve
    if (variant === undefined && split === undefined) continue
    const field = variant !== undefined ? `${at}.variant` : `${at}.split`
    if (variants.length === 0) return { field, message: 'needs variants: the flag declares none' }
    if (variant !== undefined && split !== undefined) return { field: at, message: 'must hold at most one of variant and split' }
    if (enabled === false) return { field, message: 'applies only to what a rule serves on: enabled true, or a percentage' }
    if (variant !== undefined && !keys.has(variant)) return { field, message: `'${variant}' is not a variant the flag declares` }
    if (split !== undefined) {
      const problem = splitProblem(split, keys, field)
      if (problem) return problem
    }
  }
  return undefined
}

const iso = (ms: number) => new Date(ms).toISOString()

/** The longest interval a guard samples at: a guard that looks once a day does not guard a ramp. */
const MAX_GUARD_INTERVAL_MS = 3_600_000

/** A guard's problem past the schema (whether its source exists is the server's to say). */
export function guardProblem(guard: Guard): ModelProblem | undefined {
  // JSON reads 1e400 as Infinity, which it writes back as null.
  if (!Number.isFinite(guard.threshold)) return { field: '.schedule.guard.threshold', message: 'must be a finite number' }
  if (guard.interval === undefined) return undefined
  const interval = durationMs(guard.interval)
  if (!(interval >= MIN_GUARD_INTERVAL_MS)) return { field: '.schedule.guard.interval', message: 'must be at least five seconds (5s)' }
  if (interval > MAX_GUARD_INTERVAL_MS) return { field: '.schedule.guard.interval', message: 'must be at most one hour (1h)' }
  return undefined
}

/**
 * A schedule's problem, if any: exactly one of steps and ramp, steps in time order and each setting
 * something, a ramp that ends after it starts and within MAX_RAMP_DAYS, an interval shorter than it.
 * `now` (ms): refuse what is already past, only when a request sets or changes the schedule; a
 * flags file and FLAGS_BOOTSTRAP_FILE pass none, so time passing never makes them invalid.
 * Fields are relative to the flag (`.schedule.steps[1].at`).
 */
export function scheduleProblem(schedule: Schedule, now?: number): ModelProblem | undefined {
  const { steps, ramp } = schedule
  if ((steps === undefined) === (ramp === undefined)) return { field: '.schedule', message: 'must hold exactly one of steps and ramp' }
  const guard = schedule.guard && guardProblem(schedule.guard)
  if (guard) return guard
  const past = (ms: number) => now !== undefined && ms < now - SCHEDULE_PAST_GRACE_MS
  if (steps !== undefined) {
    let previous = -Infinity
    for (const [i, step] of steps.entries()) {
      const at = `.schedule.steps[${i}]`
      if (step.state === undefined && step.percentage === undefined) return { field: at, message: 'must set state, percentage or both' }
      const ms = parseInstant(step.at)
      if (Number.isNaN(ms)) return { field: `${at}.at`, message: 'must be an ISO-8601 date-time with a zone' }
      if (ms <= previous) return { field: `${at}.at`, message: `must be later than steps[${i - 1}].at: steps are in time order` }
      if (past(ms)) return { field: `${at}.at`, message: `is in the past (the server's time is ${iso(now!)})` }
      previous = ms
    }
    return undefined
  }
  const start = parseInstant(ramp!.start)
  const end = parseInstant(ramp!.end)
  if (Number.isNaN(start)) return { field: '.schedule.ramp.start', message: 'must be an ISO-8601 date-time with a zone' }
  if (Number.isNaN(end)) return { field: '.schedule.ramp.end', message: 'must be an ISO-8601 date-time with a zone' }
  if (end <= start) return { field: '.schedule.ramp.end', message: 'must be later than ramp.start' }
  if (end - start > MAX_RAMP_DAYS * 86_400_000) return { field: '.schedule.ramp.end', message: `must be at most ${MAX_RAMP_DAYS} days after ramp.start` }
  if (past(end)) return { field: '.schedule.ramp.end', message: `is in the past (the server's time is ${iso(now!)})` }
  if (ramp!.interval !== undefined) {
    const interval = durationMs(ramp!.interval)
    if (!(interval >= 1000)) return { field: '.schedule.ramp.interval', message: 'must be at least one second (1s)' }
    if (interval >= end - start) return { field: '.schedule.ramp.interval', message: 'must be shorter than the ramp' }
  }
  return undefined
}
