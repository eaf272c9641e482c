// Targeting rules: the clauses a rule matches a context with, and what it serves. TypeBox schemas;
// the meaning of each operator is in evaluation/clauses.ts, the checks past the schema in flags/model.ts.
import { Type, type Static } from 'typebox'
import { StringEnum, TEXT_PATTERN } from '../schema.js'
import { CLAUSE_OPERATORS, STICKINESS } from './defaults.js'
import { Split, variantKey } from './variants.js'
export { CLAUSE_OPERATORS, type ClauseOperator } from './defaults.js'

/** Rules a flag may hold, clauses a rule may hold, and values across all of a flag's clauses. */
export const MAX_RULES = 100
export const MAX_CLAUSES = 20
export const MAX_CLAUSE_VALUES = 10_000

/** An attribute name: `userId`, `tenantId`, or a key of the context's attributes. */
export const AttributeName = Type.String({ minLength: 1, maxLength: 200, description: '`userId`, `tenantId`, or the name of a context attribute' })
/** The longest string a context attribute (and a clause value) may hold. */
export const MAX_ATTRIBUTE_STRING = 1000

const ClauseValue = Type.Union([Type.String({ maxLength: MAX_ATTRIBUTE_STRING, pattern: TEXT_PATTERN }), Type.Number(), Type.Boolean()])

export const Clause = Type.Object(
  {
    attribute: Type.Optional(AttributeName),
    operator: StringEnum(CLAUSE_OPERATORS),
    values: Type.Array(ClauseValue, { maxItems: MAX_CLAUSE_VALUES, description: 'The clause matches when the attribute matches any of them' }),
    negate: Type.Optional(Type.Boolean({ description: 'Inverts a present attribute\u2019s match; a missing or mistyped attribute never matches' })),
  },
  {
    $id: 'Clause',
    additionalProperties: false,
    description: '`attribute` is required for every operator but `in_segment`, whose values are segment keys',
    examples: [{ attribute: 'country', operator: 'in', values: ['NL', 'BE'] }],
  },
)
export type Clause = Static<typeof Clause>

/**
 * What a matching rule serves: `{enabled: true|false}`, or `{percentage, stickiness?}` (a rollout of
 * its own); on a flag with variants, what it serves on may name a `variant` or a `split` of its own.
 * One object for every shape, so the model grows by fields.
 */
export const Serve = Type.Object(
  {
    enabled: Type.Optional(Type.Boolean()),
    percentage: Type.Optional(Type.Number({ minimum: 0, maximum: 100, multipleOf: 0.001, description: 'At most three decimals' })),
    stickiness: Type.Optional(
      StringEnum(STICKINESS, { description: "With percentage (default userId) or split (default: the flag's stickiness): the context value hashed" }),
    ),
    variant: Type.Optional(variantKey('On a flag with variants: the variant served on')),
    split: Type.Optional(Split),
  },
  {
    $id: 'Serve',
    additionalProperties: false,
    minProperties: 1,
    description: 'Exactly one of `enabled` and `percentage`; with variants, at most one of `variant` and `split` for what is served on',
    examples: [{ enabled: true }, { percentage: 25, stickiness: 'tenantId' }, { enabled: true, variant: 'treatment' }],
  },
)
export type Serve = Static<typeof Serve>

export const RULE_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]*$'

export const Rule = Type.Object(
  {
    id: Type.Optional(
      Type.String({ minLength: 1, maxLength: 64, pattern: RULE_ID_PATTERN, description: 'Stable; generated when absent. A rule percentage buckets by it' }),
    ),
    description: Type.Optional(Type.String({ maxLength: 1000, pattern: TEXT_PATTERN })),
    clauses: Type.Array(Clause, { maxItems: MAX_CLAUSES, description: 'All must match; none matches every context' }),
    serve: Serve,
  },
  {
    $id: 'Rule',
    additionalProperties: false,
    examples: [{ id: 'dutch-pro', clauses: [{ attribute: 'country', operator: 'in', values: ['NL'] }], serve: { enabled: true } }],
  },
)
export type RuleInput = Static<typeof Rule>

/** A rule as a flag holds it: its id settled. */
export const StoredRule = Type.Object(
  { ...Rule.properties, id: Type.String({ minLength: 1, maxLength: 64, pattern: RULE_ID_PATTERN, description: 'Stable: a rule percentage buckets by it' }) },
  { $id: 'StoredRule', additionalProperties: false },
)
export type Rule = Static<typeof StoredRule>

export const Rules = Type.Array(Rule, { maxItems: MAX_RULES, description: 'In order: the first rule whose clauses all match decides' })
