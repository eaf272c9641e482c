// The error catalogue: every failure the API reports, with its status, in one place.

export const ErrorCodes = {
  VALIDATION_FAILED: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  FLAG_NOT_FOUND: 404,
  TOKEN_NOT_FOUND: 404,
  NOT_FOUND: 404,
  FLAG_EXISTS: 409,
  TOKEN_PROTECTED: 409,
  TOKEN_EXISTS: 409,
  TOKEN_LIMIT_REACHED: 409,
  STORE_NOT_DIVERGED: 409,
  NOTHING_TO_RESEED: 409,
  VERSION_MISMATCH: 412,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  TOO_MANY_STREAMS: 429,
  INTERNAL: 500,
  STORE_UNAVAILABLE: 503,
  WRITE_CONTENDED: 503,
  STORE_DIVERGED: 503,
  STALE_REPLICA: 503,
  NOT_READY: 503,
} as const

export type ErrorCode = keyof typeof ErrorCodes

export class AppError extends Error {
  readonly statusCode: number
  /** Sent as Retry-After: when trying again is the answer. */
  retryAfterSeconds?: number
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly field?: string,
  ) {
    super(message)
    this.name = 'AppError'
    this.statusCode = ErrorCodes[code]
  }
}

export const flagNotFound = (key: string) => new AppError('FLAG_NOT_FOUND', `flag '${key}' does not exist`)
export const validationFailed = (field: string, rule: string) => new AppError('VALIDATION_FAILED', `${field} ${rule}`, field)
