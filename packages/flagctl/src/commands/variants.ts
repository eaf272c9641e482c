// The variant commands: list, set, weights, clear. Each write reads the flag and sends its change
// with If-Match on the version it read, so an edit made in between is refused (412), never
// overwritten. The model's own checks (weights summing to 100, one value type, rules naming
// variants) are the service's: its 400 names the field.
import type { Flag, Variant } from '@switchyard/core/flags/schema'
import type { CommandContext } from '../context.js'
import { confirm } from '../confirm.js'
import { usageError } from '../errors.js'
import { variantTable } from '../output.js'
import { parseVariantArg, parseWeightArg, splitMoved } from '../variants.js'

/** What --json prints for every variants command: the flag's variants as the service holds them after it. */
const variantsOf = (flag: Flag) => ({
  flag: flag.key,
  version: flag.version,
  variants: flag.variants ?? [],
  ...(flag.offVariant === undefined ? {} : { offVariant: flag.offVariant }),
})

/** Sends `variants` (and `offVariant`) against the version read, and says how much of the default split moved. */
async function write(ctx: CommandContext, current: Flag, patch: { variants: Variant[]; offVariant?: string }): Promise<void> {
  const flag = await ctx.api.updateFlag(current.key, patch, current.version)
  if (flag.version === current.version) ctx.out.note(`${flag.key} already was so: nothing changed`)
  else {
    const moved = splitMoved(current.variants ?? [], flag.variants ?? [])
    if (moved) ctx.out.note(`${moved}% of the default split now gets another variant`)
  }
  ctx.out.emit(variantsOf(flag), () => variantTable(flag))
}

export async function listVariants(ctx: CommandContext, key: string): Promise<void> {
  const flag = await ctx.api.getFlag(key)
  ctx.out.emit(variantsOf(flag), () => variantTable(flag))
}

/**
 * Replaces the variants with those given, in the order given (the order of the default split's
 * ranges). `--off` names the variant served when the flag is off; left out, the flag keeps its own
 * when that is among the new ones.
 */
export async function setVariants(ctx: CommandContext, key: string, options: { variant: string[]; off?: string }): Promise<void> {
  if (options.variant.length === 0) throw usageError('variants set needs at least one --variant key[:weight]=value (variants clear removes them all)')
  const variants = options.variant.map(parseVariantArg)
  const keys = variants.map((v) => v.key)
  const twice = keys.find((k, i) => keys.indexOf(k) !== i)
  if (twice !== undefined) throw usageError(`--variant ${twice} is given twice`)
  if (options.off !== undefined && !keys.includes(options.off)) throw usageError(`--off ${options.off} is not one of the variants given (${keys.join(', ')})`)
  const current = await ctx.api.getFlag(key)
  const off = options.off ?? current.offVariant
  if (off === undefined || !keys.includes(off)) throw usageError(`--off is required: name the variant ${key} serves when it is off (one of ${keys.join(', ')})`)
  await write(ctx, current, { variants, offVariant: off })
}

/** Sets the weights of the variants named; the others keep theirs (the service refuses a sum other than 100). */
export async function setWeights(ctx: CommandContext, key: string, args: string[]): Promise<void> {
  const weights = new Map<string, number>()
  for (const { key: variant, weight } of args.map(parseWeightArg)) {
    if (weights.has(variant)) throw usageError(`the weight of ${variant} is given twice`)
    weights.set(variant, weight)
  }
  const current = await ctx.api.getFlag(key)
  const variants = current.variants ?? []
  if (variants.length === 0) throw usageError(`${key} has no variants (variants set gives it some)`)
  const unknown = [...weights.keys()].find((k) => !variants.some((v) => v.key === k))
  if (unknown !== undefined) throw usageError(`'${unknown}' is not a variant of ${key} (its variants: ${variants.map((v) => v.key).join(', ')})`)
  await write(ctx, current, { variants: variants.map((v) => (weights.has(v.key) ? { ...v, weight: weights.get(v.key)! } : v)) })
}

/** Removes every variant (and the offVariant with them): the flag answers on or off again. Refused while a rule names a variant. */
export async function clearVariants(ctx: CommandContext, key: string, options: { yes?: boolean }): Promise<void> {
  const current = await ctx.api.getFlag(key)
  const count = current.variants?.length ?? 0
  if (count === 0) {
    ctx.out.note(`${key} has no variants: nothing changed`)
    ctx.out.emit(variantsOf(current), () => variantTable(current))
    return
  }
  // As `flagctl delete`: asked when a person is there to answer (stdin and stderr on a terminal).
  if (
    options.yes !== true &&
    process.stdin.isTTY &&
    process.stderr.isTTY &&
    !(await confirm(`Remove the ${count} variants of ${key} (version ${current.version}) on ${ctx.api.url}? It will answer on or off only.`))
  ) {
    throw usageError('not cleared: cancelled')
  }
  await write(ctx, current, { variants: [] })
}
