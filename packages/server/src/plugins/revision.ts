// Freshness a client can see and ask for. Every response carries X-Switchyard-Revision (this
// replica's revision, replica/revision.ts); a write's response carries one that includes the
// write. A request with X-Switchyard-Min-Revision waits until this replica has applied that
// much, up to MIN_REVISION_WAIT_MS, else 503 STALE_REPLICA.
import type { FastifyInstance, preHandlerHookHandler } from 'fastify'
import { AppError, validationFailed } from '../errors.js'
import { MAX_WAITERS, type AppliedRevision } from '../replica/revision.js'
import { appendHook } from '../route-hooks.js'

export const REVISION_HEADER = 'x-switchyard-revision'
export const MIN_REVISION_HEADER = 'x-switchyard-min-revision'

export function installRevision(app: FastifyInstance, revision: AppliedRevision, waitMs: number): void {
  // At the start of the request: whatever the handler reads later holds at least this much.
  app.addHook('onRequest', (_request, reply, done) => {
    reply.header(REVISION_HEADER, revision.value)
    done()
  })

  const waitForMin: preHandlerHookHandler = (request, reply, done) => {
    const given = request.headers[MIN_REVISION_HEADER]
    if (given === undefined) return done()
    if (typeof given !== 'string' || !/^\d{1,15}$/.test(given)) {
      return done(validationFailed(`headers.${MIN_REVISION_HEADER}`, 'must be a revision as sent in X-Switchyard-Revision, e.g. 42'))
    }
    const min = Number(given)
    const reached = revision.reached(min, waitMs)
    if (reached === true) return done()
    if (reached === undefined) {
      return done(stale(min, revision.value, `and ${MAX_WAITERS} requests already wait for newer revisions here (the most it holds)`))
    }
    void reached.then((ok) => {
      if (!ok) return done(stale(min, revision.value, `within ${waitMs} ms (MIN_REVISION_WAIT_MS)`))
      reply.header(REVISION_HEADER, revision.value)
      done()
    })
  }

  app.addHook('onRoute', (route) => {
    const scope = (route.config as { scope?: string } | undefined)?.scope
    if (scope === 'public') return
    route.preHandler = appendHook(route.preHandler, waitForMin)
    const methods = Array.isArray(route.method) ? route.method : [route.method]
    // A write answers once its change is applied here: the highest seq applied includes it.
    if (scope === 'admin' && methods.some((m) => m !== 'GET' && m !== 'HEAD')) {
      route.onSend = appendHook(route.onSend, (_request, reply, payload, done) => {
        if (reply.statusCode < 300) reply.header(REVISION_HEADER, revision.newest)
        done(null, payload)
      })
    }
  })
}

function stale(min: number, held: number, why: string): AppError {
  const error = new AppError(
    'STALE_REPLICA',
    `this replica has applied the store's changes up to revision ${held}, not yet ${min} (X-Switchyard-Min-Revision), ${why}; retry, or ask another replica`,
  )
  error.retryAfterSeconds = 1
  return error
}
