// What flagctl prints: aligned tables for people, JSON for scripts (--json), and the one-line
// summaries of flags and field changes that tables, plans and the audit share.
import type { AuditEvent, FieldChange } from '@switchyard/core/audit/schema'
import { GUARD_DEFAULTS } from '@switchyard/core/flags/schedule'
import type { Clause, Explanation, Flag, FlagState, Guard, GuardPause, Ramp, Rule, RuleInput, ScheduleStep, Serve } from '@switchyard/core/flags/schema'
import type { Segment, SegmentSummary } from '@switchyard/core/segments/schema'
import { jsonText, splitText, variantText } from './variants.js'

export interface Output {
  /** Prints `data` as JSON with --json, otherwise the text `human` renders. */
  emit(data: unknown, human: () => string): void
  /** Text as it is, on stdout. */
  print(text: string): void
  /** Progress and notes: stderr, so stdout stays clean for pipes. */
  note(text: string): void
}

export function createOutput(json: boolean, stdout: NodeJS.WritableStream = process.stdout, stderr: NodeJS.WritableStream = process.stderr): Output {
  const print = (text: string) => stdout.write(text.endsWith('\n') ? text : `${text}\n`)
  return {
    emit: (data, human) => print(json ? JSON.stringify(data, null, 2) : human()),
    print,
    note(text) {
      stderr.write(`${text}\n`)
    },
  }
}

/** Columns padded to their widest cell; the last column is not padded. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd()
  return [line(headers), ...rows.map(line)].join('\n')
}

export const count = (n: number, noun: string) => `${n.toLocaleString('en')} ${noun}${n === 1 ? '' : 's'}`

export function flagTable(flags: readonly Flag[]): string {
  if (flags.length === 0) return 'no flags'
  return table(
    ['KEY', 'STATE', 'ROLLOUT', 'BETA', 'VERSION', 'TAGS'],
    flags.map((f) => [
      f.key,
      // What is in force: a running schedule's phase, not the state it started from.
      `${(f.effective ?? f).state}${f.schedule ? (f.schedule.paused ? ` (schedule ${stoppedBy(f.schedule.guardPause)})` : ' (scheduled)') : ''}`,
      (f.effective ?? f).state === 'percentage' ? `${(f.effective ?? f).percentage}% by ${f.stickiness}` : '-',
      `${count(f.betaUsers.length, 'user')}, ${count(f.betaTenants.length, 'tenant')}`,
      String(f.version),
      f.tags.join(','),
    ]),
  )
}

/** One flag, one field a line. */
export function flagDetails(flag: Flag): string {
  const rows: [string, string][] = [
    ['key', flag.key],
    ['description', flag.description],
    ['tags', flag.tags.join(', ')],
    ['state', flag.state],
    ['percentage', String(flag.percentage)],
    ['stickiness', flag.stickiness],
    ['betaUsers', flag.betaUsers.join(', ')],
    ['betaTenants', flag.betaTenants.join(', ')],
    ...variantRows(flag),
    ...ruleRows(flag.rules ?? []),
    ...scheduleRows(flag),
    ['model', String(flag.model ?? 1)],
    ['version', String(flag.version)],
    ['createdAt', flag.createdAt],
    ['updatedAt', `${flag.updatedAt} by ${flag.updatedBy}`],
  ]
  return details(rows)
}

/** A state and percentage as people say them: `percentage 25%`, `enabled`, `beta_users`. */
export const phaseText = (state: FlagState, percentage: number) => (state === 'percentage' ? `percentage ${percentage}%` : state)

/** What a step sets from its instant on: `25%` (the percentage state), `beta_users`, `enabled`, `beta_users, 5%`. */
export function stepSets(step: Pick<ScheduleStep, 'state' | 'percentage'>): string {
  const { state, percentage } = step
  if (percentage === undefined) return state ?? ''
  return state === undefined || state === 'percentage' ? `${percentage}%` : `${state}, ${percentage}%`
}

/** `step 2030-03-03T09:00:00Z: 5%`. */
export const stepText = (step: ScheduleStep) => `step ${step.at}: ${stepSets(step)}`

/** `ramp 1% → 100% from 2030-03-02T09:00:00Z to 2030-03-09T09:00:00Z, every 1h`. */
export const rampText = (r: Ramp) => `ramp ${r.from}% → ${r.to}% from ${r.start} to ${r.end}${r.interval === undefined ? '' : `, every ${r.interval}`}`

/**
 * A guard's parts as one line reads them (its defaults filled in): `errors > 0.01`, `on prometheus`,
 * `every 15s`, `3 in a row`, `→ rollback`, `holds while the source is unreadable`. Plans name the parts that changed.
 */
