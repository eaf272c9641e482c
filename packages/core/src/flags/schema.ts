// The flag model: TypeBox schemas for flags, their inputs, evaluation requests and results.
import { Type, type Static, type TOptional, type TSchema } from 'typebox'
import { IDENTIFIER_PATTERN, StringEnum, TEXT_PATTERN, ref } from '../schema.js'
import { FLAG_DEFAULTS as DEFAULTS, FLAG_STATES, STICKINESS } from './defaults.js'
import { AttributeName, CLAUSE_OPERATORS, Clause, MAX_ATTRIBUTE_STRING, MAX_RULES, Rule, Rules, Serve, StoredRule, type Rule as StoredRule_ } from './rules.js'
export type { Clause, Rule, RuleInput, Serve, ClauseOperator } from './rules.js'
import { MAX_VARIANTS, SplitShare, Variant, variantKey } from './variants.js'
import { Guard, GuardPause, Ramp, Schedule, ScheduleStep } from './schedule.js'
export type { Guard, GuardPause, Schedule, ScheduleStep, Ramp } from './schedule.js'
export type { Variant, SplitShare, VariantType } from './variants.js'
export { FLAG_STATES, MODEL_VERSION, STICKINESS, type FlagState, type Stickiness } from './defaults.js'

export const REASONS = [
  'enabled',
  'disabled',
  'beta_user',
  'beta_tenant',
  'not_targeted',
  'percentage_in',
  'percentage_out',
  'missing_context',
  'flag_not_found',
  'rule_match',
  'unsupported_model',
  'segment_not_local',
] as const
export type Reason = (typeof REASONS)[number]

export const MAX_BETA_IDS = 10_000
export const MAX_BATCH_FLAGS = 1_000

export const FlagKey = Type.String({
  minLength: 1,
  maxLength: 200,
  pattern: '^[a-z][a-z0-9_]*$',
  description: 'snake_case, immutable',
  examples: ['copilot_v2'],
})
const Tag = Type.String({ minLength: 1, maxLength: 100, pattern: '^[a-z][a-z0-9_]*$' })
// A stored id refuses control characters and unpaired surrogates; an id in a context is never
// refused for them (it only has to match), so the two are different types.
/** The longest id a flag lists, counted in Unicode NFC. */
export const MAX_ID_LENGTH = 200
const Id = Type.String({ minLength: 1, maxLength: MAX_ID_LENGTH, pattern: IDENTIFIER_PATTERN, description: 'No control characters; compared in Unicode NFC' })
const ContextId = Type.String({ minLength: 1, maxLength: 200 })
const IdList = Type.Array(Id, { maxItems: MAX_BETA_IDS, description: 'Duplicates are removed; stored in Unicode NFC' })

const mutable = {
  description: Type.String({ maxLength: 1000, pattern: TEXT_PATTERN }),
  tags: Type.Array(Tag, { maxItems: 20 }),
  state: StringEnum(FLAG_STATES),
  percentage: Type.Number({ minimum: 0, maximum: 100, multipleOf: 0.001, description: 'Rollout share, at most three decimals' }),
  betaUsers: IdList,
  betaTenants: IdList,
  stickiness: StringEnum(STICKINESS, { description: 'Context value hashed for percentage bucketing' }),
  rules: Rules,
  variants: Type.Array(ref(Variant), {
    maxItems: MAX_VARIANTS,
    description: 'Without variants the flag answers on or off; with them, one of these values too',
  }),
  offVariant: variantKey('With variants: the variant served when the flag is off for a context'),
  schedule: ref(Schedule),
}

const Phase = {
  state: StringEnum(FLAG_STATES),
  percentage: Type.Number({ minimum: 0, maximum: 100 }),
}
/** A scheduled flag's state and percentage at the moment it was read, and what comes next: computed, never stored. */
export const Effective = Type.Object(
  {
    ...Phase,
    at: Type.String({ format: 'date-time', description: 'The instant (by the store\u2019s clock) this was computed for' }),
    next: Type.Optional(
      Type.Object({ at: Type.String({ format: 'date-time' }), ...Phase }, { additionalProperties: false, description: 'The next change, when one is to come' }),
    ),
  },
  {
    $id: 'Effective',
    additionalProperties: false,
    description: 'On a flag with a running schedule: the state and percentage in force now, and the next transition. Computed at the request, never stored',
  },
)
export type Effective = Static<typeof Effective>

