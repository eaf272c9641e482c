// The decision trace of one evaluation: the same steps evaluate() takes, recorded. Slower than
// evaluate() and only asked for (POST /evaluate `explain`, the SDK's explain()); the conformance
// tests check that both always reach the same answer.
import { bucketFromSeed } from './bucket.js'
import { hasId } from '../flags/identity.js'
import type { Explanation, EvaluationResult } from '../flags/schema.js'
import {
  beginEvaluation,
  matchClause,
  valueOf,
  BOOLEAN_VALUES,
  MATCH,
  MISSING_ATTRIBUTE,
  NOT_MATCHED,
  NUMBER_VALUES,
  STRING_VALUES,
  SEGMENT_MISSING,
  SEGMENT_NOT_LOCAL,
  TYPE_MISMATCH,
  type ClauseCode,
  type CompiledClause,
} from './clauses.js'
import { answer, Decisions, inForce, stickyValue, type CompiledFlag, type Context, type Decision } from './engine.js'

type RuleTrace = NonNullable<Explanation['rules']>[number]
type ClauseTrace = NonNullable<RuleTrace['failedClause']>

const OUTCOMES: Record<number, ClauseTrace['outcome']> = {
  [NOT_MATCHED]: 'not_matched',
  [MISSING_ATTRIBUTE]: 'missing_attribute',
  [TYPE_MISMATCH]: 'type_mismatch',
  [SEGMENT_MISSING]: 'segment_missing',
  [SEGMENT_NOT_LOCAL]: 'segment_not_local',
}

const EXPECTED: Record<string, string> = {
  starts_with: 'a string',
  ends_with: 'a string',
  contains: 'a string',
  lt: 'a number',
  lte: 'a number',
  gt: 'a number',
  gte: 'a number',
  semver_eq: 'a SemVer 2.0 version',
  semver_lt: 'a SemVer 2.0 version',
  semver_gt: 'a SemVer 2.0 version',
  before: 'an ISO-8601 date, or date-time with a zone',
  after: 'an ISO-8601 date, or date-time with a zone',
}

/** How a failed clause reads: the relation that held, or the one that did not. */
const PHRASES: Record<string, [holds: string, fails: string]> = {
  in: ['is one of', 'is not one of'],
  not_in: ['is one of', 'is not one of'],
  starts_with: ['starts with', 'does not start with'],
  ends_with: ['ends with', 'does not end with'],
  contains: ['contains', 'does not contain'],
  lt: ['is less than', 'is not less than'],
  lte: ['is at most', 'is not at most'],
  gt: ['is greater than', 'is not greater than'],
  gte: ['is at least', 'is not at least'],
  semver_eq: ['is the version', 'is not the version'],
  semver_lt: ['is a version before', 'is not a version before'],
  semver_gt: ['is a version after', 'is not a version after'],
  before: ['is before', 'is not before'],
  after: ['is after', 'is not after'],
  in_segment: ['is in', 'is in none of'],
}

const show = (v: unknown) => JSON.stringify(v)
function showValues(values: readonly unknown[]): string {
  const shown = values.slice(0, 5).map(show).join(', ')
  return values.length > 5 ? `${shown} and ${values.length - 5} more` : shown
}

/** What an in/not_in clause compares: the types of its values. */
function expectedOf(c: CompiledClause): string | undefined {
  if (c.operator !== 'in' && c.operator !== 'not_in') return EXPECTED[c.operator]
  const names = [c.types & STRING_VALUES && 'a string', c.types & NUMBER_VALUES && 'a number', c.types & BOOLEAN_VALUES && 'a boolean'].filter(Boolean)
  return names.join(' or ') || undefined
}

function clauseMessage(c: CompiledClause, code: ClauseCode, ctx: Context): string {
  const name = c.operator === 'in_segment' ? 'the context' : c.attribute
  const values = showValues(c.clause.values)
  switch (code) {
    case MISSING_ATTRIBUTE:
      return `the context has no ${show(c.attribute)}`
    case TYPE_MISMATCH:
      return `${name} is ${show(valueOf(c, ctx))}, not ${expectedOf(c) ?? 'a comparable value'}`
    case SEGMENT_MISSING:
      return `no segment ${values} exists`
    case SEGMENT_NOT_LOCAL:
      return `segment ${values} is not held here (larger than SEGMENT_INLINE_MAX)`
    default: {
      if (c.operator === 'exists') return c.negate ? `${show(c.attribute)} is present (negated)` : `the context has no ${show(c.attribute)}`
      // The clause failed, so the relation itself (before negation) came out as `negate` says.
      const [holds, fails] = PHRASES[c.operator]!
      const subject = c.operator === 'in_segment' ? name : `${name} ${show(valueOf(c, ctx))}`
      return `${subject} ${c.negate ? holds : fails} ${values}${c.clause.negate ? ' (negated)' : ''}`
    }
  }
}

