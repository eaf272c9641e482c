// Schedules as flagctl reads and shows them: `rollout --ramp/--steps` options (and a `--guard`) made
// into one PATCH, and the readable view of a flag's schedule that `schedule show` and every schedule command print.
import { durationMs, parseInstant } from '@switchyard/core/flags/values'
import { guardProblem } from '@switchyard/core/flags/model'
import {
  GUARD_ACTIONS,
  GUARD_COMPARATORS,
  GUARD_SOURCE_PATTERN,
  MAX_GUARD_BREACHES,
  MAX_RAMP_DAYS,
  MAX_STEPS,
  SCHEDULE_PAST_GRACE_MS,
  type GuardComparator,
} from '@switchyard/core/flags/schedule'
import type { Flag, FlagPatch, Guard, ScheduleStep, Stickiness } from '@switchyard/core/flags/schema'
import { usageError } from './errors.js'
import { details, guardPauseText, guardText, phaseText, rampText, spanText, stepText } from './output.js'

export interface RolloutOptions {
  ramp?: string
  over?: string
  interval?: string
  steps?: string
  every?: string
  start?: string
  stickiness?: Stickiness
  /** `--guard '<query> <comparator> <number>'` and the options that go with it. */
  guard?: string
  source?: string
  action?: string
  guardInterval?: string
  breaches?: string
  /** `--no-hold-on-error` makes it false; commander's default for it is true. */
  holdOnError?: boolean
}

/** The options that only go with --guard, as typed. */
const GUARD_OPTIONS = ['--source', '--action', '--guard-interval', '--breaches', '--no-hold-on-error'] as const

/** The guard options given (by name as typed): --no-hold-on-error only when it is. */
export const guardOptionsGiven = (o: RolloutOptions): string[] =>
  [o.source, o.action, o.guardInterval, o.breaches, o.holdOnError === false ? true : undefined].flatMap((v, i) => (v === undefined ? [] : [GUARD_OPTIONS[i]!]))

const DAY_MS = 86_400_000

/** An instant as flagctl sends and prints it: UTC, whole seconds unless it has milliseconds. */
export const instantText = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z')

/** A percentage option's value: 0 to 100, at most three decimals (`5`, `12.5%`). */
function percentOf(text: string, what: string): number {
  const n = Number(text.trim().replace(/%$/, ''))
  if (text.trim() === '' || !Number.isFinite(n) || n < 0 || n > 100 || Math.round(n * 1000) !== n * 1000)
    throw usageError(`${what}: '${text}' must be a percentage from 0 to 100 with at most three decimals`)
  return n
}

/** `--over 7d`: a whole number of ms, s, m, h or d, at least a second. */
function durationOf(text: string, option: string): number {
  const ms = durationMs(text)
  if (Number.isNaN(ms)) throw usageError(`${option} ${text}: must be a duration such as 90s, 30m, 1h or 7d`)
  if (ms < 1000) throw usageError(`${option} ${text}: must be at least one second (1s)`)
  return ms
}

/** `--start`: now (default), or an ISO-8601 instant not already past. */
function startOf(text: string | undefined, now: number): { ms: number; now: boolean } {
  // Whole seconds: the instants a schedule starting now gets read better, and none lies ahead of the server's clock by a fraction.
  if (text === undefined || text === 'now') return { ms: Math.floor(now / 1000) * 1000, now: true }
  const ms = parseInstant(text)
  if (Number.isNaN(ms)) throw usageError(`--start ${text}: must be now or an ISO-8601 instant with a zone, e.g. 2030-03-02T09:00:00Z`)
  if (ms < now - SCHEDULE_PAST_GRACE_MS) throw usageError(`--start ${text}: is in the past (it is ${instantText(now)}): give a later instant, or now`)
  return { ms, now: false }
}

// A threshold as people type it: 0.01, -1, .5, 1e-3 (no %, no Infinity).
const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i
const OPENS = '([{'
const CLOSES = ')]}'
const MAX_QUERY = 2000
const GUARD_EXAMPLE = "e.g. --guard 'errors > 0.01'"

/**
 * `--guard 'errors > 0.01'`: the query, the comparator and the threshold. A query may hold spaces,
 * brackets, quotes and comparators of its own (PromQL's `>` filters, `=~` matchers), so the split
 * is at the last comparator outside brackets and quotes, which must be followed by a number alone.
 */
