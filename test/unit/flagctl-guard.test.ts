// flagctl's guarded rollouts without a server: how a guard and what it did read, and the schedule
// commands that send a schedule back keeping its guard.
import { describe, expect, it } from 'vitest'
import type { Flag, FlagPatch, Guard } from '../../packages/core/src/flags/schema.js'
import type { Api } from '../../packages/flagctl/src/client.js'
import { pauseSchedule, resumeSchedule } from '../../packages/flagctl/src/commands/schedule.js'
import type { CommandContext } from '../../packages/flagctl/src/context.js'
import { flagDetails, flagTable, guardText } from '../../packages/flagctl/src/output.js'
import { scheduleView } from '../../packages/flagctl/src/schedule.js'

const RAMP = { from: 1, to: 100, start: '2030-03-02T09:00:00Z', end: '2030-03-09T09:00:00Z' }

const flag = (schedule: Flag['schedule'], fields: Partial<Flag> = {}): Flag => ({
  ...{ key: 'copilot_v2', description: '', tags: [], state: 'percentage', percentage: 1, betaUsers: [], betaTenants: [], stickiness: 'userId', rules: [] },
  ...{ version: 7, createdAt: '2030-01-01T00:00:00.000Z', updatedAt: '2030-01-01T00:00:00.000Z', updatedBy: 'guard', model: 5 },
  schedule,
  ...fields,
})

describe('the guard as flagctl shows it', () => {
  const GUARD: Guard = { source: 'prometheus', query: 'errors', comparator: '>', threshold: 0.01, action: 'rollback' }

  it('reads a guard on one line, its defaults filled in', () => {
    expect(guardText(GUARD)).toBe('errors > 0.01 on prometheus, every 15s, 3 in a row → rollback (holds while the source is unreadable)')
    expect(guardText({ ...GUARD, source: 'datadog', comparator: '<=', threshold: 200, interval: '1m', breaches: 1, holdOnError: false, action: 'pause' })).toBe(
      'errors <= 200 on datadog, every 1m, at the first breach → pause (runs on while the source is unreadable)',
    )
  })

  it('schedule show: the guard under the schedule, and what the guard did under the status', () => {
    const effective = { state: 'percentage' as const, percentage: 1, at: '2030-03-02T09:00:00.000Z' }
    const running = flag(
      { ramp: RAMP, guard: GUARD },
      { effective: { ...effective, next: { ...effective, percentage: 1.001, at: '2030-03-02T09:00:06.108Z' } } },
    )
    expect(scheduleView(running)).toBe(
      [
        'flag:     copilot_v2 (version 7)',
        'schedule: ramp 1% → 100% from 2030-03-02T09:00:00Z to 2030-03-09T09:00:00Z',
        'guard:    errors > 0.01 on prometheus, every 15s, 3 in a row → rollback (holds while the source is unreadable)',
        'status:   running',
        'now:      percentage 1% (at 2030-03-02T09:00:00.000Z)',
        'next:     percentage 1.001% at 2030-03-02T09:00:06.108Z, in 6s',
      ].join('\n'),
    )
    const reason = 'errors was 0.034, 0.05, 0.041 (> 0.01) in 3 samples in a row'
    const rolledBack = flag(
      {
        ramp: RAMP,
        guard: GUARD,
        paused: true,
        pausedAt: '2030-03-04T10:00:00.000Z',
        guardPause: { action: 'rollback', at: '2030-03-04T10:00:00.000Z', reason },
      },
      { percentage: 20.5 },
    )
    expect(scheduleView(rolledBack)).toContain(
      [
        'status:   paused since 2030-03-04T10:00:00.000Z: frozen (schedule resume goes on, moving what is left later by the time it was paused)',
        `          paused by the guard at 2030-03-04T10:00:00.000Z: rollback — ${reason}`,
        'now:      percentage 20.5%',
      ].join('\n'),
    )
    const held = flag({
      ramp: RAMP,
      guard: GUARD,
      paused: true,
      guardPause: { action: 'hold', at: '2030-03-04T10:00:00.000Z', reason: 'prometheus: timed out' },
    })
    expect(scheduleView(held)).toContain(
      '          held by the guard at 2030-03-04T10:00:00.000Z: the source was unreadable — prometheus: timed out (it resumes once the source reads healthy)',
    )
  })

  it('get and list say it too', () => {
    const paused = flag({ ramp: RAMP, guard: GUARD, paused: true, guardPause: { action: 'pause', at: '2030-03-04T10:00:00.000Z', reason: 'too many errors' } })
    expect(flagDetails(paused)).toContain(
      [
        'guard:       errors > 0.01 on prometheus, every 15s, 3 in a row → rollback (holds while the source is unreadable)',
        '             paused by the guard at 2030-03-04T10:00:00.000Z: pause — too many errors',
        'in force:    paused by the guard: the state and percentage above',
      ].join('\n'),
    )
    expect(flagTable([paused])).toContain('percentage (schedule paused by the guard)')
    expect(flagTable([flag({ ...paused.schedule!, guardPause: { ...paused.schedule!.guardPause!, action: 'hold' } })])).toContain(
      'percentage (schedule held by the guard)',
    )
  })
})

describe('the schedule commands keep the guard', () => {
  const GUARD: Guard = { source: 'prometheus', query: 'errors', comparator: '>', threshold: 0.01, action: 'pause' }
  /** A context whose API holds `flag` and records each PATCH; notes collected. */
  function fake(flag: Flag) {
    const sent: FlagPatch[] = []
    const notes: string[] = []
    const api = {
      getFlag: async () => flag,
      writeFlag: async (_key: string, patch: FlagPatch) => {
        sent.push(patch)
        return { flag: { ...flag, version: flag.version + 1 }, schedule: 'changed' }
      },
    } as unknown as Api
    const ctx: CommandContext = { api, out: { emit: () => {}, print: () => {}, note: (t) => void notes.push(t) } }
    return { ctx, sent, notes }
  }

  it('pause and resume send the schedule back with its guard', async () => {
    const running = fake(flag({ ramp: RAMP, guard: GUARD }))
    await pauseSchedule(running.ctx, 'copilot_v2')
    expect(running.sent).toEqual([{ schedule: { ramp: RAMP, guard: GUARD, paused: true } }])
    const guardPause = { action: 'pause' as const, at: '2030-03-04T10:00:00.000Z', reason: 'errors above 0.01' }
    const stopped = fake(flag({ ramp: RAMP, guard: GUARD, paused: true, pausedAt: guardPause.at, guardPause }))
    await resumeSchedule(stopped.ctx, 'copilot_v2')
    expect(stopped.sent).toEqual([{ schedule: { ramp: RAMP, guard: GUARD } }])
    expect(stopped.notes).toEqual(["resumed copilot_v2's schedule (it was paused by the guard at 2030-03-04T10:00:00.000Z: pause — errors above 0.01)"])
  })
})
