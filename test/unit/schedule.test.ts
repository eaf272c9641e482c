// Schedules in the engine (evaluation/schedule.ts, engine.ts): the phase in force at an instant,
// the ramp's published quantization, the next transition, and the monotonic property issue 20 asks
// for: during an increasing ramp the threshold never falls and no id goes from in to out.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { compileFlag, evaluate, inForce } from '../../packages/core/src/evaluation/engine.js'
import { MODEL_VERSION } from '../../packages/core/src/flags/defaults.js'
import { nextTransition, phaseAt, rampThreshold, timelineOf, transitionsBetween, type Timeline } from '../../packages/core/src/evaluation/schedule.js'
import { scheduleProblem } from '../../packages/core/src/flags/model.js'
import { durationMs } from '../../packages/core/src/flags/values.js'
import { FLAG_DEFAULTS, type Flag, type Schedule } from '../../packages/core/src/flags/schema.js'
import { explain } from '../../packages/core/src/evaluation/explain.js'
import { T0, MINUTE, DAY, at } from '../support/schedule-time.js'

const flagOf = (schedule: Schedule, fields: Partial<Flag> = {}): Flag =>
  ({ ...FLAG_DEFAULTS, key: 'ramped', model: 4, version: 1, schedule, ...fields }) as Flag
const timeline = (schedule: Schedule, fields: Partial<Flag> = {}) => timelineOf(flagOf(schedule, fields))!
const ramp = (from: number, to: number, days = 7, interval?: string): Schedule => ({
  ramp: { from, to, start: at(T0), end: at(T0 + days * DAY), ...(interval ? { interval } : {}) },
})

/** The ramp as the README publishes it, in BigInt so no double rounding can hide a difference. */
function published(from: number, to: number, start: number, end: number, t: number, interval = 1): number {
  if (t < start) return NaN
  if (t >= end) return Math.round(to * 1000)
  const elapsed = ((BigInt(t - start) / BigInt(interval)) * BigInt(interval)) as bigint
  const num = BigInt(Math.round((to - from) * 1000)) * elapsed
  const span = BigInt(end - start)
  // floor toward minus infinity
  const q = num / span - (num % span !== 0n && num < 0n ? 1n : 0n)
  return Math.round(from * 1000) + Number(q)
}

