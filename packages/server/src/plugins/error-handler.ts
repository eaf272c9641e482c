// Every error leaves in the one shape of ErrorResponse; 5xx details stay in the log.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { setResponseHeaders } from './security.js'
import { AppError, ErrorCodes, type ErrorCode } from '../errors.js'
import { StoreDivergedError, StoreUnavailableError } from '../store/errors.js'

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'VALIDATION_FAILED',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'VALIDATION_FAILED',
  FST_ERR_CTP_INVALID_JSON_BODY: 'VALIDATION_FAILED',
}

export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    let code: ErrorCode
    let message: string
    let field: string | undefined
    if (err instanceof AppError) {
      code = err.code
      message = err.message
      field = err.field
      if (err.retryAfterSeconds !== undefined) reply.header('retry-after', err.retryAfterSeconds)
    } else if (err instanceof StoreDivergedError) {
      code = 'STORE_DIVERGED'
      message = `nothing was changed: ${err.message}`
    } else if (err instanceof StoreUnavailableError) {
      request.log.error({ err }, 'store unavailable')
      code = 'STORE_UNAVAILABLE'
      message = `the store is unavailable: ${err.message}`
    } else if (err.code && FASTIFY_CODES[err.code]) {
      code = FASTIFY_CODES[err.code]!
      message =
        err.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
          ? `body is larger than the ${request.routeOptions.bodyLimit} byte limit`
          : `body ${err.message.replace(/^Body /, '').toLowerCase()}`
    } else if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      // Fastify's own client errors (bad JSON, prototype poisoning, …): their messages are safe.
      code =
        err.statusCode === 429
          ? 'RATE_LIMITED'
          : err.statusCode === 415
            ? 'UNSUPPORTED_MEDIA_TYPE'
            : err.statusCode === 413
              ? 'PAYLOAD_TOO_LARGE'
              : 'VALIDATION_FAILED'
      message = err.message
      return reply.code(err.statusCode).send({ statusCode: err.statusCode, code, message, requestId: request.id })
    } else {
      request.log.error({ err }, 'unhandled error')
      code = 'INTERNAL'
      message = 'internal error'
    }
    const statusCode = ErrorCodes[code]
    return reply.code(statusCode).send({ statusCode, code, message, field, requestId: request.id })
  })
}

/** The answer for a route that does not exist. */
export function notFound(request: FastifyRequest, reply: FastifyReply): void {
  reply.code(404).send({ statusCode: 404, code: 'NOT_FOUND', message: 'no such route', requestId: request.id })
}

/**
 * Fastify's `frameworkErrors`: a malformed URL or an over-long path segment is refused by the
 * router before any route or error handler runs; answer it in the same shape all the same.
 */
export function frameworkErrors(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  // No hook has run, so the response headers are set here.
  setResponseHeaders(reply.code(400), request.id).send({ statusCode: 400, code: 'VALIDATION_FAILED', message: err.message, requestId: request.id })
}
