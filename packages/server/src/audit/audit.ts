// Audit events: built from before/after states, and mirrored to the log stream once committed.
import { randomUUID } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import type { AuditAction, AuditDraft, AuditEvent, FieldChange } from '@switchyard/core/audit/schema'

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
 * token, FLAGS_BOOTSTRAP_FILE, the guard, and a schedule (the transitions GET /audit?flag= lists).
 * No token may take one of these names (in any case), so an audit event's actor never passes for one of them.
 */
export const BUILT_IN_ACTORS = ['bootstrap', 'environment', 'anonymous', 'flags-bootstrap-file', 'guard', 'schedule'] as const
export type BuiltInActor = (typeof BUILT_IN_ACTORS)[number]
const BUILT_IN = new Set<string>(BUILT_IN_ACTORS)

export function isBuiltInActor(name: string): boolean {
  return BUILT_IN.has(name.toLowerCase())
}

/** A built-in actor: its id is its name. */
export function builtInActor(name: BuiltInActor, requestId: string, log: FastifyBaseLogger): Actor {
  return { id: name, name, requestId, log }
}

/**
 * `target.at`: the instant of the change (ms); flag writes pass the store's clock, which their
 * schedule was settled at, so GET /audit can place a schedule's transitions among them. This process's clock otherwise.
 */
export function draftEvent(
  actor: Actor,
  action: AuditAction,
  target: { flag?: string; segment?: string; tokenId?: string; version?: number; schedule?: AuditDraft['schedule']; guard?: AuditDraft['guard']; at?: number },
  changes: Record<string, FieldChange>,
): AuditDraft {
  const { schedule, guard, at, ...on } = target
  return {
    id: randomUUID(),
    type: 'audit',
    action,
    ...on,
    ...(schedule === undefined ? {} : { schedule }),
    actor: actor.name,
    actorId: actor.id,
    requestId: actor.requestId,
    timestamp: new Date(at ?? Date.now()).toISOString(),
    changes,
    ...(guard === undefined ? {} : { guard }),
  }
}

/** Mirrors a committed audit event to the log stream, with a fixed message per action. */
export function logAudit(actor: Actor, event: AuditEvent): void {
  actor.log.info(event, event.action)
}
