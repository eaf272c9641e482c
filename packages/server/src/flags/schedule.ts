// What a write does to a flag's schedule (README, "Progressive rollout"): set or change it (checked
// against the store's time), pause it (its phase in force written into state and percentage),
// resume it (what is left moved later by the time it was paused), clear it (the phase in force
// kept). A manual change of state or percentage pauses a running schedule.
import { scheduleProblem } from '@switchyard/core/flags/model'
import { phaseAt, timelineOf, nextTransition } from '@switchyard/core/evaluation/schedule'
import { durationMs, parseInstant } from '@switchyard/core/flags/values'
import type { Effective, Flag, FlagPatch, Schedule } from '@switchyard/core/flags/schema'
import type { AuditEvent } from '@switchyard/core/audit/schema'
import { validationFailed } from '../errors.js'

/** What a write did to the flag's schedule: the audit event and the response say it. */
export type ScheduleChange = NonNullable<AuditEvent['schedule']>

const iso = (ms: number) => new Date(ms).toISOString()

/** The state and percentage a flag's running schedule has in force at `now` (the flag's own otherwise). */
export function phaseInForce(flag: Pick<Flag, 'state' | 'percentage' | 'schedule'>, now: number): Pick<Flag, 'state' | 'percentage'> {
  const timeline = timelineOf(flag)
  if (timeline === null) return { state: flag.state, percentage: flag.percentage }
  const phase = phaseAt(timeline, now)
  return { state: phase.state, percentage: phase.threshold / 1000 }
}

/** A flag as a response shows it: with `effective` when a schedule runs. */
export function withEffective(flag: Flag, now: number): Flag {
  const timeline = timelineOf(flag)
  if (timeline === null) return flag
  const phase = phaseAt(timeline, now)
  const next = nextTransition(timeline, now)
  const effective: Effective = { state: phase.state, percentage: phase.threshold / 1000, at: iso(now) }
  if (next !== undefined) effective.next = { at: iso(next.at), state: next.state, percentage: next.threshold / 1000 }
  return { ...flag, effective }
}

/**
 * The plan of a schedule: what it does, without whether it is paused, in one spelling (fields in
 * order, instants in ms), so a schedule read back from GET and sent again is the same plan.
 */
function planOf(s: Schedule | undefined): string | undefined {
  if (s === undefined) return undefined
  const { steps, ramp } = s
  return JSON.stringify({
    steps: steps?.map((step) => [parseInstant(step.at), step.state ?? null, step.percentage ?? null]),
    ramp: ramp && [ramp.from, ramp.to, parseInstant(ramp.start), parseInstant(ramp.end), ramp.interval === undefined ? null : durationMs(ramp.interval)],
  })
}

/** The schedule moved later by `ms`: steps, or the ramp's start and end. */
function shifted(schedule: Schedule, ms: number): Schedule {
  const later = (at: string) => iso(parseInstant(at) + ms)
  const { pausedAt: _, paused: __, ...rest } = schedule
  if (rest.ramp) return { ...rest, ramp: { ...rest.ramp, start: later(rest.ramp.start), end: later(rest.ramp.end) } }
  return { ...rest, steps: rest.steps!.map((step) => ({ ...step, at: later(step.at) })) }
}

/**
 * The flag `merged` (the patch laid over `before`) with its schedule settled for a write at `now`
 * (the store's clock), and what the write did to the schedule. `before`: null for a create.
 * `body` names the request's fields in errors. `allowPast`: a flags file or FLAGS_BOOTSTRAP_FILE,
 * which time passing never makes invalid, so steps already past are taken as past.
 */
export function settleSchedule(
  before: Flag | null,
  merged: Flag,
  patch: Pick<FlagPatch, 'state' | 'percentage'> & { schedule?: Schedule | null },
  now: number,
  body: string,
  allowPast = false,
): { flag: Flag; change?: ScheduleChange } {
  const old = before?.schedule
  const setsPhase = patch.state !== undefined || patch.percentage !== undefined
  // The phase the old schedule has in force, with what the request sets itself laid over it.
  const frozen = (): Pick<Flag, 'state' | 'percentage'> => {
    const phase = before ? phaseInForce(before, now) : { state: merged.state, percentage: merged.percentage }
    return { state: patch.state ?? phase.state, percentage: patch.percentage ?? phase.percentage }
  }
  const running = old !== undefined && old.paused !== true
  if (patch.schedule === null) {
    const { schedule: _, ...flag } = merged
    if (old === undefined) return { flag }
    const done = running && nextTransition(timelineOf(before!)!, now) === undefined
    return { flag: { ...flag, ...(running ? frozen() : {}) }, change: done ? 'finished' : 'cleared' }
  }
  if (patch.schedule === undefined) {
    // A person set the state or percentage by hand: the schedule stops where it is.
    if (running && setsPhase) return { flag: { ...merged, ...frozen(), schedule: { ...old, paused: true, pausedAt: iso(now) } }, change: 'paused' }
    return { flag: merged }
  }
  const schedule = patch.schedule
  const { pausedAt: _, ...input } = schedule
  if (planOf(schedule) !== planOf(old)) {
    const problem = scheduleProblem(input, allowPast ? undefined : now)
    if (problem) throw validationFailed(`${body}${problem.field}`, problem.message)
    const change: ScheduleChange = old === undefined ? 'set' : 'changed'
    // The new plan takes over from what is in force now (as clearing keeps it), not from the flag's
    // own state and percentage, which a running schedule had long left: nobody is turned off by a re-plan.
    const base = { ...merged, ...frozen() }
    if (input.paused !== true) return { flag: { ...base, schedule: input }, change }
    // Set paused: frozen in the phase the new schedule has in force now (read as running: a paused one has none).
    const { paused: _paused, ...runningPlan } = input
    const phase = phaseInForce({ ...base, schedule: runningPlan }, now)
    return { flag: { ...base, ...phase, ...patchedPhase(patch), schedule: { ...input, paused: true, pausedAt: iso(now) } }, change }
  }
  const pausing = schedule.paused === true
  if (running && pausing) return { flag: { ...merged, ...frozen(), schedule: { ...input, pausedAt: iso(now) } }, change: 'paused' }
  if (!running && !pausing) {
    const pausedAt = old!.pausedAt === undefined ? now : parseInstant(old!.pausedAt)
    return { flag: { ...merged, schedule: shifted(old!, Math.max(0, now - pausedAt)) }, change: 'resumed' }
  }
  // Unchanged: the stored schedule as it is (pausedAt is the server's). A state or percentage sent
  // with it is the flag's own, which the schedule starts from and a pause replaces: the request set
  // the schedule running, so it keeps running (what flagctl apply sends; `effective` says what is in force).
  return { flag: { ...merged, schedule: old } }
}

const patchedPhase = (patch: Pick<FlagPatch, 'state' | 'percentage'>) => ({
  ...(patch.state === undefined ? {} : { state: patch.state }),
  ...(patch.percentage === undefined ? {} : { percentage: patch.percentage }),
})
