// The error catalogue: every failure the API reports, with its status, in one place, and how the
// API document shows them.
import type { TSchema } from 'typebox'
import { ErrorResponse, ref } from '@switchyard/core/schema'

export const ErrorCodes = {
  VALIDATION_FAILED: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  FLAG_NOT_FOUND: 404,
  SEGMENT_NOT_FOUND: 404,
  TOKEN_NOT_FOUND: 404,
  NOT_FOUND: 404,
  FLAG_EXISTS: 409,
  SEGMENT_EXISTS: 409,
  SEGMENT_IN_USE: 409,
  UNKNOWN_SEGMENT: 409,
  MODEL_UNSUPPORTED: 409,
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
export const segmentNotFound = (key: string) => new AppError('SEGMENT_NOT_FOUND', `segment '${key}' does not exist`)
export const validationFailed = (field: string, rule: string) => new AppError('VALIDATION_FAILED', `${field} ${rule}`, field)

/** What a client sees for each code: the examples of the API document. */
const EXAMPLES: Record<ErrorCode, { message: string; field?: string }> = {
  VALIDATION_FAILED: { message: 'body.percentage must be <= 100', field: 'body.percentage' },
  UNAUTHORIZED: { message: 'a valid bearer token is required' },
  FORBIDDEN: { message: "this token's scope does not allow this route" },
  FLAG_NOT_FOUND: { message: "flag 'copilot_v2' does not exist" },
  SEGMENT_NOT_FOUND: { message: "segment 'beta-testers' does not exist" },
  SEGMENT_EXISTS: { message: "segment 'beta-testers' already exists" },
  SEGMENT_IN_USE: { message: "segment 'beta-testers' is used by the rules of flags 'copilot_v2', 'new_checkout': change those rules first" },
  UNKNOWN_SEGMENT: {
    message: "body.rules[0].clauses[1].values[0] names segment 'beta-testers', which does not exist",
    field: 'body.rules[0].clauses[1].values[0]',
  },
  MODEL_UNSUPPORTED: { message: "flag 'copilot_v2' needs flag model 5 and this server speaks up to 4: change it through an upgraded replica" },
  TOKEN_NOT_FOUND: { message: "token 'tok_3kq9x2mzp4' does not exist" },
  NOT_FOUND: { message: 'no such route' },
  FLAG_EXISTS: { message: "flag 'copilot_v2' already exists" },
  TOKEN_PROTECTED: { message: 'the bootstrap token comes from ADMIN_TOKEN; change or unset that variable and restart to retire it' },
  TOKEN_EXISTS: { message: "an active token is already named 'checkout-service'; revoke it or choose another name" },
  TOKEN_LIMIT_REACHED: { message: 'the service holds its limit of 10000 tokens (TOKENS_MAX); revoke tokens no longer needed, expired ones included' },
  STORE_NOT_DIVERGED: { message: 'the store holds the data this replica synced from: there is nothing to recover' },
  NOTHING_TO_RESEED: { message: 'this replica started on the store after it lost data and holds nothing of it' },
  VERSION_MISMATCH: { message: "flag 'copilot_v2' is at version 4; If-Match did not match" },
  PAYLOAD_TOO_LARGE: { message: 'body is larger than the 262144 byte limit' },
  UNSUPPORTED_MEDIA_TYPE: { message: 'body unsupported media type' },
  RATE_LIMITED: { message: 'too many failed authentication attempts from this address; retry later' },
  TOO_MANY_STREAMS: { message: 'this token has 250 open streams on this replica, its limit (STREAM_MAX_PER_TOKEN); close one first' },
  INTERNAL: { message: 'internal error' },
  STORE_UNAVAILABLE: { message: 'the store is unavailable: committing the change failed: Redis did not answer within 2000 ms' },
  WRITE_CONTENDED: { message: "flag 'copilot_v2' kept changing under writes from other replicas for 10000 ms (WRITE_DEADLINE_MS); nothing was changed, retry" },
  STORE_DIVERGED: { message: 'nothing was changed: Redis no longer holds the data this replica synced from' },
  STALE_REPLICA: {
    message: "this replica has applied the store's changes up to revision 41, not yet 42 (X-Switchyard-Min-Revision); retry, or ask another replica",
  },
  NOT_READY: { message: 'the service is still loading its state; retry shortly' },
}

/** The code a bare status stands for in `errors()`. */
const USUAL: Record<number, ErrorCode> = {
  400: 'VALIDATION_FAILED',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  412: 'VERSION_MISMATCH',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
  503: 'STORE_UNAVAILABLE',
}

const MEANING: Record<number, string> = {
  400: 'The request is invalid: the message and `field` name what failed',
  401: 'No valid bearer token: missing, malformed, unknown, revoked or expired',
  403: "The token is valid, but its scope doesn't allow this route",
  404: 'Not found',
  409: 'Conflict',
  412: 'If-Match named another version than the current one',
  413: 'The body is larger than the limit',
  415: 'The body is not JSON (Content-Type)',
  429: 'Too many requests: see Retry-After',
  500: 'Internal error',
  503: 'Unavailable for now: nothing was changed unless the message says it may have been; see Retry-After where given',
}

/** What any write can be refused with when the store cannot take it now. */
export const WRITE_REFUSALS = ['STORE_UNAVAILABLE', 'WRITE_CONTENDED', 'STORE_DIVERGED'] as const satisfies readonly ErrorCode[]

/** The key under which a response schema lists the error codes it stands for (read by the API document). */
const ERROR_CODES_KEY = 'x-error-codes'

/**
 * The error responses of a route, by status: each entry a code (or a bare status, for its usual
 * code). The API document shows an example of every code (documentErrors).
 */
export function errors(...entries: (ErrorCode | number)[]): Record<number, TSchema> {
  const byStatus = new Map<number, ErrorCode[]>()
  for (const entry of entries) {
    const code = typeof entry === 'number' ? USUAL[entry] : entry
    if (code === undefined) throw new Error(`no usual error code for status ${entry}: name the code`)
    byStatus.set(ErrorCodes[code], [...(byStatus.get(ErrorCodes[code]) ?? []), code])
  }
  return Object.fromEntries([...byStatus].map(([status, codes]) => [status, { ...ref(ErrorResponse), [ERROR_CODES_KEY]: codes }]))
}

/**
 * A route's error responses as the API document shows them: the declared ones and `implied` (what
 * every route of its kind can answer: 401 without a token, 429 when locked out, …), each status
 * described, with an example of each of its codes.
 */
export function documentErrors(response: Record<string, unknown>, implied: ErrorCode[]): Record<string, unknown> {
  const out: Record<string, unknown> = { ...response }
  const codes = new Map<number, ErrorCode[]>()
  for (const [status, schema] of Object.entries(response)) {
    const listed = (schema as Record<string, unknown>)[ERROR_CODES_KEY] as ErrorCode[] | undefined
    if (listed) codes.set(Number(status), [...listed])
  }
  for (const code of implied) {
    const list = codes.get(ErrorCodes[code]) ?? []
    if (!list.includes(code)) list.push(code)
    codes.set(ErrorCodes[code], list)
  }
  for (const [status, list] of codes) {
    const examples = Object.fromEntries(
      list.map((code) => [code, { summary: code, value: { statusCode: status, code, ...EXAMPLES[code], requestId: '2b5e0c1a-7f3d-4c9e-8a61-000000000001' } }]),
    )
    // allOf: examples beside a bare $ref would be dropped from the document.
    out[status] = { allOf: [ref(ErrorResponse)], description: `${MEANING[status] ?? 'Error'} (${list.join(', ')})`, 'x-examples': examples }
  }
  return out
}
