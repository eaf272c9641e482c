// The segment commands: list, get, create, delete, and members added or removed. Members go in
// requests of at most 10,000 ids (POST /segments/:key/targets), never as the whole list.
import { summarize, type SegmentSummary } from '@switchyard/core/segments/schema'
import type { CommandContext } from '../context.js'
import { confirm } from '../confirm.js'
import { CliError, usageError } from '../errors.js'
import { memberCount, membersFrom, targetEdits } from '../members.js'
import { count, segmentDetails, segmentTable } from '../output.js'
import type { Api } from '../client.js'
import type { TargetsEdit } from '@switchyard/core/flags/schema'

interface MemberOptions {
  users?: string[]
  tenants?: string[]
  usersFile?: string
  tenantsFile?: string
}

export async function listSegments(ctx: CommandContext): Promise<void> {
  const segments = await ctx.api.listSegments()
  ctx.out.emit({ segments }, () => segmentTable(segments))
}

export async function getSegment(ctx: CommandContext, key: string): Promise<void> {
  const segment = await ctx.api.getSegment(key)
  ctx.out.emit(segment, () => segmentDetails(segment))
}

/**
 * Sends `edits` one after the other; a failure says how many went through. Each is atomic and
 * adding a member twice (or removing an absent one) changes nothing, so running the same command
 * again finishes the job.
 */
async function sendEdits(api: Api, key: string, edits: readonly TargetsEdit[], note: (text: string) => void, done = 0, total = edits.length) {
  let last: SegmentSummary | undefined
  for (const [i, edit] of edits.entries()) {
    try {
      last = await api.editSegmentTargets(key, edit)
    } catch (err) {
      if (!(err instanceof CliError) || total === 1) throw err
      throw new CliError(
        `${err.message}\n${done + i} of ${total} request(s) for segment ${key} went through, none after; the same command again finishes the job.`,
        err.exitCode,
      )
    }
    if (total > 1) note(`segment ${key}: request ${done + i + 1} of ${total} done`)
  }
  return last
}

export async function createSegment(ctx: CommandContext, key: string, options: MemberOptions & { description?: string }): Promise<void> {
  const members = await membersFrom(options)
  // The create carries the first 10,000 members; the rest follow as additions.
  const [first, ...rest] = targetEdits({ add: members })
  const created = await ctx.api.createSegment({ key, description: options.description, users: first?.add?.users, tenants: first?.add?.tenants })
  const summary = (await sendEdits(ctx.api, key, rest, (t) => ctx.out.note(t), 1, rest.length + 1)) ?? summarize(created)
  ctx.out.emit(summary, () => segmentTable([summary]))
}

async function editMembers(ctx: CommandContext, key: string, action: 'add' | 'remove', options: MemberOptions): Promise<void> {
  const members = await membersFrom(options)
  if (memberCount(members) === 0) throw usageError(`segments ${action} needs ids: --users, --tenants, --users-file or --tenants-file`)
  const summary = (await sendEdits(ctx.api, key, targetEdits({ [action]: members }), (t) => ctx.out.note(t)))!
  ctx.out.emit(summary, () => segmentTable([summary]))
}

export const addMembers = (ctx: CommandContext, key: string, options: MemberOptions) => editMembers(ctx, key, 'add', options)
export const removeMembers = (ctx: CommandContext, key: string, options: MemberOptions) => editMembers(ctx, key, 'remove', options)

export async function deleteSegment(ctx: CommandContext, key: string, options: { yes?: boolean }): Promise<void> {
  const { version, users, tenants } = await ctx.api.getSegment(key)
  // As `flagctl delete`: asked when a person is there to answer (stdin and stderr on a terminal).
  if (
    options.yes !== true &&
    process.stdin.isTTY &&
    process.stderr.isTTY &&
    !(await confirm(`Delete segment ${key} (version ${version}, ${count(users.length, 'user')}, ${count(tenants.length, 'tenant')}) from ${ctx.api.url}?`))
  ) {
    throw usageError('not deleted: cancelled')
  }
  await ctx.api.deleteSegment(key, version)
  ctx.out.emit({ deleted: key, version }, () => `deleted segment ${key} (it was at version ${version})`)
}
