// OpenAPI generation from the route schemas, Swagger UI at /docs and the document at /openapi.json.
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance, FastifySchema } from 'fastify'
import { documentErrors, type ErrorCode } from '../errors.js'
import { routeScope } from '../auth/authenticate.js'
import { VERSION } from '@switchyard/core/version'

/** A response schema's other form for the API document, when the one that serializes is not the clearest to read. */
export const DOCUMENTED_AS = 'x-documented-as'

/** What every route of this kind can answer besides its own errors. */
function impliedErrors(scope: string, schema: FastifySchema): ErrorCode[] {
  if (scope === 'public') return []
  const codes: ErrorCode[] = ['UNAUTHORIZED', 'RATE_LIMITED', 'NOT_READY', 'STALE_REPLICA']
  // The lowest scope's routes take any valid token.
  if (scope !== 'client') codes.push('FORBIDDEN')
  if (schema.params || schema.querystring || schema.body) codes.push('VALIDATION_FAILED')
  if (schema.body) codes.push('PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE')
  return codes
}

export async function installSwagger(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Switchyard',
        description: 'Feature flags and progressive rollouts: toggle features for users, tenants or a percentage of traffic without a deploy.',
        version: VERSION,
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'A token with scope admin or evaluate' } },
      },
      security: [{ bearer: [] }],
      tags: [
        { name: 'flags', description: 'Create, read, update and delete flags (reads: evaluate scope; writes: admin)' },
        { name: 'evaluation', description: 'Is this feature on for this user?' },
        { name: 'tokens', description: 'Named, scoped API tokens (admin)' },
        { name: 'audit', description: 'Every change, who made it, before and after (admin)' },
        { name: 'openfeature', description: 'OpenFeature Remote Evaluation Protocol (OFREP) for any OpenFeature SDK (evaluate)' },
        { name: 'metrics', description: 'Prometheus metrics' },
        { name: 'health', description: 'Liveness and readiness, no token needed' },
      ],
    },
    // Every operation names the token scope it needs (for readers of the docs and for the auth tests),
    // and documents every error status it can answer, with an example of each code.
    transform: ({ schema, url, route }) => {
      if (!schema) return { schema, url }
      const scope = routeScope(url, route.config)
      const response = documentErrors((schema.response ?? {}) as Record<string, unknown>, impliedErrors(scope, schema))
      // A response that serializes one way and is documented another (POST /evaluate's two shapes).
      for (const [status, answer] of Object.entries(response)) {
        const documented = (answer as Record<string, unknown>)[DOCUMENTED_AS]
        if (documented) response[status] = documented
      }
      return { schema: { ...schema, response, 'x-scope': scope }, url }
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`),
    },
  })
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    staticCSP:
      "default-src 'self'; base-uri 'self'; font-src 'self' data:; frame-ancestors 'self'; img-src 'self' data:; object-src 'none'; script-src 'self'; " +
      "script-src-attr 'none'; style-src 'self' 'unsafe-inline'",
  })
  app.get('/openapi.json', { schema: { hide: true }, config: { scope: 'public' } }, async () => app.swagger())
}
