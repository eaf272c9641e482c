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
