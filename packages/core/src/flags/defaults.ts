// The flag model's fixed lists and defaults, free of the schema library: the SDK uses them at
// runtime without loading TypeBox (schema.ts re-exports them).
export const FLAG_STATES = ['enabled', 'disabled', 'beta_users', 'percentage'] as const
export type FlagState = (typeof FLAG_STATES)[number]
export const STICKINESS = ['userId', 'tenantId'] as const
export type Stickiness = (typeof STICKINESS)[number]
export const CLAUSE_OPERATORS = [
  'in',
  'not_in',
  'starts_with',
  'ends_with',
  'contains',
  'lt',
  'lte',
  'gt',
  'gte',
  'semver_eq',
  'semver_lt',
  'semver_gt',
  'before',
  'after',
  'exists',
  'in_segment',
] as const
export type ClauseOperator = (typeof CLAUSE_OPERATORS)[number]

/**
 * The newest flag model this build evaluates. A stored flag carries the model it needs (`model`):
 * 1, the four states with beta lists and a percentage; 2, rules and segments; 3, variants; 4, schedules; 5, a
 * schedule's guard (which older builds could not write back). A flag
 * that needs a newer one answers `unsupported_model` rather than a wrong answer.
 */
export const MODEL_VERSION = 5

/** What a field left out of a create (or a flags file, or an SDK bootstrap) means. */
export const FLAG_DEFAULTS = {
  description: '',
  tags: [] as string[],
  state: 'disabled' as FlagState,
  percentage: 0,
  betaUsers: [] as string[],
  betaTenants: [] as string[],
  stickiness: 'userId' as Stickiness,
  rules: [] as never[],
}

/** What a field left out of a segment create (or a flags file, or an SDK bootstrap) means. */
export const SEGMENT_DEFAULTS = {
  description: '',
  users: [] as string[],
  tenants: [] as string[],
  excludedUsers: [] as string[],
  excludedTenants: [] as string[],
  clauses: [] as never[],
}
