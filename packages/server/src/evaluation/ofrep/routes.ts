// OFREP: the OpenFeature Remote Evaluation Protocol over the same registry and engine as
// POST /evaluate, so any OpenFeature SDK with an OFREP provider reads Switchyard flags.
import { createHash } from 'node:crypto'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyError } from 'fastify'
import { Type } from 'typebox'
import { Compile } from 'typebox/compile'
import { AppError, errors } from '../../errors.js'
import { Decisions, evaluate, type Context } from '@switchyard/core/evaluation/engine'
import type { FlagReader, OnEvaluated } from '../reader.js'
import { EvaluationContext } from '@switchyard/core/flags/schema'
import { described, ref } from '@switchyard/core/schema'
import { VERSION } from '@switchyard/core/version'
import { fromOpenFeatureContext, type ContextMapping } from '@switchyard/core/evaluation/ofrep/context'
import { isSuccess, toOfrep, type OfrepFailure, type OfrepResolution, type OfrepSuccess } from '@switchyard/core/evaluation/ofrep/resolve'
import {
  OfrepBulkEvaluationFailure,
  OfrepBulkEvaluationSuccess,
  OfrepEvaluationFailure,
  OfrepEvaluationRequest,
  OfrepEvaluationSuccess,
  OfrepFlagNotFound,
} from './schema.js'

// The mapped context must keep the limits POST /evaluate enforces on its own context.
const withinLimits = Compile(EvaluationContext)

function mapContext(input: Record<string, unknown> | undefined): ContextMapping {
  const mapped = fromOpenFeatureContext(input)
  if (mapped.error !== undefined || withinLimits.Check(mapped.context)) return mapped
  const [first] = withinLimits.Errors(mapped.context)
  const path = first?.instancePath ?? ''
  const field =
    path === '/userId' ? 'context.targetingKey' : path === '/attributes' ? 'context attributes' : `context.${path.replace(/^\/(attributes\/)?/, '')}`
  return { error: `${field} ${first?.message ?? 'is invalid'}` }
}