export function guardExpression(text: string): Pick<Guard, 'query' | 'comparator' | 'threshold'> {
  let depth = 0
  let unbalanced = false
  let quote: string | undefined
  let last: { at: number; op: GuardComparator } | undefined
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (quote !== undefined) {
      if (c === '\\' && quote !== '`') i++
      else if (c === quote) quote = undefined
    } else if (c === '"' || c === "'" || c === '`') quote = c
    else if (OPENS.includes(c)) depth++
    else if (CLOSES.includes(c)) unbalanced ||= --depth < 0
    else if (depth === 0 && (c === '<' || c === '>')) {
      const op = (text[i + 1] === '=' ? `${c}=` : c) as GuardComparator
      last = { at: i, op }
      i += op.length - 1
    }
  }
  unbalanced ||= depth !== 0 || quote !== undefined
  const shape = `--guard '${text}': must be '<query> <comparator> <number>', the comparator one of ${GUARD_COMPARATORS.join(', ')}`
  if (last === undefined) {
    const why = unbalanced ? ' (its brackets or quotes do not close)' : ' outside brackets and quotes'
    throw usageError(`${shape}${why}, ${GUARD_EXAMPLE}`)
  }
  const query = text.slice(0, last.at).trim()
  const rest = text.slice(last.at + last.op.length).trim()
  const threshold = Number(rest)
  if (!NUMBER.test(rest) || !Number.isFinite(threshold)) {
    const after = rest === '' ? 'nothing follows it' : `'${rest}' after it is not a number`
    throw usageError(`${shape}: the last comparator is ${last.op} and ${after}, ${GUARD_EXAMPLE}`)
  }
  if (query === '') throw usageError(`--guard '${text}': give the query before ${last.op}, ${GUARD_EXAMPLE}`)
  if (/[=!<>]$/.test(query)) throw usageError(`--guard '${text}': '${query.at(-1)}${last.op}' is not a comparator: use one of ${GUARD_COMPARATORS.join(', ')}`)
  if (query.length > MAX_QUERY)
    throw usageError(`--guard: the query is ${query.length.toLocaleString('en')} characters long; at most ${MAX_QUERY.toLocaleString('en')}`)
  return { query, comparator: last.op, threshold }
}

/** The schedule's guard from --guard and the options that go with it; none without --guard (which those options then are refused without). */
export function guardOf(options: RolloutOptions): { guard?: Guard } {
  const { guard, source = 'prometheus', action = 'pause', guardInterval, breaches, holdOnError } = options
  if (guard === undefined) {
    const given = guardOptionsGiven(options)
    if (given.length > 0) throw usageError(`${given[0]} goes with --guard: give the metric to watch too, ${GUARD_EXAMPLE}`)
    return {}
  }
  const expression = guardExpression(guard)
  if (!new RegExp(GUARD_SOURCE_PATTERN).test(source))
    throw usageError(`--source ${source}: must be prometheus or the name of a metric source the service is configured with (a-z, 0-9, _ and -)`)
  if (!(GUARD_ACTIONS as readonly string[]).includes(action)) throw usageError(`--action ${action}: must be one of ${GUARD_ACTIONS.join(', ')}`)
  if (guardInterval !== undefined) {
    if (Number.isNaN(durationMs(guardInterval))) throw usageError(`--guard-interval ${guardInterval}: must be a duration such as 15s, 1m or 5m`)
    const problem = guardProblem({ source, ...expression, interval: guardInterval, action: action as Guard['action'] })
    if (problem) throw usageError(`--guard-interval ${guardInterval}: ${problem.message}`)
  }
  const runs = breaches === undefined ? undefined : Number(breaches)
  if (runs !== undefined && !(/^\d+$/.test(breaches!) && runs >= 1 && runs <= MAX_GUARD_BREACHES))
    throw usageError(`--breaches ${breaches}: must be a whole number from 1 to ${MAX_GUARD_BREACHES}`)
  return {
    guard: {
      source,
      ...expression,
      ...(guardInterval === undefined ? {} : { interval: guardInterval }),
      ...(runs === undefined ? {} : { breaches: runs }),
      ...(holdOnError === false ? { holdOnError: false } : {}),
      action: action as Guard['action'],
    },
  }
}

const only = (given: Record<string, unknown>, allowed: string[], why: string) => {
  const extra = Object.keys(given).find((name) => given[name] !== undefined && !allowed.includes(name))
  if (extra !== undefined) throw usageError(`--${extra} ${why}`)
}

/**
 * The PATCH that starts a ramp or steps at `now` (ms), or at --start. Starting now, the flag gets
 * the first percentage in the same request (state `percentage`), so nothing of it lies in the
 * past and no user waits for a clock; a later start leaves the flag as it is until then. With
 * --guard, the schedule carries its guard (the defaults the service fills in left out).
 */
