// Schedules: steps and ramps that drive a flag's state and fall-through percentage as a pure
// function of time. TypeBox schemas; the checks past the schema are in flags/model.ts
// (scheduleProblem), what a schedule means at an instant in evaluation/schedule.ts.
import { Type, type Static } from 'typebox'
import { StringEnum } from '../schema.js'
import { FLAG_STATES } from './defaults.js'

/** Steps a schedule may hold; the longest ramp, which keeps its arithmetic exact in doubles. */
export const MAX_STEPS = 100
export const MAX_RAMP_DAYS = 366
/** How far in the past a step (or a ramp's end) may be when it is set: clocks differ a little. */
export const SCHEDULE_PAST_GRACE_MS = 60_000

const Percentage = Type.Number({ minimum: 0, maximum: 100, multipleOf: 0.001, description: 'At most three decimals' })
const Instant = Type.String({
  format: 'date-time',
  description: 'ISO-8601 with a zone (2026-03-03T09:00:00Z, 2026-03-03T10:00:00+01:00)',
  examples: ['2026-03-03T09:00:00Z'],
})
/** A duration as flagctl writes it: a whole number of ms, s, m, h or d. */
export const DURATION_PATTERN = '^[1-9][0-9]{0,9}(ms|s|m|h|d)$'

export const ScheduleStep = Type.Object(
  {
    at: Instant,
    state: Type.Optional(StringEnum(FLAG_STATES, { description: 'The state from `at` on; a step with only a percentage means `percentage`' })),
    percentage: Type.Optional({ ...Percentage, description: 'The fall-through percentage from `at` on, at most three decimals' }),
  },
  {
    $id: 'ScheduleStep',
    additionalProperties: false,
    description: 'From `at` on, the flag has this state and percentage; a field left out keeps the value before the step',
    examples: [{ at: '2026-03-03T09:00:00Z', percentage: 5 }],
  },
)
export type ScheduleStep = Static<typeof ScheduleStep>

export const Ramp = Type.Object(
  {
    from: { ...Percentage, description: 'The percentage at `start`' },
    to: { ...Percentage, description: 'The percentage at `end` and after' },
    start: Instant,
    end: Instant,
    interval: Type.Optional(
      Type.String({
        pattern: DURATION_PATTERN,
        description: 'Rise in steps this long (90s, 30m, 1h, 1d) rather than continuously; at least one second',
        examples: ['1h'],
      }),
    ),
  },
  {
    $id: 'Ramp',
    additionalProperties: false,
    description:
      'From `start` to `end` the state is `percentage` and the percentage moves from `from` to `to`: ' +
      'threshold = from + floor((to − from) · (t − start) / (end − start)) in thousandths of a percent and milliseconds',
    examples: [{ from: 1, to: 100, start: '2026-03-02T09:00:00Z', end: '2026-03-09T09:00:00Z' }],
  },
)
export type Ramp = Static<typeof Ramp>

export const Schedule = Type.Object(
  {
    steps: Type.Optional(Type.Array(ScheduleStep, { minItems: 1, maxItems: MAX_STEPS, description: 'In time order' })),
    ramp: Type.Optional(Ramp),
    paused: Type.Optional(
      Type.Boolean({
        description:
          'Frozen: the flag keeps the state and percentage it had when paused (written into its state and percentage). ' +
          'Resuming moves what is left of the schedule later by the time it was paused',
      }),
    ),
    pausedAt: Type.Optional(Type.String({ format: 'date-time', description: 'Set by the server when the schedule is paused; ignored in input' })),
  },
  {
    $id: 'Schedule',
    additionalProperties: false,
    description: 'Exactly one of `steps` and `ramp`. Drives the state and the fall-through percentage (not rule percentages or variant weights)',
    examples: [
      { ramp: { from: 1, to: 100, start: '2026-03-02T09:00:00Z', end: '2026-03-09T09:00:00Z', interval: '1d' } },
      {
        steps: [
          { at: '2026-03-02T09:00:00Z', state: 'beta_users' },
          { at: '2026-03-03T09:00:00Z', percentage: 5 },
          { at: '2026-03-06T09:00:00Z', percentage: 100 },
        ],
      },
    ],
  },
)
export type Schedule = Static<typeof Schedule>