export const Flag = Type.Object(
  {
    key: FlagKey,
    ...mutable,
    // Optional only for flags stored before model 2; every answer of this build carries both.
    rules: Type.Optional(Type.Array(ref(StoredRule), { maxItems: MAX_RULES, description: 'In order: the first rule whose clauses all match decides' })),
    // Optional: absent on a flag without variants.
    variants: Type.Optional(mutable.variants),
    offVariant: Type.Optional(mutable.offVariant),
    // Optional: absent on a flag without a schedule.
    schedule: Type.Optional(mutable.schedule),
    effective: Type.Optional(ref(Effective)),
    model: Type.Optional(
      Type.Integer({ minimum: 1, description: 'The flag model this flag needs: 1 without rules, 2 with rules, 3 with variants, 4 with a schedule' }),
    ),
    version: Type.Integer({ minimum: 1, description: '+1 on every change' }),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
    updatedBy: Type.String({ description: 'Name of the token that made the last change' }),
  },
  { $id: 'Flag', additionalProperties: false },
)
export type Flag = Static<typeof Flag>

/** Orders flags, or anything keyed like them, by key: the order of every listing and file. */
export const byKey = (a: { key: string }, b: { key: string }) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)

function optional<T extends Record<string, TSchema>>(fields: T): { [K in keyof T]: TOptional<T[K]> } {
  return Object.fromEntries(Object.entries(fields).map(([name, schema]) => [name, Type.Optional(schema)])) as { [K in keyof T]: TOptional<T[K]> }
}

export const FlagCreate = Type.Object(
  { key: FlagKey, ...optional(mutable), state: Type.Optional(StringEnum(FLAG_STATES, { default: 'disabled' })) },
  {
    $id: 'FlagCreate',
    additionalProperties: false,
    examples: [
      { key: 'copilot_v2', state: 'disabled' },
      {
        key: 'new_pricing',
        state: 'percentage',
        percentage: 5,
        rules: [
          {
            id: 'dutch-pro',
            clauses: [
              { attribute: 'country', operator: 'in', values: ['NL'] },
              { attribute: 'plan', operator: 'in', values: ['pro'] },
            ],
            serve: { enabled: true },
          },
        ],
      },
      {
        key: 'checkout_colour',
        state: 'enabled',
        variants: [
          { key: 'grey', value: 'grey' },
          { key: 'blue', value: 'blue', weight: 50 },
          { key: 'green', value: 'green', weight: 50 },
        ],
        offVariant: 'grey',
        rules: [{ id: 'dutch', clauses: [{ attribute: 'country', operator: 'in', values: ['NL'] }], serve: { enabled: true, variant: 'green' } }],
      },
    ],
  },
)
export type FlagCreate = Static<typeof FlagCreate>

export const FlagPatch = Type.Object(
  {
    ...optional(mutable),
    schedule: Type.Optional(Type.Union([ref(Schedule), Type.Null()], { description: 'null clears the schedule, keeping the state and percentage in force' })),
  },
  {
    $id: 'FlagPatch',
    additionalProperties: false,
    minProperties: 1,
    examples: [{ state: 'percentage', percentage: 50, betaUsers: ['tenant-admin'] }],
  },
)
export type FlagPatch = Static<typeof FlagPatch>

export const MUTABLE_FIELDS = Object.keys(mutable) as (keyof FlagPatch)[]

const TargetIds = Type.Object({ users: Type.Optional(IdList), tenants: Type.Optional(IdList) }, { additionalProperties: false, minProperties: 1 })

/** POST /flags/:key/targets: ids added to and removed from the beta lists, in one atomic step. */
export const TargetsEdit = Type.Object(
  { add: Type.Optional(TargetIds), remove: Type.Optional(TargetIds) },
  {
    $id: 'TargetsEdit',
    additionalProperties: false,
    minProperties: 1,
    description: 'Ids already present (to add) or absent (to remove) change nothing; an id may not be both added and removed',
    examples: [{ add: { users: ['alice', 'bob'] } }, { add: { tenants: ['acme'] }, remove: { users: ['carol'] } }],
  },
)
export type TargetsEdit = Static<typeof TargetsEdit>

/** What a field left out of a create (or a flags file) means. */
export const FLAG_DEFAULTS: Required<Omit<FlagCreate, 'key' | 'rules' | 'variants' | 'offVariant' | 'schedule'>> & { rules: StoredRule_[] } = DEFAULTS

