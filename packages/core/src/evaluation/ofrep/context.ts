// OpenFeature evaluation context → Switchyard context: `targetingKey` is the user, `tenantId`
// the tenant, every other field an attribute. Shared by the OFREP routes and the SDK's provider.
import type { Context } from '../engine.js'

export type ContextMapping = { context: Context; error?: undefined } | { context?: undefined; error: string }

type Attribute = string | number | boolean | string[]

export function fromOpenFeatureContext(input: Readonly<Record<string, unknown>> | undefined): ContextMapping {
  const context: Context = {}
  if (input === undefined) return { context }
  let attributes: Record<string, Attribute> | undefined
  for (const name of Object.keys(input)) {
    let value = input[name]
    if (value === undefined) continue
    if (name === 'targetingKey' || name === 'tenantId') {
      if (typeof value !== 'string') return { error: `context.${name} must be a string` }
      // An empty id is no id, as the engine sees it; a percentage flag then reports it missing.
      if (value !== '') context[name === 'targetingKey' ? 'userId' : 'tenantId'] = value
      continue
    }
    // Over HTTP a Date arrives as its ISO string; a provider in process sees the object.
    if (value instanceof Date) value = value.toISOString()
    if (typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))) {
      // No prototype: an attribute named __proto__ stays an attribute.
      attributes ??= Object.create(null) as Record<string, Attribute>
      attributes[name] = value
      continue
    }
    if (Array.isArray(value) && value.every((item) => typeof item === 'string')) {
      attributes ??= Object.create(null) as Record<string, Attribute>
      attributes[name] = value as string[]
      continue
    }
    return { error: `context.${name} must be a string, a finite number, a boolean or a list of strings: Switchyard attributes are flat` }
  }
  if (attributes) context.attributes = attributes
  return { context }
}
