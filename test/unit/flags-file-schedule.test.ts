// Schedules in the flags file (issue 20): written without what the server manages (`effective`,
// `pausedAt`), read back the same, instants in one form, and never refused for being past.
import { describe, expect, it } from 'vitest'
import { formatFlagsFile, fullSpec, FlagsFileError, parseFlagsFile } from '../../packages/core/src/flags/flags-file.js'
import type { Flag } from '../../packages/core/src/flags/schema.js'

const MANAGED = { version: 3, createdAt: '2030-01-01T00:00:00.000Z', updatedAt: '2030-01-01T00:00:00.000Z', updatedBy: 'someone', model: 4 }
const BASE: Pick<Flag, 'description' | 'tags' | 'betaUsers' | 'betaTenants' | 'stickiness' | 'rules'> = {
  description: '',
  tags: [],
  betaUsers: [],
  betaTenants: [],
  stickiness: 'userId',
  rules: [],
}

/** A flag as GET /flags answers it: with `effective` while its schedule runs, `pausedAt` once paused. */
const RAMPED: Flag = {
  key: 'copilot_v2',
  ...BASE,
  state: 'percentage',
  percentage: 1,
  schedule: { ramp: { from: 1, to: 100, start: '2030-03-02T10:00:00+01:00', end: '2030-03-09T09:00:00.000Z', interval: '1d' } },
  effective: {
    state: 'percentage',
    percentage: 43.428,
    at: '2030-03-05T09:00:00.000Z',
    next: { at: '2030-03-06T09:00:00.000Z', state: 'percentage', percentage: 57.571 },
  },
  ...MANAGED,
}
const STEPPED: Flag = {
  key: 'new_checkout',
  ...BASE,
  betaUsers: ['alice'],
  state: 'beta_users',
  percentage: 5,
  schedule: {
    steps: [
      { percentage: 5, at: '2030-03-03T09:00:00Z' },
      { at: '2030-03-06T09:00:00Z', state: 'enabled' },
    ],
    paused: true,
    pausedAt: '2030-03-04T12:00:00.000Z',
  },
  ...MANAGED,
}

function problemsOf(text: string): string[] {
  try {
    parseFlagsFile(text, 'flags.yaml')
  } catch (err) {
    if (err instanceof FlagsFileError) return err.problems
    throw err
  }
  return []
}

describe('schedules in the flags file', () => {
  it('writes a ramp on one line and a step a line, instants in UTC, `paused` but never `pausedAt` or `effective`', () => {
    const text = formatFlagsFile([STEPPED, RAMPED], 'yaml')
    expect(text).not.toMatch(/pausedAt|effective|43\.428/)
    expect(text).toContain(
      ['    schedule:', '      ramp: {from: 1, to: 100, start: 2030-03-02T09:00:00Z, end: 2030-03-09T09:00:00Z, interval: 1d}', '    rules: []'].join('\n'),
    )
    expect(text).toContain(
      [
        '    schedule:',
        '      steps:',
        '        - {at: 2030-03-03T09:00:00Z, percentage: 5}',
        '        - {at: 2030-03-06T09:00:00Z, state: enabled}',
        '      paused: true',
      ].join('\n'),
    )
  })

  it('parses back to the same flags in YAML and JSON: an exported schedule plans no change', () => {
    for (const format of ['yaml', 'json'] as const) {
      const file = parseFlagsFile(formatFlagsFile([RAMPED, STEPPED], format), `flags.${format}`)
      expect(file.flags.map(fullSpec)).toEqual([fullSpec(RAMPED), fullSpec(STEPPED)])
    }
    expect(fullSpec(STEPPED).schedule).toEqual({
      steps: [
        { at: '2030-03-03T09:00:00Z', percentage: 5 },
        { at: '2030-03-06T09:00:00Z', state: 'enabled' },
      ],
      paused: true,
    })
    // `paused: false` is the same as none; an instant with an offset is the same instant in UTC.
    const spelled = { ...RAMPED, schedule: { ramp: { ...RAMPED.schedule!.ramp!, start: '2030-03-02T09:00:00.000Z' }, paused: false } }
    expect(fullSpec(spelled)).toEqual(fullSpec(RAMPED))
    expect(fullSpec({ ...RAMPED, schedule: { ramp: { ...RAMPED.schedule!.ramp!, start: '2030-03-02T09:00:01Z' } } })).not.toEqual(fullSpec(RAMPED))
  })

  it('takes a schedule whose instants are past as it is: a file never becomes invalid as time passes', () => {
    const file = parseFlagsFile(
      'version: 1\nflags:\n  - key: old_ramp\n    schedule:\n      ramp: {from: 0, to: 100, start: 2020-01-01T00:00:00Z, end: 2020-01-08T00:00:00Z}\n',
      'flags.yaml',
    )
    expect(file.flags[0]!.schedule!.ramp!.end).toBe('2020-01-08T00:00:00Z')
  })

  it('refuses what the server manages, and what the model refuses, at the line it is on, naming the field', () => {
    const head = 'version: 1\nflags:\n  - key: f\n    schedule:\n'
    expect(problemsOf(`${head}      steps: [{at: 2030-03-03T09:00:00Z, percentage: 5}]\n      pausedAt: 2030-03-04T00:00:00Z\n`)).toEqual([
      'flags.yaml:6:7: flags[0].schedule.pausedAt is not a known field',
    ])
    expect(
      problemsOf(`${head}      steps:\n        - {at: 2030-03-03T09:00:00Z, percentage: 5}\n        - {at: 2030-03-02T09:00:00Z, percentage: 50}\n`),
    ).toEqual(['flags.yaml:7:16: flags[0].schedule.steps[1].at must be later than steps[0].at: steps are in time order'])
    expect(problemsOf(`${head}      ramp: {from: 1, to: 100, start: 2030-03-09T09:00:00Z, end: 2030-03-02T09:00:00Z}\n`)).toEqual([
      'flags.yaml:5:66: flags[0].schedule.ramp.end must be later than ramp.start',
    ])
    expect(problemsOf(`${head}      ramp: {from: 1, to: 50.0001, start: 2030-03-02T09:00:00Z, end: 2030-03-09T09:00:00Z}\n`)).toEqual([
      'flags.yaml:5:27: flags[0].schedule.ramp.to must have at most three decimals (a multiple of 0.001)',
    ])
    expect(problemsOf(`${head}      steps: [{at: 2030-03-03T09:00:00Z}]\n`)).toEqual([
      'flags.yaml:5:15: flags[0].schedule.steps[0] must set state, percentage or both',
    ])
    expect(
      problemsOf(
        `${head}      steps: [{at: 2030-03-03T09:00:00Z, percentage: 5}]\n` +
          '      ramp: {from: 1, to: 2, start: 2030-03-02T09:00:00Z, end: 2030-03-09T09:00:00Z}\n',
      ),
    ).toEqual(['flags.yaml:5:7: flags[0].schedule must hold exactly one of steps and ramp'])
    expect(problemsOf('version: 1\nflags:\n  - key: f\n    effective: {state: enabled, percentage: 0, at: 2030-03-03T09:00:00Z}\n')).toEqual([
      'flags.yaml:4:5: flags[0].effective is not a known field',
    ])
  })
})