/** A stored flag as this build holds it: written before rules existed, it lacks `rules` and `model`. */
export function withModelDefaults(flag: Flag): Flag {
  return flag.rules !== undefined && flag.model !== undefined ? flag : { ...flag, rules: flag.rules ?? [], model: flag.model ?? modelOf(flag) }
}

/** The model a flag needs: MODEL_VERSION's history, oldest first. */
export function modelOf(flag: Pick<Flag, 'rules' | 'variants' | 'schedule'>): number {
  if (flag.schedule?.guard !== undefined) return 5
  if (flag.schedule !== undefined) return 4
  if (flag.variants !== undefined && flag.variants.length > 0) return 3
  return flag.rules !== undefined && flag.rules.length > 0 ? 2 : 1
}

export const EvaluationContext = Type.Object(
  {
    userId: Type.Optional(ContextId),
    tenantId: Type.Optional(ContextId),
    attributes: Type.Optional(
      Type.Record(
        AttributeName,
        Type.Union([
          Type.String({ maxLength: MAX_ATTRIBUTE_STRING }),
          Type.Number(),
          Type.Boolean(),
          Type.Array(Type.String({ maxLength: MAX_ATTRIBUTE_STRING }), { maxItems: 100 }),
        ]),
        {
          maxProperties: 100,
          description: 'What rules match on: strings, numbers, booleans and lists of strings',
          examples: [{ country: 'NL', plan: 'pro', appVersion: '2.4.0-beta.1', signupDate: '2026-03-01T09:00:00+01:00', seats: 12, groups: ['qa'] }],
        },
      ),
    ),
  },
  { $id: 'EvaluationContext', additionalProperties: false },
)
export type EvaluationContext = Static<typeof EvaluationContext>

const PercentageTrace = Type.Object(
  {
    stickiness: StringEnum(STICKINESS),
    bucket: Type.Optional(Type.Integer({ description: 'Absent when the context lacks the stickiness value' })),
    threshold: Type.Integer({ description: 'Buckets below it are in: the percentage in thousandths' }),
  },
  { additionalProperties: false },
)

export const CLAUSE_OUTCOMES = ['missing_attribute', 'type_mismatch', 'not_matched', 'segment_missing', 'segment_not_local'] as const

/** POST /evaluate's `explain`: every step the engine took, in order, up to the one that decided. */
export const Explanation = Type.Object(
  {
    state: StringEnum(FLAG_STATES),
    model: Type.Integer({ description: 'The model the flag needs' }),
    betaUsers: Type.Optional(Type.Object({ userId: Type.Optional(Type.String()), listed: Type.Boolean() }, { additionalProperties: false })),
    betaTenants: Type.Optional(Type.Object({ tenantId: Type.Optional(Type.String()), listed: Type.Boolean() }, { additionalProperties: false })),
    rules: Type.Optional(
      Type.Array(
        Type.Object(
          {
            id: Type.String(),
            matched: Type.Boolean(),
            failedClause: Type.Optional(
              Type.Object(
                {
                  index: Type.Integer(),
                  attribute: Type.Optional(Type.String()),
                  operator: StringEnum(CLAUSE_OPERATORS),
                  outcome: StringEnum(CLAUSE_OUTCOMES),
                  message: Type.String(),
                },
                { additionalProperties: false },
              ),
            ),
            percentage: Type.Optional(PercentageTrace),
          },
          { additionalProperties: false },
        ),
        { description: 'The rules examined, in order; the last matched when the reason is rule_match' },
      ),
    ),
    fallthrough: Type.Optional(PercentageTrace),
    variant: Type.Optional(
      Type.Object(
        {
          key: Type.String(),
          source: StringEnum(['offVariant', 'rule', 'split'] as const, {
            description: "offVariant: the answer is off; rule: the deciding rule's variant; split: a weighted split (the rule's own, or the flag's)",
          }),
          stickiness: Type.Optional(StringEnum(STICKINESS)),
          bucket: Type.Optional(Type.Integer({ description: "The split bucket, fmix32(FNV-1a-32('<key>:variant:<id>')) mod 100000" })),
        },
        { additionalProperties: false, description: 'On a flag with variants: how the variant was chosen' },
      ),
    ),
  },
  {
    $id: 'Explanation',
    additionalProperties: false,
    examples: [
      {
        state: 'percentage',
        model: 2,
        betaUsers: { userId: 'user-42', listed: false },
        betaTenants: { listed: false },
        rules: [
          {
            id: 'dutch-pro',
            matched: false,
            failedClause: { index: 0, attribute: 'country', operator: 'in', outcome: 'not_matched', message: 'country "DE" is not one of "NL"' },
          },
        ],
        fallthrough: { stickiness: 'userId', bucket: 41234, threshold: 50000 },
      },
    ],
  },
)
export type Explanation = Static<typeof Explanation>

