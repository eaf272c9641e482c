// flagctl's plan and apply with schedules (issue 20), without a server: what the plan sends for
// each difference of schedule and how it shows it; apply's writes take past instants as past.
import { describe, expect, it } from 'vitest'
import type { FlagsFile } from '../../packages/core/src/flags/flags-file.js'
import type { Flag, FlagCreate, Schedule } from '../../packages/core/src/flags/schema.js'
import { applyPlan } from '../../packages/flagctl/src/apply.js'
import type { Api } from '../../packages/flagctl/src/client.js'
import { computePlan, renderPlan } from '../../packages/flagctl/src/plan.js'

const RAMP = { from: 1, to: 100, start: '2030-03-02T09:00:00Z', end: '2030-03-09T09:00:00Z' }
const STEPS = [
  { at: '2030-03-03T09:00:00Z', percentage: 5 },
  { at: '2030-03-04T09:00:00Z', percentage: 25 },
  { at: '2030-03-05T09:00:00Z', percentage: 100 },
]
const EFFECTIVE = { state: 'percentage', percentage: 43.428, at: '2030-03-05T09:00:00.000Z' } as const

function liveFlag(fields: Partial<Flag> & { key: string }): Flag {
  return {
    ...{ description: '', tags: [], state: 'percentage', percentage: 1, betaUsers: [], betaTenants: [], stickiness: 'userId', rules: [] },
    ...{ version: 4, createdAt: '2030-01-01T00:00:00.000Z', updatedAt: '2030-01-01T00:00:00.000Z', updatedBy: 'someone', model: 4 },
    ...fields,
  }
}

const file = (flags: FlagCreate[]): FlagsFile => ({ version: 1, flags })
const declared = (schedule?: Schedule, fields: Partial<FlagCreate> = {}): FlagCreate => ({
  key: 'copilot_v2',
  state: 'percentage',
  percentage: 1,
  ...(schedule ? { schedule } : {}),
  ...fields,
})
const running = liveFlag({ key: 'copilot_v2', schedule: { ramp: RAMP }, effective: EFFECTIVE })
const paused = liveFlag({ key: 'copilot_v2', percentage: 43.428, schedule: { ramp: RAMP, paused: true, pausedAt: '2030-03-05T09:00:00.000Z' } })

const planOf = (live: Flag[], flags: FlagCreate[]) => computePlan(live, file(flags), false)
const shown = (live: Flag[], flags: FlagCreate[]) => renderPlan(planOf(live, flags), 'http://svc/', 'f.yaml')

