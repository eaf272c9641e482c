// The evaluation engine: pure, no I/O. Shared verbatim by the server and the SDK.
import { bucketFromSeed, bucketPairFromSeeds, bucketSeed, percentageThreshold, secondBucket } from './bucket.js'
import { hasId, hasOtherForms, toNfc } from '../flags/identity.js'
import { MODEL_VERSION } from '../flags/defaults.js'
import type { Rule } from '../flags/rules.js'
import type { EvaluationContext, EvaluationResult, Flag, FlagState, Reason, Stickiness } from '../flags/schema.js'
import { beginEvaluation, compileClause, matchClause, MATCH, NO_SEGMENTS, SEGMENT_NOT_LOCAL, type CompiledClause, type SegmentLookup } from './clauses.js'
import { generateRules, type RulesDecider } from './generate.js'
import { compileSplit, compileVariants, pickVariant, variantAt, type CompiledSplit, type CompiledVariants } from './variants.js'
import { nextTransition, phaseAt, timelineOf, type Timeline } from './schedule.js'

/** What a flag is evaluated for: the API's EvaluationContext. */
export type Context = EvaluationContext

export interface Decision {
  readonly enabled: boolean
  readonly reason: Reason
  /** With reason rule_match (or missing_context from a rule's percentage): the rule that decided. */
  readonly ruleId?: string
  /** On a flag with variants: the variant served, and its value (frozen: shared by every such answer). */
  readonly variant?: string
  readonly value?: unknown
}

export interface CompiledRule {
  readonly rule: Rule
  readonly clauses: readonly CompiledClause[]
  /** Serving a percentage: its threshold, seed and stickiness; otherwise threshold is -1. */
  readonly threshold: number
  readonly seed: number
  readonly stickiness: Stickiness
  readonly on: Decision
  readonly off: Decision
  /** Its percentage lacks the stickiness value: missing_context, naming the rule. */
  readonly missing: Decision
  /** Without a percentage: whether it serves on. */
  readonly serveEnabled: boolean
  /**
   * On a flag with variants, when what it serves on is a split (its own or the flag's): the split,
   * and its on decision for each variant; null when `on` holds the one answer.
   */
  readonly onSplit: CompiledSplit | null
  readonly onVariants: readonly Decision[]
  readonly variantSeed: number
  /** `on` and `off` are the answers as they stand: no percentage, no split to pick from. */
  readonly direct: boolean
}

/** A flag prepared for evaluation: built once per change so each evaluation is O(1) without rules. */
export interface CompiledFlag {
  readonly flag: Flag
  readonly state: FlagState
  readonly threshold: number
  readonly seed: number
  readonly stickiness: Stickiness
  /** In NFC, whatever form the flag lists them in (flags stored before ids were normalised). */
  readonly betaUsers: ReadonlySet<string>
  readonly betaTenants: ReadonlySet<string>
  /** Whether a context id that misses a list must be looked up again in NFC (identity.ts); false for plain ASCII lists. */
  readonly betaUsersNfc: boolean
  readonly betaTenantsNfc: boolean
  readonly rules: readonly CompiledRule[]
  /** How rules find segments, at evaluation time. */
  readonly segments: SegmentLookup
  /** The rules as generated code (generate.ts); null: they are interpreted. */
  readonly decideRules: RulesDecider | null
  /** The flag's variants (variants.ts); null for a flag that answers on or off only. */
  readonly variants: CompiledVariants | null
  /** The flag needs a newer model than this build evaluates: it answers unsupported_model. */
  readonly unsupported: boolean
  /** A schedule that runs (schedule.ts): evaluate() answers as its phase in force at `now`; null without one. */
  readonly schedule: ScheduleCache | null
  /**
   * How a flag that is not a plain boolean one (unsupported, or with variants) is evaluated; null
   * for a boolean flag, which evaluate() answers itself.
   */
  readonly special: ((f: CompiledFlag, ctx: Context) => Decision) | null
}

/**
 * A scheduled flag's phase in force, kept until the next transition: evaluating it costs two
 * comparisons of `now` more than an unscheduled flag, and a change of phase builds one object.
 */
export interface ScheduleCache {
  readonly timeline: Timeline
  /** The flag as it evaluates in `phase`: the unscheduled flag with that phase's state and threshold. */
  phase: CompiledFlag
  /** `phase` holds for from ≤ now < until. */
  from: number
  until: number
}

// Shared, frozen decisions: evaluation allocates nothing. Built as before variants (a decision
// of a flag with variants adds its two fields): bench/percentage-alone.ts measured a decision of
// five fields, some undefined, 3–4 ns slower to answer a plain percentage flag with.
const decide = (enabled: boolean, reason: Reason, ruleId?: string): Decision =>
  Object.freeze(ruleId === undefined ? { enabled, reason } : { enabled, reason, ruleId })
