// buildApp: the Fastify instance with every plugin and route, in a fixed, visible order.
// It never listens; server.ts does that, tests inject.
import { randomUUID } from 'node:crypto'
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { DestinationStream } from 'pino'
import type { Config } from './config.js'
import { AppError } from './errors.js'
import { sharedSchemas } from './schema.js'
import { flagSchemas } from './flags/schema.js'
import { auditSchemas } from './audit/schema.js'
import { tokenSchemas } from './auth/schema.js'
import { installValidation, validationController } from './plugins/validation.js'
import { installJsonParser } from './plugins/json-body.js'
import { frameworkErrors, installErrorHandler, notFound } from './plugins/error-handler.js'
import { installResponseHeaders } from './plugins/security.js'
import { installCors } from './plugins/cors.js'
import { installAuthFailureLimit } from './plugins/rate-limit.js'
import { installSwagger } from './plugins/swagger.js'
import { installAuth, requireToken } from './auth/authenticate.js'
import { TokenRegistry } from './auth/tokens.js'
import { FlagRegistry } from './flags/registry.js'
import { StoreSync } from './replica/sync.js'
import { flagsBootstrap } from './flags/bootstrap.js'
import { createStore } from './store/create.js'
import type { Store } from './store/store.js'
import { healthRoutes } from './health/routes.js'
import { flagRoutes } from './flags/routes.js'
import { evaluateRoutes } from './evaluation/routes.js'
import { tokenRoutes } from './auth/routes.js'
import { auditRoutes } from './audit/routes.js'
import { ofrepSchemas } from './evaluation/ofrep/schema.js'
import { ofrepRoutes } from './evaluation/ofrep/routes.js'
import { ChangeStream } from './stream/hub.js'
import { streamRoutes } from './stream/routes.js'
import { defaultStreamLimits } from './stream/limits.js'
import { Metrics } from './metrics/metrics.js'
import { installMetrics } from './metrics/hooks.js'
import { metricsRoutes } from './metrics/routes.js'

export interface AppDeps {
  /** Defaults to the store the config selects (file, or Redis with REDIS_URL). */
  store?: Store
  /** Where log lines go; defaults to stdout. Tests capture them here. */
  logStream?: DestinationStream
}

export interface Switchyard {
  config: Config
  store: Store
  flags: FlagRegistry
  tokens: TokenRegistry
  sync: StoreSync
  stream: ChangeStream
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

  const store = deps.store ?? (await createStore(config, app.log))
  const flags = new FlagRegistry(store)
  const tokens = new TokenRegistry(store, { max: config.tokensMax })
  if (config.adminToken) tokens.setBootstrap(config.adminToken)
  const metrics = new Metrics({ store, flags })
  const sync = new StoreSync(store, flags, tokens, app.log, metrics.sync)
  if (config.flagsBootstrapFile) sync.beforeReady = flagsBootstrap(config.flagsBootstrapFile, flags, app.log)
  const streamLimits = defaultStreamLimits()
  const stream = new ChangeStream(
    flags,
    {
      heartbeatMs: config.streamHeartbeatMs,
      maxBufferBytes: config.streamMaxBuffer,
      maxStreams: config.streamMaxTotal ?? streamLimits.total,
      maxStreamsPerToken: config.streamMaxPerToken ?? Math.min(streamLimits.perToken, config.streamMaxTotal ?? Infinity),
      maxStreamsPerAddress: config.streamMaxPerAddress ?? Math.min(streamLimits.perAddress, config.streamMaxTotal ?? Infinity),
    },
    app.log,
    (id) => {
      const token = tokens.find(id)
      return !token ? 'revoked' : tokens.isExpired(token, Date.now()) ? 'expired' : 'ok'
    },
  )
  app.decorate('switchyard', { config, store, flags, tokens, sync, stream })

  for (const schema of [...sharedSchemas, ...flagSchemas, ...auditSchemas, ...tokenSchemas, ...ofrepSchemas]) app.addSchema(schema)
  installValidation(app)
  installJsonParser(app, config.jsonMaxDepth)
  installErrorHandler(app)
  app.setNotFoundHandler({ preHandler: requireToken(tokens, 'admin') }, notFound)
  // Before any route (it hooks each one as it is added) and before any hook that can refuse a
  // request (so refusals carry the security headers too).
  installMetrics(app, metrics)
  installResponseHeaders(app)

  app.addHook('onRequest', (request, _reply, done) => {
    // Scopes are settled per route by installAuth (Swagger UI's routes are public).
    if (!sync.ready && request.routeOptions.config.scope !== 'public') {
      return done(new AppError('NOT_READY', 'the service is still loading its state; retry shortly'))
    }
    done()
  })
  await installCors(app, config.corsOrigins)
  await installAuthFailureLimit(app, tokens, { maxFailures: config.authFailureLimit, windowSeconds: config.authFailureWindowSeconds })
  installAuth(app, tokens)
  // Request logging lives here rather than in Fastify so POST /evaluate, the hot path, logs at debug only.
  const levels = app.log as unknown as { isLevelEnabled(level: string): boolean }
  // Refusals (401, 403, 4xx) are logged at info on every route, so guessing at /evaluate shows too.
  app.addHook('onResponse', (request, reply, done) => {
    const level = reply.statusCode < 400 && (request.scope === 'evaluate' || request.scope === 'client') ? 'debug' : 'info'
    if (levels.isLevelEnabled(level)) {
      const url = request.routeOptions.url ?? request.url.split('?')[0]
      request.log[level]({ method: request.method, url, statusCode: reply.statusCode, ms: Math.round(reply.elapsedTime * 100) / 100 }, 'request completed')
    }
    done()
  })

  await installSwagger(app)

  await app.register(healthRoutes, { store, sync })
  await app.register(evaluateRoutes, { flags, bodyLimit: config.evaluateBodyLimit })
  await app.register(flagRoutes, { flags })
  await app.register(tokenRoutes, { tokens })
  await app.register(auditRoutes, { store })
  await app.register(ofrepRoutes, { flags, bodyLimit: config.evaluateBodyLimit })
  await app.register(streamRoutes, { stream, bodyLimit: config.evaluateBodyLimit })
  await app.register(metricsRoutes, { metrics })

  // A keep-alive connection whose request was in flight when closing began would sit idle until
  // keepAliveTimeout once answered, holding the shutdown open: reap it as soon as it is idle.
  let closing = false
  app.addHook('preClose', async () => {
    closing = true
  })
  app.addHook('onResponse', (_request, _reply, done) => {
    if (closing) app.server.closeIdleConnections()
    done()
  })
  app.addHook('onClose', async () => {
    sync.stop()
    await store.close()
  })
  return app
}