describe('plan: schedules', () => {
  it('plans no change for a flag as export writes it, running or paused: `effective` and `pausedAt` are the server’s', () => {
    expect(planOf([running], [declared({ ramp: RAMP })]).steps).toEqual([])
    expect(planOf([paused], [declared({ ramp: RAMP, paused: true }, { percentage: 43.428 })]).steps).toEqual([])
  })

  it('sets a schedule with the state and percentage it starts from, and shows it a step a line', () => {
    const plain = liveFlag({ key: 'copilot_v2', state: 'disabled', percentage: 0 })
    const plan = planOf([plain], [declared({ steps: STEPS })])
    expect(plan.steps).toMatchObject([{ schedule: 'set', patch: { state: 'percentage', percentage: 1, schedule: { steps: STEPS } } }])
    expect(shown([plain], [declared({ steps: STEPS })])).toContain(
      [
        '~  copilot_v2  update  version 4: state: "disabled" → "percentage"; percentage: 0 → 1; schedule set',
        '     + step 2030-03-03T09:00:00Z: 5%',
        '     + step 2030-03-04T09:00:00Z: 25%',
        '     + step 2030-03-05T09:00:00Z: 100%',
      ].join('\n'),
    )
  })

  it('shows changed steps by instant: added, removed, and setting something else', () => {
    const live = liveFlag({ key: 'copilot_v2', schedule: { steps: STEPS } })
    const steps = [STEPS[0]!, { ...STEPS[1]!, percentage: 20 }, { at: '2030-03-06T09:00:00Z', state: 'enabled' as const }]
    expect(shown([live], [declared({ steps })])).toContain(
      [
        '~  copilot_v2  update  version 4: schedule changed',
        '     - step 2030-03-05T09:00:00Z: 100%',
        '     ~ step 2030-03-04T09:00:00Z: 20% (was: 25%)',
        '     + step 2030-03-06T09:00:00Z: enabled',
      ].join('\n'),
    )
    expect(shown([running], [declared({ ramp: { ...RAMP, to: 50, interval: '1d' } })])).toContain(
      [
        '     - ramp 1% → 100% from 2030-03-02T09:00:00Z to 2030-03-09T09:00:00Z',
        '     + ramp 1% → 50% from 2030-03-02T09:00:00Z to 2030-03-09T09:00:00Z, every 1d',
      ].join('\n'),
    )
  })

  it('pauses with the state and percentage the file gives, and says what was in force when the plan read the flag', () => {
    const plan = planOf([running], [declared({ ramp: RAMP, paused: true }, { percentage: 40 })])
    expect(plan.steps).toMatchObject([
      { schedule: 'paused', patch: { state: 'percentage', percentage: 40, schedule: { ramp: RAMP, paused: true } }, effective: { percentage: 43.428 } },
    ])
    expect(renderPlan(plan, 'http://svc/', 'f.yaml')).toContain(
      'percentage: 1 → 40; schedule paused\n     ~ paused: the flag stays at percentage 40% (in force when read: percentage 43.428%)',
    )
  })

  it('resumes a schedule paused on the server when the file’s runs, with the file’s state and percentage', () => {
    const plan = planOf([paused], [declared({ ramp: RAMP })])
    expect(plan.steps).toMatchObject([{ schedule: 'resumed', patch: { state: 'percentage', percentage: 1, schedule: { ramp: RAMP } } }])
    expect(plan.steps[0]).not.toHaveProperty('patch.schedule.paused')
    expect(renderPlan(plan, 'http://svc/', 'f.yaml')).toContain('~ resumed: the server moves what is left of the schedule later by the time it was paused')
  })

  it('clears a schedule the file does not have, leaving the flag at the file’s state and percentage', () => {
    const plan = planOf([running], [declared(undefined, { percentage: 30 })])
    expect(plan.steps).toMatchObject([{ schedule: 'cleared', patch: { state: 'percentage', percentage: 30, schedule: null } }])
    expect(renderPlan(plan, 'http://svc/', 'f.yaml')).toContain(
      [
        '     - ramp 1% → 100% from 2030-03-02T09:00:00Z to 2030-03-09T09:00:00Z',
        '     - schedule: the flag stays at percentage 30% (in force when read: percentage 43.428%)',
      ].join('\n'),
    )
  })

  it('sends the unchanged schedule with a new percentage, so the change does not pause it; other fields alone leave it out', () => {
    expect(planOf([running], [declared({ ramp: RAMP }, { percentage: 2 })]).steps).toMatchObject([
      { patch: { state: 'percentage', percentage: 2, schedule: { ramp: RAMP } } },
    ])
    const [step] = planOf([running], [declared({ ramp: RAMP }, { description: 'the copilot' })]).steps
    expect(step).toMatchObject({ patch: { description: 'the copilot' } })
    expect(step).not.toHaveProperty('patch.schedule')
    expect(step).not.toHaveProperty('schedule')
  })

  it('shows a created flag with its schedule, and apply takes past instants as past for creates and updates alike', async () => {
    const created = planOf([], [declared({ steps: STEPS, paused: true }, { key: 'fresh' })])
    expect(renderPlan(created, 'http://svc/', 'f.yaml')).toContain(
      ['+  fresh  create  state="percentage" percentage=1 schedule=3 steps (paused)', '     + step 2030-03-03T09:00:00Z: 5%'].join('\n'),
    )
    const calls: unknown[][] = []
    const api = {
      createFlag: async (...args: unknown[]) => void calls.push(['createFlag', ...args]),
      updateFlag: async (...args: unknown[]) => void calls.push(['updateFlag', ...args]),
    } as unknown as Api
    const past = { ramp: { ...RAMP, start: '2020-01-01T00:00:00Z', end: '2020-01-08T00:00:00Z' } }
    await applyPlan(api, planOf([running], [declared(past), declared(past, { key: 'fresh' })]), () => {})
    expect(calls).toEqual([
      ['updateFlag', 'copilot_v2', { state: 'percentage', percentage: 1, schedule: past }, 4, { allowPast: true }],
      ['createFlag', expect.objectContaining({ key: 'fresh', schedule: past }), { allowPast: true }],
    ])
  })
})