export const Decisions = {
  enabled: decide(true, 'enabled'),
  disabled: decide(false, 'disabled'),
  betaUser: decide(true, 'beta_user'),
  betaTenant: decide(true, 'beta_tenant'),
  notTargeted: decide(false, 'not_targeted'),
  percentageIn: decide(true, 'percentage_in'),
  percentageOut: decide(false, 'percentage_out'),
  missingContext: decide(false, 'missing_context'),
  notFound: decide(false, 'flag_not_found'),
  unsupportedModel: decide(false, 'unsupported_model'),
  segmentNotLocal: decide(false, 'segment_not_local'),
  /** The enabled state of a flag with variants, whose variant a rule needs a segment to choose: on, but no variant. */
  segmentNotLocalOn: decide(true, 'segment_not_local'),
} as const

/** The bucket seed of a rule's own percentage: `<flag key>:<rule id>:` (README, "Bucketing"). */
export const ruleSeed = (flagKey: string, ruleId: string) => bucketSeed(`${flagKey}:${ruleId}`)

/**
 * `slots`: the flag's attribute names, numbered as they come, so its clauses share one read of
 * each per evaluation. `variants`: the flag's, which what the rule serves carries.
 */
function compileRule(flag: Flag, rule: Rule, slots: Map<string, number>, variants: CompiledVariants | null): CompiledRule {
  const { percentage, variant, split, stickiness } = rule.serve
  const slotOf = (clause: Rule['clauses'][number]) => {
    const name = clause.attribute ?? ''
    if (!slots.has(name)) slots.set(name, slots.size)
    return slots.get(name)!
  }
  const threshold = percentage === undefined ? -1 : percentageThreshold(percentage)
  const serveEnabled = rule.serve.enabled === true
  let on = decide(true, 'rule_match', rule.id)
  let off = decide(false, 'rule_match', rule.id)
  let missing = decide(false, 'missing_context', rule.id)
  let onSplit: CompiledSplit | null = null
  let onVariants: Decision[] = []
  if (variants !== null) {
    off = variants.withVariant(off, variants.off)
    missing = variants.withVariant(missing, variants.off)
    const fixed = variant === undefined ? -1 : variants.keys.indexOf(variant)
    if (fixed >= 0) on = variants.withVariant(on, fixed)
    else {
      // A rule's own split hashes its stickiness, else the flag's (as the default split does).
      onSplit = split === undefined ? variants.split : compileSplit(variants.keys, split, stickiness ?? flag.stickiness)
      const base = on
      onVariants = variants.keys.map((_, i) => variants.withVariant(base, i))
      on = onVariants[onSplit.variants[0] ?? 0]!
    }
  }
  return {
    rule,
    clauses: rule.clauses.map((clause) => compileClause(clause, slotOf(clause))),
    threshold,
    seed: ruleSeed(flag.key, rule.id),
    stickiness: stickiness ?? 'userId',
    on,
    off,
    missing,
    serveEnabled,
    onSplit,
    onVariants,
    variantSeed: variants?.seed ?? 0,
    direct: threshold < 0 && (!serveEnabled || onSplit === null),
  }
}

function compileRules(flag: Flag, variants: CompiledVariants | null): CompiledRule[] {
  const slots = new Map<string, number>()
  return (flag.rules ?? []).map((rule) => compileRule(flag, rule, slots, variants))
}

/** `segments` finds the segments rules name (the registry's, or the SDK's); none by default. */
export function compileFlag(flag: Flag, segments: SegmentLookup = NO_SEGMENTS): CompiledFlag {
  const betaUsers = flag.betaUsers.map(toNfc)
  const betaTenants = flag.betaTenants.map(toNfc)
  const unsupported = (flag.model ?? 1) > MODEL_VERSION
  // A flag this build cannot read is not compiled further: its fields may mean something else.
  const variants = unsupported ? null : compileVariants(flag.key, flag.variants, flag.offVariant, flag.stickiness, Decisions)
  const rules = unsupported ? [] : compileRules(flag, variants)
  const compiled = assembled({
    flag,
    state: flag.state,
    threshold: percentageThreshold(flag.percentage),
    seed: bucketSeed(flag.key),
    stickiness: flag.stickiness,
    betaUsers: new Set(betaUsers),
    betaTenants: new Set(betaTenants),
    betaUsersNfc: betaUsers.some(hasOtherForms),
    betaTenantsNfc: betaTenants.some(hasOtherForms),
    rules,
    segments,
    decideRules: generateRules(rules, segments, GENERATED_HELPERS),
    variants,
    unsupported,
    schedule: null,
    special: unsupported ? unsupportedModel : variants !== null ? evaluateVariants : null,
  })
  const timeline = unsupported ? null : timelineOf(flag)
  if (timeline === null) return compiled
  const schedule: ScheduleCache = { timeline, phase: compiled, from: 0, until: -1 }
  return assembled({ ...compiled, schedule })
}

