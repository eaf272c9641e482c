// Security headers on every response, computed once by helmet and set by one cheap hook
// (@fastify/helmet rebuilt them per request: docs/decisions/precomputed-security-headers.md).
// Swagger UI replaces the CSP on /docs with one its page can run under.
import helmet, { type HelmetOptions } from 'helmet'
import type { FastifyInstance, FastifyReply } from 'fastify'
import type { IncomingMessage, ServerResponse } from 'node:http'

const OPTIONS: HelmetOptions = {
  contentSecurityPolicy: {
    directives: {
      // Plain-http deployments behind a proxy are common; upgrading would break them.
      'upgrade-insecure-requests': null,
    },
  },
}

/** The headers helmet sets with OPTIONS, captured from one run of its middleware. */
export function securityHeaders(options: HelmetOptions = OPTIONS): Record<string, string> {
  const headers: Record<string, string> = {}
  const res = {
    setHeader: (name: string, value: string) => (headers[name.toLowerCase()] = String(value)),
    removeHeader: (name: string) => delete headers[name.toLowerCase()],
  }
  let failure: unknown
  helmet(options)({} as IncomingMessage, res as unknown as ServerResponse, (err?: unknown) => (failure = err))
  if (failure) throw failure
  return headers
}

const SECURITY_HEADERS = securityHeaders()

/** Sets the headers every response carries: helmet's, and the request id (given in X-Request-Id or generated). */
export function setResponseHeaders(reply: FastifyReply, requestId: string): FastifyReply {
  return reply.headers(SECURITY_HEADERS).header('x-request-id', requestId)
}

export function installResponseHeaders(app: FastifyInstance): void {
  app.addHook('onRequest', (request, reply, done) => {
    setResponseHeaders(reply, request.id)
    done()
  })
}