export function rolloutPatch(options: RolloutOptions, now: number): FlagPatch {
  const { ramp, over, interval, steps, every, start, stickiness } = options
  const sticky = stickiness === undefined ? {} : { stickiness }
  const guard = guardOf(options)
  if (ramp !== undefined) {
    only({ steps, every }, [], 'goes with --steps, not --ramp')
    const ends = ramp.split('..')
    if (ends.length !== 2) throw usageError(`--ramp ${ramp}: must be from..to, e.g. 1..100`)
    const from = percentOf(ends[0]!, `--ramp ${ramp}`)
    const to = percentOf(ends[1]!, `--ramp ${ramp}`)
    if (from === to) throw usageError(`--ramp ${ramp}: from and to are the same (flagctl rollout KEY ${from} sets it now)`)
    if (over === undefined) throw usageError('--ramp needs --over: how long the ramp takes, e.g. --over 7d')
    const span = durationOf(over, '--over')
    if (span > MAX_RAMP_DAYS * DAY_MS) throw usageError(`--over ${over}: a ramp takes at most ${MAX_RAMP_DAYS}d`)
    if (interval !== undefined && durationOf(interval, '--interval') >= span) throw usageError(`--interval ${interval}: must be shorter than --over ${over}`)
    const begin = startOf(start, now)
    const schedule = {
      ramp: { from, to, start: instantText(begin.ms), end: instantText(begin.ms + span), ...(interval === undefined ? {} : { interval }) },
      ...guard,
    }
    return { ...(begin.now ? { state: 'percentage', percentage: from } : {}), ...sticky, schedule }
  }
  if (steps === undefined) throw usageError('rollout needs a percentage, --ramp from..to or --steps p1,p2,…')
  only({ over, interval }, [], 'goes with --ramp, not --steps')
  const percents = steps.split(',').map((p) => percentOf(p, `--steps ${steps}`))
  if (every === undefined) throw usageError('--steps needs --every: the time between steps, e.g. --every 1d')
  const gap = durationOf(every, '--every')
  const begin = startOf(start, now)
  if (begin.now && percents.length < 2) throw usageError(`--steps ${steps}: give at least two percentages (flagctl rollout KEY ${percents[0]} sets one now)`)
  const scheduled = begin.now ? percents.slice(1) : percents
  if (scheduled.length > MAX_STEPS) throw usageError(`--steps ${steps}: at most ${MAX_STEPS} steps${begin.now ? ' after the first' : ''}`)
  const first = begin.now ? 1 : 0
  const list: ScheduleStep[] = scheduled.map((percentage, i) => ({ at: instantText(begin.ms + (i + first) * gap), percentage }))
  return { ...(begin.now ? { state: 'percentage', percentage: percents[0]! } : {}), ...sticky, schedule: { steps: list, ...guard } }
}

/** What --json prints for every schedule command: the flag's schedule and what is in force, as the service answered. */
export const scheduleJson = (flag: Flag, change?: string) => ({
  flag: flag.key,
  version: flag.version,
  state: flag.state,
  percentage: flag.percentage,
  schedule: flag.schedule ?? null,
  effective: flag.effective ?? null,
  ...(change === undefined ? {} : { change }),
})

/**
 * A flag's schedule for people: each step (the ones past and the one in force marked) or the
 * ramp, its guard, whether it runs (or what the guard did to stop it), what is in force now and
 * the next transition with how long until it (measured on the service's clock, as `effective.at`).
 */
export function scheduleView(flag: Flag): string {
  const schedule = flag.schedule
  if (schedule === undefined) return `${flag.key} has no schedule: it is at ${phaseText(flag.state, flag.percentage)}`
  const pausedAt = schedule.paused ? schedule.pausedAt : undefined
  const at = flag.effective?.at ?? pausedAt
  const reached = (step: ScheduleStep) => at !== undefined && parseInstant(step.at) <= parseInstant(at)
  const steps = schedule.steps ?? []
  const current = steps.filter(reached).length - 1
  const lines: string[] =
    schedule.ramp !== undefined
      ? [rampText(schedule.ramp)]
      : steps.map((step, i) => `${stepText(step)}${i === current ? '  (in force)' : i < current ? '  (past)' : ''}`)
  const rows: [string, string][] = [
    ['flag', `${flag.key} (version ${flag.version})`],
    ...lines.map((line, i): [string, string] => [i === 0 ? 'schedule' : '', line]),
  ]
  if (schedule.guard !== undefined) rows.push(['guard', guardText(schedule.guard)])
  // What the guard did: the service sets it with the pause and drops it when the schedule runs again.
  const byGuard: [string, string][] = schedule.guardPause === undefined ? [] : [['', guardPauseText(schedule.guardPause)]]
  if (schedule.paused) {
    rows.push(
      ['status', `paused${pausedAt ? ` since ${pausedAt}` : ''}: frozen (schedule resume goes on, moving what is left later by the time it was paused)`],
      ...byGuard,
      ['now', phaseText(flag.state, flag.percentage)],
    )
    return details(rows)
  }
  const effective = flag.effective
  rows.push(
    ['status', effective?.next === undefined ? 'finished: nothing is left to come (schedule clear removes it, keeping what is in force)' : 'running'],
    ...byGuard,
  )
  if (effective !== undefined) {
    rows.push(['now', `${phaseText(effective.state, effective.percentage)} (at ${effective.at})`])
    const next = effective.next
    if (next !== undefined)
      rows.push(['next', `${phaseText(next.state, next.percentage)} at ${next.at}, in ${spanText(parseInstant(next.at) - parseInstant(effective.at))}`])
  }
  return details(rows)
}
