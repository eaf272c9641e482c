// Audit events: built from before/after states, and mirrored to the log stream once committed.
import { randomUUID } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import type { AuditAction, AuditDraft, AuditEvent, FieldChange } from './schema.js'

/** Who is making a change, and where its audit line goes. */
export interface Actor {
  /** The token's id (`tok_…`), or for a built-in actor its own name: unique where names are not. */
  id: string
  name: string
  requestId: string
  log: FastifyBaseLogger
}

/**
 * Actors that are not named tokens: the ADMIN_TOKEN token, what created it, a request without a
 * token, FLAGS_BOOTSTRAP_FILE and the guard. No token may take one of these names (in any case),
 * so an audit event's actor never passes for one of them.
 */
export const BUILT_IN_ACTORS = ['bootstrap', 'environment', 'anonymous', 'flags-bootstrap-file', 'guard'] as const
export type BuiltInActor = (typeof BUILT_IN_ACTORS)[number]
const BUILT_IN = new Set<string>(BUILT_IN_ACTORS)

export function isBuiltInActor(name: string): boolean {
  return BUILT_IN.has(name.toLowerCase())
}

/** A built-in actor: its id is its name. */
export function builtInActor(name: BuiltInActor, requestId: string, log: FastifyBaseLogger): Actor {
  return { id: name, name, requestId, log }
}

// Id lists can hold 10,000 entries: record the difference, not two copies of the list.
const LIST_FIELDS = new Set(['betaUsers', 'betaTenants'])

/** Ids an audit event names per side of a list change; past it the event counts the rest. */
export const AUDIT_LIST_IDS = 1000

/**
 * The audit rule for large lists, the same for every list and every store: the ids added and
 * removed, up to AUDIT_LIST_IDS per side, with the full counts once a side is cut.
 */
export function listChange(before: readonly string[], after: readonly string[]): FieldChange | undefined {
  const had = new Set(before)
  const has = new Set(after)
  const added = after.filter((x) => !had.has(x))
  const removed = before.filter((x) => !has.has(x))
  if (!added.length && !removed.length) return undefined
  const change: FieldChange = { added: added.slice(0, AUDIT_LIST_IDS), removed: removed.slice(0, AUDIT_LIST_IDS) }
  if (added.length > AUDIT_LIST_IDS) change.addedCount = added.length
  if (removed.length > AUDIT_LIST_IDS) change.removedCount = removed.length
  return change
}

export function diff(before: Record<string, unknown> | null, after: Record<string, unknown> | null, fields: readonly string[]) {
  const changes: Record<string, FieldChange> = {}
  for (const field of fields) {
    const b = before?.[field]
    const a = after?.[field]
    if (LIST_FIELDS.has(field)) {
      const change = listChange((b as string[] | undefined) ?? [], (a as string[] | undefined) ?? [])
      if (change) changes[field] = change
    } else if (JSON.stringify(b) !== JSON.stringify(a)) {
      changes[field] = { before: b ?? null, after: a ?? null }
    }
  }
  return changes
}

export function draftEvent(
  actor: Actor,
  action: AuditAction,
  target: { flag?: string; tokenId?: string; version?: number },
  changes: Record<string, FieldChange>,
): AuditDraft {
  return {
    id: randomUUID(),
    type: 'audit',
    action,
    ...target,
    actor: actor.name,
    actorId: actor.id,
    requestId: actor.requestId,
    timestamp: new Date().toISOString(),
    changes,
  }
}

/** Mirrors a committed audit event to the log stream, with a fixed message per action. */
export function logAudit(actor: Actor, event: AuditEvent): void {
  actor.log.info(event, event.action)
}
