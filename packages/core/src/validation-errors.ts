// One readable sentence for a schema validation error, the same for request bodies (the HTTP
// API) and for flags files (the CLI and FLAGS_BOOTSTRAP_FILE): the field, then the rule it broke.
import type { ErrorObject } from 'ajv'
import { IDENTIFIER_PATTERN, TEXT_PATTERN } from './schema.js'

/** The segments of a JSON pointer (an Ajv instancePath), unescaped. */
export function pointerSegments(instancePath: string): string[] {
  if (instancePath === '') return []
  return instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
}

function fieldPath(dataVar: string, instancePath: string): string {
  return (
    dataVar +
    pointerSegments(instancePath)
      .map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`))
      .join('')
  )
}

// Patterns no reader should have to decode, as the rule they state.
const PATTERN_RULES: Record<string, string> = {
  [IDENTIFIER_PATTERN]: 'must not contain control characters (C0, DEL, C1) or unpaired surrogates',
  [TEXT_PATTERN]: 'must not contain unpaired surrogates',
}

/** A failed field and the rule it broke, as one sentence (`message`, which begins with `field`). */
interface ValidationProblem {
  field: string
  message: string
}

/** One readable sentence for the first validation error: the field, then the rule it broke. */
export function describeValidationError(errors: ErrorObject[], dataVar: string): ValidationProblem {
  const e = errors[0]
  if (!e) return { field: dataVar, message: `${dataVar} is invalid` }
  let field = fieldPath(dataVar, e.instancePath)
  let rule: string
  switch (e.keyword) {
    case 'additionalProperties':
      field += `.${(e.params as { additionalProperty: string }).additionalProperty}`
      rule = 'is not a known field'
      break
    case 'required':
      field += `.${(e.params as { missingProperty: string }).missingProperty}`
      rule = 'is required'
      break
    case 'enum':
      rule = `must be one of: ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`
      break
    case 'multipleOf':
      rule = `must have at most three decimals (a multiple of ${(e.params as { multipleOf: number }).multipleOf})`
      break
    case 'minProperties':
      rule = `must have at least ${(e.params as { limit: number }).limit} field(s)`
      break
    case 'pattern':
      rule = PATTERN_RULES[(e.params as { pattern: string }).pattern] ?? e.message ?? 'is invalid'
      break
    default:
      rule = e.message ?? 'is invalid'
  }
  return { field, message: `${field} ${rule}` }
}
