// plan: what `apply` must do to make the live flags and segments match a flags file. Pure: it reads
// nothing itself, so `plan` and `apply` show and carry out exactly the same steps.
import { normalGuard } from '@switchyard/core/flags/schedule'
import { diff, listChange } from '@switchyard/core/audit/diff'
import type { FieldChange } from '@switchyard/core/audit/schema'
import { segmentsNamed } from '@switchyard/core/flags/model'
import { byKey, MUTABLE_FIELDS, type Flag, type FlagPatch, type Guard } from '@switchyard/core/flags/schema'
import {
  fullSegmentSpec,
  fullSpec,
  SEGMENT_SPEC_DEFAULTS,
  SPEC_DEFAULTS,
  type FlagsFile,
  type FullSegmentSpec,
  type FullSpec,
  type RuleSpec,
  type ScheduleSpec,
  type VariantSpec,
} from '@switchyard/core/flags/flags-file'
import type { Segment, SegmentPatch, SegmentSummary } from '@switchyard/core/segments/schema'
import { usageError } from './errors.js'
import type { Members } from './members.js'
import { clausesText, describeChanges, guardParts, guardText, phaseText, rampText, ruleText, stepSets, stepText, table } from './output.js'
import { splitMoved, jsonText, variantText } from './variants.js'

/** One rule's difference, by id; a rule the service has not named yet by its position (from 1). */
export type RuleChange =
  | { change: 'added'; position: number; rule: RuleSpec }
  | { change: 'removed'; rule: RuleSpec }
  | { change: 'changed'; position: number; rule: RuleSpec; before: RuleSpec }
  /** The rules both sides hold, in a new order. */
  | { change: 'reordered'; order: string[]; before: string[] }

/** One variant's difference, by key. The order of the variants is the order of the default split's ranges. */
export type VariantChange =
  | { change: 'added'; variant: VariantSpec }
  | { change: 'removed'; variant: VariantSpec }
  | { change: 'changed'; variant: VariantSpec; before: VariantSpec }
  /** The variants both sides hold, in a new order. */
  | { change: 'reordered'; order: string[]; before: string[] }

/**
 * What apply does to a flag's schedule, in the words the server answers with (X-Switchyard-Schedule):
 * set, changed (other steps or another ramp, or another guard), paused or resumed (the same steps or ramp), cleared.
 */
export type ScheduleAction = 'set' | 'changed' | 'paused' | 'resumed' | 'cleared'

export type PlanStep =
  | { action: 'create'; key: string; flag: FullSpec }
  /**
   * `version` is the one the plan read: apply sends it as If-Match. `rules`, `variants`: each rule's
   * or variant's change, when they changed; `splitMoved`: the percent of the default split that
   * another variant serves after it, when both sides have variants.
   */
  | {
      action: 'update'
      key: string
      version: number
      patch: FlagPatch
      changes: Record<string, FieldChange>
      rules?: RuleChange[]
      variants?: VariantChange[]
      splitMoved?: number
      schedule?: ScheduleAction
      /** The live flag's state and percentage in force when the plan read it, when its schedule ran. */
      effective?: { state: Flag['state']; percentage: number }
    }
  | { action: 'delete'; key: string; version: number }

/**
 * `changes` follow the audit rule for lists (at most 1,000 ids a side, then counts); `members`
 * holds every id, for apply, which sends them in requests of at most 10,000.
 */
export type SegmentStep =
  | { action: 'create'; key: string; segment: Omit<FullSegmentSpec, 'users' | 'tenants'>; members: Members; changes: Record<string, FieldChange> }
  /** `patch`: the changed fields but members, sent with If-Match `version`; then the members added and removed. */
  | { action: 'update'; key: string; version: number; patch: SegmentPatch; members: { add: Members; remove: Members }; changes: Record<string, FieldChange> }
  | { action: 'delete'; key: string; version: number }

export interface Plan {
  steps: PlanStep[]
  /** Flags on the server that the file does not mention; left alone unless --prune. */
  unmanaged: string[]
  /** Flags whose schedule the guard paused, rolled back or holds, kept so: a file that keeps the plan does not resume it. */
  guarded: string[]
  segments: {
    /** Whether the file lists segments at all: without `segments:`, none is created, changed or deleted. */
    managed: boolean
    steps: SegmentStep[]
    /** Segments on the server that the file does not mention (when it lists segments); left alone unless --prune. */
    unmanaged: string[]
  }
}

