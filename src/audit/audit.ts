// Audit events: built from before/after states, and mirrored to the log stream once committed.
import { randomUUID } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import type { AuditAction, AuditDraft, AuditEvent, FieldChange } from './schema.js'

/** Who is making a change, and where its audit line goes. */
export interface Actor {
  name: string
  requestId: string
  log: FastifyBaseLogger
}

// Id lists can hold 10,000 entries: record the difference, not two copies of the list.
const LIST_FIELDS = new Set(['betaUsers', 'betaTenants'])

export function diff(before: Record<string, unknown> | null, after: Record<string, unknown> | null, fields: readonly string[]) {
  const changes: Record<string, FieldChange> = {}
  for (const field of fields) {
    const b = before?.[field]
    const a = after?.[field]
    if (LIST_FIELDS.has(field)) {
      const bs = new Set((b as string[] | undefined) ?? [])
      const as = new Set((a as string[] | undefined) ?? [])
      const added = [...as].filter((x) => !bs.has(x))
      const removed = [...bs].filter((x) => !as.has(x))
      if (added.length || removed.length) changes[field] = { added, removed }
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
    requestId: actor.requestId,
    timestamp: new Date().toISOString(),
    changes,
  }
}

/** Mirrors a committed audit event to the log stream, with a fixed message per action. */
export function logAudit(actor: Actor, event: AuditEvent): void {
  actor.log.info(event, event.action)
}
