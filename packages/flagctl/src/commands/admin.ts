// The administration commands: the audit trail and tokens.
import type { Scope } from '@switchyard/core/auth/schema'
import type { CommandContext } from '../context.js'
import { describeChanges, table } from '../output.js'

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
            describeChanges(e.changes),
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
