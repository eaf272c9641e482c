// GET /metrics: the Prometheus exposition, for any valid token (scrapers get an evaluate one).
import { errors } from '../errors.js'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { Metrics } from './metrics.js'

export const metricsRoutes: FastifyPluginAsyncTypebox<{ metrics: Metrics }> = async (app, { metrics }) => {
  app.get(
    '/metrics',
    {
      schema: {
        operationId: 'metrics',
        summary: 'Prometheus metrics: requests, evaluations, store and sync state',
        description:
          'The Prometheus text format. Needs a token of either scope: give the scraper an `evaluate` token (`authorization: {type: Bearer, ' +
          'credentials_file: …}` in its scrape config).',
        tags: ['metrics'],
        response: {
          200: {
            description: 'Prometheus text exposition format 0.0.4',
            content: {
              'text/plain': { schema: Type.String({ examples: ['switchyard_evaluations_total{flag="copilot_v2",reason="percentage_in",enabled="true"} 42'] }) },
            },
          },
          ...errors(),
        },
      },
      config: { scope: 'evaluate' },
    },
    async (_request, reply) => {
      const text = await metrics.text()
      return reply.header('content-type', metrics.contentType).header('cache-control', 'no-store').send(text)
    },
  )
}