describe('plan: a schedule’s guard', () => {
  const GUARD = { source: 'prometheus', query: 'errors', comparator: '>', threshold: 0.01, action: 'rollback' } as const
  const SPELLED = { ...GUARD, interval: '15s', breaches: 3, holdOnError: true }
  const guarded = liveFlag({ key: 'copilot_v2', model: 5, schedule: { ramp: RAMP, guard: GUARD }, effective: EFFECTIVE })

  it('plans no change for the same guard, its defaults spelled out on either side or not', () => {
    expect(planOf([guarded], [declared({ ramp: RAMP, guard: GUARD })]).steps).toEqual([])
    expect(planOf([guarded], [declared({ ramp: RAMP, guard: SPELLED })]).steps).toEqual([])
    const spelled = liveFlag({ key: 'copilot_v2', model: 5, schedule: { ramp: RAMP, guard: SPELLED }, effective: EFFECTIVE })
    expect(planOf([spelled], [declared({ ramp: RAMP, guard: GUARD })]).steps).toEqual([])
    // What the guard did is the server's, as pausedAt is.
    const stopped = liveFlag({
      key: 'copilot_v2',
      model: 5,
      percentage: 20,
      schedule: {
        ramp: RAMP,
        guard: GUARD,
        paused: true,
        pausedAt: '2030-03-04T10:00:00.000Z',
        guardPause: { action: 'pause', at: '2030-03-04T10:00:00.000Z', reason: 'r' },
      },
    })
    expect(planOf([stopped], [declared({ ramp: RAMP, guard: GUARD, paused: true }, { percentage: 20 })]).steps).toEqual([])
  })

  it('a change of the guard alone is a change of the schedule: sent whole, shown by the parts that changed', () => {
    const plan = planOf([guarded], [declared({ ramp: RAMP, guard: { ...GUARD, threshold: 0.02, breaches: 5 } })])
    expect(plan.steps).toMatchObject([
      { schedule: 'changed', patch: { state: 'percentage', percentage: 1, schedule: { ramp: RAMP, guard: { ...SPELLED, threshold: 0.02, breaches: 5 } } } },
    ])
    expect(renderPlan(plan, 'http://svc/', 'f.yaml')).toContain(
      [
        '~  copilot_v2  update  version 4: schedule changed',
        '     ~ guard: errors > 0.02 on prometheus, every 15s, 5 in a row → rollback (holds while the source is unreadable) (was: errors > 0.01, 3 in a row)',
      ].join('\n'),
    )
    expect(shown([guarded], [declared({ ramp: RAMP, guard: { ...GUARD, holdOnError: false, action: 'pause' } })])).toContain(
      '(runs on while the source is unreadable) (was: → rollback, holds while the source is unreadable)',
    )
  })

  it('shows a guard added, removed, set with its schedule, created and cleared', () => {
    expect(shown([running], [declared({ ramp: RAMP, guard: GUARD })])).toContain(
      [
        '~  copilot_v2  update  version 4: schedule changed',
        '     + guard: errors > 0.01 on prometheus, every 15s, 3 in a row → rollback (holds while the source is unreadable)',
      ].join('\n'),
    )
    expect(shown([guarded], [declared({ ramp: RAMP })])).toContain(
      '     - guard: errors > 0.01 on prometheus, every 15s, 3 in a row → rollback (holds while the source is unreadable)',
    )
    // Another ramp and another guard: the ramp's lines, then the guard's.
    expect(shown([guarded], [declared({ ramp: { ...RAMP, to: 50 }, guard: { ...GUARD, query: 'rate(errors[5m])' } })])).toContain(
      [
        '     - ramp 1% → 100% from 2030-03-02T09:00:00Z to 2030-03-09T09:00:00Z',
        '     + ramp 1% → 50% from 2030-03-02T09:00:00Z to 2030-03-09T09:00:00Z',
        '     ~ guard: rate(errors[5m]) > 0.01 on prometheus, every 15s, 3 in a row → rollback (holds while the source is unreadable) (was: errors > 0.01)',
      ].join('\n'),
    )
    const plain = liveFlag({ key: 'copilot_v2', state: 'disabled', percentage: 0 })
    expect(shown([plain], [declared({ steps: STEPS, guard: GUARD })])).toContain(
      ['     + step 2030-03-05T09:00:00Z: 100%', '     + guard: errors > 0.01 on prometheus, every 15s'].join('\n'),
    )
    expect(shown([], [declared({ ramp: RAMP, guard: GUARD }, { key: 'fresh' })])).toContain(
      ['+  fresh  create  state="percentage" percentage=1 schedule=ramp guarded', '     + ramp 1% → 100%'].join('\n'),
    )
    expect(shown([guarded], [declared(undefined, { percentage: 30 })])).toContain(
      [
        '     - guard: errors > 0.01 on prometheus, every 15s, 3 in a row → rollback (holds while the source is unreadable)',
        '     - schedule: the flag stays at percentage 30% (in force when read: percentage 43.428%)',
      ].join('\n'),
    )
  })
})

