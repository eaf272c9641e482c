// The SDK's public types, written out so that its published declarations need neither
// @switchyard/core nor TypeBox; test/unit/sdk-types.test.ts fails the typecheck if they ever
// differ from the model's schemas.

export type FlagState = 'enabled' | 'disabled' | 'beta_users' | 'percentage'
export type Stickiness = 'userId' | 'tenantId'
export type Reason =
  | 'enabled'
  | 'disabled'
  | 'beta_user'
  | 'beta_tenant'
  | 'not_targeted'
  | 'percentage_in'
  | 'percentage_out'
  | 'missing_context'
  | 'flag_not_found'
  | 'rule_match'
  | 'unsupported_model'
  | 'segment_not_local'
export type ClauseOperator =
  | 'in'
  | 'not_in'
  | 'starts_with'
  | 'ends_with'
  | 'contains'
  | 'lt'
  | 'lte'
  | 'gt'
  | 'gte'
  | 'semver_eq'
  | 'semver_lt'
  | 'semver_gt'
  | 'before'
  | 'after'
  | 'exists'
  | 'in_segment'

/** One condition of a rule: `attribute` is required for every operator but in_segment. */
export interface Clause {
  attribute?: string
  operator: ClauseOperator
  values: (string | number | boolean)[]
  negate?: boolean
}

/** One share of a weighted split: a variant the flag declares, and its percent (the shares sum to 100). */
export interface SplitShare {
  variant: string
  weight: number
}

/**
 * What a matching rule serves: exactly one of `enabled` and `percentage`; on a flag with variants,
 * at most one of `variant` and `split` for what it serves on (else the flag's own split).
 */
export interface Serve {
  enabled?: boolean
  percentage?: number
  stickiness?: Stickiness
  variant?: string
  split?: SplitShare[]
}

/** One value a flag with variants serves: every variant of a flag holds the same JSON type. */
export interface Variant {
  key: string
  value: unknown
  /** Its share of the flag's default split; 0 when absent. */
  weight?: number
  description?: string
}

/** A targeting rule as a flag holds it. */
export interface Rule {
  id: string
  description?: string
  clauses: Clause[]
  serve: Serve
}

/** From `at` on, the flag has this state and percentage; a field left out keeps the value before the step. */
export interface ScheduleStep {
  /** ISO-8601 with a zone. */
  at: string
  /** A step with only a percentage means `percentage`. */
  state?: FlagState
  /** At most three decimals. */
  percentage?: number
}

/**
 * From `start` to `end` the state is `percentage` and the percentage moves from `from` to `to`:
 * threshold = from + floor((to − from) · (t − start) / (end − start)), in thousandths of a percent and milliseconds.
 */
export interface Ramp {
  from: number
  to: number
  start: string
  end: string
  /** Rise in steps this long (90s, 30m, 1h, 1d) rather than continuously. */
  interval?: string
}

/** Exactly one of `steps` and `ramp`: drives the state and the fall-through percentage, read at the store's clock. */
export interface Schedule {
  steps?: ScheduleStep[]
  ramp?: Ramp
  /** Frozen at the state and percentage in force when paused (written into the flag's own). */
  paused?: boolean
  /** Set by the server when the schedule is paused. */
  pausedAt?: string
  /** The metric the server watches while the schedule runs; the SDK evaluates the flag as written and ignores it. */
  guard?: Guard
  /** Set by the server when the guard paused the schedule. */
  guardPause?: GuardPause
}

/** Pauses or rolls back a schedule when `value <comparator> threshold` holds for `breaches` samples in a row. */
export interface Guard {
  /** `prometheus` or a name in the server's GUARD_HTTP_SOURCES. */
  source: string
  query: string
  comparator: '>' | '>=' | '<' | '<='
  threshold: number
  /** How often the metric is read (5s at least; default 15s). */
  interval?: string
  /** Default 3. */
  breaches?: number
  /** Default true: an unreadable source holds the schedule until it reads healthy again. */
  holdOnError?: boolean
  action: 'pause' | 'rollback'
}

export interface GuardPause {
  action: 'hold' | 'pause' | 'rollback'
  at: string
  reason: string
}

/** A scheduled flag's state and percentage at the moment it was read, and the next transition: computed, never stored. */
export interface Effective {
  state: FlagState
  percentage: number
  /** The instant (the store's clock) this was computed for. */
  at: string
  next?: { at: string; state: FlagState; percentage: number }
}

/** A flag as the server stores it. */
export interface Flag {
  key: string
  description: string
  tags: string[]
  state: FlagState
  percentage: number
  betaUsers: string[]
  betaTenants: string[]
  stickiness: Stickiness
  /** Absent only on flags stored before rules existed. */
  rules?: Rule[]
  /** Without variants the flag answers on or off; with them, one of their values too. */
  variants?: Variant[]
  /** With variants: the variant served when the flag is off for a context. */
  offVariant?: string
  /** Absent on a flag without a schedule. */
  schedule?: Schedule
  /** On a flag with a running schedule, as the server answered it; the SDK evaluates the schedule itself. */
  effective?: Effective
  /** The flag model the flag needs (1: no rules; 2: rules; 3: variants; 4: a schedule). */
  model?: number
  version: number
  createdAt: string
  updatedAt: string
  updatedBy: string
}

/** Who is asking: ids compared in Unicode NFC, attributes kept for targeting rules. */
export interface Context {
  userId?: string
  tenantId?: string
  attributes?: Record<string, string | number | boolean | string[]>
}

type ClauseOutcome = 'missing_attribute' | 'type_mismatch' | 'not_matched' | 'segment_missing' | 'segment_not_local'

interface PercentageTrace {
  stickiness: Stickiness
  bucket?: number
  threshold: number
}

/** The decision trace `explain` returns: every step the engine took, up to the one that decided. */
export interface Explanation {
  state: FlagState
  model: number
  betaUsers?: { userId?: string; listed: boolean }
  betaTenants?: { tenantId?: string; listed: boolean }
  rules?: {
    id: string
    matched: boolean
    failedClause?: { index: number; attribute?: string; operator: ClauseOperator; outcome: ClauseOutcome; message: string }
    percentage?: PercentageTrace
  }[]
  fallthrough?: PercentageTrace
  /** On a flag with variants: how the variant was chosen (the offVariant, the deciding rule's, or a split's bucket). */
  variant?: { key: string; source: 'offVariant' | 'rule' | 'split'; stickiness?: Stickiness; bucket?: number }
}

/** The answer POST /evaluate gives for one flag. */
export interface EvaluationResult {
  flag: string
  enabled: boolean
  reason: Reason
  /** Version of the flag that answered; absent when the flag does not exist. */
  version?: number
  /** With reason rule_match: the rule that decided. */
  ruleId?: string
  /** On a flag with variants: the variant served, and its value. */
  variant?: string
  value?: unknown
  explanation?: Explanation
}
