// Multivariate flags: the variants a flag serves, and the weighted splits that choose among them.
// TypeBox schemas; the checks past the schema are in flags/model.ts (settleVariants), the choice
// at evaluation in evaluation/variants.ts.
import { Type, type Static } from 'typebox'
import { TEXT_PATTERN } from '../schema.js'

/** Variants a flag may declare; the largest value a variant may hold, as UTF-8 JSON. */
export const MAX_VARIANTS = 50
export const MAX_VARIANT_VALUE_BYTES = 8192

export const VARIANT_KEY_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]*$'
/** A variant's key, as a field of `description`. */
export const variantKey = (description: string) => Type.String({ minLength: 1, maxLength: 64, pattern: VARIANT_KEY_PATTERN, description })

/** A share of a split, like a percentage: 0–100 with at most three decimals. */
const Weight = Type.Number({ minimum: 0, maximum: 100, multipleOf: 0.001, description: 'Percent of the split, at most three decimals' })

export const Variant = Type.Object(
  {
    key: variantKey('Names the variant in answers and rules'),
    value: Type.Unknown({ description: 'Any JSON but null, at most 8 KB; every variant of a flag holds the same JSON type' }),
    weight: Type.Optional(
      Type.Number({ minimum: 0, maximum: 100, multipleOf: 0.001, description: "Its share of the flag's default split, at most three decimals; 0 when absent" }),
    ),
    description: Type.Optional(Type.String({ maxLength: 1000, pattern: TEXT_PATTERN })),
  },
  {
    $id: 'Variant',
    additionalProperties: false,
    examples: [
      { key: 'control', value: 'blue', weight: 50 },
      { key: 'treatment', value: 'green', weight: 50 },
    ],
  },
)
export type Variant = Static<typeof Variant>

export const SplitShare = Type.Object(
  { variant: variantKey('A variant the flag declares'), weight: Weight },
  { $id: 'SplitShare', additionalProperties: false },
)
export type SplitShare = Static<typeof SplitShare>

export const Split = Type.Array(SplitShare, {
  minItems: 1,
  maxItems: MAX_VARIANTS,
  description: 'A weighted split of its own: weights sum to 100, each variant at most once',
})

/** The JSON type of a variant value, as the "one type per flag" rule and OFREP see it. */
export type VariantType = 'string' | 'number' | 'boolean' | 'object' | 'array'
export function variantType(value: unknown): VariantType | undefined {
  if (Array.isArray(value)) return 'array'
  const type = typeof value
  if (type === 'string' || type === 'number' || type === 'boolean') return type
  return type === 'object' && value !== null ? 'object' : undefined
}
