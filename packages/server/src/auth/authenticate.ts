// Authentication and scope checks for every route. A route is admin-only unless its config
// says otherwise, so a route that forgets to declare a scope fails closed.
import type { FastifyInstance, FastifyRequest, onRequestHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import { prependHook } from '../route-hooks.js'
import { AppError } from '../errors.js'
import { builtInActor, type Actor } from '../audit/audit.js'
import type { TokenRecord } from '@switchyard/core/auth/schema'
import type { TokenRegistry } from './tokens.js'

/**
 * `client`: routes a browser or mobile app may call (answers for its own context, never a flag's
 * lists or rules); `evaluate`: also the flags themselves (backends, SDKs); `admin`: everything.
 */
type RouteScope = 'public' | 'client' | 'evaluate' | 'admin'
type TokenScope = Exclude<RouteScope, 'public'>

/** A token of scope S passes a route of scope R when S ranks at least as high. */
const RANK: Record<TokenScope, number> = { client: 1, evaluate: 2, admin: 3 }

declare module 'fastify' {
  interface FastifyContextConfig {
    scope?: RouteScope
    /** Answers before the state is loaded too (the readiness gate lets it through). */
    whileLoading?: boolean
  }
  interface FastifyRequest {
    token: TokenRecord | null
    /** The scope the request was admitted under; null on public routes and before authentication. */
    scope: TokenScope | null
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

/** The onRequest hook that admits a request to a route of `scope` only with a fitting token. */
export function requireToken(tokens: TokenRegistry, scope: TokenScope): onRequestHookHandler {
  const needed = RANK[scope]
  // Callback style, not async: this runs on every request, including the hot evaluate path.
  return (request, _reply, done) => {
    const token = tokenFromHeader(tokens, request.headers.authorization)
    if (!token) return done(unauthorized())
    if (RANK[token.scope] < needed) return done(forbidden())
    request.token = token
    request.scope = scope
    done()
  }
}

/** Named, so plugins that read `request.scope` can declare that they come after it. */
export const authentication = fp<{ tokens: TokenRegistry }>(async (app, { tokens }) => installAuth(app, tokens), { name: 'switchyard-auth' })

function installAuth(app: FastifyInstance, tokens: TokenRegistry): void {
  app.decorateRequest('token', null)
  app.decorateRequest('scope', null)
  // Each route's scope is settled once, when it is added, and only routes that need a token get
  // a hook: nothing on the hot path works out or looks up the route's scope per request. Unknown
  // routes need a valid token of any scope (see app.ts): a 404 tells a guesser nothing, and tells
  // a caller with a token that there is no such route rather than sending it hunting for a scope.
  app.addHook('onRoute', (route) => {
    const scope = routeScope(route.url, route.config)
    route.config = { ...route.config, scope }
    if (scope !== 'public') route.onRequest = prependHook(route.onRequest, requireToken(tokens, scope))
  })
}

/** The actor of a write: the authenticated token's id and name, this request's id and logger. */
export function actorOf(request: FastifyRequest): Actor {
  const token = request.token
  return token ? { id: token.id, name: token.name, requestId: request.id, log: request.log } : builtInActor('anonymous', request.id, request.log)
}
