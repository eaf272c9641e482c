// The readiness gate: until the state is loaded every route but the public ones answers 503, and
// the fleet routes, which are how an operator recovers a replica that cannot load (admin/routes.ts).
import fp from 'fastify-plugin'
import { AppError } from '../errors.js'
import type { StoreSync } from '../replica/sync.js'

export const readinessGate = fp<{ sync: StoreSync }>(
  async (app, { sync }) => {
    app.addHook('onRequest', (request, _reply, done) => {
      // Scopes are settled per route when it is added (Swagger UI's routes are public).
      const { scope, whileLoading } = request.routeOptions.config
      if (!sync.ready && scope !== 'public' && whileLoading !== true) {
        return done(new AppError('NOT_READY', 'the service is still loading its state; retry shortly'))
      }
      done()
    })
  },
  { name: 'switchyard-readiness' },
)