/** What the plan knows of the live segments: every one's summary, and in full those the file declares. */
export interface LiveSegments {
  summaries: readonly SegmentSummary[]
  full: ReadonlyMap<string, Segment>
}

/** Whether planning `file` needs the live segments: it lists segments, or a rule names one. */
export function needsSegments(file: FlagsFile): boolean {
  return file.segments !== undefined || file.flags.some((f) => segmentsNamed(f.rules ?? []).size > 0)
}

const FLAG_FIELDS = MUTABLE_FIELDS.filter((f) => f !== 'rules' && f !== 'variants' && f !== 'schedule')
// The file's order: small fields first, members last.
const SEGMENT_FIELDS = Object.keys(SEGMENT_SPEC_DEFAULTS) as (keyof typeof SEGMENT_SPEC_DEFAULTS)[]
const SEGMENT_LISTS = new Set(['users', 'tenants', 'excludedUsers', 'excludedTenants'])
const HEAD_FIELDS = SEGMENT_FIELDS.filter((f) => f !== 'users' && f !== 'tenants')

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b)
const withoutId = ({ id: _id, ...rule }: RuleSpec) => rule

/**
 * The file's rules with ids: a rule's own, else the id of the live rule at the same position (unless
 * the file gives that id to another rule). So a file without ids plans no change once applied, and
 * a rule edited in place keeps its id, which a rule percentage buckets by.
 */
export function withLiveIds(declared: readonly RuleSpec[], live: readonly RuleSpec[]): RuleSpec[] {
  const named = new Set(declared.flatMap((r) => (r.id === undefined ? [] : [r.id])))
  return declared.map((rule, i) => {
    const id = live[i]?.id
    return rule.id !== undefined || id === undefined || named.has(id) ? rule : { id, ...rule }
  })
}

/** Each rule's change from `before` to `after` (both with ids, but for rules new in `after`). */
export function ruleChanges(before: readonly RuleSpec[], after: readonly RuleSpec[]): RuleChange[] {
  const old = new Map(before.map((r) => [r.id, r]))
  const kept = new Set(after.flatMap((r) => (r.id !== undefined && old.has(r.id) ? [r.id] : [])))
  const changes: RuleChange[] = before.filter((r) => !kept.has(r.id!)).map((rule) => ({ change: 'removed', rule }))
  after.forEach((rule, i) => {
    const was = rule.id === undefined ? undefined : old.get(rule.id)
    if (was === undefined) changes.push({ change: 'added', position: i + 1, rule })
    else if (!same(withoutId(was), withoutId(rule))) changes.push({ change: 'changed', position: i + 1, rule, before: was })
  })
  const order = after.flatMap((r) => (kept.has(r.id!) ? [r.id!] : []))
  const previous = before.flatMap((r) => (kept.has(r.id!) ? [r.id!] : []))
  if (!same(order, previous)) changes.push({ change: 'reordered', order, before: previous })
  return changes
}

/** Each variant's change from `before` to `after`, by key: added, removed, changed (value, weight, description), and a new order. */
export function variantChanges(before: readonly VariantSpec[], after: readonly VariantSpec[]): VariantChange[] {
  const old = new Map(before.map((v) => [v.key, v]))
  const kept = new Set(after.flatMap((v) => (old.has(v.key) ? [v.key] : [])))
  const changes: VariantChange[] = before.filter((v) => !kept.has(v.key)).map((variant) => ({ change: 'removed', variant }))
  for (const variant of after) {
    const was = old.get(variant.key)
    if (was === undefined) changes.push({ change: 'added', variant })
    else if (!same(was, variant)) changes.push({ change: 'changed', variant, before: was })
  }
  const order = after.flatMap((v) => (kept.has(v.key) ? [v.key] : []))
  const previous = before.flatMap((v) => (kept.has(v.key) ? [v.key] : []))
  if (!same(order, previous)) changes.push({ change: 'reordered', order, before: previous })
  return changes
}

