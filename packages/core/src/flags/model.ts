// The checks on rules and clauses that a JSON Schema cannot state: what each operator's values
// must be, ids unique within a flag, the 10,000-value budget. The server answers 400 with the
// field; the flags file reports it with its line. Ids are settled here (generated when absent).
import { randomBytes } from 'node:crypto'
import { toNfc } from './identity.js'
import { MAX_CLAUSE_VALUES, type Clause, type Rule, type RuleInput } from './rules.js'
import { parseInstant, parseSemver } from './values.js'

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

/** The problem with one clause, if any; `inSegment`: whether in_segment is allowed here (not inside a segment). */
export function clauseProblem(clause: Clause, at: string, inSegment: boolean): ModelProblem | undefined {
  const { operator, values } = clause
  if (operator !== 'in_segment' && clause.attribute === undefined) return { field: `${at}.attribute`, message: `is required for operator ${operator}` }
  if (operator === 'in_segment' && !inSegment) return { field: `${at}.operator`, message: 'in_segment cannot be used inside a segment' }
  if (operator === 'exists') return values.length > 0 ? { field: `${at}.values`, message: 'must be empty for operator exists' } : undefined
  if (values.length === 0) return { field: `${at}.values`, message: `must hold at least one value for operator ${operator}` }
  for (const [i, value] of values.entries()) {
    const field = `${at}.values[${i}]`
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
    if (stickiness !== undefined && percentage === undefined) return { problem: { field: `${at}.serve.stickiness`, message: 'applies only to a percentage' } }
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