export function guardParts(guard: Guard): string[] {
  const breaches = guard.breaches ?? GUARD_DEFAULTS.breaches
  const holds = guard.holdOnError ?? GUARD_DEFAULTS.holdOnError
  return [
    `${guard.query} ${guard.comparator} ${guard.threshold}`,
    `on ${guard.source}`,
    `every ${guard.interval ?? GUARD_DEFAULTS.interval}`,
    breaches === 1 ? 'at the first breach' : `${breaches} in a row`,
    `→ ${guard.action}`,
    holds ? 'holds while the source is unreadable' : 'runs on while the source is unreadable',
  ]
}

/** `errors > 0.01 on prometheus, every 15s, 3 in a row → rollback (holds while the source is unreadable)`. */
export function guardText(guard: Guard): string {
  const [expression, source, interval, breaches, action, holds] = guardParts(guard)
  return `${expression} ${source}, ${interval}, ${breaches} ${action} (${holds})`
}

/** What the guard did, as a list says it: `paused by the guard`, `held by the guard`. */
const guardStopped = (pause: GuardPause) => `${pause.action === 'hold' ? 'held' : 'paused'} by the guard`

/** A paused schedule: `paused`, or what the guard did. */
const stoppedBy = (pause: GuardPause | undefined) => (pause ? guardStopped(pause) : 'paused')

/**
 * What the guard did, when and why: `paused by the guard at 2030-…: rollback — <reason>`, or for a
 * hold `held by the guard at 2030-…: the source was unreadable — <reason> (it resumes once the source reads healthy)`.
 */
export function guardPauseText(pause: GuardPause): string {
  if (pause.action === 'hold')
    return `${guardStopped(pause)} at ${pause.at}: the source was unreadable — ${pause.reason} (it resumes once the source reads healthy)`
  return `${guardStopped(pause)} at ${pause.at}: ${pause.action} — ${pause.reason}`
}

// How long until an instant, in its two largest units: `3d 4h`, `59m 12s`, `4s`.
const UNITS: [string, number][] = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1000],
]

/** A span of time in its two largest units (`2d 3h`, `5m 0s`); under a second, `now`. */
export function spanText(ms: number): string {
  const parts: string[] = []
  let rest = Math.max(0, ms)
  for (const [unit, size] of UNITS) {
    if (parts.length === 0 && rest < size) continue
    parts.push(`${Math.floor(rest / size)}${unit}`)
    rest %= size
    if (parts.length === 2) break
  }
  return parts.length === 0 ? 'now' : parts.join(' ')
}

/** On a scheduled flag: the schedule on one line, and what it has in force now (`schedule show` says more). */
function scheduleRows(flag: Flag): [string, string][] {
  const schedule = flag.schedule
  if (schedule === undefined) return []
  const what = schedule.ramp !== undefined ? rampText(schedule.ramp) : `${schedule.steps!.length} steps, the last ${stepText(schedule.steps!.at(-1)!)}`
  const now = flag.effective
    ? `${phaseText(flag.effective.state, flag.effective.percentage)} (schedule show: the next transition)`
    : schedule.paused
      ? `${stoppedBy(schedule.guardPause)}: the state and percentage above`
      : ''
  return [
    ['schedule', what],
    ...(schedule.guard ? [['guard', guardText(schedule.guard)] as [string, string]] : []),
    ...(schedule.guardPause ? [['', guardPauseText(schedule.guardPause)] as [string, string]] : []),
    ['in force', now],
  ]
}

/** `name:` and its value a line, values aligned one space past the longest name. */
export function details(rows: readonly [string, string][]): string {
  const width = Math.max(...rows.map(([name]) => name.length)) + 2
  return rows
    .map(([name, value]) => `${name ? `${name}:` : ''}`.padEnd(width) + value)
    .map((l) => l.trimEnd())
    .join('\n')
}

/** On a flag with variants: `variants:` and one a line under it, in declared order (the split's), then `offVariant:`. */
function variantRows(flag: Flag): [string, string][] {
  const variants = flag.variants ?? []
  if (variants.length === 0) return []
  return [...variants.map((v, i): [string, string] => [i === 0 ? 'variants' : '', variantText(v)]), ['offVariant', flag.offVariant ?? '']]
}

/** A flag's variants, one a row: the offVariant marked, values cut (--json shows them whole). */
export function variantTable(flag: Flag): string {
  const variants = flag.variants ?? []
  if (variants.length === 0) return `${flag.key} has no variants: it answers on or off`
  return table(
    ['KEY', 'WEIGHT', 'OFF', 'VALUE', 'DESCRIPTION'],
    variants.map((v) => [v.key, `${v.weight ?? 0}%`, v.key === flag.offVariant ? 'off' : '', jsonText(v.value), v.description ?? '']),
  )
}

