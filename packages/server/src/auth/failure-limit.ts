// Auth-failure rate limiting. Only failed authentications (401) count, per client address: a
// valid token on a route of another scope (403) is an ordinary mistake, not a guess. Counted;
// past the limit the address gets 429 with Retry-After until its window ends, before any token
// it presents is checked, so guessing stops paying off. Requests that authenticate are never
// counted, and tokens that authenticated from the address since its first failure keep working
// through a lockout: one misconfigured caller behind a shared NAT address cannot cut off its
// neighbours.
import rateLimit, { normalizeIP } from '@fastify/rate-limit'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { AppError } from '../errors.js'
import { tokenFromHeader } from './authenticate.js'
import type { TokenRegistry } from './tokens.js'

interface AuthFailureLimitOptions {
  /** Failed authentications allowed per address and window; 0 turns the limit off. */
  maxFailures: number
  windowSeconds: number
}

// Addresses tracked at once; beyond it the oldest are forgotten (memory stays bounded under a
// distributed attack, at the cost of forgetting some of it).
const MAX_ADDRESSES = 10_000
// Token ids trusted per address: bounded by the tokens that exist, capped all the same.
const MAX_TRUSTED = 100

/** An address with failures in its current window. */
interface Suspect {
  /** When the window ends (ms since epoch). */
  until: number
  /** Over the limit: refused until `until`. */
  locked: boolean
  /** Ids of tokens that authenticated from this address between its first failure and its lockout. */
  trusted: Set<string>
}

const clientKey = (request: FastifyRequest) => normalizeIP(request.ip)

export async function installAuthFailureLimit(app: FastifyInstance, tokens: TokenRegistry, options: AuthFailureLimitOptions): Promise<void> {
  if (options.maxFailures === 0) return
  const windowMs = options.windowSeconds * 1000
  // The plugin counts and times the windows; `global: false` keeps its own per-request hook
  // off every route, and this file calls it only when an authentication fails. It reports
  // "exceeded" once its count passes `max`, so maxFailures - 1 locks at the maxFailures-th failure.
  await app.register(rateLimit, { global: false, max: options.maxFailures - 1, timeWindow: windowMs, keyGenerator: clientKey, cache: MAX_ADDRESSES })
  const countFailure = app.createRateLimit()
  const suspects = new Map<string, Suspect>()

  const forgetExpired = (now: number) => {
    // Insertion order is window order: expired entries are at the front.
    for (const [key, suspect] of suspects) {
      if (suspect.until > now) break
      suspects.delete(key)
    }
  }

  app.addHook('onRequest', (request, reply, done) => {
    // The common case, every request while nobody is failing: one size check.
    if (suspects.size === 0) return done()
    const now = Date.now()
    forgetExpired(now)
    const suspect = suspects.get(clientKey(request))
    // Routes that need no token (probes, docs) stay open: there is nothing to guess there.
    if (suspect === undefined || !suspect.locked || request.routeOptions.config.scope === 'public') return done()
    const token = tokenFromHeader(tokens, request.headers.authorization)
    if (token !== undefined && suspect.trusted.has(token.id)) return done()
    reply.header('retry-after', Math.max(1, Math.ceil((suspect.until - now) / 1000)))
    done(new AppError('RATE_LIMITED', 'too many failed authentication attempts from this address; retry later'))
  })

  app.addHook('onResponse', (request, reply, done) => {
    const status = reply.statusCode
    if (status === 401) {
      countFailure(request).then(
        (result) => {
          if (result.isAllowed) return
          const key = clientKey(request)
          const now = Date.now()
          let suspect = suspects.get(key)
          if (suspect === undefined || suspect.until <= now) {
            suspects.delete(key)
            if (suspects.size >= MAX_ADDRESSES) suspects.delete(suspects.keys().next().value!)
            suspect = { until: now + result.ttl, locked: false, trusted: new Set() }
            suspects.set(key, suspect)
          }
          if (result.isExceeded && !suspect.locked) {
            suspect.locked = true
            request.log.warn({ client: key, failures: options.maxFailures, windowSeconds: options.windowSeconds }, 'auth.locked_out')
          }
        },
        (err: unknown) => request.log.error({ err }, 'auth failure count failed'),
      )
    } else if (suspects.size !== 0 && request.token !== null) {
      // The token authenticated (whatever the answer, a 404 included): the caller holds it.
      const suspect = suspects.get(clientKey(request))
      if (suspect !== undefined && !suspect.locked && suspect.trusted.size < MAX_TRUSTED) suspect.trusted.add(request.token.id)
    }
    done()
  })
}
