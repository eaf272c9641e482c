// GET /audit: the audit trail from the store, newest first.
import { errors } from '../errors.js'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { ref } from '@switchyard/core/schema'
import type { Store } from '../store/store.js'
import { AuditEvent } from '@switchyard/core/audit/schema'

export const auditRoutes: FastifyPluginAsyncTypebox<{ store: Store }> = async (app, { store }) => {
  app.get(
    '/audit',
    {
      schema: {
        operationId: 'listAuditEvents',
        summary: 'Audit events, newest first',
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
      return store.readAudit({ flag, actor, before: cursor === undefined ? undefined : Number(cursor), limit })
    },
  )
}
