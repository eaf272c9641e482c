// buildApp: the Fastify instance — its options, then every plugin and route in a fixed order.
// The services come from the composition root (services.ts). It never listens; server.ts does
// that, tests inject.
import { randomUUID } from 'node:crypto'
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { DestinationStream } from 'pino'
import type { Config } from './config.js'
import { buildServices, type Switchyard } from './services.js'
import { sharedSchemas } from '@switchyard/core/schema'
import { flagSchemas } from '@switchyard/core/flags/schema'
import { auditSchemas } from '@switchyard/core/audit/schema'
import { tokenSchemas } from '@switchyard/core/auth/schema'
import { installValidation, validationController } from './plugins/validation.js'
import { installJsonParser } from './plugins/json-body.js'
import { frameworkErrors, installErrorHandler, notFound } from './plugins/error-handler.js'
import { installResponseHeaders } from './plugins/security.js'
import { installCors } from './plugins/cors.js'
import { installRevision } from './plugins/revision.js'
import { readinessGate } from './plugins/readiness.js'
import { requestLog } from './plugins/request-log.js'
import { lazyChildLoggers } from './plugins/lazy-request-logger.js'
import { gracefulClose } from './plugins/graceful-close.js'
import { installSwagger } from './plugins/swagger.js'
import { installAuthFailureLimit } from './auth/failure-limit.js'
import { authentication, requireToken } from './auth/authenticate.js'
import type { Store } from './store/store.js'
import { healthRoutes } from './health/routes.js'
import { flagRoutes } from './flags/routes.js'
import { segmentRoutes } from './segments/routes.js'
import { segmentSchemas } from '@switchyard/core/segments/schema'
import { evaluateRoutes } from './evaluation/routes.js'
import { tokenRoutes } from './auth/routes.js'
import { auditRoutes } from './audit/routes.js'
import { ofrepSchemas } from './evaluation/ofrep/schema.js'
import { ofrepRoutes } from './evaluation/ofrep/routes.js'
import { streamRoutes } from './stream/routes.js'
import { installMetrics } from './metrics/hooks.js'
import { metricsRoutes } from './metrics/routes.js'
import { adminRoutes } from './admin/routes.js'
import type { StoreClock } from './replica/clock.js'

export type { Switchyard } from './services.js'

export interface AppDeps {
  /** Defaults to the store the config selects (file, or Redis with REDIS_URL). */
  store?: Store
  /** Where log lines go; defaults to stdout. Tests capture them here. */
  logStream?: DestinationStream
  /** The store's clock as this replica reads it; tests inject one over a fake local clock. */
  clock?: StoreClock
}

declare module 'fastify' {
  interface FastifyInstance {
    switchyard: Switchyard
  }
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

/**
 * Generated request ids: a random prefix per app and a sequence number, in the shape of a UUID.
 * Unique across replicas like randomUUID(), without drawing entropy on every request.
 */
function requestIds(): () => string {
  const prefix = randomUUID().slice(0, 24)
  let n = 0
  return () => prefix + (n++).toString(16).padStart(12, '0')
}

export async function buildApp(config: Config, deps: AppDeps = {}): Promise<FastifyInstance> {
  const logger: FastifyServerOptions['logger'] = {
    level: config.logLevel,
    // No wildcard-first path ('*.token'): pino would run it over the bindings of every request's
    // child logger. Nothing logs a nested token anyway; test/api/log-secrecy.test.ts checks it.
    redact: { paths: ['req.headers.authorization', 'headers.authorization', 'token', 'secret', 'adminToken'], censor: '[redacted]' },
    ...(deps.logStream ? { stream: deps.logStream } : {}),
  }
  const nextRequestId = requestIds()
  const app = Fastify({
    logger,
    bodyLimit: config.bodyLimit,
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: lazyChildLoggers,
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id']
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : nextRequestId()
    },
    schemaController: validationController() as FastifyServerOptions['schemaController'],
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // Above the longest flag key (200), so a longer one reaches schema validation and its message.
    routerOptions: { maxParamLength: 1000 },
    frameworkErrors,
    return503OnClosing: true,
    // A client must finish sending its request within this, else 408: a trickled body cannot hold a
    // connection. Node 20 enforces it only when createServer is given it (set afterwards, a trickled
    // body was cut at headersTimeout's 60 s), and checks every connectionsCheckingInterval (30 s).
    requestTimeout: config.requestTimeoutMs,
    http: { requestTimeout: config.requestTimeoutMs, connectionsCheckingInterval: Math.min(1000, Math.floor(config.requestTimeoutMs / 4)) },
    trustProxy: config.trustProxy,
    forceCloseConnections: 'idle',
  }).withTypeProvider<TypeBoxTypeProvider>()

  const services = await buildServices(config, app.log, deps.store, deps.clock)
  const { store, flags, segments, tokens, sync, heartbeat, stream, metrics } = services
  app.decorate('switchyard', services)
  const onEvaluated = metrics.evaluations.count.bind(metrics.evaluations)

  for (const schema of [...sharedSchemas, ...flagSchemas, ...segmentSchemas, ...auditSchemas, ...tokenSchemas, ...ofrepSchemas]) app.addSchema(schema)
  installValidation(app)
  installJsonParser(app, config.jsonMaxDepth)
  installErrorHandler(app)
  app.setNotFoundHandler({ preHandler: requireToken(tokens, 'client') }, notFound)
  // Before any route (it hooks each one as it is added) and before any hook that can refuse a
  // request (so refusals carry the security headers too).
  installMetrics(app, metrics)
  installResponseHeaders(app)
  installRevision(app, sync.revision, config.minRevisionWaitMs)

  await app.register(readinessGate, { sync })
  await installCors(app, config.corsOrigins)
  await installAuthFailureLimit(app, tokens, { maxFailures: config.authFailureLimit, windowSeconds: config.authFailureWindowSeconds })
  await app.register(authentication, { tokens })
  await app.register(requestLog)

  await installSwagger(app)

  await app.register(healthRoutes, { store, sync, heartbeat, guards: services.guards })
  await app.register(evaluateRoutes, { flags, onEvaluated, bodyLimit: config.evaluateBodyLimit })
  await app.register(flagRoutes, { flags })
  await app.register(segmentRoutes, { segments })
  await app.register(tokenRoutes, { tokens })
  await app.register(auditRoutes, { store, flags })
  await app.register(ofrepRoutes, { flags, onEvaluated, bodyLimit: config.evaluateBodyLimit, isStale: () => heartbeat.stale })
  await app.register(streamRoutes, { stream, bodyLimit: config.evaluateBodyLimit })
  await app.register(metricsRoutes, { metrics })
  await app.register(adminRoutes, { services })

  await app.register(gracefulClose, { sync, store, guards: services.guards })
  return app
}
