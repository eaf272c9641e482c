// Attaches the per-request metrics to each route as it is registered: the duration histogram
// on every route, evaluation counts on the evaluation routes. Hooks live on the route itself
// so the hot path does no lookup by URL and allocates no label objects once warm.
import type { FastifyInstance, onResponseHookHandler, preSerializationHookHandler, RouteOptions } from 'fastify'
import type { Reason } from '../flags/schema.js'
import type { EvaluationCounter } from './evaluation-counter.js'
import type { Metrics } from './metrics.js'
import { appendHook } from '../route-hooks.js'

type Observe = (seconds: number) => void

interface EvaluationResult {
  flag: string
  enabled: boolean
  reason: Reason
}

interface OfrepResult {
  key: string
  value?: boolean
  errorCode?: string
  metadata?: { switchyardReason: Reason }
}

/** Counters for what each evaluation route answers, by its operationId. */
const EVALUATION_COUNTERS: Record<string, (counter: EvaluationCounter, payload: never) => void> = {
  evaluate(counter, payload: { flag?: string; enabled?: boolean; reason?: Reason; results?: EvaluationResult[]; code?: string }) {
    if (payload.reason !== undefined) counter.count(payload.flag!, payload.reason, payload.enabled!)
    else if (payload.results !== undefined) for (const r of payload.results) counter.count(r.flag, r.reason, r.enabled)
    else if (payload.code === 'FLAG_NOT_FOUND') counter.count('', 'flag_not_found', false)
  },
  ofrepEvaluateFlag(counter, payload: OfrepResult) {
    countOfrep(counter, payload)
  },
  ofrepEvaluateFlags(counter, payload: { flags?: OfrepResult[] }) {
    if (payload.flags !== undefined) for (const r of payload.flags) countOfrep(counter, r)
  },
}

function countOfrep(counter: EvaluationCounter, r: OfrepResult): void {
  if (r.metadata !== undefined) counter.count(r.key, r.metadata.switchyardReason, r.value === true)
  else if (r.errorCode === 'FLAG_NOT_FOUND') counter.count(r.key, 'flag_not_found', false)
}

/** Must run before any route is registered. */
export function installMetrics(app: FastifyInstance, metrics: Metrics): void {
  app.addHook('onRoute', (route: RouteOptions) => {
    const routeLabel = route.url
    const fixedMethod = typeof route.method === 'string' ? route.method : undefined
    // Status codes and methods are few: one prom-client child each, built on first use.
    const children = new Map<string | number, Observe>()
    const observeDuration: onResponseHookHandler = (request, reply, done) => {
      const method = fixedMethod ?? request.method
      const key = fixedMethod ? reply.statusCode : `${method} ${reply.statusCode}`
      let observe = children.get(key)
      if (observe === undefined) {
        observe = metrics.httpDuration.labels({ method, route: routeLabel, status_code: String(reply.statusCode) }).observe
        children.set(key, observe)
      }
      observe(reply.elapsedTime / 1000)
      done()
    }
    route.onResponse = appendHook(route.onResponse, observeDuration)

    const countEvaluations = EVALUATION_COUNTERS[route.schema?.operationId ?? '']
    if (countEvaluations !== undefined) {
      const counter = metrics.evaluations
      const onPayload: preSerializationHookHandler<unknown> = (_request, _reply, payload, done) => {
        if (payload !== null && typeof payload === 'object') countEvaluations(counter, payload as never)
        done(null, payload)
      }
      route.preSerialization = appendHook(route.preSerialization, onPayload)
    }
  })
}