describe('the ramp', () => {
  it('is from + floor((to − from) · (t − start) / (end − start)) in thousandths and ms, for any instant', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 100_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.integer({ min: 1, max: 366 * DAY }),
        fc.double({ min: 0, max: 1.2, noNaN: true }),
        fc.constantFrom(undefined, '1s', '90s', '1h', '1d'),
        (from, to, span, position, interval) => {
          const schedule: Schedule = { ramp: { from: from / 1000, to: to / 1000, start: at(T0), end: at(T0 + span), ...(interval ? { interval } : {}) } }
          const t = T0 + Math.floor(span * position)
          const tl = timeline(schedule)
          const expected = published(from / 1000, to / 1000, T0, T0 + span, t, interval ? durationMs(interval) : 1)
          expect(rampThreshold(tl.ramp!, t)).toBe(expected)
          expect(phaseAt(tl, t)).toEqual({ state: 'percentage', threshold: expected })
        },
      ),
      { numRuns: 3000 },
    )
  })

  it('never falls during an increasing ramp, over sampled instants', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 100_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.array(fc.integer({ min: -DAY, max: 8 * DAY }), { minLength: 2, maxLength: 50 }),
        (a, b, instants) => {
          const [from, to] = a <= b ? [a, b] : [b, a]
          const tl = timeline(ramp(from / 1000, to / 1000), { state: 'percentage', percentage: from / 1000 })
          const thresholds = instants.sort((x, y) => x - y).map((t) => phaseAt(tl, t).threshold)
          for (let i = 1; i < thresholds.length; i++) expect(thresholds[i]).toBeGreaterThanOrEqual(thresholds[i - 1]!)
        },
      ),
      { numRuns: 1000 },
    )
  })

  it('keeps every one of a million ids in once it is in, at several instants of a 1 → 100 ramp', () => {
    const compiled = compileFlag(flagOf(ramp(1, 100)))
    const instants = [T0, T0 + DAY / 3, T0 + DAY, T0 + 2.5 * DAY, T0 + 4 * DAY, T0 + 6.9 * DAY, T0 + 7 * DAY]
    const wasIn = new Uint8Array(1_000_000)
    let inAtEnd = 0
    for (const t of instants) {
      inAtEnd = 0
      for (let i = 0; i < wasIn.length; i++) {
        const enabled = evaluate(compiled, { userId: `user-${i}` }, t).enabled
        if (wasIn[i] === 1 && !enabled) throw new Error(`user-${i} went from in to out at ${at(t)}`)
        if (enabled) {
          wasIn[i] = 1
          inAtEnd++
        }
      }
    }
    expect(inAtEnd).toBe(1_000_000)
  })

  it('moves in interval steps when it has an interval', () => {
    const tl = timeline(ramp(0, 100, 4, '1d'))
    expect([0, 0.5, 1, 1.99, 2, 3.5, 4].map((d) => phaseAt(tl, T0 + d * DAY).threshold)).toEqual([0, 0, 25_000, 25_000, 50_000, 75_000, 100_000])
  })

  it('falls in a decreasing ramp, floored', () => {
    const tl = timeline(ramp(100, 0, 3))
    expect(phaseAt(tl, T0 + DAY).threshold).toBe(66_666)
    expect(phaseAt(tl, T0 + 3 * DAY).threshold).toBe(0)
  })

  it("leaves the flag's own state and percentage before it starts", () => {
    const tl = timeline(ramp(1, 100), { state: 'beta_users', percentage: 0 })
    expect(phaseAt(tl, T0 - 1)).toEqual({ state: 'beta_users', threshold: 0 })
  })
})

describe('the next transition', () => {
  const schedules: [string, Schedule][] = [
    ['a slow linear ramp', ramp(1, 100)],
    ['a fast linear ramp', { ramp: { from: 0, to: 100, start: at(T0), end: at(T0 + MINUTE) } }],
    ['a falling ramp', ramp(80, 5, 2)],
    ['a ramp by the hour', ramp(3, 97, 2, '1h')],
    [
      'steps',
      {
        steps: [
          { at: at(T0 + DAY), state: 'beta_users' },
          { at: at(T0 + 2 * DAY), percentage: 5 },
          { at: at(T0 + 3 * DAY), state: 'enabled' },
        ],
      },
    ],
  ]
  it.each(schedules)('%s: the phase holds until it and changes at it', (_, schedule) => {
    const tl: Timeline = timeline(schedule)
    fc.assert(
      fc.property(fc.integer({ min: -DAY, max: 4 * DAY }), (t) => {
        const phase = phaseAt(tl, t)
        const next = nextTransition(tl, t)
        if (next === undefined) {
          expect(phaseAt(tl, t + 10 * DAY)).toEqual(phase)
          return
        }
        expect(next.at).toBeGreaterThan(t)
        expect(phaseAt(tl, next.at - 1)).toEqual(phase)
        expect(phaseAt(tl, next.at)).toEqual({ state: next.state, threshold: next.threshold })
        expect(next.state !== phase.state || next.threshold !== phase.threshold).toBe(true)
      }),
      { numRuns: 500 },
    )
  })

  it('lists the transitions a person names: each step; a ramp start, its interval moves and its end', () => {
    const tl = timeline(ramp(0, 100, 4, '1d'))
    expect(transitionsBetween(tl, T0 - 1, T0 + 10 * DAY).map((s) => [s.at - T0, s.threshold])).toEqual([
      [0, 0],
      [DAY, 25_000],
      [2 * DAY, 50_000],
      [3 * DAY, 75_000],
      [4 * DAY, 100_000],
    ])
    expect(transitionsBetween(timeline(ramp(0, 100)), T0, T0 + 10 * DAY).map((s) => s.at - T0)).toEqual([7 * DAY])
  })
})

