// Liveness and readiness probes; no token needed. Readiness gates only the initial load, so a
// store outage later does not make an orchestrator pull every replica at once.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { StoreHealth, type Store } from '../store/store.js'
import type { StoreSync } from '../replica/sync.js'
import type { Heartbeat } from '../replica/heartbeat.js'

const Freshness = {
  revision: Type.Integer({ description: 'X-Switchyard-Revision: every store change up to it is applied here' }),
  stale: Type.Boolean({ description: 'This replica has heard nothing from its store for longer than STALE_AFTER_MS: what it serves may be old' }),
}

export const healthRoutes: FastifyPluginAsyncTypebox<{ store: Store; sync: StoreSync; heartbeat: Heartbeat }> = async (app, { store, sync, heartbeat }) => {
  app.get(
    '/healthz',
    {
      schema: {
        operationId: 'healthz',
        summary: 'Liveness: the process answers',
        tags: ['health'],
        security: [],
        response: {
          200: Type.Object({ status: Type.Literal('ok'), ready: Type.Boolean(), store: StoreHealth, ...Freshness }, { description: 'The process is up' }),
        },
      },
      config: { scope: 'public' },
    },
    async () => ({ status: 'ok' as const, ready: sync.ready, store: store.health(), revision: sync.revision.value, stale: heartbeat.stale }),
  )

  app.get(
    '/readyz',
    {
      schema: {
        operationId: 'readyz',
        summary: 'Readiness: the state has been loaded from the store',
        tags: ['health'],
        security: [],
        response: {
          200: Type.Object({ status: Type.Literal('ready'), store: StoreHealth }, { description: 'The state is loaded: send traffic' }),
          503: Type.Object({ status: Type.Literal('loading'), store: StoreHealth }, { description: 'Still loading the state: send no traffic yet' }),
        },
      },
      config: { scope: 'public' },
    },
    async (_request, reply) => {
      if (sync.ready) return { status: 'ready' as const, store: store.health() }
      return reply.code(503).send({ status: 'loading' as const, store: store.health() })
    },
  )
}
