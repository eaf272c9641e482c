// Flags as code: export the live state to a file, plan the difference to a file, apply it.
import { writeFile } from 'node:fs/promises'
import { applyPlan } from '../apply.js'
import { confirm } from '../confirm.js'
import type { CommandContext } from '../context.js'
import { EXIT, usageError } from '../errors.js'
import {
  flagsJsonSchemaText,
  FlagsFileError,
  formatFlagsFile,
  parseFlagsFile,
  readFlagsFile,
  type FileFormat,
  type FlagsFile,
} from '@switchyard/core/flags/flags-file'
import { computePlan, planSummary, renderPlan, type Plan } from '../plan.js'

export async function exportFlags(ctx: CommandContext, options: { output?: string; format?: FileFormat; json?: boolean }): Promise<void> {
  const format = options.format ?? (options.json || options.output?.endsWith('.json') ? 'json' : 'yaml')
  const flags = await ctx.api.listFlags()
  const text = formatFlagsFile(flags, format)
  if (options.output === undefined || options.output === '-') ctx.out.print(text)
  else {
    await writeFile(options.output, text)
    ctx.out.note(`wrote ${flags.length} flag(s) to ${options.output}`)
  }
}

/** `-` reads the file from stdin, so `flagctl export | flagctl plan -` works. An invalid file is a usage error (exit 1). */
async function loadFile(path: string): Promise<{ file: FlagsFile; source: string }> {
  try {
    if (path !== '-') return { file: await readFlagsFile(path), source: path }
    const chunks: Buffer[] = []
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
    return { file: parseFlagsFile(Buffer.concat(chunks).toString('utf8'), '<stdin>'), source: '<stdin>' }
  } catch (err) {
    throw err instanceof FlagsFileError ? usageError(err.message) : err
  }
}

async function planFor(ctx: CommandContext, path: string, prune: boolean): Promise<{ plan: Plan; source: string }> {
  const { file, source } = await loadFile(path)
  return { plan: computePlan(await ctx.api.listFlags(), file, prune), source }
}

const planJson = (plan: Plan) => ({ changed: plan.steps.length > 0, summary: planSummary(plan), ...plan })

/** Exits 10 when something would change, so CI can use it as a drift check. */
export async function planFlags(ctx: CommandContext, path: string, options: { prune?: boolean }): Promise<number> {
  const { plan, source } = await planFor(ctx, path, options.prune === true)
  ctx.out.emit(planJson(plan), () => renderPlan(plan, ctx.api.url, source))
  return plan.steps.length > 0 ? EXIT.changes : EXIT.ok
}

/** Prints the plan, asks (unless --yes), then applies it; with --json, one JSON result at the end. */
export async function applyFlags(ctx: CommandContext, path: string, options: { prune?: boolean; yes?: boolean; json?: boolean }): Promise<number> {
  const { plan, source } = await planFor(ctx, path, options.prune === true)
  if (!options.json) ctx.out.print(renderPlan(plan, ctx.api.url, source))
  if (plan.steps.length > 0) {
    if (!options.yes) {
      // A prompt nobody can answer would hang a CI job: refuse instead.
      if (!process.stdin.isTTY || path === '-') throw usageError('not applied: confirmation needs a terminal; pass --yes to apply without a prompt')
      if (!(await confirm(`Apply ${plan.steps.length} change(s) to ${ctx.api.url}?`))) throw usageError('not applied: cancelled')
    }
    await applyPlan(ctx.api, plan, (step) => ctx.out.note(`${step.action}d ${step.key}`))
  }
  const c = planSummary(plan)
  if (options.json) ctx.out.emit({ ...planJson(plan), applied: plan.steps.length > 0 }, () => '')
  else if (plan.steps.length > 0) ctx.out.print(`Applied: ${c.create} created, ${c.update} updated, ${c.delete} deleted.`)
  return EXIT.ok
}

export function printSchema(ctx: CommandContext): void {
  ctx.out.print(flagsJsonSchemaText())
}
