// Request validation: bodies are strict (no coercion, unknown fields rejected), while
// querystrings and params coerce ("50" → 50) as URLs need. Errors name the field and the rule.
import { Ajv, type ErrorObject } from 'ajv'
import addFormats from 'ajv-formats'
import type { FastifyInstance, FastifySchema, FastifySchemaCompiler } from 'fastify'
import { AppError } from '../errors.js'
import { describeValidationError } from '@switchyard/core/validation-errors'

function makeAjv(coerce: boolean, external: Record<string, unknown>): Ajv {
  const ajv = new Ajv({
    coerceTypes: coerce ? 'array' : false,
    useDefaults: coerce,
    removeAdditional: false,
    allErrors: false,
    strict: false,
    // Patterns compile with the `u` flag (Ajv's default, relied on by IDENTIFIER_PATTERN).
    unicodeRegExp: true,
    // 12.345 / 0.001 is 12344.999999999998 in floating point: compare with a tolerance.
    multipleOfPrecision: 9,
  })
  addFormats.default(ajv)
  for (const schema of Object.values(external)) ajv.addSchema(schema as object)
  return ajv
}

/** Installs the two Ajv instances, fed with every schema registered through addSchema. */
export function validationController() {
  return {
    compilersFactory: {
      buildValidator(external: Record<string, unknown>): FastifySchemaCompiler<FastifySchema> {
        const strict = makeAjv(false, external)
        const coercing = makeAjv(true, external)
        return ({ schema, httpPart }) => (httpPart === 'body' ? strict : coercing).compile(schema as object)
      },
    },
  }
}

export function installValidation(app: FastifyInstance): void {
  app.setSchemaErrorFormatter((errors, dataVar) => {
    const { field, message } = describeValidationError(errors as ErrorObject[], dataVar)
    return new AppError('VALIDATION_FAILED', message, field)
  })
}
