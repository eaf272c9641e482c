// flagctl's rollout over time at an injected instant: the PATCH `--ramp` and `--steps` make, and how
// long-until reads (test/process/cli-schedule.test.ts runs the commands against a service).
import { describe, expect, it } from 'vitest'
import { spanText } from '../../packages/flagctl/src/output.js'
import { rolloutPatch } from '../../packages/flagctl/src/schedule.js'

const NOW = Date.parse('2030-03-02T09:00:00.750Z')

describe('rolloutPatch', () => {
  it('starts a ramp now at its first percentage, from the whole second, and ends it --over later', () => {
    expect(rolloutPatch({ ramp: '0.5..100', over: '7d', interval: '1h' }, NOW)).toEqual({
      state: 'percentage',
      percentage: 0.5,
      schedule: { ramp: { from: 0.5, to: 100, start: '2030-03-02T09:00:00Z', end: '2030-03-09T09:00:00Z', interval: '1h' } },
    })
  })

  it('leaves the state and percentage alone until a later --start, and passes --stickiness on', () => {
    expect(rolloutPatch({ ramp: '50..0', over: '90m', start: '2030-03-03T10:00:00+01:00', stickiness: 'tenantId' }, NOW)).toEqual({
      stickiness: 'tenantId',
      schedule: { ramp: { from: 50, to: 0, start: '2030-03-03T09:00:00Z', end: '2030-03-03T10:30:00Z' } },
    })
  })

  it('sets the first of --steps now and schedules the rest --every apart; with --start, schedules them all', () => {
    expect(rolloutPatch({ steps: '1,5,25', every: '1d' }, NOW)).toEqual({
      state: 'percentage',
      percentage: 1,
      schedule: {
        steps: [
          { at: '2030-03-03T09:00:00Z', percentage: 5 },
          { at: '2030-03-04T09:00:00Z', percentage: 25 },
        ],
      },
    })
    expect(rolloutPatch({ steps: '100', every: '1d', start: '2030-03-06T09:00:00Z' }, NOW)).toEqual({
      schedule: { steps: [{ at: '2030-03-06T09:00:00Z', percentage: 100 }] },
    })
  })

  it('takes a --start within the minute the service allows for clocks that differ, and refuses one before it', () => {
    expect(() => rolloutPatch({ steps: '1,2', every: '1h', start: '2030-03-02T08:59:30Z' }, NOW)).not.toThrow()
    expect(() => rolloutPatch({ steps: '1,2', every: '1h', start: '2030-03-02T08:58:30Z' }, NOW)).toThrow(
      '--start 2030-03-02T08:58:30Z: is in the past (it is 2030-03-02T09:00:00.750Z): give a later instant, or now',
    )
  })
})

describe('spanText', () => {
  it('reads a span in its two largest units', () => {
    expect([0, 999, 4_000, 59 * 60_000 + 12_000, 3_600_000, 2 * 86_400_000 + 3 * 3_600_000 + 60_000].map(spanText)).toEqual([
      'now',
      'now',
      '4s',
      '59m 12s',
      '1h 0m',
      '2d 3h',
    ])
  })
})
