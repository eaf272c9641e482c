// The evaluation engine: pure, no I/O. Shared verbatim by the server and the SDK.
import { bucketFromSeed, bucketSeed, percentageThreshold } from './bucket.js'
import { hasId, hasOtherForms, toNfc } from '../flags/identity.js'
import type { EvaluationContext, EvaluationResult, Flag, FlagState, Reason, Stickiness } from '../flags/schema.js'

/** What a flag is evaluated for: the API's EvaluationContext. */
export type Context = EvaluationContext

export interface Decision {
  readonly enabled: boolean
  readonly reason: Reason
}

/** A flag prepared for evaluation: built once per change so each evaluation is O(1). */
export interface CompiledFlag {
  readonly flag: Flag
  readonly state: FlagState
  readonly threshold: number
  readonly seed: number
  readonly stickiness: Stickiness
  /** In NFC, whatever form the flag lists them in (flags stored before ids were normalised). */
  readonly betaUsers: ReadonlySet<string>
  readonly betaTenants: ReadonlySet<string>
  /** Whether a context id that misses a list must be looked up again in NFC (identity.ts); false for plain ASCII lists. */
  readonly betaUsersNfc: boolean
  readonly betaTenantsNfc: boolean
}

// Shared, frozen decisions: evaluation allocates nothing.
const decide = (enabled: boolean, reason: Reason): Decision => Object.freeze({ enabled, reason })
export const Decisions = {
  enabled: decide(true, 'enabled'),
  disabled: decide(false, 'disabled'),
  betaUser: decide(true, 'beta_user'),
  betaTenant: decide(true, 'beta_tenant'),
  notTargeted: decide(false, 'not_targeted'),
  percentageIn: decide(true, 'percentage_in'),
  percentageOut: decide(false, 'percentage_out'),
  missingContext: decide(false, 'missing_context'),
  notFound: decide(false, 'flag_not_found'),
} as const

export function compileFlag(flag: Flag): CompiledFlag {
  const betaUsers = flag.betaUsers.map(toNfc)
  const betaTenants = flag.betaTenants.map(toNfc)
  return {
    flag,
    state: flag.state,
    threshold: percentageThreshold(flag.percentage),
    seed: bucketSeed(flag.key),
    stickiness: flag.stickiness,
    betaUsers: new Set(betaUsers),
    betaTenants: new Set(betaTenants),
    betaUsersNfc: betaUsers.some(hasOtherForms),
    betaTenantsNfc: betaTenants.some(hasOtherForms),
  }
}

// Ids match in NFC (identity.ts); the percentage below hashes the value exactly as given.
function betaDecision(f: CompiledFlag, ctx: Context): Decision | undefined {
  if (ctx.userId !== undefined && hasId(f.betaUsers, ctx.userId, f.betaUsersNfc)) return Decisions.betaUser
  if (ctx.tenantId !== undefined && hasId(f.betaTenants, ctx.tenantId, f.betaTenantsNfc)) return Decisions.betaTenant
  return undefined
}

export function evaluate(f: CompiledFlag, ctx: Context): Decision {
  switch (f.state) {
    case 'enabled':
      return Decisions.enabled
    case 'disabled':
      return Decisions.disabled
    case 'beta_users':
      return betaDecision(f, ctx) ?? Decisions.notTargeted
    case 'percentage': {
      const beta = betaDecision(f, ctx)
      if (beta) return beta
      const value = f.stickiness === 'tenantId' ? ctx.tenantId : ctx.userId
      if (value === undefined || value === '') return Decisions.missingContext
      return bucketFromSeed(f.seed, value) < f.threshold ? Decisions.percentageIn : Decisions.percentageOut
    }
  }
}

/** The context of a request that sent none: shared, so evaluating without one allocates nothing. */
export const EMPTY_CONTEXT: Context = Object.freeze({})

/** The answer POST /evaluate gives for one flag, the same wherever it is given (absent: flag_not_found). */
export function answer(key: string, compiled: CompiledFlag | undefined, context: Context): EvaluationResult {
  if (compiled === undefined) return { flag: key, enabled: false, reason: Decisions.notFound.reason }
  const { enabled, reason } = evaluate(compiled, context)
  return { flag: key, enabled, reason, version: compiled.flag.version }
}