describe('evaluation at an instant', () => {
  const steps: Schedule = {
    steps: [
      { at: at(T0), state: 'beta_users' },
      { at: at(T0 + DAY), percentage: 100 },
    ],
  }
  const compiled = compileFlag(flagOf(steps, { betaUsers: ['alice'] }))

  it('answers from the phase in force at the `now` given', () => {
    expect(evaluate(compiled, { userId: 'alice' }, T0 - 1).reason).toBe('disabled')
    expect(evaluate(compiled, { userId: 'alice' }, T0).reason).toBe('beta_user')
    expect(evaluate(compiled, { userId: 'bob' }, T0).reason).toBe('not_targeted')
    expect(evaluate(compiled, { userId: 'bob' }, T0 + DAY).reason).toBe('percentage_in')
    // Back in time (another request's earlier `now`): the cache is per instant, never stale.
    expect(evaluate(compiled, { userId: 'bob' }, T0).reason).toBe('not_targeted')
  })

  it('keeps one phase object while the phase holds', () => {
    expect(inForce(compiled, T0 + 10)).toBe(inForce(compiled, T0 + 20))
  })

  it('explains the phase in force: its state and fall-through threshold', () => {
    const result = explain('ramped', compileFlag(flagOf(ramp(1, 100))), { userId: 'u' }, T0 + 3.5 * DAY)
    expect(result.explanation).toMatchObject({ state: 'percentage', fallthrough: { threshold: 50_500 } })
  })

  it('a paused schedule is not read: the flag answers from its own state and percentage', () => {
    const paused = compileFlag(flagOf({ ...ramp(1, 100), paused: true }, { state: 'percentage', percentage: 0 }))
    expect(evaluate(paused, { userId: 'u' }, T0 + 7 * DAY).reason).toBe('percentage_out')
  })

  it('a flag of a newer model than this build is unsupported, schedule or not', () => {
    expect(evaluate(compileFlag(flagOf(ramp(1, 100), { model: MODEL_VERSION + 1 })), { userId: 'u' }, T0).reason).toBe('unsupported_model')
  })
})

describe('scheduleProblem', () => {
  it.each<[string, Schedule, number | undefined, string | undefined]>([
    ['a good ramp', ramp(1, 100), T0, undefined],
    ['both', { ...ramp(1, 100), steps: [{ at: at(T0 + DAY), percentage: 5 }] }, T0, '.schedule'],
    ['neither', {}, T0, '.schedule'],
    ['a step that sets nothing', { steps: [{ at: at(T0 + DAY) }] }, T0, '.schedule.steps[0]'],
    ['a step in the past', { steps: [{ at: at(T0 - 2 * MINUTE), percentage: 5 }] }, T0, '.schedule.steps[0].at'],
    ['a step within the minute of grace', { steps: [{ at: at(T0 - 30_000), percentage: 5 }] }, T0, undefined],
    ['a past step in a file (no now)', { steps: [{ at: at(T0 - DAY), percentage: 5 }] }, undefined, undefined],
    [
      'steps out of order',
      {
        steps: [
          { at: at(T0 + 2 * DAY), percentage: 5 },
          { at: at(T0 + DAY), percentage: 9 },
        ],
      },
      T0,
      '.schedule.steps[1].at',
    ],
    ['a ramp that ends before it starts', { ramp: { from: 1, to: 2, start: at(T0 + DAY), end: at(T0) } }, undefined, '.schedule.ramp.end'],
    ['a ramp longer than 366 days', ramp(1, 100, 367), T0, '.schedule.ramp.end'],
    ['an interval under a second', ramp(1, 100, 7, '500ms'), T0, '.schedule.ramp.interval'],
    ['an interval as long as the ramp', ramp(1, 100, 7, '7d'), T0, '.schedule.ramp.interval'],
    ['a ramp already over', ramp(1, 100, 1), T0 + 2 * DAY, '.schedule.ramp.end'],
    ['a ramp already running', ramp(1, 100, 7), T0 + 2 * DAY, undefined],
  ])('%s', (_, schedule, now, field) => {
    expect(scheduleProblem(schedule, now)?.field).toBe(field)
  })
})
