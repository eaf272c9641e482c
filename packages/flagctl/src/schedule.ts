// Schedules as flagctl reads and shows them: `rollout --ramp/--steps` options made into one PATCH,
// and the readable view of a flag's schedule that `schedule show` and every schedule command print.
import { durationMs, parseInstant } from '@switchyard/core/flags/values'
import { MAX_RAMP_DAYS, MAX_STEPS, SCHEDULE_PAST_GRACE_MS } from '@switchyard/core/flags/schedule'
import type { Flag, FlagPatch, ScheduleStep, Stickiness } from '@switchyard/core/flags/schema'
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
}

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

const only = (given: Record<string, unknown>, allowed: string[], why: string) => {
  const extra = Object.keys(given).find((name) => given[name] !== undefined && !allowed.includes(name))
  if (extra !== undefined) throw usageError(`--${extra} ${why}`)
}

/**
 * The PATCH that starts a ramp or steps at `now` (ms), or at --start. Starting now, the flag gets
 * the first percentage in the same request (state `percentage`), so nothing of it lies in the
 * past and no user waits for a clock; a later start leaves the flag as it is until then.
 */
export function rolloutPatch(options: RolloutOptions, now: number): FlagPatch {
  const { ramp, over, interval, steps, every, start, stickiness } = options
  const sticky = stickiness === undefined ? {} : { stickiness }
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
  return { ...(begin.now ? { state: 'percentage', percentage: percents[0]! } : {}), ...sticky, schedule: { steps: list } }
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
