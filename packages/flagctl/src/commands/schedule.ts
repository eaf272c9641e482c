// The schedule commands: rollout over time (--ramp, --steps, optionally --guard), schedule show, pause, resume, clear.
// Each write reads the flag and sends its change with If-Match on the version it read; the
// service checks the schedule itself (its 400 names the field) and says what the write did to it.
import type { Flag, Schedule, Stickiness } from '@switchyard/core/flags/schema'
import { parseInstant } from '@switchyard/core/flags/values'
import type { CommandContext } from '../context.js'
import { confirm } from '../confirm.js'
import { usageError } from '../errors.js'
import { guardPauseText, phaseText, spanText } from '../output.js'
import { guardOptionsGiven, rolloutPatch, scheduleJson, scheduleView, type RolloutOptions } from '../schedule.js'
import { rolloutFlag } from './flags.js'

/**
 * The schedule as the service holds it, without what the service manages: what pause and resume
 * send back (its guard too, which a schedule sent without one loses).
 */
const planOf = ({ steps, ramp, guard }: Schedule): Schedule => ({ ...(ramp !== undefined ? { ramp } : { steps }), ...(guard === undefined ? {} : { guard }) })

/** `flagctl rollout KEY 25` now, or over time with --ramp or --steps. */
export async function rollout(ctx: CommandContext, key: string, percentage: number | undefined, options: RolloutOptions): Promise<void> {
  const overTime = options.ramp !== undefined || options.steps !== undefined
  if (percentage !== undefined) {
    const extra = (['ramp', 'over', 'interval', 'steps', 'every', 'start'] as const).find((o) => options[o] !== undefined)
    if (extra !== undefined) throw usageError(`--${extra} rolls out over time: give it without a percentage (e.g. --ramp 1..${percentage} --over 7d)`)
    const guarded = options.guard !== undefined ? '--guard' : guardOptionsGiven(options)[0]
    if (guarded !== undefined) throw usageError(`${guarded} guards a schedule: give it with --ramp or --steps, not a percentage`)
    return rolloutFlag(ctx, key, percentage, { stickiness: options.stickiness as Stickiness | undefined })
  }
  if (!overTime) throw usageError('rollout needs a percentage, --ramp from..to --over <duration>, or --steps p1,p2,… --every <duration>')
  // Checked before anything is read: a mistyped option changes nothing.
  rolloutPatch(options, Date.now())
  const current = await ctx.api.getFlag(key)
  const { flag, schedule } = await ctx.api.writeFlag(key, rolloutPatch(options, Date.now()), current.version)
  if (schedule === 'changed') {
    const unguarded = current.schedule?.guard !== undefined && options.guard === undefined ? ', and its guard is gone (--guard gives it one)' : ''
    ctx.out.note(`${key}'s schedule is replaced by this one${unguarded}`)
  }
  ctx.out.emit(scheduleJson(flag, schedule), () => scheduleView(flag))
}

export async function showSchedule(ctx: CommandContext, key: string): Promise<void> {
  const flag = await ctx.api.getFlag(key)
  ctx.out.emit(scheduleJson(flag), () => scheduleView(flag))
}

async function scheduled(ctx: CommandContext, key: string): Promise<Flag & { schedule: Schedule }> {
  const flag = await ctx.api.getFlag(key)
  if (flag.schedule === undefined) throw usageError(`${key} has no schedule (flagctl rollout ${key} --ramp or --steps gives it one)`)
  return flag as Flag & { schedule: Schedule }
}

/** Freezes the flag at what its schedule has in force now. */
export async function pauseSchedule(ctx: CommandContext, key: string): Promise<void> {
  const current = await scheduled(ctx, key)
  // Held by the guard (its source unreadable), it would resume by itself: pausing makes the pause yours.
  const held = current.schedule.guardPause?.action === 'hold'
  if (current.schedule.paused && !held) {
    const { guardPause } = current.schedule
    ctx.out.note(`${key}'s schedule already is paused${guardPause ? ` (${guardPauseText(guardPause)})` : ''}: nothing changed`)
    ctx.out.emit(scheduleJson(current), () => scheduleView(current))
    return
  }
  const { flag, schedule } = await ctx.api.writeFlag(key, { schedule: { ...planOf(current.schedule), paused: true } }, current.version)
  const was = held ? ' (the guard held it; the guard no longer resumes it)' : ''
  ctx.out.note(`paused ${key}'s schedule${was}: it stays at ${phaseText(flag.state, flag.percentage)} until resumed`)
  ctx.out.emit(scheduleJson(flag, schedule), () => scheduleView(flag))
}

/** Goes on where the schedule was paused: the service moves what is left later by the time it was paused. */
export async function resumeSchedule(ctx: CommandContext, key: string): Promise<void> {
  const current = await scheduled(ctx, key)
  if (!current.schedule.paused) {
    ctx.out.note(`${key}'s schedule is not paused: nothing changed`)
    ctx.out.emit(scheduleJson(current), () => scheduleView(current))
    return
  }
  const { flag, schedule } = await ctx.api.writeFlag(key, { schedule: planOf(current.schedule) }, current.version)
  const { pausedAt, guardPause } = current.schedule
  const moved = pausedAt && flag.effective ? `: what is left moved ${spanText(parseInstant(flag.effective.at) - parseInstant(pausedAt))} later` : ''
  ctx.out.note(`resumed ${key}'s schedule${moved}${guardPause ? ` (it was ${guardPauseText(guardPause)})` : ''}`)
  ctx.out.emit(scheduleJson(flag, schedule), () => scheduleView(flag))
}

/** Removes the schedule; the flag keeps what was in force. Asked first on a terminal, as other destructive commands are. */
export async function clearSchedule(ctx: CommandContext, key: string, options: { yes?: boolean }): Promise<void> {
  const current = await ctx.api.getFlag(key)
  if (current.schedule === undefined) {
    ctx.out.note(`${key} has no schedule: nothing changed`)
    ctx.out.emit(scheduleJson(current), () => scheduleView(current))
    return
  }
  const inForce = current.effective ?? current
  if (
    options.yes !== true &&
    process.stdin.isTTY &&
    process.stderr.isTTY &&
    !(await confirm(
      `Clear the schedule of ${key} (version ${current.version}) on ${ctx.api.url}? It stays at ${phaseText(inForce.state, inForce.percentage)} from now on.`,
    ))
  ) {
    throw usageError('not cleared: cancelled')
  }
  const { flag, schedule } = await ctx.api.writeFlag(key, { schedule: null }, current.version)
  const what = schedule === 'finished' ? 'removed the finished schedule of' : 'cleared the schedule of'
  ctx.out.emit(scheduleJson(flag, schedule), () => `${what} ${key}: it stays at ${phaseText(flag.state, flag.percentage)} (version ${flag.version})`)
}
