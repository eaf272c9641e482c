// POST /evaluate: the hot path. Memory only, no I/O, no allocation beyond the response.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { AppError, errors, flagNotFound, validationFailed } from '../errors.js'
import { answer, EMPTY_CONTEXT } from '@switchyard/core/evaluation/engine'
import { explain } from '@switchyard/core/evaluation/explain'
import type { FlagReader, OnEvaluated } from './reader.js'
import { logsAt } from '../plugins/request-log.js'
import { EvaluateRequest, EvaluateResponse, EvaluateResponseDocumented, type EvaluationResult } from '@switchyard/core/flags/schema'
import { DOCUMENTED_AS } from '../plugins/swagger.js'

/** `bodyLimit`: EVALUATE_BODY_LIMIT, below the admin routes' BODY_LIMIT. */
export const evaluateRoutes: FastifyPluginAsyncTypebox<{ flags: FlagReader; onEvaluated: OnEvaluated; bodyLimit?: number }> = async (
  app,
  { flags, onEvaluated, bodyLimit },
) => {
  // Evaluations are logged one by one only at debug level; decided once, not per request.
  const debug = logsAt(app.log, 'debug')

  app.post(
    '/evaluate',
    {
      schema: {
        operationId: 'evaluate',
        summary: 'Evaluate one flag, a list of flags, or every flag for a context',
        description:
          '`{flag, context}` answers `{flag, enabled, reason, version}` (404 for an unknown flag). `{flags, context}` answers `{results}`, one per flag, ' +
          'reporting unknown flags as `flag_not_found` without failing the batch; omit both for every flag. ' +
          "`explain: true` adds each answer's decision trace (`explanation`): an evaluate or admin token only.",
        tags: ['evaluation'],
        body: EvaluateRequest,
        response: { 200: { ...EvaluateResponse, [DOCUMENTED_AS]: EvaluateResponseDocumented }, ...errors('FLAG_NOT_FOUND') },
      },
      config: { scope: 'client' },
      bodyLimit,
    },
    (request, reply) => {
      const { flag, flags: keys, context = EMPTY_CONTEXT, explain: explaining } = request.body
      if (explaining === true && request.token?.scope === 'client') {
        throw new AppError('FORBIDDEN', 'explain shows how flags are targeted: it needs an evaluate or admin token, not a client token')
      }
      const respond = explaining === true ? explain : answer
      const now = flags.now()
      if (flag !== undefined) {
        if (keys !== undefined) throw validationFailed('body.flags', 'cannot be combined with body.flag')
        const result = respond(flag, flags.get(flag), context, now)
        onEvaluated(flag, result.reason, result.enabled, result.variant)
        if (result.version === undefined) throw flagNotFound(flag)
        if (debug) request.log.debug({ flag, enabled: result.enabled, reason: result.reason }, 'flag.evaluated')
        reply.send(result)
        return
      }
      const results: EvaluationResult[] = []
      for (const key of keys ?? flags.keys()) {
        const result = respond(key, flags.get(key), context, now)
        onEvaluated(key, result.reason, result.enabled, result.variant)
        results.push(result)
      }
      if (debug) request.log.debug({ count: results.length }, 'flags.evaluated')
      reply.send({ results })
    },
  )
}