/** Weak comparison (RFC 9110 §8.8.3.2) against every tag in an If-None-Match list. */
function matchesAny(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false
  return ifNoneMatch.split(',').some((tag) => {
    const t = tag.trim()
    return t === '*' || t.replace(/^W\//, '') === etag
  })
}

/**
 * The ETag of the bulk answers, known before any flag is evaluated: the registry's revision (it
 * moves with every flag change, and is this replica's own), the context with
 * its attributes sorted, the release (another one may answer differently), and the earliest next
 * transition of a schedule (`next`), so a tag lapses when a scheduled change takes effect.
 */
function bulkEtag(revision: string, context: Context, next: number | undefined): string {
  const attributes =
    context.attributes === undefined
      ? []
      : Object.keys(context.attributes)
          .sort()
          .map((name) => [name, context.attributes![name]])
  const key = JSON.stringify([VERSION, revision, next ?? null, context.userId ?? null, context.tenantId ?? null, attributes])
  return `"${createHash('sha256').update(key).digest('base64url')}"`
}

const FLAG_PATH = '/ofrep/v1/evaluate/flags/:key'

/** `bodyLimit`: EVALUATE_BODY_LIMIT, as for POST /evaluate. */
/** `isStale`: whether this replica has heard nothing from its store for too long (Heartbeat.stale); answers then say so. */
export const ofrepRoutes: FastifyPluginAsyncTypebox<{ flags: FlagReader; onEvaluated: OnEvaluated; bodyLimit?: number; isStale: () => boolean }> = async (
  app,
  { flags, onEvaluated, bodyLimit, isStale },
) => {
  const marked = <R extends OfrepResolution>(result: R, stale: boolean): R =>
    stale && isSuccess(result) ? { ...result, metadata: { ...result.metadata, stale: true } } : result
  // OFREP clients read errors from OFREP bodies: a bad body is PARSE_ERROR, a bad context
  // INVALID_CONTEXT. Everything else (401, 403, 413, 503) keeps the service's one error shape,
  // by handing the error on to the application's handler.
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const unexpected = !(err instanceof AppError) && err.statusCode === undefined
    if (err.statusCode !== 400 && !unexpected) throw err
    const field = err instanceof AppError ? err.field : undefined
    const errorCode = unexpected ? 'GENERAL' : field?.startsWith('body.context') ? 'INVALID_CONTEXT' : 'PARSE_ERROR'
    const errorDetails = unexpected ? 'internal error' : err.message
    if (unexpected) request.log.error({ err }, 'unhandled error')
    const status = unexpected ? 500 : 400
    const key = request.routeOptions.url === FLAG_PATH ? (request.params as { key?: string }).key : undefined
    return reply.code(status).send(key === undefined ? { errorCode, errorDetails } : { key, errorCode, errorDetails })
  })

  // The protocol's request body is optional: none at all is an empty context.
  app.addHook('preValidation', async (request) => {
    request.body ??= {}
  })

  app.post(
    FLAG_PATH,
    {
      schema: {
        operationId: 'ofrepEvaluateFlag',
        summary: 'OFREP: evaluate one flag',
        description:
          'The OpenFeature Remote Evaluation Protocol single-flag evaluation. `targetingKey` is the userId, `tenantId` the tenant, other context fields ' +
          'are attributes; the value and the reason follow POST /evaluate: a flag without variants answers a boolean (variant `on` or `off`), one ' +
          "with variants its variant's value and key. A percentage rollout without the id it buckets on answers " +
          'TARGETING_KEY_MISSING (by user) or INVALID_CONTEXT (by tenant).',
        tags: ['openfeature'],
        params: Type.Object({ key: Type.String({ minLength: 1, maxLength: 1000, description: 'Any key that is not a flag answers 404 FLAG_NOT_FOUND' }) }),
        body: OfrepEvaluationRequest,
        response: {
          200: described(OfrepEvaluationSuccess, 'The evaluation'),
          400: ref(OfrepEvaluationFailure),
          404: described(OfrepFlagNotFound, 'No such flag (OFREP shape)'),
          500: described(OfrepEvaluationFailure, 'The evaluation failed (OFREP shape)'),
          ...errors(),
        },
      },
      config: { scope: 'client' },
      bodyLimit,
    },
    async (request, reply) => {
      const { key } = request.params
      const mapped = mapContext(request.body?.context)
      if (mapped.error !== undefined) return reply.code(400).send({ key, errorCode: 'INVALID_CONTEXT', errorDetails: mapped.error })
      const compiled = flags.get(key)
      const decision = compiled ? evaluate(compiled, mapped.context) : Decisions.notFound
      onEvaluated(key, decision.reason, decision.enabled, decision.variant)
      const result = marked(toOfrep(key, compiled?.flag, decision), isStale())
      if (isSuccess(result)) return reply.send(result)
      if (result.errorCode === 'FLAG_NOT_FOUND') return reply.code(404).send(result)
      return reply.code(400).send(result)
    },
  )

  app.post(
    '/ofrep/v1/evaluate/flags',
    {
      schema: {
        operationId: 'ofrepEvaluateFlags',
        summary: 'OFREP: evaluate every flag',
        description:
          'The OpenFeature Remote Evaluation Protocol bulk evaluation: every flag for one context, sorted by key; a flag that cannot be evaluated for ' +
          'this context is reported in the list with its error code. The ETag names the revision of the flags and the context; send it back in ' +
          'If-None-Match to get 304, answered without evaluating anything, until a flag changes or a schedule reaches its next transition.',
        tags: ['openfeature'],
        headers: Type.Object({ 'if-none-match': Type.Optional(Type.String({ maxLength: 1024, description: 'ETag of answers already held' })) }),
        body: OfrepEvaluationRequest,
        response: {
          200: described(OfrepBulkEvaluationSuccess, 'Every flag evaluated'),
          304: Type.Null({ description: 'The answers are those of the ETag sent' }),
          400: ref(OfrepBulkEvaluationFailure),
          500: described(OfrepBulkEvaluationFailure, 'The evaluation failed (OFREP shape)'),
          ...errors(),
        },
      },
      config: { scope: 'client' },
      bodyLimit,
    },
    async (request, reply) => {
      const mapped = mapContext(request.body?.context)
      if (mapped.error !== undefined) return reply.code(400).send({ errorCode: 'INVALID_CONTEXT', errorDetails: mapped.error })
      // A poller that is up to date costs a hash, not an evaluation of every flag.
      const etag = bulkEtag(flags.revision, mapped.context, flags.nextTransition(flags.now()))
      reply.header('etag', etag)
      if (matchesAny(request.headers['if-none-match'], etag)) return reply.code(304).send(null)
      const results: (OfrepSuccess | OfrepFailure)[] = []
      const stale = isStale()
      for (const key of flags.keys()) {
        const compiled = flags.get(key)!
        const decision = evaluate(compiled, mapped.context)
        onEvaluated(key, decision.reason, decision.enabled, decision.variant)
        results.push(marked(toOfrep(key, compiled.flag, decision), stale))
      }
      return reply.send({ flags: results })
    },
  )
}