/**
 * What sending `after` over `before` does to a schedule: the plan (steps or ramp) decides
 * set/changed/cleared, `paused` the rest; with the same plan and pause, it is the guard that changed.
 */
function scheduleAction(before: ScheduleSpec | undefined, after: ScheduleSpec | undefined): ScheduleAction | undefined {
  if (same(before, after)) return undefined
  if (after === undefined) return 'cleared'
  if (before === undefined) return 'set'
  const plan = (s: ScheduleSpec) => ({ steps: s.steps, ramp: s.ramp })
  if (!same(plan(before), plan(after))) return 'changed'
  if ((before.paused === true) !== (after.paused === true)) return after.paused === true ? 'paused' : 'resumed'
  return 'changed'
}

/**
 * The schedule's part of an update. With a schedule on either side, a change of state, percentage
 * or schedule sends all three: the server then leaves the flag with the file's state and
 * percentage whatever it does to the schedule (a pause or a clear would otherwise keep the phase
 * in force), and a state or percentage sent without the schedule would pause a running one.
 */
function scheduleDetails(was: FullSpec, spec: FullSpec, live: Flag, changes: Record<string, FieldChange>, patch: FlagPatch) {
  const action = scheduleAction(was.schedule, spec.schedule)
  if (action !== undefined) changes.schedule = { before: was.schedule ?? null, after: spec.schedule ?? null }
  if ((was.schedule === undefined && spec.schedule === undefined) || Object.keys(changes).every((f) => !PHASE_FIELDS.has(f))) return {}
  Object.assign(patch, { state: spec.state, percentage: spec.percentage, schedule: spec.schedule ?? null })
  const effective = live.effective && { state: live.effective.state, percentage: live.effective.percentage }
  return { ...(action === undefined ? {} : { schedule: action }), ...(effective ? { effective } : {}) }
}

const PHASE_FIELDS = new Set(['state', 'percentage', 'schedule'])

/**
 * The file's flag as apply sends it over a schedule the guard stopped (paused, rolled back or held):
 * while the file keeps the plan and the guard, the flag stays where the guard left it, paused, with
 * the guard's state and percentage. Applying a file never undoes a rollback; resuming is a person's act.
 */
function keptByGuard(spec: FullSpec, was: FullSpec, live: Flag): FullSpec | undefined {
  const stop = live.schedule?.guardPause
  if (stop === undefined || spec.schedule === undefined || was.schedule === undefined) return undefined
  // A file without the guard removes it, and a file that pauses a held schedule makes the pause its own: both are sent.
  if (spec.schedule.guard === undefined || (stop.action === 'hold' && spec.schedule.paused === true)) return undefined
  const plan = (s: ScheduleSpec) => ({ steps: s.steps, ramp: s.ramp })
  if (!same(plan(spec.schedule), plan(was.schedule))) return undefined
  return { ...spec, state: was.state, percentage: was.percentage, schedule: { ...spec.schedule, paused: true } }
}

function flagSteps(live: readonly Flag[], file: FlagsFile, prune: boolean): { steps: PlanStep[]; unmanaged: string[]; guarded: string[] } {
  const liveByKey = new Map(live.map((f) => [f.key, f]))
  const steps: PlanStep[] = []
  const guarded: string[] = []
  for (const declared of file.flags.map(fullSpec)) {
    const current = liveByKey.get(declared.key)
    if (!current) {
      steps.push({ action: 'create', key: declared.key, flag: declared })
      continue
    }
    // Both sides through fullSpec: defaults filled in, id lists compared as sets, rules in one form.
    const was = fullSpec(current)
    const kept = keptByGuard(declared, was, current)
    if (kept) guarded.push(declared.key)
    const spec = kept ?? declared
    const changes = diff(was, spec, FLAG_FIELDS)
    const patch = Object.fromEntries(Object.keys(changes).map((field) => [field, spec[field as keyof FullSpec]])) as FlagPatch
    // Variants as a list in order (the order is the split's), sent whole; none is `variants: []`,
    // which takes the offVariant with it.
    const [wasVariants, variants] = [was.variants ?? [], spec.variants ?? []]
    const details: Pick<Extract<PlanStep, { action: 'update' }>, 'variants' | 'splitMoved' | 'rules'> = {}
    if (!same(wasVariants, variants)) {
      patch.variants = variants
      changes.variants = { before: was.variants ?? null, after: spec.variants ?? null }
      details.variants = variantChanges(wasVariants, variants)
      const moved = splitMoved(wasVariants, variants)
      if (moved !== undefined) details.splitMoved = moved
    }
    if (variants.length === 0) delete patch.offVariant
    const rules = withLiveIds(spec.rules, was.rules)
    if (!same(rules, was.rules)) {
      patch.rules = rules
      changes.rules = { before: was.rules, after: rules }
      details.rules = ruleChanges(was.rules, rules)
    }
    Object.assign(details, scheduleDetails(was, spec, current, changes, patch))
    if (Object.keys(changes).length === 0) continue
    steps.push({ action: 'update', key: spec.key, version: current.version, patch, changes, ...details })
  }
  const declared = new Set(file.flags.map((f) => f.key))
  const unmanaged = live.filter((f) => !declared.has(f.key)).sort(byKey)
  if (prune) for (const flag of unmanaged) steps.push({ action: 'delete', key: flag.key, version: flag.version })
  return { steps: steps.sort(byKey), unmanaged: prune ? [] : unmanaged.map((f) => f.key), guarded }
}

