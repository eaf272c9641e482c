// Helpers for the suites that attack the service: every documented route, a full dump of the
// stored state to compare before and after, and the checks every refusal must pass.
import { expect } from 'vitest'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { FileStore } from '../../packages/server/src/store/file.js'
import { embeddedStoreText } from './helpers.js'

export interface DocumentedRoute {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE'
  /** OpenAPI form: /flags/{key} */
  path: string
  scope: 'public' | 'evaluate' | 'admin'
  operationId: string
  hasBody: boolean
  hasQuery: boolean
  /** An endless response (Server-Sent Events): never inject a request that would open one. */
  streams: boolean
}

interface Operation {
  operationId: string
  'x-scope': DocumentedRoute['scope']
  requestBody?: unknown
  parameters?: { in: string }[]
  responses: Record<string, { content?: Record<string, unknown> }>
}

/** Every route of the OpenAPI document: a new route joins the hostile suites by itself. */
export function documentedRoutes(app: FastifyInstance): DocumentedRoute[] {
  const doc = app.swagger() as unknown as { paths: Record<string, Record<string, Operation>> }
  return Object.entries(doc.paths).flatMap(([path, operations]) =>
    Object.entries(operations).map(([method, op]) => ({
      method: method.toUpperCase() as DocumentedRoute['method'],
      path,
      scope: op['x-scope'],
      operationId: op.operationId,
      hasBody: op.requestBody !== undefined,
      hasQuery: (op.parameters ?? []).some((p) => p.in === 'query'),
      streams: Object.keys(op.responses['200']?.content ?? {}).includes('text/event-stream'),
    })),
  )
}

/**
 * Everything the service holds, as text: the store's snapshot and audit trail, the registries'
 * views, and for the embedded store its files' bytes. Equal text, equal state.
 */
export async function stateDump(app: FastifyInstance): Promise<string> {
  const { store, flags, tokens } = app.switchyard
  const snapshot = await store.load()
  const audit = await store.readAudit({ limit: Number.MAX_SAFE_INTEGER })
  const file = store instanceof FileStore ? embeddedStoreText(store) : null
  return JSON.stringify({
    snapshot,
    audit,
    flags: flags.list({ limit: Number.MAX_SAFE_INTEGER }),
    tokens: tokens.list(),
    file,
  })
}

// What a stack trace, a source path or a raw exception looks like in a response.
const LEAKS = [/\bat [^\s]+ \(/, /node_modules/, /\/(?:work|home|src|usr|tmp)\//, /\.[cm]?[jt]s:\d+/, /\b[A-Z][a-zA-Z]*Error:/, /\bstack\b/i]

/** No stack trace, internal path or exception text anywhere in a response body. */
export function expectNoLeak(res: LightMyRequestResponse, context = ''): void {
  for (const pattern of LEAKS) expect(res.body, `${context} leaks ${pattern}: ${res.body.slice(0, 300)}`).not.toMatch(pattern)
}

/** A 4xx in the one error shape, naming this request's id, with nothing internal in it. */
export function expectClientError(res: LightMyRequestResponse, context = ''): void {
  const what = `${context} → ${res.statusCode} ${res.body.slice(0, 300)}`
  expect(res.statusCode, what).toBeGreaterThanOrEqual(400)
  expect(res.statusCode, what).toBeLessThan(500)
  expect(res.headers['content-type'], what).toMatch(/^application\/json/)
  const body = res.json() as Record<string, unknown>
  expect(body, what).toMatchObject({ statusCode: res.statusCode, code: expect.stringMatching(/^[A-Z_]+$/), message: expect.any(String) })
  expect(
    Object.keys(body).every((k) => ['statusCode', 'code', 'message', 'field', 'requestId'].includes(k)),
    what,
  ).toBe(true)
  expect(body.requestId, what).toBe(res.headers['x-request-id'])
  expectNoLeak(res, context)
}

/** The headers helmet sets, as this service configures it (src/plugins/security.ts). */
export const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'SAMEORIGIN',
  'strict-transport-security': expect.stringMatching(/^max-age=\d+/),
  'content-security-policy': expect.stringContaining("default-src 'self'"),
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'referrer-policy': 'no-referrer',
  'x-dns-prefetch-control': 'off',
  'x-download-options': 'noopen',
  'x-permitted-cross-domain-policies': 'none',
}

export function expectSecurityHeaders(res: LightMyRequestResponse, context = ''): void {
  expect(res.headers, `${context} → ${res.statusCode}`).toMatchObject(SECURITY_HEADERS)
}

/** A route's path with every parameter filled in. */
export const fillPath = (path: string, value: string) => path.replace(/\{[^}]+\}/g, value)
