// Flags as code: export the live state to a file, plan the difference to a file, apply it.
import { writeFile } from 'node:fs/promises'
import type { Segment, SegmentSummary } from '@switchyard/core/segments/schema'
import { applyPlan, operationName } from '../apply.js'
import type { Api } from '../client.js'
import { confirm } from '../confirm.js'
import type { CommandContext } from '../context.js'
import { ApiError, EXIT, usageError } from '../errors.js'
import {
  flagsJsonSchemaText,
  FlagsFileError,
  formatFlagsFile,
  parseFlagsFile,
  readFlagsFile,
  type FileFormat,
  type FlagsFile,
} from '@switchyard/core/flags/flags-file'
import { computePlan, needsSegments, planJson, renderPlan, stepCount, summaryLine, type LiveSegments, type Plan } from '../plan.js'

// Segments read in full at once: each may hold a million ids.
const FULL_READS = 4

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i]!)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return out
}

/** GET /segments, or undefined from a service that has no segments (a 404 for the route: a version before them). */
async function segmentSummaries(api: Api): Promise<SegmentSummary[] | undefined> {
  try {
    return await api.listSegments()
  } catch (err) {
    if (err instanceof ApiError && err.status === 404 && err.code === 'NOT_FOUND') return undefined
    throw err
  }
}

const readInFull = (api: Api, keys: readonly string[]): Promise<Segment[]> => mapLimit(keys, FULL_READS, (key) => api.getSegment(key))

/** Writes flags and, from a service that has them, segments with every member (each read with GET /segments/:key). */
export async function exportFlags(ctx: CommandContext, options: { output?: string; format?: FileFormat; json?: boolean }): Promise<void> {
  const format = options.format ?? (options.json || options.output?.endsWith('.json') ? 'json' : 'yaml')
  const [flags, summaries] = await Promise.all([ctx.api.listFlags(), segmentSummaries(ctx.api)])
  const segments =
    summaries &&
    (await readInFull(
      ctx.api,
      summaries.map((s) => s.key),
    ))
  const text = formatFlagsFile(flags, format, segments)
  if (options.output === undefined || options.output === '-') ctx.out.print(text)
  else {
    await writeFile(options.output, text)
    ctx.out.note(`wrote ${flags.length} flag(s)${segments ? ` and ${segments.length} segment(s)` : ''} to ${options.output}`)
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

/**
 * The live segments a plan needs: every summary, and in full the ones the file declares (their
 * members are compared). A file that neither lists segments nor names one reads none, so it plans
 * against a service from before segments as it always did.
 */
async function liveSegments(api: Api, file: FlagsFile): Promise<LiveSegments> {
  const summaries = await segmentSummaries(api)
  if (summaries === undefined) throw usageError(`the flags file uses segments, which the service at ${api.url} does not have (GET /segments: 404)`)
  const live = new Set(summaries.map((s) => s.key))
  const declared = (file.segments ?? []).map((s) => s.key).filter((key) => live.has(key))
  const full = await readInFull(api, declared)
  return { summaries, full: new Map(full.map((s) => [s.key, s])) }
}

async function planFor(ctx: CommandContext, path: string, prune: boolean): Promise<{ plan: Plan; source: string }> {
  const { file, source } = await loadFile(path)
  const [flags, segments] = await Promise.all([ctx.api.listFlags(), needsSegments(file) ? liveSegments(ctx.api, file) : undefined])
  return { plan: computePlan(flags, file, prune, segments), source }
}

/** Exits 10 when something would change, so CI can use it as a drift check. */
export async function planFlags(ctx: CommandContext, path: string, options: { prune?: boolean }): Promise<number> {
  const { plan, source } = await planFor(ctx, path, options.prune === true)
  ctx.out.emit(planJson(plan), () => renderPlan(plan, ctx.api.url, source))
  return stepCount(plan) > 0 ? EXIT.changes : EXIT.ok
}

/** Prints the plan, asks (unless --yes), then applies it; with --json, one JSON result at the end. */
export async function applyFlags(ctx: CommandContext, path: string, options: { prune?: boolean; yes?: boolean; json?: boolean }): Promise<number> {
  const { plan, source } = await planFor(ctx, path, options.prune === true)
  if (!options.json) ctx.out.print(renderPlan(plan, ctx.api.url, source))
  const changes = stepCount(plan)
  if (changes > 0) {
    if (!options.yes) {
      // A prompt nobody can answer would hang a CI job: refuse instead.
      if (!process.stdin.isTTY || path === '-') throw usageError('not applied: confirmation needs a terminal; pass --yes to apply without a prompt')
      if (!(await confirm(`Apply ${changes} change(s) to ${ctx.api.url}?`))) throw usageError('not applied: cancelled')
    }
    await applyPlan(ctx.api, plan, (op) => ctx.out.note(`${op.step.action}d ${operationName(op)}`))
  }
  if (options.json) ctx.out.emit({ ...planJson(plan), applied: changes > 0 }, () => '')
  else if (changes > 0) ctx.out.print(`Applied: ${summaryLine(plan, (action) => `${action}d`)}.`)
  return EXIT.ok
}

export function printSchema(ctx: CommandContext): void {
  ctx.out.print(flagsJsonSchemaText())
}
