// Liveness and readiness probes; no token needed. Readiness gates only the initial load, so a
// store outage later does not make an orchestrator pull every replica at once.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { StoreHealth, type Store } from '../store/store.js'
import type { StoreSync } from '../replica/sync.js'
import type { Heartbeat } from '../replica/heartbeat.js'
import type { GuardRunner } from '../guards/runner.js'

const Freshness = {
  revision: Type.Integer({ description: 'X-Switchyard-Revision: every store change up to it is applied here' }),
  stale: Type.Boolean({ description: 'This replica has heard nothing from its store for longer than STALE_AFTER_MS: what it serves may be old' }),
}

const Guards = Type.Object(
  {
    lease: Type.Object(
      { held: Type.Boolean(), token: Type.Optional(Type.Integer({ description: 'The fencing token of its lease' })) },
      { additionalProperties: false, description: 'Whether this replica holds the guard lease: only the holder reads metrics and acts' },
    ),
    watching: Type.Integer({ description: 'Guarded schedules this replica watches (0 unless it holds the lease)' }),
    sources: Type.Record(
      Type.String(),
      Type.Object(
        {
          status: Type.Union([Type.Literal('ok'), Type.Literal('failing'), Type.Literal('idle')], {
            description: 'How its last read went; idle: not read yet',
          }),
          detail: Type.Optional(Type.String({ description: 'Why the last read failed' })),
          lastReadAt: Type.Optional(Type.String({ format: 'date-time' })),
        },
        { additionalProperties: false },
      ),
      { description: 'Every configured metric source' },
    ),
  },
  { additionalProperties: false, description: 'Guarded rollouts, when a metric source is configured (GUARD_PROMETHEUS_URL, GUARD_HTTP_SOURCES)' },
)

export const healthRoutes: FastifyPluginAsyncTypebox<{ store: Store; sync: StoreSync; heartbeat: Heartbeat; guards?: GuardRunner }> = async (
  app,
  { store, sync, heartbeat, guards },
) => {
  app.get(
    '/healthz',
    {
      schema: {
        operationId: 'healthz',
        summary: 'Liveness: the process answers',
        tags: ['health'],
        security: [],
        response: {
          200: Type.Object(
            { status: Type.Literal('ok'), ready: Type.Boolean(), store: StoreHealth, ...Freshness, guards: Type.Optional(Guards) },
            { description: 'The process is up' },
          ),
        },
      },
      config: { scope: 'public' },
    },
    async () => ({
      status: 'ok' as const,
      ready: sync.ready,
      store: store.health(),
      revision: sync.revision.value,
      stale: heartbeat.stale,
      ...(guards ? { guards: guards.status() } : {}),
    }),
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