/**
 * Every CompiledFlag is built by this one object literal, so plain flags, scheduled flags and their
 * phases share one hidden class and evaluate()'s property reads stay monomorphic: a scheduled flag
 * built by spreading made the SDK's scheduled path 1.15–1.48× a plain one (bench/RESULTS.md, issue 20).
 */
function assembled(f: CompiledFlag): CompiledFlag {
  return {
    flag: f.flag,
    state: f.state,
    threshold: f.threshold,
    seed: f.seed,
    stickiness: f.stickiness,
    betaUsers: f.betaUsers,
    betaTenants: f.betaTenants,
    betaUsersNfc: f.betaUsersNfc,
    betaTenantsNfc: f.betaTenantsNfc,
    rules: f.rules,
    segments: f.segments,
    decideRules: f.decideRules,
    variants: f.variants,
    unsupported: f.unsupported,
    schedule: f.schedule,
    special: f.special,
  }
}

/** The flag as it evaluates at `now`: a scheduled flag's phase in force (itself for any other flag). */
export function inForce(f: CompiledFlag, now: number): CompiledFlag {
  const s = f.schedule
  if (s === null) return f
  if (now >= s.from && now < s.until) return s.phase
  const phase = phaseAt(s.timeline, now)
  const base = s.phase
  // Unscheduled, with the phase's state and threshold; the object is reused while they hold.
  if (base.state !== phase.state || base.threshold !== phase.threshold) s.phase = assembled({ ...base, state: phase.state, threshold: phase.threshold })
  s.from = now
  s.until = nextTransition(s.timeline, now)?.at ?? Infinity
  return s.phase
}

// Ids match in NFC (identity.ts); the percentage below hashes the value exactly as given. An id
// that is not a string (null, a number: plain JavaScript can pass them) is no id: never a throw.
function betaDecision(f: CompiledFlag, ctx: Context): Decision | undefined {
  // An empty list (most flags with rules) costs no look-up: hashing an id is not free.
  if (f.betaUsers.size > 0 && typeof ctx.userId === 'string' && hasId(f.betaUsers, ctx.userId, f.betaUsersNfc)) return Decisions.betaUser
  if (f.betaTenants.size > 0 && typeof ctx.tenantId === 'string' && hasId(f.betaTenants, ctx.tenantId, f.betaTenantsNfc)) return Decisions.betaTenant
  return undefined
}

/** The id a percentage hashes; undefined when the context lacks it (absent, empty, or not a string). */
export function stickyValue(stickiness: Stickiness, ctx: Context): string | undefined {
  const value = stickiness === 'tenantId' ? ctx.tenantId : ctx.userId
  return typeof value === 'string' && value !== '' ? value : undefined
}

/** What a matching rule serves the context: through its own percentage, and its split's variant. */
function serveRule(r: CompiledRule, ctx: Context): Decision {
  if (r.threshold >= 0) {
    const value = stickyValue(r.stickiness, ctx)
    if (value === undefined) return r.missing
    if (bucketFromSeed(r.seed, value) >= r.threshold) return r.off
  } else if (!r.serveEnabled) return r.off
  return r.onSplit === null ? r.on : r.onVariants[pickVariant(r.onSplit, r.variantSeed, ctx)]!
}

const GENERATED_HELPERS = { serve: serveRule, segmentNotLocal: Decisions.segmentNotLocal }

/**
 * The first rule whose clauses all match decides; undefined when none does. `onlyOn`: only a rule
 * that serves the context on decides (the `enabled` state, where rules choose only the variant).
 */
function ruleDecision(f: CompiledFlag, ctx: Context, onlyOn: boolean): Decision | undefined {
  if (f.decideRules !== null) return f.decideRules(ctx, onlyOn)
  beginEvaluation()
  const rules = f.rules
  const segments = f.segments
  next: for (let i = 0; i < rules.length; i++) {
    const r = rules[i]!
    const clauses = r.clauses
    for (let j = 0; j < clauses.length; j++) {
      const code = matchClause(clauses[j]!, ctx, segments)
      if (code === MATCH) continue
      if (code === SEGMENT_NOT_LOCAL) return Decisions.segmentNotLocal
      continue next
    }
    const decision = r.direct ? (r.serveEnabled ? r.on : r.off) : serveRule(r, ctx)
    if (decision.enabled || !onlyOn) return decision
  }
  return undefined
}

