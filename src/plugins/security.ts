// Security headers on every response (helmet). Swagger UI sets its own CSP for /docs.
import helmet from '@fastify/helmet'
import type { FastifyInstance } from 'fastify'

export async function installSecurity(app: FastifyInstance): Promise<void> {
  await app.register(helmet, {
    contentSecurityPolicy: {
      directives: {
        // Plain-http deployments behind a proxy are common; upgrading would break them.
        'upgrade-insecure-requests': null,
      },
    },
  })
}
