// One log line per request, here rather than in Fastify so the hot evaluation routes log their
// successes at debug only; refusals (401, 403, other 4xx) are logged at info on every route.
import fp from 'fastify-plugin'

export const requestLog = fp(
  async (app) => {
    const levels = app.log as unknown as { isLevelEnabled(level: string): boolean }
    app.addHook('onResponse', (request, reply, done) => {
      const level = reply.statusCode < 400 && (request.scope === 'evaluate' || request.scope === 'client') ? 'debug' : 'info'
      if (levels.isLevelEnabled(level)) {
        const url = request.routeOptions.url ?? request.url.split('?')[0]
        request.log[level]({ method: request.method, url, statusCode: reply.statusCode, ms: Math.round(reply.elapsedTime * 100) / 100 }, 'request completed')
      }
      done()
    })
  },
  // It reads the scope the request was admitted under.
  { name: 'switchyard-request-log', dependencies: ['switchyard-auth'] },
)
