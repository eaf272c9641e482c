// GET /audit: the audit trail from the store, newest first; for one flag, with its schedule's transitions.
import { errors } from '../errors.js'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { ref } from '@switchyard/core/schema'
import type { Store } from '../store/store.js'
import { AuditEvent } from '@switchyard/core/audit/schema'
import type { Flag } from '@switchyard/core/flags/schema'
import { flagTimeline } from './transitions.js'

/** What the audit routes read of the flags held (the registry; audit/ never imports flags/, which drafts audit events). */
interface HeldFlags {
  get(key: string): { flag: Flag } | undefined
  /** The store's clock. */
  now(): number
}

/** `flags`: the flags held, whose current values and clock (the store's) a flag's timeline is computed with. */
export const auditRoutes: FastifyPluginAsyncTypebox<{ store: Store; flags: HeldFlags }> = async (app, { store, flags }) => {
  app.get(
    '/audit',
    {
      schema: {
        operationId: 'listAuditEvents',
        summary: 'Audit events, newest first',
        description:
          'With `flag`, the trail reads as a timeline: the transitions of its schedule that have happened (a step reached, a ramp started, moved or ' +
          'ended), which are computed rather than written, are listed as `flag.schedule_transition` entries with `computed: true`, actor `schedule`, ' +
          'the instant of the transition as their timestamp and the state and percentage before and after as their changes. Each comes after (newer ' +
          'than) the write that set the schedule running, with its seq and version; a page never separates them from it.',
        tags: ['audit'],
        querystring: Type.Object(
          {
            flag: Type.Optional(Type.String({ maxLength: 200 })),
            actor: Type.Optional(Type.String({ maxLength: 100 })),
            cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$', description: 'nextCursor of the previous page' })),
            limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object(
            { events: Type.Array(ref(AuditEvent)), nextCursor: Type.Optional(Type.String()) },
            { description: 'A page of events, newest first; nextCursor when there are more' },
          ),
          ...errors('STORE_UNAVAILABLE'),
        },
      },
      config: { scope: 'admin' },
    },
    async (request) => {
      const { flag, actor, cursor, limit } = request.query
      const before = cursor === undefined ? undefined : Number(cursor)
      if (flag !== undefined) return flagTimeline(store, flags.get(flag)?.flag, { flag, actor, before, limit }, flags.now())
      return store.readAudit({ flag, actor, before, limit })
    },
  )
}
