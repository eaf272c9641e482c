// Audit events: what changed, who changed it, and the version it produced.
import { Type, type Static } from 'typebox'
import { StringEnum } from '../schema.js'

const AUDIT_ACTIONS = [
  'flag.created',
  'flag.updated',
  'flag.deleted',
  'segment.created',
  'segment.updated',
  'segment.deleted',
  'token.created',
  'token.revoked',
  'store.reseeded',
  'store.accepted',
  'flag.schedule_transition',
] as const
export type AuditAction = (typeof AUDIT_ACTIONS)[number]

/** What a write did to a flag's schedule (server/src/flags/schedule.ts). */
export const SCHEDULE_CHANGES = ['set', 'changed', 'paused', 'resumed', 'cleared', 'finished'] as const

/** What a guard's write did (server/src/guards/runner.ts). */
export const GUARD_WRITES = ['hold', 'pause', 'rollback', 'resume'] as const

/** The evidence a guard's write carries: what it read, from where, and what it compared with. */
export const GuardEvidence = Type.Object(
  {
    action: StringEnum(GUARD_WRITES, { description: 'hold (source unreadable), pause or rollback (tripped), resume (a hold ended)' }),
    source: Type.String(),
    query: Type.String(),
    comparator: Type.String(),
    threshold: Type.Number(),
    samples: Type.Array(
      Type.Object(
        { at: Type.String({ format: 'date-time' }), value: Type.Optional(Type.Number()), error: Type.Optional(Type.String()) },
        { additionalProperties: false },
      ),
      { description: 'The samples it judged, oldest first: a value, or why none could be read' },
    ),
    healthyAt: Type.Optional(Type.String({ format: 'date-time', description: 'A rollback: the last sample that was healthy, which it returned to' })),
    lease: Type.Integer({ description: 'The fencing token of the guard lease the write was made under' }),
  },
  { additionalProperties: false },
)
export type GuardEvidence = Static<typeof GuardEvidence>

const FieldChange = Type.Object(
  {
    before: Type.Optional(Type.Unknown()),
    after: Type.Optional(Type.Unknown()),
    added: Type.Optional(Type.Array(Type.String(), { description: 'Id lists record what was added…' })),
    removed: Type.Optional(Type.Array(Type.String(), { description: '…and what was removed, not both whole lists (at most 1,000 ids each)' })),
    addedCount: Type.Optional(Type.Integer({ description: 'How many ids were added, when more than the 1,000 that `added` names' })),
    removedCount: Type.Optional(Type.Integer({ description: 'How many ids were removed, when more than the 1,000 that `removed` names' })),
  },
  { additionalProperties: false },
)
export type FieldChange = Static<typeof FieldChange>

export const AuditEvent = Type.Object(
  {
    id: Type.String(),
    seq: Type.Integer({ description: 'Position in the store-wide change order; the pagination cursor' }),
    type: Type.Literal('audit'),
    action: StringEnum(AUDIT_ACTIONS),
    flag: Type.Optional(Type.String()),
    segment: Type.Optional(Type.String({ description: 'The segment a segment.* event changed' })),
    tokenId: Type.Optional(Type.String()),
    actor: Type.String({ description: 'Name of the token that made the change' }),
    actorId: Type.Optional(
      Type.String({
        description:
          "Id of the token that made the change (`tok_…`), or a built-in actor's name (`bootstrap`, `flags-bootstrap-file`); absent on events recorded " +
          'before it was kept',
      }),
    ),
    requestId: Type.String(),
    timestamp: Type.String({ format: 'date-time' }),
    changes: Type.Record(Type.String(), FieldChange),
    version: Type.Optional(Type.Integer({ description: 'The flag version the change produced' })),
    schedule: Type.Optional(
      StringEnum(SCHEDULE_CHANGES, {
        description:
          "What the change did to the flag's schedule: set, changed, paused (by a request, or by a manual change of state or percentage), " +
          'resumed, cleared, or finished (cleared once complete)',
      }),
    ),
    guard: Type.Optional(GuardEvidence),
    computed: Type.Optional(
      Type.Literal(true, {
        description:
          'A transition of a schedule, computed rather than written (no write happens when a step is reached): listed in time order after the ' +
          "flag's latest write before it, with that write's seq and version, and the instant of the step as its timestamp",
      }),
    ),
  },
  { $id: 'AuditEvent', additionalProperties: false },
)
export type AuditEvent = Static<typeof AuditEvent>
export type AuditDraft = Omit<AuditEvent, 'seq'>

export interface AuditQuery {
  flag?: string
  actor?: string
  /** Only events older than this seq (exclusive); newest first. */
  before?: number
  limit: number
}

/** A page of GET /audit ends early, with a cursor, once its events reach this many bytes of JSON. */
export const AUDIT_PAGE_MAX_BYTES = 4 * 1024 * 1024

export interface AuditPage {
  events: AuditEvent[]
  nextCursor?: string
}

export const auditSchemas = [AuditEvent]
