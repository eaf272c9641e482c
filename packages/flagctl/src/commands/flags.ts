// The flag commands: list, get, create, enable, disable, rollout, beta, delete, evaluate.
import type { EvaluationContext, Flag, FlagPatch, FlagState, Stickiness } from '@switchyard/core/flags/schema'
import type { CommandContext } from '../context.js'
import { confirm } from '../confirm.js'
import { usageError } from '../errors.js'
import { explanationText, flagDetails, flagTable } from '../output.js'
import { jsonText } from '../variants.js'

export async function listFlags(ctx: CommandContext, filter: { tag?: string; state?: FlagState; scheduled?: boolean }): Promise<void> {
  const flags = await ctx.api.listFlags({ tag: filter.tag, state: filter.state, ...(filter.scheduled ? { scheduled: true } : {}) })
  ctx.out.emit({ flags }, () => flagTable(flags))
}

export async function getFlag(ctx: CommandContext, key: string): Promise<void> {
  const flag = await ctx.api.getFlag(key)
  ctx.out.emit(flag, () => flagDetails(flag))
}

export async function createFlag(ctx: CommandContext, key: string, options: { description?: string; tag: string[] }): Promise<void> {
  const flag = await ctx.api.createFlag({ key, description: options.description, tags: options.tag.length > 0 ? options.tag : undefined })
  ctx.out.emit(flag, () => flagTable([flag]))
}

/**
 * Reads the flag, then writes against the version it read (If-Match): a change someone else
 * made in between is refused with 412 rather than silently overwritten.
 */
async function change(ctx: CommandContext, key: string, patchOf: (flag: Flag) => FlagPatch): Promise<void> {
  const current = await ctx.api.getFlag(key)
  const { flag, schedule } = await ctx.api.writeFlag(key, patchOf(current), current.version)
  if (flag.version === current.version) ctx.out.note(`${key} already was so: nothing changed`)
  // The service stops a running schedule that a person overrides by hand.
  if (schedule === 'paused') ctx.out.note(`${key}'s schedule is paused: a state or percentage set by hand stops it (flagctl schedule resume ${key} goes on)`)
  ctx.out.emit(flag, () => flagTable([flag]))
}

export const enableFlag = (ctx: CommandContext, key: string) => change(ctx, key, () => ({ state: 'enabled' }))
export const disableFlag = (ctx: CommandContext, key: string) => change(ctx, key, () => ({ state: 'disabled' }))

export const rolloutFlag = (ctx: CommandContext, key: string, percentage: number, options: { stickiness?: Stickiness }) =>
  change(ctx, key, () => ({ state: 'percentage', percentage, ...(options.stickiness ? { stickiness: options.stickiness } : {}) }))

/** One atomic edit of the lists (POST /flags/:key/targets): concurrent edits elsewhere all apply. */
export async function betaFlag(ctx: CommandContext, key: string, action: 'add' | 'remove', ids: { user: string[]; tenant: string[] }): Promise<void> {
  if (ids.user.length === 0 && ids.tenant.length === 0) throw usageError('beta needs at least one --user or --tenant')
  const flag = await ctx.api.editTargets(key, { [action]: { users: ids.user, tenants: ids.tenant } })
  ctx.out.emit(flag, () => flagTable([flag]))
}

export async function deleteFlag(ctx: CommandContext, key: string, options: { yes?: boolean }): Promise<void> {
  const { version } = await ctx.api.getFlag(key)
  // Asked when a person is there to answer and to see the question (stdin and stderr on a terminal);
  // a script goes straight on, as it always did.
  if (options.yes !== true && process.stdin.isTTY && process.stderr.isTTY && !(await confirm(`Delete ${key} (version ${version}) from ${ctx.api.url}?`))) {
    throw usageError('not deleted: cancelled')
  }
  await ctx.api.deleteFlag(key, version)
  ctx.out.emit({ deleted: key, version }, () => `deleted ${key} (it was at version ${version})`)
}

export async function evaluateFlag(
  ctx: CommandContext,
  key: string,
  who: { user?: string; tenant?: string; attr?: EvaluationContext['attributes']; explain?: boolean },
): Promise<void> {
  const attributes = who.attr !== undefined && Object.keys(who.attr).length > 0 ? who.attr : undefined
  const result = await ctx.api.evaluate(key, { userId: who.user, tenantId: who.tenant, ...(attributes ? { attributes } : {}) }, who.explain === true)
  ctx.out.emit(result, () => {
    const rule = result.ruleId === undefined ? '' : `, rule ${result.ruleId}`
    const variant = result.variant === undefined ? '' : `, serving ${result.variant} = ${jsonText(result.value)}`
    const line = `${key} is ${result.enabled ? 'on' : 'off'}${variant} (reason: ${result.reason}${rule}, version ${result.version})`
    return result.explanation ? `${line}\n${explanationText(result.explanation)}` : line
  })
}