describe('plan: a schedule its guard stopped', () => {
  const GUARD = { source: 'prometheus', query: 'errors', comparator: '>' as const, threshold: 0.01, action: 'rollback' as const }
  const rolledBack = liveFlag({
    key: 'copilot_v2',
    state: 'disabled',
    percentage: 1,
    model: 5,
    schedule: {
      ramp: RAMP,
      guard: GUARD,
      paused: true,
      pausedAt: '2030-03-05T09:00:00.000Z',
      guardPause: { action: 'rollback', at: '2030-03-05T09:05:00.000Z', reason: 'errors > 0.01: 0.2, 0.3, 0.2' },
    },
  })

  it('keeps it as the guard left it while the file keeps the plan: apply never undoes a rollback, and the plan says so', () => {
    const plan = planOf([rolledBack], [declared({ ramp: RAMP, guard: GUARD })])
    expect(plan.steps).toEqual([])
    expect(plan.guarded).toEqual(['copilot_v2'])
    expect(shown([rolledBack], [declared({ ramp: RAMP, guard: GUARD })])).toContain(
      'Stopped by their guard, kept so (flagctl schedule resume KEY resumes one): copilot_v2',
    )
    // Another field changes alone; the phase the guard set is not sent.
    const described = planOf([rolledBack], [declared({ ramp: RAMP, guard: GUARD }, { description: 'checkout v2' })])
    expect(described.steps).toMatchObject([{ patch: { description: 'checkout v2' } }])
    expect((described.steps[0] as { patch: object }).patch).not.toHaveProperty('state')
  })

  it('a file with another plan re-plans it as any change of plan does', () => {
    const later = { ...RAMP, end: '2030-03-19T09:00:00Z' }
    const plan = planOf([rolledBack], [declared({ ramp: later, guard: GUARD })])
    expect(plan.guarded).toEqual([])
    expect(plan.steps).toMatchObject([{ schedule: 'changed', patch: { schedule: { ramp: later, guard: GUARD } } }])
  })
})