/** Evaluates `f` for `ctx` and records every step; the answer is answer()'s, with `explanation`. */
export function explain(key: string, scheduled: CompiledFlag | undefined, ctx: Context, now: number = Date.now()): EvaluationResult {
  const result = answer(key, scheduled, ctx, now)
  if (scheduled === undefined) return result
  // A scheduled flag is traced in the phase in force: its state and fall-through threshold at `now`.
  const f = inForce(scheduled, now)
  const explanation: Explanation = { state: f.state, model: f.flag.model ?? 1 }
  result.explanation = explanation
  if (result.variant !== undefined) explanation.variant = variantTrace(f, result, ctx)
  if (f.unsupported || f.state === 'disabled') return result
  if (f.state === 'enabled') {
    // Rules only choose a variant in this state: the one that did is traced, not the others.
    if (result.ruleId !== undefined) explanation.rules = [{ id: result.ruleId, matched: true }]
    return result
  }
  const { userId, tenantId } = ctx
  explanation.betaUsers = typeof userId === 'string' ? { userId, listed: hasId(f.betaUsers, userId, f.betaUsersNfc) } : { listed: false }
  if (explanation.betaUsers.listed) return result
  explanation.betaTenants = typeof tenantId === 'string' ? { tenantId, listed: hasId(f.betaTenants, tenantId, f.betaTenantsNfc) } : { listed: false }
  if (explanation.betaTenants.listed) return result
  let decided: Decision | undefined
  if (f.rules.length > 0) {
    beginEvaluation()
    const traces: RuleTrace[] = []
    explanation.rules = traces
    for (const r of f.rules) {
      const trace: RuleTrace = { id: r.rule.id, matched: true }
      traces.push(trace)
      for (const [index, c] of r.clauses.entries()) {
        const code = matchClause(c, ctx, f.segments)
        if (code === MATCH) continue
        trace.matched = false
        trace.failedClause = {
          index,
          ...(c.operator === 'in_segment' ? {} : { attribute: c.attribute }),
          operator: c.operator,
          outcome: OUTCOMES[code]!,
          message: clauseMessage(c, code, ctx),
        }
        if (code === SEGMENT_NOT_LOCAL) decided = Decisions.segmentNotLocal
        break
      }
      if (decided) break
      if (!trace.matched) continue
      if (r.threshold >= 0) {
        const value = stickyValue(r.stickiness, ctx)
        trace.percentage = { stickiness: r.stickiness, threshold: r.threshold }
        if (value !== undefined) trace.percentage.bucket = bucketFromSeed(r.seed, value)
      }
      decided = r.on
      break
    }
  }
  if (!decided && f.state === 'percentage') {
    const value = stickyValue(f.stickiness, ctx)
    explanation.fallthrough = { stickiness: f.stickiness, threshold: f.threshold }
    if (value !== undefined) explanation.fallthrough.bucket = bucketFromSeed(f.seed, value)
  }
  return result
}

/** How the answer's variant was chosen: the offVariant, the deciding rule's own, or a split's bucket. */
function variantTrace(f: CompiledFlag, result: EvaluationResult, ctx: Context): NonNullable<Explanation['variant']> {
  const key = result.variant!
  if (!result.enabled) return { key, source: 'offVariant' }
  const rule = result.ruleId === undefined ? undefined : f.rules.find((r) => r.rule.id === result.ruleId)
  const split = rule === undefined ? f.variants!.split : rule.onSplit
  if (split === null) return { key, source: 'rule' }
  const value = stickyValue(split.stickiness, ctx)
  return { key, source: 'split', stickiness: split.stickiness, ...(value === undefined ? {} : { bucket: bucketFromSeed(f.variants!.seed, value) }) }
}