/** `rules:` and one numbered rule a line under it, in the order they are tried. */
function ruleRows(rules: readonly Rule[]): [string, string][] {
  if (rules.length === 0) return [['rules', '(none)']]
  return rules.map((rule, i) => [i === 0 ? 'rules' : '', `${i + 1}. ${rule.id}: ${ruleText(rule)}${rule.description ? `  (${rule.description})` : ''}`])
}

// A value that reads the same bare (`NL`, `@example.com`, `2.4.0`) is shown bare; one that could be
// read as something else (`"12"` the string, `"true"`, a value with a comma or a space) is quoted.
const bare = (v: string) => /^[\w@.:/+-]+$/.test(v) && Number.isNaN(Number(v)) && !/^(true|false|null)$/.test(v)
const valueText = (v: string | number | boolean) => (typeof v === 'string' && !bare(v) ? JSON.stringify(v) : String(v))

/** One clause on one line: `country in [NL, BE]`, `email exists`, `in_segment [beta-testers]`, `not plan in [free]`. */
export function clauseText(clause: Clause): string {
  const values = `[${clause.values.map(valueText).join(', ')}]`
  const text =
    clause.operator === 'in_segment'
      ? `in_segment ${values}`
      : clause.operator === 'exists'
        ? `${clause.attribute} exists`
        : `${clause.attribute} ${clause.operator} ${values}`
  return clause.negate ? `not ${text}` : text
}

/**
 * What a rule serves: `on`, `off`, `25% by userId`; with variants, what it serves on after a colon:
 * `on: green`, `25% by userId: split [blue 30%, green 70%]` (a split's own stickiness when it has one).
 */
export function serveText(serve: Serve): string {
  const served = serve.enabled !== undefined ? (serve.enabled ? 'on' : 'off') : `${serve.percentage}% by ${serve.stickiness ?? 'userId'}`
  if (serve.variant !== undefined) return `${served}: ${serve.variant}`
  if (serve.split !== undefined) return `${served}: split ${serve.stickiness ? `by ${serve.stickiness} ` : ''}${splitText(serve.split)}`
  return served
}

/** A rule on one line: its clauses, then what it serves (`country in [NL], plan in [pro] → on`). */
export function ruleText(rule: RuleInput): string {
  return `${rule.clauses.length > 0 ? rule.clauses.map(clauseText).join(', ') : 'everyone'} → ${serveText(rule.serve)}`
}

/** A clause list on one line; `(none)` when empty. */
export const clausesText = (clauses: readonly Clause[]) => (clauses.length > 0 ? clauses.map(clauseText).join(', ') : '(none)')

export function segmentTable(segments: readonly SegmentSummary[]): string {
  if (segments.length === 0) return 'no segments'
  return table(
    ['KEY', 'MEMBERS', 'EXCLUDED', 'CLAUSES', 'VERSION', 'DESCRIPTION'],
    segments.map((s) => [
      s.key,
      `${count(s.userCount, 'user')}, ${count(s.tenantCount, 'tenant')}`,
      s.excludedUsers.length + s.excludedTenants.length > 0 ? `${count(s.excludedUsers.length, 'user')}, ${count(s.excludedTenants.length, 'tenant')}` : '-',
      s.clauses.length > 0 ? clausesText(s.clauses) : '-',
      String(s.version),
      s.description,
    ]),
  )
}

// A segment's members may number a million: `get` shows how many, and the first few.
const SHOWN_MEMBERS = 20
const someIds = (ids: readonly string[]) =>
  ids.length === 0 ? '(none)' : `${count(ids.length, 'id')}: ${ids.slice(0, SHOWN_MEMBERS).join(', ')}${ids.length > SHOWN_MEMBERS ? ', …' : ''}`

/** One segment, one field a line; member lists shortened (--json prints them whole). */
export function segmentDetails(segment: Segment): string {
  return details([
    ['key', segment.key],
    ['description', segment.description],
    ['clauses', clausesText(segment.clauses)],
    ['excludedUsers', someIds(segment.excludedUsers)],
    ['excludedTenants', someIds(segment.excludedTenants)],
    ['users', someIds(segment.users)],
    ['tenants', someIds(segment.tenants)],
    ['version', String(segment.version)],
    ['createdAt', segment.createdAt],
    ['updatedAt', `${segment.updatedAt} by ${segment.updatedBy}`],
  ])
}

