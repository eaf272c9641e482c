// The flag model: TypeBox schemas for flags, their inputs, evaluation requests and results.
import { Type, type Static, type TOptional, type TSchema } from 'typebox'
import { IDENTIFIER_PATTERN, StringEnum, TEXT_PATTERN, ref } from '../schema.js'
import { FLAG_DEFAULTS as DEFAULTS, FLAG_STATES, STICKINESS } from './defaults.js'
export { FLAG_STATES, STICKINESS, type FlagState, type Stickiness } from './defaults.js'

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
}

export const Flag = Type.Object(
  {
    key: FlagKey,
    ...mutable,
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
  { $id: 'FlagCreate', additionalProperties: false, examples: [{ key: 'copilot_v2', state: 'disabled' }] },
)
export type FlagCreate = Static<typeof FlagCreate>

export const FlagPatch = Type.Object(optional(mutable), {
  $id: 'FlagPatch',
  additionalProperties: false,
  minProperties: 1,
  examples: [{ state: 'percentage', percentage: 50, betaUsers: ['tenant-admin'] }],
})
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
export const FLAG_DEFAULTS: Required<Omit<FlagCreate, 'key'>> = DEFAULTS

export const EvaluationContext = Type.Object(
  {
    userId: Type.Optional(ContextId),
    tenantId: Type.Optional(ContextId),
    attributes: Type.Optional(
      Type.Record(Type.String({ maxLength: 200 }), Type.Union([Type.String({ maxLength: 1000 }), Type.Number(), Type.Boolean()]), {
        maxProperties: 100,
        description: 'Flat map kept for targeting rules',
      }),
    ),
  },
  { $id: 'EvaluationContext', additionalProperties: false },
)
export type EvaluationContext = Static<typeof EvaluationContext>

export const EvaluationResult = Type.Object(
  {
    flag: Type.String(),
    enabled: Type.Boolean(),
    reason: StringEnum(REASONS),
    version: Type.Optional(Type.Integer({ description: 'Version of the flag that answered; absent when the flag does not exist' })),
  },
  { $id: 'EvaluationResult', additionalProperties: false },
)
export type EvaluationResult = Static<typeof EvaluationResult>

export const EvaluateRequest = Type.Object(
  {
    flag: Type.Optional(FlagKey),
    flags: Type.Optional(Type.Array(FlagKey, { maxItems: MAX_BATCH_FLAGS, description: 'Batch; every flag when both flag and flags are omitted' })),
    context: Type.Optional(ref(EvaluationContext)),
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

export const flagSchemas = [Flag, FlagCreate, FlagPatch, TargetsEdit, EvaluationContext, EvaluationResult, EvaluationBatch]