/** The ids of sorted sets (fullSegmentSpec's) `after` adds to and removes from `before`, in one pass: a segment may hold a million. */
export function sortedDiff(before: readonly string[], after: readonly string[]): { added: string[]; removed: string[] } {
  const added: string[] = []
  const removed: string[] = []
  let i = 0
  let j = 0
  while (i < before.length || j < after.length) {
    const [b, a] = [before[i], after[j]]
    if (a === undefined || (b !== undefined && b < a)) removed.push(before[i++]!)
    else if (b === undefined || a < b) added.push(after[j++]!)
    else {
      i++
      j++
    }
  }
  return { added, removed }
}

/**
 * Field by field; lists as sets, under the audit rule (ids a side up to 1,000, then counts: listChange,
 * given only the differences, which are disjoint). `diffs`: every id added and removed, by list.
 */
function segmentChanges(before: Omit<FullSegmentSpec, 'key'>, after: FullSegmentSpec) {
  const changes: Record<string, FieldChange> = {}
  const diffs: Record<string, { added: string[]; removed: string[] }> = {}
  for (const field of SEGMENT_FIELDS) {
    const [b, a] = [before[field], after[field]]
    if (SEGMENT_LISTS.has(field)) {
      const diff = (diffs[field] = sortedDiff(b as string[], a as string[]))
      const change = listChange(diff.removed, diff.added)
      if (change) changes[field] = change
    } else if (!same(b, a)) changes[field] = { before: b, after: a }
  }
  return { changes, diffs }
}

function segmentSteps(file: FlagsFile, prune: boolean, live: LiveSegments | undefined): Plan['segments'] {
  if (file.segments === undefined) return { managed: false, steps: [], unmanaged: [] }
  if (live === undefined) throw new Error('planning segments needs the live segments')
  const liveByKey = new Map(live.summaries.map((s) => [s.key, s]))
  const steps: SegmentStep[] = []
  for (const spec of file.segments.map(fullSegmentSpec)) {
    const { users, tenants, ...head } = spec
    if (!liveByKey.has(spec.key)) {
      steps.push({ action: 'create', key: spec.key, segment: head, members: { users, tenants }, changes: segmentChanges(SEGMENT_SPEC_DEFAULTS, spec).changes })
      continue
    }
    const current = live.full.get(spec.key)
    if (current === undefined) throw new Error(`segment ${spec.key} was not read in full`)
    const { changes, diffs } = segmentChanges(fullSegmentSpec(current), spec)
    if (Object.keys(changes).length === 0) continue
    const patch = Object.fromEntries(HEAD_FIELDS.filter((f) => changes[f] !== undefined).map((f) => [f, spec[f]])) as SegmentPatch
    const members = {
      add: { users: diffs.users!.added, tenants: diffs.tenants!.added },
      remove: { users: diffs.users!.removed, tenants: diffs.tenants!.removed },
    }
    steps.push({ action: 'update', key: spec.key, version: current.version, patch, members, changes })
  }
  const declared = new Set(file.segments.map((s) => s.key))
  const unmanaged = live.summaries.filter((s) => !declared.has(s.key)).sort(byKey)
  if (prune) for (const s of unmanaged) steps.push({ action: 'delete', key: s.key, version: s.version })
  return { managed: true, steps: steps.sort(byKey), unmanaged: prune ? [] : unmanaged.map((s) => s.key) }
}

