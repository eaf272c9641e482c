// Variants as flagctl reads and shows them: `key[:weight]=value` arguments, values as one short
// line, and how many users a change of the default split moves (plan and `variants weights` say so).
import type { SplitShare, Variant } from '@switchyard/core/flags/schema'
import { VARIANT_KEY_PATTERN } from '@switchyard/core/flags/variants'
import { usageError } from './errors.js'

const KEY = new RegExp(VARIANT_KEY_PATTERN)

/**
 * A variant's value from the command line: JSON when it reads as JSON (`12`, `true`, `{"limit": 10}`,
 * `"12"` for the text 12), else the text as it is (`blue`). JSON null is refused: no variant holds it.
 */
export function variantValue(text: string, what: string): unknown {
  let value: unknown = text
  try {
    value = JSON.parse(text)
  } catch {
    // Text.
  }
  if (value === null) throw usageError(`${what}: a variant's value cannot be null (for the text null, quote it: '"null"')`)
  return value
}

/** A weight as the API takes it: 0 to 100, at most three decimals. */
export function variantWeight(text: string, what: string): number {
  const weight = Number(text.replace(/%$/, ''))
  if (text.trim() === '' || !Number.isFinite(weight) || weight < 0 || weight > 100 || Math.round(weight * 1000) !== weight * 1000)
    throw usageError(`${what}: the weight '${text}' must be a number from 0 to 100 with at most three decimals`)
  return weight
}

function variantKeyOf(text: string, what: string): string {
  if (!KEY.test(text) || text.length > 64)
    throw usageError(`${what}: '${text}' is not a variant key (letters, digits, _ . and -, starting with a letter or digit; at most 64)`)
  return text
}

/**
 * `--variant key[:weight]=value`: the weight sits with the key, before the `=`, so a value may hold
 * any character (`url:40=https://example.com:8443/`, `cfg={"a":1}`). Without a weight, none (0).
 */
export function parseVariantArg(arg: string): Variant {
  const what = `--variant ${arg}`
  const eq = arg.indexOf('=')
  if (eq < 1) throw usageError(`${what}: must be key=value or key:weight=value (e.g. treatment:50=green)`)
  const [key, weight, ...rest] = arg.slice(0, eq).split(':')
  if (rest.length > 0) throw usageError(`${what}: must be key=value or key:weight=value (e.g. treatment:50=green)`)
  const variant: Variant = { key: variantKeyOf(key!, what), value: variantValue(arg.slice(eq + 1), what) }
  if (weight !== undefined) variant.weight = variantWeight(weight, what)
  return variant
}

/** `key=weight`, as `variants weights` takes it. */
export function parseWeightArg(arg: string): { key: string; weight: number } {
  const what = `'${arg}'`
  const eq = arg.indexOf('=')
  if (eq < 1) throw usageError(`${what}: must be key=weight (e.g. treatment=40)`)
  return { key: variantKeyOf(arg.slice(0, eq), what), weight: variantWeight(arg.slice(eq + 1), what) }
}

// A value past this many characters of JSON is cut in tables and plans (--json shows it whole).
const SHOWN_VALUE = 60

/** A value as one line of JSON (`"green"`, `12`, `{"limit":10}`), cut with … past SHOWN_VALUE characters. */
export function jsonText(value: unknown): string {
  const text = JSON.stringify(value)
  return text.length > SHOWN_VALUE ? `${text.slice(0, SHOWN_VALUE - 1)}…` : text
}

/** `green = "green" (50%)`: a variant on one line; its share of the default split when it has one. */
export function variantText(variant: Variant): string {
  return `${variant.key} = ${jsonText(variant.value)}${variant.weight ? ` (${variant.weight}%)` : ''}`
}

/** A split on one line: `[blue 30%, green 70%]`. */
export const splitText = (split: readonly SplitShare[]) => `[${split.map((s) => `${s.variant} ${s.weight}%`).join(', ')}]`

/** Each variant's range of the default split, in thousandths of a percent, in declared order (as the engine lays them out). */
function ranges(variants: readonly Variant[]): Map<string, [number, number]> {
  const out = new Map<string, [number, number]>()
  let start = 0
  for (const { key, weight } of variants) {
    const end = start + Math.round((weight ?? 0) * 1000)
    out.set(key, [start, end])
    start = end
  }
  return out
}

/**
 * The percent of the default split's buckets that serve another variant after the change: the
 * users who move, among those the split serves. Undefined when either side has no variants.
 */
export function splitMoved(before: readonly Variant[], after: readonly Variant[]): number | undefined {
  if (before.length === 0 || after.length === 0) return undefined
  const was = ranges(before)
  let kept = 0
  for (const [key, [start, end]] of ranges(after)) {
    const old = was.get(key)
    if (old !== undefined) kept += Math.max(0, Math.min(end, old[1]) - Math.max(start, old[0]))
  }
  return (100_000 - kept) / 1000
}
