// The evaluation engine as it was before targeting rules (30b44f1, packages/core/src/evaluation/
// engine.ts), frozen here so the bench measures "a plain percentage flag no slower than before"
// against it in the same run. Only what evaluate() needs; bucketing and identity are core's own,
// which targeting did not change. Not used outside bench/.
import { bucketFromSeed, bucketSeed, percentageThreshold } from '../packages/core/src/evaluation/bucket.js'
import { hasId, hasOtherForms, toNfc } from '../packages/core/src/flags/identity.js'
import type { EvaluationContext as Context, Flag, FlagState, Reason, Stickiness } from '../packages/core/src/flags/schema.js'

interface Decision {
  readonly enabled: boolean
  readonly reason: Reason
}

export interface CompiledFlagV1 {
  readonly flag: Flag
  readonly state: FlagState
  readonly threshold: number
  readonly seed: number
  readonly stickiness: Stickiness
  readonly betaUsers: ReadonlySet<string>
  readonly betaTenants: ReadonlySet<string>
  readonly betaUsersNfc: boolean
  readonly betaTenantsNfc: boolean
}

const decide = (enabled: boolean, reason: Reason): Decision => Object.freeze({ enabled, reason })
const Decisions = {
  enabled: decide(true, 'enabled'),
  disabled: decide(false, 'disabled'),
  betaUser: decide(true, 'beta_user'),
  betaTenant: decide(true, 'beta_tenant'),
  notTargeted: decide(false, 'not_targeted'),
  percentageIn: decide(true, 'percentage_in'),
  percentageOut: decide(false, 'percentage_out'),
  missingContext: decide(false, 'missing_context'),
} as const

export function compileFlagV1(flag: Flag): CompiledFlagV1 {
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

function betaDecision(f: CompiledFlagV1, ctx: Context): Decision | undefined {
  if (ctx.userId !== undefined && hasId(f.betaUsers, ctx.userId, f.betaUsersNfc)) return Decisions.betaUser
  if (ctx.tenantId !== undefined && hasId(f.betaTenants, ctx.tenantId, f.betaTenantsNfc)) return Decisions.betaTenant
  return undefined
}

export function evaluateV1(f: CompiledFlagV1, ctx: Context): Decision {
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