/** A beta list's answer with the variant the flag's split serves the context. */
function betaVariant(v: CompiledVariants, beta: Decision, ctx: Context): Decision {
  return (beta === Decisions.betaUser ? v.betaUser : v.betaTenant)[pickVariant(v.split, v.seed, ctx)]!
}

/**
 * The decision for `ctx`. `now` (ms since the epoch) is the instant a schedule is read at: read it
 * once per request or batch and pass it to every flag; without it, a scheduled flag reads the clock.
 */
export function evaluate(scheduled: CompiledFlag, ctx: Context, now?: number): Decision {
  let f = scheduled
  const s = f.schedule
  if (s !== null) {
    // A scheduled flag answers as its phase in force: two comparisons while the phase holds.
    const t = now ?? Date.now()
    f = t >= s.from && t < s.until ? s.phase : inForce(f, t)
  }
  // One check, as before variants, keeps the boolean path as small as it was.
  const special = f.special
  if (special !== null) return special(f, ctx)
  switch (f.state) {
    case 'enabled':
      return Decisions.enabled
    case 'disabled':
      return Decisions.disabled
    case 'beta_users':
      return betaDecision(f, ctx) ?? (f.rules.length === 0 ? undefined : ruleDecision(f, ctx, false)) ?? Decisions.notTargeted
    case 'percentage': {
      const targeted = betaDecision(f, ctx) ?? (f.rules.length === 0 ? undefined : ruleDecision(f, ctx, false))
      if (targeted) return targeted
      const value = stickyValue(f.stickiness, ctx)
      if (value === undefined) return Decisions.missingContext
      return bucketFromSeed(f.seed, value) < f.threshold ? Decisions.percentageIn : Decisions.percentageOut
    }
  }
}

/** evaluate() for a flag with variants: the same answers, each carrying its variant (variants.ts). */
function evaluateVariants(f: CompiledFlag, ctx: Context): Decision {
  const v = f.variants!
  switch (f.state) {
    case 'enabled': {
      // On for everyone; a rule that serves on chooses the variant. A segment this SDK does not
      // hold leaves the variant unknown, never the flag off.
      const ruled = f.rules.length === 0 ? undefined : ruleDecision(f, ctx, true)
      if (ruled === Decisions.segmentNotLocal) return Decisions.segmentNotLocalOn
      return ruled ?? v.enabled[pickVariant(v.split, v.seed, ctx)]!
    }
    case 'disabled':
      return v.disabled
    case 'beta_users': {
      const beta = betaDecision(f, ctx)
      if (beta !== undefined) return betaVariant(v, beta, ctx)
      return (f.rules.length === 0 ? undefined : ruleDecision(f, ctx, false)) ?? v.notTargeted
    }
    case 'percentage': {
      const beta = betaDecision(f, ctx)
      if (beta !== undefined) return betaVariant(v, beta, ctx)
      const ruled = f.rules.length === 0 ? undefined : ruleDecision(f, ctx, false)
      if (ruled) return ruled
      const value = stickyValue(f.stickiness, ctx)
      if (value === undefined) return v.missingContext
      // The default split hashes the flag's stickiness too: both buckets in one pass over the value.
      if (bucketPairFromSeeds(f.seed, v.seed, value) >= f.threshold) return v.percentageOut
      return v.percentageIn[variantAt(v.split, secondBucket())]!
    }
  }
}

const unsupportedModel = (): Decision => Decisions.unsupportedModel

/** The context of a request that sent none: shared, so evaluating without one allocates nothing. */
export const EMPTY_CONTEXT: Context = Object.freeze({})

/** The answer POST /evaluate gives for one flag, the same wherever it is given (absent: flag_not_found). */
export function answer(key: string, compiled: CompiledFlag | undefined, context: Context, now?: number): EvaluationResult {
  if (compiled === undefined) return { flag: key, enabled: false, reason: Decisions.notFound.reason }
  const decision = evaluate(compiled, context, now)
  const result: EvaluationResult =
    decision.ruleId === undefined
      ? { flag: key, enabled: decision.enabled, reason: decision.reason, version: compiled.flag.version }
      : { flag: key, enabled: decision.enabled, reason: decision.reason, version: compiled.flag.version, ruleId: decision.ruleId }
  if (decision.variant !== undefined) {
    result.variant = decision.variant
    result.value = decision.value
  }
  return result
}
