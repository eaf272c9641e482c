// The SDK's public types, written out so that its published declarations need neither
// @switchyard/core nor TypeBox; test/unit/sdk-types.test.ts fails the typecheck if they ever
// differ from the model's schemas.

export type FlagState = 'enabled' | 'disabled' | 'beta_users' | 'percentage'
export type Stickiness = 'userId' | 'tenantId'
export type Reason =
  'enabled' | 'disabled' | 'beta_user' | 'beta_tenant' | 'not_targeted' | 'percentage_in' | 'percentage_out' | 'missing_context' | 'flag_not_found'

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
  version: number
  createdAt: string
  updatedAt: string
  updatedBy: string
}

/** Who is asking: ids compared in Unicode NFC, attributes kept for targeting rules. */
export interface Context {
  userId?: string
  tenantId?: string
  attributes?: Record<string, string | number | boolean>
}

/** The answer POST /evaluate gives for one flag. */
export interface EvaluationResult {
  flag: string
  enabled: boolean
  reason: Reason
  /** Version of the flag that answered; absent when the flag does not exist. */
  version?: number
}