export const EvaluationResult = Type.Object(
  {
    flag: Type.String(),
    enabled: Type.Boolean(),
    reason: StringEnum(REASONS),
    version: Type.Optional(Type.Integer({ description: 'Version of the flag that answered; absent when the flag does not exist' })),
    ruleId: Type.Optional(Type.String({ description: 'With reason `rule_match`: the rule that decided' })),
    variant: Type.Optional(Type.String({ description: 'On a flag with variants: the variant served' })),
    value: Type.Optional(Type.Unknown({ description: "On a flag with variants: the variant's value" })),
    explanation: Type.Optional(ref(Explanation)),
  },
  { $id: 'EvaluationResult', additionalProperties: false },
)
export type EvaluationResult = Static<typeof EvaluationResult>

export const EvaluateRequest = Type.Object(
  {
    flag: Type.Optional(FlagKey),
    flags: Type.Optional(Type.Array(FlagKey, { maxItems: MAX_BATCH_FLAGS, description: 'Batch; every flag when both flag and flags are omitted' })),
    context: Type.Optional(ref(EvaluationContext)),
    explain: Type.Optional(Type.Boolean({ description: 'Add the decision trace to each answer (evaluate or admin scope)' })),
  },
  {
    additionalProperties: false,
    examples: [{ flag: 'copilot_v2', context: { userId: 'user-42', tenantId: 'acme' } }],
  },
)

/**
 * One object for both shapes, so the hot single-flag path serializes without an anyOf:
 * `{flag, enabled, reason, version}` for `flag`, `{results}` for a batch.
 */
export const EvaluateResponse = Type.Object(
  {
    flag: Type.Optional(Type.String()),
    enabled: Type.Optional(Type.Boolean()),
    reason: Type.Optional(StringEnum(REASONS)),
    version: Type.Optional(Type.Integer()),
    ruleId: Type.Optional(Type.String()),
    variant: Type.Optional(Type.String()),
    value: Type.Optional(Type.Unknown()),
    explanation: Type.Optional(ref(Explanation)),
    results: Type.Optional(Type.Array(ref(EvaluationResult))),
  },
  { additionalProperties: false },
)

/** The answer to a batch (`flags`, or neither `flag` nor `flags`): one result per flag. */
export const EvaluationBatch = Type.Object({ results: Type.Array(ref(EvaluationResult)) }, { $id: 'EvaluationBatch', additionalProperties: false })

/** POST /evaluate's 200 as the API document shows it: the two shapes EvaluateResponse serializes, named. */
export const EvaluateResponseDocumented = {
  description: 'One flag (`flag`): its EvaluationResult. A batch (`flags`, or neither): an EvaluationBatch.',
  oneOf: [ref(EvaluationResult), ref(EvaluationBatch)],
  'x-examples': {
    single: { summary: 'One flag', value: { flag: 'copilot_v2', enabled: true, reason: 'percentage_in', version: 3 } },
    variant: {
      summary: 'One flag with variants',
      value: { flag: 'checkout_colour', enabled: true, reason: 'rule_match', version: 2, ruleId: 'dutch', variant: 'green', value: 'green' },
    },
    batch: {
      summary: 'A batch',
      value: {
        results: [
          { flag: 'copilot_v2', enabled: true, reason: 'percentage_in', version: 3 },
          { flag: 'new_checkout', enabled: false, reason: 'disabled', version: 1 },
          { flag: 'retired_flag', enabled: false, reason: 'flag_not_found' },
        ],
      },
    },
  },
}

export const flagSchemas = [
  Clause,
  SplitShare,
  Serve,
  Rule,
  StoredRule,
  Variant,
  ScheduleStep,
  Ramp,
  Guard,
  GuardPause,
  Schedule,
  Effective,
  Flag,
  FlagCreate,
  FlagPatch,
  TargetsEdit,
  EvaluationContext,
  Explanation,
  EvaluationResult,
  EvaluationBatch,
]
