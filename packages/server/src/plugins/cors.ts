// CORS: off unless CORS_ORIGINS lists the browser origins allowed to call the API. Must be
// installed before authentication, because a browser's preflight carries no token.
import cors from '@fastify/cors'
import type { FastifyInstance } from 'fastify'

export async function installCors(app: FastifyInstance, origins: readonly string[]): Promise<void> {
  if (origins.length === 0) return
  const allowed = new Set(origins)
  await app.register(cors, {
    // Exact matches only; any other origin gets no CORS headers, and its preflight no answer.
    origin: (origin, callback) => callback(null, origin !== undefined && allowed.has(origin)),
    methods: ['GET', 'HEAD', 'POST', 'PATCH', 'DELETE'],
    allowedHeaders: ['authorization', 'content-type', 'if-match', 'if-none-match', 'last-event-id', 'x-request-id', 'x-switchyard-min-revision'],
    exposedHeaders: ['etag', 'retry-after', 'x-request-id', 'x-switchyard-revision'],
    // Tokens travel in the Authorization header, never in cookies: nothing to send with credentials.
    credentials: false,
    maxAge: 600,
  })
}