/**
 * The steps that make the service match `file`. `segments` must be given when needsSegments(file).
 * Throws a usage error when a rule names a segment that would not exist: neither in the file nor
 * on the service, or deleted by --prune.
 */
export function computePlan(live: readonly Flag[], file: FlagsFile, prune: boolean, segments?: LiveSegments): Plan {
  const { steps, unmanaged, guarded } = flagSteps(live, file, prune)
  const segmentPlan = segmentSteps(file, prune, segments)
  if (segments !== undefined) {
    const deleted = new Set(segmentPlan.steps.filter((s) => s.action === 'delete').map((s) => s.key))
    const held = new Set([...(file.segments ?? []).map((s) => s.key), ...segments.summaries.map((s) => s.key).filter((k) => !deleted.has(k))])
    const why = (key: string) => (deleted.has(key) ? 'which --prune would delete' : 'which neither the file nor the service holds')
    const missing = file.flags.flatMap((flag, i) =>
      [...segmentsNamed(flag.rules ?? [])].filter((key) => !held.has(key)).map((key) => `flags[${i}] (${flag.key}) names segment '${key}', ${why(key)}`),
    )
    if (missing.length > 0) throw usageError(`invalid flags file:\n${missing.join('\n')}`)
  }
  return { steps, unmanaged, guarded, segments: segmentPlan }
}

export type Counts = Record<PlanStep['action'], number>

const countOf = (steps: readonly { action: PlanStep['action'] }[]): Counts => {
  const counts = { create: 0, update: 0, delete: 0 }
  for (const step of steps) counts[step.action]++
  return counts
}

export const planSummary = (plan: Plan): Counts => countOf(plan.steps)
export const segmentSummary = (plan: Plan): Counts => countOf(plan.segments.steps)
export const stepCount = (plan: Plan) => plan.steps.length + plan.segments.steps.length

/** The plan for --json: segment steps without their full member lists (their `changes` name the ids by the audit rule). */
export function planJson(plan: Plan) {
  const segmentSteps = plan.segments.steps.map((step) => {
    if (step.action === 'delete') return step
    const { members: _members, ...rest } = step
    return rest
  })
  return {
    changed: stepCount(plan) > 0,
    summary: planSummary(plan),
    steps: plan.steps,
    unmanaged: plan.unmanaged,
    guarded: plan.guarded,
    segments: { managed: plan.segments.managed, summary: segmentSummary(plan), steps: segmentSteps, unmanaged: plan.segments.unmanaged },
  }
}

const label = (rule: RuleSpec, position?: number) => `rule ${rule.id ?? `#${position} (new)`}`

/** One line a rule change: `+ rule dutch-pro: country in [NL], plan in [pro] → on`. */
export function ruleChangeLines(changes: readonly RuleChange[]): string[] {
  return changes.map((c) => {
    if (c.change === 'added') return `+ ${label(c.rule, c.position)}: ${ruleText(c.rule)}`
    if (c.change === 'removed') return `- ${label(c.rule)}: ${ruleText(c.rule)}`
    if (c.change === 'reordered') return `~ rules reordered: ${c.order.join(', ')} (was: ${c.before.join(', ')})`
    const parts: string[] = []
    if (ruleText(c.rule) !== ruleText(c.before)) parts.push(`${ruleText(c.rule)} (was: ${ruleText(c.before)})`)
    if ((c.rule.description ?? '') !== (c.before.description ?? ''))
      parts.push(`description: ${JSON.stringify(c.before.description ?? '')} → ${JSON.stringify(c.rule.description ?? '')}`)
    return `~ ${label(c.rule)}: ${parts.join('; ')}`
  })
}

