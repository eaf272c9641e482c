// OFREP request and response schemas, shaped as the OpenFeature Remote Evaluation Protocol
// (open-feature/protocol, service/openapi.yaml) gives them.
import { Type, type Static } from 'typebox'
import { REASONS } from '@switchyard/core/flags/schema'
import { StringEnum, ref } from '@switchyard/core/schema'
import { OFREP_ERROR_CODES, OFREP_REASONS } from '@switchyard/core/evaluation/ofrep/resolve'

const Key = Type.String({ description: 'The flag key', examples: ['copilot_v2'] })
const ErrorDetails = Type.String({ description: 'What went wrong, for logs' })

const OfrepContext = Type.Object(
  {
    targetingKey: Type.Optional(Type.String({ description: 'The user: Switchyard’s userId' })),
    tenantId: Type.Optional(Type.String({ description: 'The tenant' })),
  },
  {
    $id: 'OfrepContext',
    additionalProperties: true,
    description:
      'OpenFeature evaluation context. Every other field becomes an attribute and must be a string, a number, a boolean or a list of strings ' +
      '(INVALID_CONTEXT otherwise).',
    examples: [{ targetingKey: 'user-42', tenantId: 'acme', plan: 'pro' }],
  },
)

// Unknown top-level fields are ignored: some providers send extensions next to `context`.
export const OfrepEvaluationRequest = Type.Object({ context: Type.Optional(ref(OfrepContext)) }, { additionalProperties: true })
export type OfrepEvaluationRequest = Static<typeof OfrepEvaluationRequest>

export const OfrepEvaluationSuccess = Type.Object(
  {
    key: Key,
    value: Type.Union(
      [
        Type.Boolean({ description: 'A flag without variants: whether it is on for this context' }),
        Type.String(),
        Type.Number(),
        Type.Object({}, { additionalProperties: true, description: 'A JSON object (OFREP carries no arrays: a flag serving them answers GENERAL)' }),
      ],
      { description: "A flag without variants: whether it is on. With variants: the value of the variant served, of the flag's one type" },
    ),
    reason: StringEnum(OFREP_REASONS, {
      description: 'enabled → STATIC, disabled → DISABLED, beta user or tenant → TARGETING_MATCH, percentage in or out → SPLIT, not targeted → DEFAULT',
    }),
    variant: Type.String({ description: 'A flag without variants: `on` or `off`. With variants: the key of the variant served' }),
    metadata: Type.Object(
      {
        version: Type.Integer({ description: 'Version of the flag that answered' }),
        switchyardReason: StringEnum(REASONS, { description: 'The reason POST /evaluate gives' }),
        enabled: Type.Optional(Type.Boolean({ description: 'On a flag with variants: whether the flag is on for this context (`enabled` of POST /evaluate)' })),
        stale: Type.Optional(
          Type.Literal(true, { description: 'Present while the replica that answered has heard nothing from its store for longer than STALE_AFTER_MS' }),
        ),
      },
      { additionalProperties: false },
    ),
  },
  { $id: 'OfrepEvaluationSuccess', additionalProperties: false },
)

export const OfrepEvaluationFailure = Type.Object(
  {
    key: Key,
    errorCode: StringEnum(OFREP_ERROR_CODES, {
      description:
        'TARGETING_KEY_MISSING: a percentage rollout by user without targetingKey; INVALID_CONTEXT: a context field of the wrong type or size, or a ' +
        'rollout by tenant without tenantId; PARSE_ERROR: a body that is not JSON; GENERAL: a flag this build cannot evaluate, or one serving arrays',
    }),
    errorDetails: ErrorDetails,
  },
  { $id: 'OfrepEvaluationFailure', additionalProperties: false },
)

export const OfrepFlagNotFound = Type.Object(
  { key: Key, errorCode: StringEnum(['FLAG_NOT_FOUND'] as const), errorDetails: ErrorDetails },
  { $id: 'OfrepFlagNotFound', additionalProperties: false },
)

export const OfrepBulkEvaluationSuccess = Type.Object(
  { flags: Type.Array(Type.Union([ref(OfrepEvaluationSuccess), ref(OfrepEvaluationFailure)]), { description: 'Every flag, sorted by key' }) },
  { $id: 'OfrepBulkEvaluationSuccess', additionalProperties: false },
)

export const OfrepBulkEvaluationFailure = Type.Object(
  { errorCode: StringEnum(OFREP_ERROR_CODES), errorDetails: ErrorDetails },
  { $id: 'OfrepBulkEvaluationFailure', additionalProperties: false },
)

export const ofrepSchemas = [
  OfrepContext,
  OfrepEvaluationSuccess,
  OfrepEvaluationFailure,
  OfrepFlagNotFound,
  OfrepBulkEvaluationSuccess,
  OfrepBulkEvaluationFailure,
]
