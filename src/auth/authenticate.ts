// Authentication and scope checks for every route. A route is admin-only unless its config
// says otherwise, so a route that forgets to declare a scope fails closed.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { AppError } from '../errors.js'
import type { Actor } from '../audit/audit.js'
import type { TokenRecord } from './schema.js'
import type { TokenRegistry } from './tokens.js'

export type RouteScope = 'public' | 'evaluate' | 'admin'

declare module 'fastify' {
  interface FastifyContextConfig {
    scope?: RouteScope
  }
  interface FastifyRequest {
    token: TokenRecord | null
  }
}

const unauthorized = () => new AppError('UNAUTHORIZED', 'a valid bearer token is required')
const forbidden = () => new AppError('FORBIDDEN', "this token's scope does not allow this route")

/** The token behind an Authorization header, or undefined for anything malformed or unknown. */
export function tokenFromHeader(tokens: TokenRegistry, header: string | undefined): TokenRecord | undefined {
  if (header === undefined || header.length > 1024) return undefined
  const space = header.indexOf(' ')
  if (space < 0 || header.slice(0, space).toLowerCase() !== 'bearer') return undefined
  const secret = header.slice(space + 1).trim()
  return secret ? tokens.resolve(secret) : undefined
}

/** The scope a route requires: the one it declares, public for Swagger UI's own routes, else admin. */
export function routeScope(url: string | undefined, config: { scope?: RouteScope } | undefined): RouteScope {
  return config?.scope ?? (url?.startsWith('/docs') ? 'public' : 'admin')
}

export function installAuth(app: FastifyInstance, tokens: TokenRegistry): void {
  app.decorateRequest('token', null)
  // Each route's scope is settled once, when it is added, so no hook works it out per request.
  app.addHook('onRoute', (route) => {
    route.config = { ...route.config, scope: routeScope(route.url, route.config) }
  })
  // Callback style, not async: this runs on every request, including the hot evaluate path.
  // A request no route matched has no scope: it needs an admin token, so 404s reveal nothing.
  app.addHook('onRequest', (request, _reply, done) => {
    const scope = request.routeOptions.config.scope ?? 'admin'
    if (scope === 'public') return done()
    const token = tokenFromHeader(tokens, request.headers.authorization)
    if (!token) return done(unauthorized())
    if (scope === 'admin' && token.scope !== 'admin') return done(forbidden())
    request.token = token
    done()
  })
}

/** The actor of a write: the authenticated token's name, this request's id and logger. */
export function actorOf(request: FastifyRequest): Actor {
  return { name: request.token?.name ?? 'anonymous', requestId: request.id, log: request.log }
}