function tally(what: string, changes: readonly { change: string }[]): string {
  const n = (kind: string) => changes.filter((c) => c.change === kind).length
  const parts = [`${n('added')} added`, `${n('removed')} removed`, `${n('changed')} changed`].filter((p) => !p.startsWith('0 '))
  if (n('reordered') > 0) parts.push('reordered')
  return `${what}: ${parts.join(', ')}`
}

const variantLabel = (key: string) => `variant ${key}`

/** One line a variant change: `+ variant green = "green" (50%)`, `~ variant blue: weight 50 → 40`. */
export function variantChangeLines(changes: readonly VariantChange[]): string[] {
  return changes.map((c) => {
    if (c.change === 'added') return `+ ${variantLabel(variantText(c.variant))}`
    if (c.change === 'removed') return `- ${variantLabel(variantText(c.variant))}`
    if (c.change === 'reordered') return `~ variants reordered: ${c.order.join(', ')} (was: ${c.before.join(', ')})`
    const { variant: v, before: b } = c
    const parts: string[] = []
    if (!same(v.value, b.value)) parts.push(`value ${jsonText(b.value)} → ${jsonText(v.value)}`)
    if ((v.weight ?? 0) !== (b.weight ?? 0)) parts.push(`weight ${b.weight ?? 0} → ${v.weight ?? 0}`)
    if ((v.description ?? '') !== (b.description ?? ''))
      parts.push(`description: ${JSON.stringify(b.description ?? '')} → ${JSON.stringify(v.description ?? '')}`)
    return `~ ${variantLabel(v.key)}: ${parts.join('; ')}`
  })
}

/** `variants: 2 changed (10% of the default split moves to another variant)`. */
function variantTally(step: Extract<PlanStep, { action: 'update' }>): string {
  const changes = step.variants!
  const moved = step.splitMoved === undefined || step.splitMoved === 0 ? '' : ` (${step.splitMoved}% of the default split moves to another variant)`
  if (step.changes.variants!.after === null) return `variants: all ${changes.length} removed, the flag answers on or off`
  if (step.changes.variants!.before === null) return `variants: ${changes.length} added`
  return `${tally('variants', changes)}${moved}`
}

/** A schedule a line each: its ramp, or each step; then its guard. */
export function scheduleLines(schedule: ScheduleSpec, sign: string): string[] {
  const lines = schedule.ramp !== undefined ? [rampText(schedule.ramp)] : (schedule.steps ?? []).map(stepText)
  return [...lines, ...(schedule.guard ? [`guard: ${guardText(schedule.guard)}`] : [])].map((l) => `${sign} ${l}`)
}

/** The ramp or steps of a schedule a line each, without its guard. */
const planLines = ({ guard: _guard, ...plan }: ScheduleSpec, sign: string) => scheduleLines(plan, sign)

/**
 * A guard added, removed, or changed: `~ guard: <the new one> (was: <its parts that changed>)`,
 * e.g. `(was: errors > 0.01, → pause)`. Defaults spelled out or not are the same guard.
 */
export function guardChangeLines(before: Guard | undefined, after: Guard | undefined): string[] {
  if (before === undefined && after === undefined) return []
  if (before === undefined) return [`+ guard: ${guardText(after!)}`]
  if (after === undefined) return [`- guard: ${guardText(before)}`]
  if (same(normalGuard(before), normalGuard(after))) return []
  const now = guardParts(after)
  const was = guardParts(before).filter((part, i) => part !== now[i])
  return [`~ guard: ${guardText(after)} (was: ${was.join(', ')})`]
}

/** Steps by instant: each added, removed, or setting something else (`~ step …: 25% (was: 20%)`). */
function stepChangeLines(before: ScheduleSpec, after: ScheduleSpec): string[] {
  if (same(before.steps, after.steps) && same(before.ramp, after.ramp)) return []
  if (before.steps === undefined || after.steps === undefined) return [...planLines(before, '-'), ...planLines(after, '+')]
  const old = new Map(before.steps.map((s) => [s.at, s]))
  const now = new Set(after.steps.map((s) => s.at))
  const lines = before.steps.filter((s) => !now.has(s.at)).map((s) => `- ${stepText(s)}`)
  for (const step of after.steps) {
    const was = old.get(step.at)
    if (was === undefined) lines.push(`+ ${stepText(step)}`)
    else if (!same(was, step)) lines.push(`~ ${stepText(step)} (was: ${stepSets(was)})`)
  }
  return lines
}

