// The flag model's fixed lists and defaults, free of the schema library: the SDK uses them at
// runtime without loading TypeBox (schema.ts re-exports them).
export const FLAG_STATES = ['enabled', 'disabled', 'beta_users', 'percentage'] as const
export type FlagState = (typeof FLAG_STATES)[number]
export const STICKINESS = ['userId', 'tenantId'] as const
export type Stickiness = (typeof STICKINESS)[number]

/** What a field left out of a create (or a flags file, or an SDK bootstrap) means. */
export const FLAG_DEFAULTS = {
  description: '',
  tags: [] as string[],
  state: 'disabled' as FlagState,
  percentage: 0,
  betaUsers: [] as string[],
  betaTenants: [] as string[],
  stickiness: 'userId' as Stickiness,
}
