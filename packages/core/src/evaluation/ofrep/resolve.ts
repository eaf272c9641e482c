// Switchyard decisions in OpenFeature terms (reason, variant, error code), as the OFREP routes
// and the SDK's provider both report them.
import type { Decision } from '../engine.js'
import type { Flag, Reason } from '../../flags/schema.js'

export const OFREP_REASONS = ['STATIC', 'TARGETING_MATCH', 'SPLIT', 'DISABLED', 'DEFAULT'] as const
type OfrepReason = (typeof OFREP_REASONS)[number]

/** Error codes of an evaluation failure; FLAG_NOT_FOUND has a response of its own (404). */
export const OFREP_ERROR_CODES = ['PARSE_ERROR', 'TARGETING_KEY_MISSING', 'INVALID_CONTEXT', 'GENERAL'] as const
type OfrepErrorCode = (typeof OFREP_ERROR_CODES)[number]

/** A JSON value as OpenFeature types it; OFREP's wire carries all but arrays (`type: object`). */
export type OfrepValue = boolean | string | number | { readonly [key: string]: unknown } | readonly unknown[]

export interface OfrepSuccess {
  key: string
  /** A flag without variants: whether it is on. With variants: the variant's value (frozen: shared by every answer). */
  value: OfrepValue
  reason: OfrepReason
  /** `on` or `off` for a flag without variants; else the variant's key. */
  variant: string
  /** `enabled`: on a flag with variants, whether the flag is on for the context (its value no longer says). */
  metadata: { version: number; switchyardReason: Reason; enabled?: boolean }
}

export interface OfrepFailure {
  key: string
  errorCode: OfrepErrorCode
  errorDetails: string
}

interface OfrepNotFound {
  key: string
  errorCode: 'FLAG_NOT_FOUND'
  errorDetails: string
}

export type OfrepResolution = OfrepSuccess | OfrepFailure | OfrepNotFound

// null: the reason is an error in OpenFeature terms, handled below.
const REASONS: Record<Reason, OfrepReason | null> = {
  enabled: 'STATIC',
  disabled: 'DISABLED',
  beta_user: 'TARGETING_MATCH',
  beta_tenant: 'TARGETING_MATCH',
  percentage_in: 'SPLIT',
  percentage_out: 'SPLIT',
  not_targeted: 'DEFAULT',
  rule_match: 'TARGETING_MATCH',
  missing_context: null,
  flag_not_found: null,
  unsupported_model: null,
  segment_not_local: null,
}

/**
 * `flag` is the flag that decided, undefined when it does not exist. `arrays`: whether an array
 * value may be served; OFREP's wire types an object value `type: object`, which no array is, so
 * the routes answer GENERAL for one, while OpenFeature's in-process structures hold arrays.
 */
export function toOfrep(key: string, flag: Flag, decision: Decision, arrays?: boolean): OfrepSuccess | OfrepFailure
export function toOfrep(key: string, flag: Flag | undefined, decision: Decision, arrays?: boolean): OfrepResolution
export function toOfrep(key: string, flag: Flag | undefined, decision: Decision, arrays = false): OfrepResolution {
  if (flag === undefined) return { key, errorCode: 'FLAG_NOT_FOUND', errorDetails: `flag '${key}' does not exist` }
  const reason = REASONS[decision.reason]
  if (reason !== null) {
    const metadata = { version: flag.version, switchyardReason: decision.reason }
    if (decision.variant === undefined) return { key, value: decision.enabled, reason, variant: decision.enabled ? 'on' : 'off', metadata }
    if (!arrays && Array.isArray(decision.value))
      return { key, errorCode: 'GENERAL', errorDetails: `flag '${key}' serves arrays, which OFREP does not carry (booleans, strings, numbers, objects)` }
    return { key, value: decision.value as OfrepValue, reason, variant: decision.variant, metadata: { ...metadata, enabled: decision.enabled } }
  }
  if (decision.reason === 'unsupported_model')
    return { key, errorCode: 'GENERAL', errorDetails: `flag '${key}' needs flag model ${flag.model}, newer than this build evaluates: upgrade it` }
  if (decision.reason === 'segment_not_local')
    return { key, errorCode: 'GENERAL', errorDetails: `flag '${key}' needs a segment too large to be held locally (SEGMENT_INLINE_MAX)` }
  // missing_context: a percentage rollout without the value it buckets on.
  return (decision.ruleId === undefined ? flag.stickiness : ((flag.rules ?? []).find((r) => r.id === decision.ruleId)?.serve.stickiness ?? 'userId')) ===
    'userId'
    ? { key, errorCode: 'TARGETING_KEY_MISSING', errorDetails: `flag '${key}' rolls out to a percentage of users: the context needs a targetingKey` }
    : { key, errorCode: 'INVALID_CONTEXT', errorDetails: `flag '${key}' rolls out to a percentage of tenants: the context needs a tenantId` }
}

export const isSuccess = <R extends OfrepResolution>(r: R): r is Extract<R, OfrepSuccess> => !('errorCode' in r)