/** The detail lines of a schedule's change, under the flag's row. */
function scheduleChangeLines(step: Extract<PlanStep, { action: 'update' }>): string[] {
  if (step.schedule === undefined) return []
  const { before, after } = step.changes.schedule as { before: ScheduleSpec | null; after: ScheduleSpec | null }
  const stays = `${phaseText(step.patch.state!, step.patch.percentage!)}`
  const inForce = step.effective ? ` (in force when read: ${phaseText(step.effective.state, step.effective.percentage)})` : ''
  const guard = () => guardChangeLines(before!.guard, after!.guard)
  switch (step.schedule) {
    case 'set':
      return [...scheduleLines(after!, '+'), ...(after!.paused ? [`+ paused: the flag stays at ${stays}`] : [])]
    case 'changed':
      return [...stepChangeLines(before!, after!), ...guard(), ...(after!.paused ? [`~ paused: the flag stays at ${stays}`] : [])]
    case 'paused':
      return [...guard(), `~ paused: the flag stays at ${stays}${inForce}`]
    case 'resumed':
      return [...guard(), '~ resumed: the server moves what is left of the schedule later by the time it was paused (export records the new instants)']
    case 'cleared':
      return [...scheduleLines(before!, '-'), `- schedule: the flag stays at ${stays}${inForce}`]
  }
}

interface Row {
  cells: string[]
  details: string[]
}

function flagRow(step: PlanStep): Row {
  const row = (what: string, details: string[] = []): Row => ({ cells: [SIGN[step.action], step.key, step.action, what], details })
  if (step.action === 'delete') return row(`version ${step.version}`)
  if (step.action === 'update') {
    const { rules: _rules, variants: _variants, schedule: _schedule, ...changes } = step.changes
    const what = [
      describeChanges(changes),
      step.variants ? variantTally(step) : '',
      step.rules ? tally('rules', step.rules) : '',
      step.schedule ? `schedule ${step.schedule}` : '',
    ]
      .filter((p) => p !== '')
      .join('; ')
    return row(`version ${step.version}: ${what}`, [
      ...variantChangeLines(step.variants ?? []),
      ...ruleChangeLines(step.rules ?? []),
      ...scheduleChangeLines(step),
    ])
  }
  // A created flag shows only what differs from the defaults, its variants and rules one a line.
  const set = diff({ key: step.key, ...SPEC_DEFAULTS }, step.flag, FLAG_FIELDS)
  const fields = Object.entries(set).map(([field, change]) =>
    change.added !== undefined ? `${field}=[${change.added.join(', ')}]` : `${field}=${JSON.stringify(change.after)}`,
  )
  const variants = step.flag.variants ?? []
  if (variants.length > 0) fields.push(`variants=${variants.length}`)
  if (step.flag.rules.length > 0) fields.push(`rules=${step.flag.rules.length}`)
  const schedule = step.flag.schedule
  if (schedule !== undefined)
    fields.push(
      `schedule=${schedule.ramp ? 'ramp' : `${schedule.steps!.length} steps`}${schedule.guard ? ' guarded' : ''}${schedule.paused ? ' (paused)' : ''}`,
    )
  const details = [
    ...variantChangeLines(variantChanges([], variants)),
    ...ruleChangeLines(ruleChanges([], step.flag.rules)),
    ...(schedule ? scheduleLines(schedule, '+') : []),
  ]
  return row(fields.length > 0 ? fields.join(' ') : 'all defaults', details)
}

// A member list may change by a million ids: past this many, the text counts them and names the first few
// (--json keeps the audit rule: 1,000 ids a side).
const LISTED_IDS = 20
const SAMPLE_IDS = 5

const total = (ids: readonly string[] | undefined, count: number | undefined) => count ?? ids?.length ?? 0
const sample = (ids: readonly string[], n: number, sign = '') =>
  `${ids
    .slice(0, SAMPLE_IDS)
    .map((id) => `${sign}${id}`)
    .join(' ')}${n > SAMPLE_IDS ? ' …' : ''}`