const shown = (value: unknown) =>
  typeof value === 'string'
    ? JSON.stringify(value)
    : Array.isArray(value)
      ? `[${value.join(', ')}]`
      : typeof value === 'object'
        ? JSON.stringify(value)
        : String(value)

const cut = (ids: readonly string[] | undefined, total: number | undefined, side: string) =>
  total !== undefined && total > (ids?.length ?? 0) ? `${(total - (ids?.length ?? 0)).toLocaleString('en')} more ${side}` : ''

/** `state: "disabled" → "enabled"`, `betaUsers: +alice -bob`: the shape audit events and plans share. */
function describeChange(field: string, change: FieldChange): string {
  if (change.added !== undefined || change.removed !== undefined) {
    const parts = [...(change.added ?? []).map((id) => `+${id}`), ...(change.removed ?? []).map((id) => `-${id}`)]
    // Past AUDIT_LIST_IDS a side lists its first ids and counts the rest.
    const more = [cut(change.added, change.addedCount, 'added'), cut(change.removed, change.removedCount, 'removed')].filter((m) => m !== '')
    return `${field}: ${parts.join(' ')}${more.length > 0 ? ` (${more.join(', ')})` : ''}`
  }
  if (change.before === null || change.before === undefined) return `${field}: ${shown(change.after)}`
  if (change.after === null || change.after === undefined) return `${field}: ${shown(change.before)} → (none)`
  return `${field}: ${shown(change.before)} → ${shown(change.after)}`
}

export function describeChanges(changes: Record<string, FieldChange>): string {
  return Object.entries(changes)
    .map(([field, change]) => describeChange(field, change))
    .join('; ')
}

/**
 * An audit event's changes on one line: a schedule by what the write did to it (the whole schedule
 * before and after does not fit a line), and a guard's write by what it read.
 */
export function auditChangesText(event: AuditEvent): string {
  const { schedule, ...changes } = event.changes
  const parts = [describeChanges(changes)]
  if (schedule !== undefined) parts.push(`schedule ${event.schedule ?? 'changed'}`)
  const guard = event.guard
  if (guard !== undefined) {
    const read = guard.samples.map((s) => (s.value === undefined ? `error: ${s.error}` : String(s.value)))
    parts.push(`guard ${guard.action} (${guard.comparator} ${guard.threshold} on ${guard.source}; read ${read.join(', ')})`)
  }
  return parts.filter((p) => p !== '').join('; ')
}

type PercentageTrace = NonNullable<Explanation['fallthrough']>

const traceText = (t: PercentageTrace) =>
  t.bucket === undefined
    ? `by ${t.stickiness}: the context has no ${t.stickiness} → out`
    : `by ${t.stickiness}: bucket ${t.bucket} ${t.bucket < t.threshold ? '<' : '>='} threshold ${t.threshold} → ${t.bucket < t.threshold ? 'in' : 'out'}`

const listed = (id: string | undefined, what: string, isListed: boolean) => (id === undefined ? `no ${what}` : `${id} ${isListed ? 'listed' : 'not listed'}`)

/** POST /evaluate's `explain` trace, a step a line, indented under the answer. */
export function explanationText(e: Explanation): string {
  const lines = [`state ${e.state} (model ${e.model})`]
  if (e.betaUsers) lines.push(`beta users: ${listed(e.betaUsers.userId, 'userId', e.betaUsers.listed)}`)
  if (e.betaTenants) lines.push(`beta tenants: ${listed(e.betaTenants.tenantId, 'tenantId', e.betaTenants.listed)}`)
  for (const rule of e.rules ?? []) {
    const failed = rule.failedClause
    const clause = failed && (failed.attribute === undefined ? failed.operator : `${failed.attribute} ${failed.operator}`)
    const how = failed ? `no match at clause ${failed.index + 1} (${clause}): ${failed.outcome}: ${failed.message}` : 'matched'
    lines.push(`rule ${rule.id}: ${how}${rule.percentage ? `; ${traceText(rule.percentage)}` : ''}`)
  }
  if (e.fallthrough) lines.push(`rollout ${traceText(e.fallthrough)}`)
  if (e.variant) {
    const { key, source, stickiness, bucket } = e.variant
    const how = source === 'offVariant' ? 'the offVariant (the answer is off)' : source === 'rule' ? 'named by the deciding rule' : 'from a split'
    lines.push(`variant ${key}: ${how}${stickiness ? ` by ${stickiness}` : ''}${bucket === undefined ? '' : `, bucket ${bucket}`}`)
  }
  return lines.map((l) => `  ${l}`).join('\n')
}
