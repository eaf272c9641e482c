// Schema helpers shared by every route module: named references and the common error shape.
import { Type, type Static, type TSchema } from 'typebox'

/**
 * A `$ref` to a schema registered with `app.addSchema`, typed as the schema it points to,
 * so handlers stay typed while the OpenAPI document gets named components.
 */
export function ref<T extends TSchema & { $id?: string }>(schema: T) {
  if (!schema.$id) throw new Error('ref() needs a schema with an $id')
  return Type.Unsafe<Static<T>>({ $ref: `${schema.$id}#` })
}

/** A `ref()` with the description a response shows in the API document. */
export function described<T extends TSchema & { $id?: string }>(schema: T, description: string) {
  return Type.Unsafe<Static<T>>({ ...ref(schema), description })
}

/** A closed string enum; validation errors then name the allowed values. */
export function StringEnum<const T extends readonly string[]>(values: T, options: Record<string, unknown> = {}) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options })
}

/**
 * What a stored identifier may not hold: control characters (C0, DEL, C1) and unpaired surrogates,
 * which JSON tools refuse (jq cannot parse "\ud800"). Ajv compiles patterns with the `u` flag,
 * under which a class of surrogates matches only unpaired ones, so emoji stay allowed.
 */
export const IDENTIFIER_PATTERN = '^[^\\u0000-\\u001f\\u007f-\\u009f\\ud800-\\udfff]*$'
/** Free text (descriptions) may hold newlines and tabs, but no unpaired surrogate either. */
export const TEXT_PATTERN = '^[^\\ud800-\\udfff]*$'

export const ErrorResponse = Type.Object(
  {
    statusCode: Type.Integer({ description: 'HTTP status code, repeated for clients that lose it' }),
    code: Type.String({ description: 'Stable machine-readable error code', examples: ['VALIDATION_FAILED'] }),
    message: Type.String({ description: 'What went wrong, naming the field and rule for validation errors' }),
    field: Type.Optional(Type.String({ description: 'The request field that failed validation', examples: ['body.percentage'] })),
    requestId: Type.Optional(Type.String()),
  },
  { $id: 'Error', description: 'The one error shape every route returns' },
)

export const sharedSchemas: TSchema[] = [ErrorResponse]
