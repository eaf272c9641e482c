// What a write does to a flag's schedule (README, "Progressive rollout"): set or change it (checked
// against the store's time), pause it (its phase in force written into state and percentage),
// resume it (what is left moved later by the time it was paused), clear it (the phase in force
// kept). A manual change of state or percentage pauses a running schedule.
import { guardProblem, scheduleProblem } from '@switchyard/core/flags/model'
import { normalGuard, type Guard } from '@switchyard/core/flags/schedule'
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

/** A guard in one spelling (its defaults written out), so sending the same guard again changes nothing. */
const guardText = (guard: Guard | undefined) => (guard === undefined ? undefined : JSON.stringify(normalGuard(guard)))

/** The schedule, running again, moved later by `ms`: steps, or the ramp's start and end. */
function shifted(schedule: Schedule, ms: number): Schedule {
  const later = (at: string) => iso(parseInstant(at) + ms)
  const { pausedAt: _, paused: __, guardPause: ___, ...rest } = schedule
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
    // Set by hand while the guard held it: the pause is the person's now, which the guard never resumes.
    if (setsPhase && old?.guardPause?.action === 'hold') return { flag: { ...merged, schedule: withoutGuardPause(old) }, change: 'paused' }
    return { flag: merged }
  }
  const schedule = patch.schedule
  const { pausedAt: _, guardPause: _guardPause, ...input } = schedule
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
  // The same plan: the guard may still be added, changed or removed without touching it.
  const guardChanged = guardText(input.guard) !== guardText(old!.guard)
  if (guardChanged && input.guard) {
    const problem = guardProblem(input.guard)
    if (problem) throw validationFailed(`${body}${problem.field}`, problem.message)
  }
  // A guard sent as it is stored (its defaults spelled out or not) keeps the stored spelling.
  const guarded = (s: Schedule): Schedule => {
    if (!guardChanged) return s
    const { guard: _g, ...rest } = s
    return input.guard === undefined ? rest : { ...rest, guard: input.guard }
  }
  const pausing = schedule.paused === true
  if (running && pausing) return { flag: { ...merged, ...frozen(), schedule: { ...input, pausedAt: iso(now) } }, change: 'paused' }
  if (!running && !pausing) {
    const pausedAt = old!.pausedAt === undefined ? now : parseInstant(old!.pausedAt)
    return { flag: { ...merged, schedule: guarded(shifted(old!, Math.max(0, now - pausedAt))) }, change: 'resumed' }
  }
  // Unchanged: the stored schedule as it is (pausedAt is the server's). A state or percentage sent
  // with it is the flag's own, which the schedule starts from and a pause replaces: the request set
  // the schedule running, so it keeps running (what flagctl apply sends; `effective` says what is in force).
  // Paused by a request while the guard held it: the pause is the person's now, which the guard never
  // resumes. A request that changes the guard (flagctl apply of a new threshold) is an edit of the guard, not a pause.
  // Without its guard, nothing would ever end a hold or explain a stop: the pause is a plain one.
  const takenOver = (pausing && old!.guardPause?.action === 'hold' && !guardChanged) || input.guard === undefined
  const kept = takenOver ? withoutGuardPause(old!) : old!
  return { flag: { ...merged, schedule: guarded(kept) }, ...(guardChanged ? { change: 'changed' as const } : {}) }
}

const withoutGuardPause = ({ guardPause: _, ...schedule }: Schedule): Schedule => schedule

/** What the guard writes (guards/runner.ts), and why. */
export interface GuardDecision {
  /** hold: the source could not be read; pause, rollback: tripped; resume: a hold ended (the source reads healthy). */
  action: 'hold' | 'pause' | 'rollback' | 'resume'
  reason: string
  /** A rollback: the last instant a sample was healthy (none: the flag is turned off). */
  healthyAt?: number
}

/**
 * The flag after the guard's decision at `now`. A hold or pause freezes the phase in force (as a
 * request's pause does); a rollback freezes the phase in force at the last healthy sample, and
 * pauses the schedule at that instant, so resuming it goes on from there; with no healthy sample,
 * the flag is turned off (`disabled`). Resuming a hold moves what is left later by the hold.
 */
export function guardSettled(flag: Flag, decision: GuardDecision, now: number): { flag: Flag; change: ScheduleChange } {
  const schedule = flag.schedule!
  if (decision.action === 'resume') {
    const pausedAt = schedule.pausedAt === undefined ? now : parseInstant(schedule.pausedAt)
    return { flag: { ...flag, schedule: shifted(schedule, Math.max(0, now - pausedAt)) }, change: 'resumed' }
  }
  const guardPause = { action: decision.action, at: iso(now), reason: decision.reason }
  const { paused: _, pausedAt: __, guardPause: ___, ...plan } = schedule
  const planned = { ...flag, schedule: plan }
  let phase: Pick<Flag, 'state' | 'percentage'>
  let pausedAt = now
  if (decision.action !== 'rollback') phase = schedule.paused === true ? { state: flag.state, percentage: flag.percentage } : phaseInForce(flag, now)
  else if (decision.healthyAt === undefined) phase = { state: 'disabled', percentage: flag.percentage }
  else {
    phase = phaseInForce(planned, decision.healthyAt)
    pausedAt = decision.healthyAt
  }
  // Already held: a trip keeps the hold's instant unless it rolls back to an earlier one.
  if (schedule.paused === true && decision.action !== 'rollback' && schedule.pausedAt !== undefined) pausedAt = parseInstant(schedule.pausedAt)
  return { flag: { ...flag, ...phase, schedule: { ...plan, paused: true, pausedAt: iso(pausedAt), guardPause } }, change: 'paused' }
}

const patchedPhase = (patch: Pick<FlagPatch, 'state' | 'percentage'>) => ({
  ...(patch.state === undefined ? {} : { state: patch.state }),
  ...(patch.percentage === undefined ? {} : { percentage: patch.percentage }),
})
