// What a schedule means at an instant: the state and fall-through percentage in force, and when
// they next change. Pure functions of the flag and t (README, "Progressive rollout"): no timer, no
// write when a step is reached, the same answer on every replica and SDK that agrees on t.
import type { FlagState } from '../flags/defaults.js'
import type { Ramp, Schedule } from '../flags/schedule.js'
import { durationMs, parseInstant } from '../flags/values.js'
import { percentageThreshold } from './bucket.js'

/** The state and percentage in force: the percentage as a threshold in thousandths (bucket.ts). */
export interface Phase {
  readonly state: FlagState
  readonly threshold: number
}

/** A change of phase at an instant (ms since the epoch). */
export interface Transition extends Phase {
  readonly at: number
}

/** A schedule made ready: instants in ms, each step as the phase it leaves in force. */
export interface Timeline {
  /** Before the schedule starts: the flag's own state and percentage. */
  readonly base: Phase
  /** Steps, in time order, each with the phase from its instant on; null for a ramp. */
  readonly steps: readonly Transition[] | null
  readonly ramp: { readonly from: number; readonly to: number; readonly start: number; readonly end: number; readonly interval: number } | null
}

/**
 * The timeline of a flag's schedule, or null when it has none that runs: none at all, or paused
 * (a paused schedule's phase was written into the flag's state and percentage when it paused).
 */
export function timelineOf(flag: { state: FlagState; percentage: number; schedule?: Schedule }): Timeline | null {
  const schedule = flag.schedule
  if (schedule === undefined || schedule.paused === true) return null
  const base: Phase = { state: flag.state, threshold: percentageThreshold(flag.percentage) }
  if (schedule.ramp !== undefined) return { base, steps: null, ramp: rampOf(schedule.ramp) }
  let phase = base
  const steps = (schedule.steps ?? []).map((step) => {
    const state = step.state ?? (step.percentage !== undefined ? 'percentage' : phase.state)
    const threshold = step.percentage !== undefined ? percentageThreshold(step.percentage) : phase.threshold
    phase = { state, threshold }
    return { at: parseInstant(step.at), state, threshold }
  })
  return { base, steps, ramp: null }
}

function rampOf(ramp: Ramp): NonNullable<Timeline['ramp']> {
  const interval = ramp.interval === undefined ? 1 : durationMs(ramp.interval)
  return { from: percentageThreshold(ramp.from), to: percentageThreshold(ramp.to), start: parseInstant(ramp.start), end: parseInstant(ramp.end), interval }
}

/** floor(a / b) for integers whose product fits a double exactly (b > 0): corrected if rounding lifted it. */
function floorDiv(a: number, b: number): number {
  const q = Math.floor(a / b)
  return q * b > a ? q - 1 : (q + 1) * b <= a ? q + 1 : q
}

/**
 * The ramp's threshold at t (start ≤ t < end): from + floor((to − from) · (tq − start) / (end −
 * start)), tq being t rounded down to the interval. Integers throughout: the same on every machine.
 */
export function rampThreshold(r: NonNullable<Timeline['ramp']>, t: number): number {
  if (t >= r.end) return r.to
  const elapsed = floorDiv(t - r.start, r.interval) * r.interval
  return r.from + floorDiv((r.to - r.from) * elapsed, r.end - r.start)
}

/** The phase in force at t. */
export function phaseAt(timeline: Timeline, t: number): Phase {
  const { ramp, steps } = timeline
  if (ramp !== null) return t < ramp.start ? timeline.base : { state: 'percentage', threshold: rampThreshold(ramp, t) }
  let phase = timeline.base
  for (const step of steps!) {
    if (step.at > t) break
    phase = step
  }
  return { state: phase.state, threshold: phase.threshold }
}

/** The first change of phase after t, if any: the next step, or the next instant the ramp's threshold moves. */
export function nextTransition(timeline: Timeline, t: number): Transition | undefined {
  const { ramp, steps } = timeline
  if (ramp === null) return steps!.find((step) => step.at > t)
  if (t < ramp.start) return { at: ramp.start, state: 'percentage', threshold: rampThreshold(ramp, ramp.start) }
  if (t >= ramp.end) return undefined
  const now = rampThreshold(ramp, t)
  const span = ramp.end - ramp.start
  const delta = ramp.to - ramp.from
  const elapsed = floorDiv(t - ramp.start, ramp.interval) * ramp.interval
  // The first elapsed time at which the linear threshold leaves `now`, then the interval boundary at or after it.
  let linear: number
  if (delta > 0) linear = floorDiv((now - ramp.from + 1) * span + delta - 1, delta)
  else if (delta < 0) linear = floorDiv((ramp.from - now) * span, -delta) + 1
  else linear = span
  let at = ramp.start + Math.max(elapsed + ramp.interval, floorDiv(linear + ramp.interval - 1, ramp.interval) * ramp.interval)
  if (at >= ramp.end) at = ramp.end
  const threshold = rampThreshold(ramp, at)
  return threshold === now ? undefined : { at, state: 'percentage', threshold }
}

/**
 * The transitions a person would name, in (from, to]: every step; a ramp's start, each interval it
 * moves at (when it has one and at most `limit` of them), and its end. GET /audit lists them.
 */
export function transitionsBetween(timeline: Timeline, from: number, to: number, limit = 1000): Transition[] {
  const { ramp, steps } = timeline
  if (ramp === null) return steps!.filter((step) => step.at > from && step.at <= to)
  const out: Transition[] = []
  const add = (at: number) => {
    if (at > from && at <= to) out.push({ at, state: 'percentage', threshold: rampThreshold(ramp, at) })
  }
  add(ramp.start)
  const moves = Math.ceil((ramp.end - ramp.start) / ramp.interval) - 1
  if (ramp.interval > 1 && moves <= limit) for (let k = 1; k <= moves; k++) add(ramp.start + k * ramp.interval)
  add(ramp.end)
  return out
}
