// Which variant a context gets: a flag's variants compiled into splits (contiguous bucket ranges,
// in the order the flag declares its variants) and the decisions that carry each variant.
//
// The split bucket is part of the public contract, beside the percentage bucket (bucket.ts):
//
//   bucket = fmix32(FNV-1a-32(UTF-8("<flag key>:variant:<stickiness value>"))) mod 100000
//
// and a split serves the variant whose range holds the bucket: the first variant with weight w1
// takes buckets [0, w1·1000), the next [w1·1000, (w1+w2)·1000), and so on. Independent of the
// on/off bucket, so a percentage change moves no one between variants; contiguous ranges in a
// stable order, so a weight change moves only the buckets between the old and new boundaries.
import { bucketFromSeed, bucketSeed, percentageThreshold } from './bucket.js'
import type { SplitShare, Stickiness, Variant } from '../flags/schema.js'
import type { Context, Decision } from './engine.js'

export interface CompiledSplit {
  /** Exclusive upper bounds of each range, in buckets, ascending; ranges of weight 0 are left out. */
  readonly bounds: Int32Array
  /** The variant (its index in the flag's list) of each range. */
  readonly variants: Int32Array
  readonly stickiness: Stickiness
}

export interface CompiledVariants {
  readonly keys: readonly string[]
  /** The hash state after `<flag key>:variant:`. */
  readonly seed: number
  /** The default split: the variants' weights. */
  readonly split: CompiledSplit
  /** Decisions that serve on, by variant index: the flag's own reasons. */
  readonly enabled: readonly Decision[]
  readonly betaUser: readonly Decision[]
  readonly betaTenant: readonly Decision[]
  readonly percentageIn: readonly Decision[]
  /** Decisions that serve off: the offVariant. */
  readonly disabled: Decision
  readonly notTargeted: Decision
  readonly percentageOut: Decision
  readonly missingContext: Decision
  /** A decision of the same answer carrying the offVariant, or `variant` (an index) for one served on. */
  readonly withVariant: (base: Decision, variant: number) => Decision
  readonly off: number
}

/** A variant's value is shared by every answer that serves it: frozen, so no caller can change the next answer. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner)
    Object.freeze(value)
  }
  return value
}

/** A split over `shares` (variant keys and weights) as ranges, in the order given. */
export function compileSplit(keys: readonly string[], shares: readonly SplitShare[], stickiness: Stickiness): CompiledSplit {
  const bounds: number[] = []
  const variants: number[] = []
  let total = 0
  for (const share of shares) {
    const width = percentageThreshold(share.weight)
    const index = keys.indexOf(share.variant)
    if (width <= 0 || index < 0) continue
    total += width
    bounds.push(total)
    variants.push(index)
  }
  return { bounds: Int32Array.from(bounds), variants: Int32Array.from(variants), stickiness }
}

/**
 * The variant a split serves the context: by its bucket, or, when the context lacks the
 * stickiness value, the split's first variant (so a flag that is on still serves one).
 */
export function pickVariant(split: CompiledSplit, seed: number, ctx: Context): number {
  const value = split.stickiness === 'tenantId' ? ctx.tenantId : ctx.userId
  if (typeof value !== 'string' || value === '') return split.variants[0] ?? 0
  return variantAt(split, bucketFromSeed(seed, value))
}

/** The variant whose range holds `bucket` (the last, should weights fall short of 100). */
export function variantAt(split: CompiledSplit, bucket: number): number {
  const bounds = split.bounds
  for (let i = 0; i < bounds.length; i++) if (bucket < bounds[i]!) return split.variants[i]!
  return split.variants[bounds.length - 1] ?? 0
}

/** The seed of a flag's splits: the hash state after `<flag key>:variant:`. */
export const variantSeed = (flagKey: string) => bucketSeed(`${flagKey}:variant`)

/**
 * A flag's variants compiled, with the decision of every answer for every variant built once, so
 * an evaluation allocates nothing. Null for a flag without variants.
 */
export function compileVariants(
  flagKey: string,
  variants: readonly Variant[] | undefined,
  offVariant: string | undefined,
  stickiness: Stickiness,
  decisions: { [K in 'enabled' | 'betaUser' | 'betaTenant' | 'percentageIn' | 'disabled' | 'notTargeted' | 'percentageOut' | 'missingContext']: Decision },
): CompiledVariants | null {
  if (variants === undefined || variants.length === 0) return null
  const keys = variants.map((v) => v.key)
  const values = variants.map((v) => deepFreeze(structuredClone(v.value)))
  const off = Math.max(0, keys.indexOf(offVariant ?? ''))
  const cache = new Map<Decision, Decision[]>()
  const withVariant = (base: Decision, variant: number): Decision => {
    let row = cache.get(base)
    if (row === undefined) cache.set(base, (row = []))
    // Every decision with a variant has the same five fields (ruleId undefined where no rule
    // decided): one shape for the answers of every flag with variants.
    return (row[variant] ??= Object.freeze({
      enabled: base.enabled,
      reason: base.reason,
      ruleId: base.ruleId,
      variant: keys[variant]!,
      value: values[variant],
    }))
  }
  const every = (base: Decision) => keys.map((_, i) => withVariant(base, i))
  return {
    keys,
    seed: variantSeed(flagKey),
    split: compileSplit(
      keys,
      variants.map((v) => ({ variant: v.key, weight: v.weight ?? 0 })),
      stickiness,
    ),
    enabled: every(decisions.enabled),
    betaUser: every(decisions.betaUser),
    betaTenant: every(decisions.betaTenant),
    percentageIn: every(decisions.percentageIn),
    disabled: withVariant(decisions.disabled, off),
    notTargeted: withVariant(decisions.notTargeted, off),
    percentageOut: withVariant(decisions.percentageOut, off),
    missingContext: withVariant(decisions.missingContext, off),
    withVariant,
    off,
  }
}
