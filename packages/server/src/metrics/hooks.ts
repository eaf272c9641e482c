// Attaches the duration histogram to each route as it is registered. The hook lives on the route
// itself so the hot path does no lookup by URL and allocates no label objects once warm.
// (Evaluation counts are told by the evaluation handlers themselves: onEvaluated.)
import type { FastifyInstance, onResponseHookHandler, RouteOptions } from 'fastify'
import type { Metrics } from './metrics.js'
import { appendHook } from '../route-hooks.js'

type Observe = (seconds: number) => void

/** Must run before any route is registered. */
export function installMetrics(app: FastifyInstance, metrics: Metrics): void {
  app.addHook('onRoute', (route: RouteOptions) => {
    const routeLabel = route.url
    const fixedMethod = typeof route.method === 'string' ? route.method : undefined
    // Status codes and methods are few: one series each, built on first use.
    const children = new Map<string | number, Observe>()
    const observeDuration: onResponseHookHandler = (request, reply, done) => {
      const method = fixedMethod ?? request.method
      const key = fixedMethod ? reply.statusCode : `${method} ${reply.statusCode}`
      let observe = children.get(key)
      if (observe === undefined) {
        observe = metrics.httpDuration.observer({ method, route: routeLabel, status_code: String(reply.statusCode) })
        children.set(key, observe)
      }
      observe(reply.elapsedTime / 1000)
      done()
    }
    route.onResponse = appendHook(route.onResponse, observeDuration)
  })
}
