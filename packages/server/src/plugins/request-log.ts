// One log line per request, here rather than in Fastify so the hot evaluation routes log their
// successes at debug only; refusals (401, 403, other 4xx) are logged at info on every route.
import type { FastifyBaseLogger } from 'fastify'
import fp from 'fastify-plugin'

/** Whether `log` writes lines at `level` (Fastify's logger type leaves out pino's isLevelEnabled). */
export function logsAt(log: FastifyBaseLogger, level: string): boolean {
  return (log as FastifyBaseLogger & { isLevelEnabled(level: string): boolean }).isLevelEnabled(level)
}

export const requestLog = fp(
  async (app) => {
    app.addHook('onResponse', (request, reply, done) => {
      const level = reply.statusCode < 400 && (request.scope === 'evaluate' || request.scope === 'client') ? 'debug' : 'info'
      if (logsAt(app.log, level)) {
        const url = request.routeOptions.url ?? request.url.split('?')[0]
        request.log[level]({ method: request.method, url, statusCode: reply.statusCode, ms: Math.round(reply.elapsedTime * 100) / 100 }, 'request completed')
      }
      done()
    })
  },
  // It reads the scope the request was admitted under.
  { name: 'switchyard-request-log', dependencies: ['switchyard-auth'] },
)
