// The administration commands: the audit trail, tokens, and the fleet (its view and its recovery).
import type { Scope } from '@switchyard/core/auth/schema'
import type { CommandContext } from '../context.js'
import { auditChangesText, table } from '../output.js'
import { usageError } from '../errors.js'

export async function showAudit(ctx: CommandContext, key: string | undefined, options: { actor?: string; limit: number }): Promise<void> {
  const events = await ctx.api.audit({ flag: key, actor: options.actor, limit: options.limit })
  ctx.out.emit({ events }, () =>
    events.length === 0
      ? 'no audit events'
      : table(
          ['SEQ', 'TIME', 'ACTOR', 'ACTION', 'TARGET', 'VERSION', 'CHANGES'],
          events.map((e) => [
            String(e.seq),
            e.timestamp,
            e.actor,
            e.action,
            e.flag ?? e.tokenId ?? '',
            e.version === undefined ? '' : String(e.version),
            auditChangesText(e),
          ]),
        ),
  )
}

export async function listTokens(ctx: CommandContext): Promise<void> {
  const tokens = await ctx.api.listTokens()
  ctx.out.emit({ tokens }, () =>
    table(
      ['ID', 'NAME', 'SCOPE', 'CREATED', 'BY'],
      tokens.map((t) => [t.id, t.name, t.scope, t.createdAt, t.createdBy]),
    ),
  )
}

export async function createToken(ctx: CommandContext, name: string, options: { scope: Scope }): Promise<void> {
  const created = await ctx.api.createToken(name, options.scope)
  // The new secret is the point of this command; it is shown once, like the API shows it.
  ctx.out.emit(created, () => `created token ${created.name} (id ${created.id}, scope ${created.scope}); its secret, shown this once:\n\n  ${created.token}\n`)
}

export async function revokeToken(ctx: CommandContext, id: string): Promise<void> {
  await ctx.api.revokeToken(id)
  ctx.out.emit({ revoked: id }, () => `revoked token ${id}`)
}

export async function showFleet(ctx: CommandContext): Promise<void> {
  const fleet = await ctx.api.fleet()
  ctx.out.emit(fleet, () => {
    const rows = fleet.replicas.map((r) => [
      `${r.id}${r.self ? ' *' : ''}`,
      r.epoch ?? '(none)',
      String(r.revision),
      String(r.lag),
      `${r.stateHash}${r.hashMismatch ? ' (differs)' : ''}`,
      r.stale ? `${r.status}, stale` : r.status,
      r.version,
      r.lastBeatAt,
    ])
    const summary = fleet.consistent
      ? `every replica holds epoch ${fleet.epoch} and agrees (store counter ${fleet.counter})`
      : `the replicas disagree: the store holds epoch ${fleet.epoch ?? '(none)'} at counter ${fleet.counter}`
    return `${table(['REPLICA', 'EPOCH', 'REVISION', 'LAG', 'STATE HASH', 'STATUS', 'VERSION', 'LAST HEARTBEAT'], rows)}\n\n${summary} (* answered)`
  })
}

export async function reseedStore(ctx: CommandContext): Promise<void> {
  const done = await ctx.api.reseed()
  ctx.out.emit(done, () => `reseeded the store from this replica: ${done.flags} flags and ${done.tokens} tokens under epoch ${done.epoch} (seq ${done.seq})`)
}

export async function acceptStore(ctx: CommandContext, options: { yes?: boolean }): Promise<void> {
  if (options.yes !== true) throw usageError('not accepted: this discards what the replicas hold that the store lost; pass --yes to go on')
  const done = await ctx.api.acceptStore()
  ctx.out.emit(
    done,
    () =>
      `accepted the store as it is: ${done.flags} flags and ${done.tokens} tokens under epoch ${done.epoch} (seq ${done.seq}); ` +
      'only ADMIN_TOKEN works until tokens are created again; restore flags with `flagctl apply`',
  )
}