/** `users: +d -a`, or for many ids `users: 8,000 added (+u1 +u2 …), 4,000 removed (-u0 …)`. */
function describeIds(field: string, change: FieldChange, creating: boolean): string {
  const added = total(change.added, change.addedCount)
  const removed = total(change.removed, change.removedCount)
  if (creating)
    return added <= LISTED_IDS ? `${field}=[${(change.added ?? []).join(', ')}]` : `${field}=${added.toLocaleString('en')} (${sample(change.added!, added)})`
  if (added + removed <= LISTED_IDS) return describeChanges({ [field]: change })
  const parts = [
    added > 0 ? `${added.toLocaleString('en')} added (${sample(change.added!, added, '+')})` : '',
    removed > 0 ? `${removed.toLocaleString('en')} removed (${sample(change.removed!, removed, '-')})` : '',
  ]
  return `${field}: ${parts.filter((p) => p !== '').join(', ')}`
}

/** Clauses read as one line each side, id lists as describeIds, the rest as before → after. */
function describeSegmentChanges(changes: Record<string, FieldChange>, creating: boolean): string {
  return Object.entries(changes)
    .map(([field, change]) => {
      if (field === 'clauses') {
        const after = clausesText(change.after as never)
        return creating ? `clauses: ${after}` : `clauses: ${after} (was: ${clausesText(change.before as never)})`
      }
      if (change.added !== undefined) return describeIds(field, change, creating)
      if (creating) return `${field}=${JSON.stringify(change.after)}`
      return describeChanges({ [field]: change })
    })
    .join('; ')
}

function segmentRow(step: SegmentStep): Row {
  const cells = (what: string) => [SIGN[step.action], `segment ${step.key}`, step.action, what]
  if (step.action === 'delete') return { cells: cells(`version ${step.version}`), details: [] }
  if (step.action === 'update') return { cells: cells(`version ${step.version}: ${describeSegmentChanges(step.changes, false)}`), details: [] }
  return { cells: cells(describeSegmentChanges(step.changes, true) || 'all defaults (no members)'), details: [] }
}

const SIGN = { create: '+', update: '~', delete: '-' } as const

/** The rows in the order apply takes them: segments created and changed, flags, segments deleted. */
function rows(plan: Plan): Row[] {
  const segmentRows = (deletes: boolean) => plan.segments.steps.filter((s) => (s.action === 'delete') === deletes).map(segmentRow)
  return [...segmentRows(false), ...plan.steps.map(flagRow), ...segmentRows(true)]
}

const counted = (c: Counts, verb: (action: string) => string) => `${c.create} ${verb('create')}, ${c.update} ${verb('update')}, ${c.delete} ${verb('delete')}`

/** `Plan: 1 to create, …` and, when segments change, their counts too. */
export function summaryLine(plan: Plan, verb: (action: string) => string): string {
  const segments = plan.segments.steps.length > 0 ? `; segments: ${counted(segmentSummary(plan), verb)}` : ''
  return `${counted(planSummary(plan), verb)}${segments}`
}

export function renderPlan(plan: Plan, target: string, source: string): string {
  const lines: string[] = []
  if (stepCount(plan) === 0) lines.push(`No changes: ${target} matches ${source}.`)
  else {
    lines.push(`Changes that make ${target} match ${source}:`, '')
    const all = rows(plan)
    const [header, ...body] = table(
      ['', 'KEY', 'ACTION', 'WHAT'],
      all.map((r) => r.cells),
    ).split('\n')
    lines.push(header!)
    body.forEach((line, i) => lines.push(line, ...all[i]!.details.map((d) => `     ${d}`)))
    lines.push('', `Plan: ${summaryLine(plan, (a) => `to ${a}`)}.`)
  }
  if (plan.unmanaged.length > 0) lines.push(`Not in ${source}, left alone (--prune deletes them): ${plan.unmanaged.join(', ')}`)
  if (plan.guarded.length > 0) {
    lines.push(`Stopped by their guard, kept so (flagctl schedule resume KEY resumes one): ${plan.guarded.join(', ')}`)
  }
  if (plan.segments.unmanaged.length > 0) lines.push(`Segments not in ${source}, left alone (--prune deletes them): ${plan.segments.unmanaged.join(', ')}`)
  return lines.join('\n')
}
