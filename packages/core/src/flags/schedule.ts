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

export const GUARD_COMPARATORS = ['>', '>=', '<', '<='] as const
export type GuardComparator = (typeof GUARD_COMPARATORS)[number]
export const GUARD_ACTIONS = ['pause', 'rollback'] as const
/** What the guard did when it paused a schedule: held it (the source could not be read), or its action. */
export const GUARD_STOPS = ['hold', ...GUARD_ACTIONS] as const
/** The shortest interval a guard samples at; its default; its default run of breaches. */
export const MIN_GUARD_INTERVAL_MS = 5000
export const GUARD_DEFAULTS = { interval: '15s', breaches: 3, holdOnError: true } as const
export const MAX_GUARD_BREACHES = 100
/** A metric source's name: `prometheus` or one of GUARD_HTTP_SOURCES. */
export const GUARD_SOURCE_PATTERN = '^[a-z][a-z0-9_-]{0,63}$'

export const Guard = Type.Object(
  {
    source: Type.String({
      pattern: GUARD_SOURCE_PATTERN,
      description: 'A metric source the operator configured: `prometheus` (GUARD_PROMETHEUS_URL) or a name in GUARD_HTTP_SOURCES',
      examples: ['prometheus'],
    }),
    query: Type.String({
      minLength: 1,
      maxLength: 2000,
      description: 'For Prometheus, a PromQL instant query that yields one number; an HTTP source receives it as `?query=`',
      examples: ['sum(rate(http_errors_total[1m])) / sum(rate(http_requests_total[1m]))'],
    }),
    comparator: StringEnum(GUARD_COMPARATORS, { description: 'A sample is a breach when `value <comparator> threshold` holds' }),
    threshold: Type.Number(),
    interval: Type.Optional(
      Type.String({
        pattern: DURATION_PATTERN,
        description: `How often the metric is read; at least 5s (default ${GUARD_DEFAULTS.interval})`,
        examples: ['30s'],
      }),
    ),
    breaches: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: MAX_GUARD_BREACHES,
        description: `Consecutive breaching samples that trip the guard (default ${GUARD_DEFAULTS.breaches})`,
      }),
    ),
    holdOnError: Type.Optional(
      Type.Boolean({
        description:
          'When the source cannot be read for `breaches` samples in a row, pause the schedule until it reads healthy again, then resume it ' +
          '(default true). An unreadable source never triggers the action',
      }),
    ),
    action: StringEnum(GUARD_ACTIONS, {
      description: 'pause: freeze the schedule where it is. rollback: pause it at the last point a sample was healthy (off when none was)',
    }),
  },
  {
    $id: 'Guard',
    additionalProperties: false,
    description: 'Watches a metric while the schedule runs and pauses or rolls it back when the metric goes bad; the write is audited as actor `guard`',
    examples: [{ source: 'prometheus', query: 'job:errors:ratio5m{job="checkout"}', comparator: '>', threshold: 0.01, breaches: 3, action: 'rollback' }],
  },
)
export type Guard = Static<typeof Guard>

/** A guard with its defaults spelled out, fields in the schema's order. */
export function normalGuard(guard: Guard): Required<Guard> {
  const { source, query, comparator, threshold, interval, breaches, holdOnError, action } = guard
  return {
    source,
    query,
    comparator,
    threshold,
    interval: interval ?? GUARD_DEFAULTS.interval,
    breaches: breaches ?? GUARD_DEFAULTS.breaches,
    holdOnError: holdOnError ?? GUARD_DEFAULTS.holdOnError,
    action,
  }
}

/** Set by the server when the guard paused the schedule, and dropped when it runs again. */
export const GuardPause = Type.Object(
  {
    action: StringEnum(GUARD_STOPS, {
      description: 'hold: the source could not be read (resumed by the guard once it reads healthy); pause or rollback: tripped',
    }),
    at: Type.String({ format: 'date-time' }),
    reason: Type.String({ description: 'What the guard saw, in a sentence' }),
  },
  { $id: 'GuardPause', additionalProperties: false, description: 'Set by the server when the guard paused the schedule; ignored in input' },
)
export type GuardPause = Static<typeof GuardPause>

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
    guard: Type.Optional(Guard),
    guardPause: Type.Optional(GuardPause),
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
