// The ceiling: a bare Fastify route taking and returning the same JSON as POST /evaluate, with
// no validation, auth, hooks or response schema.
//
// BARE_REQUIRED=1 adds, in the plainest Fastify way and with none of Switchyard's code, the
// per-request work the issues require of every evaluation: helmet's security headers, an
// x-request-id and the replica's X-Switchyard-Revision on the response, X-Switchyard-Min-Revision
// looked for on the request, a per-request child logger carrying the request id, a bearer
// token looked up by its SHA-256 with its expiry and scope checked, a JSON body refused past a
// nesting depth before it is parsed, a strict body schema and a response schema. It is the floor
// any implementation of the requirements on this stack stands on. The headers are computed once
// and the depth scan is one pass, and the child logger is made only when a request logs, as any
// implementation would do them: those three come from Switchyard's own files, so both sides pay
// the same for them.
import { hash } from 'node:crypto'
import Fastify from 'fastify'
import { nestsDeeperThan } from '../packages/server/src/plugins/json-body.js'
import { lazyChildLoggers } from '../packages/server/src/plugins/lazy-request-logger.js'
import { securityHeaders } from '../packages/server/src/plugins/security.js'
import { BENCH_TOKEN } from './fixtures.js'

const required = process.env.BARE_REQUIRED === '1'
let requests = 0
const app = Fastify(
  required
    ? {
        logger: { level: 'warn' },
        // As Switchyard does: a request's child logger is made only if the request logs.
        childLoggerFactory: lazyChildLoggers,
        genReqId: () => `00000000-0000-4000-8000-${(requests++).toString(16).padStart(12, '0')}`,
      }
    : { logger: false },
)
if (required) {
  const headers = securityHeaders()
  const tokens = new Map([[hash('sha256', BENCH_TOKEN, 'hex'), { name: 'bench', rank: 3, expiresAtMs: Infinity }]])
  const needed = 1
  const revision = { value: 0 }
  app.addHook('onRequest', (request, reply, done) => {
    reply.headers(headers).header('x-request-id', request.id).header('x-switchyard-revision', revision.value)
    if (request.headers['x-switchyard-min-revision'] !== undefined) return done(Object.assign(new Error('not measured'), { statusCode: 400 }))
    const auth = request.headers.authorization
    const token = auth?.startsWith('Bearer ') ? tokens.get(hash('sha256', auth.slice(7), 'hex')) : undefined
    if (token === undefined || token.expiresAtMs <= Date.now()) return done(Object.assign(new Error('a valid bearer token is required'), { statusCode: 401 }))
    if (token.rank < needed) return done(Object.assign(new Error('scope'), { statusCode: 403 }))
    done()
  })
  const parse = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body: string, done) => {
    if (nestsDeeperThan(body, 32)) return done(Object.assign(new Error('too deep'), { statusCode: 400 }), undefined)
    void parse(request, body, done)
  })
}
const id = { type: 'string', minLength: 1, maxLength: 200 }
const schema = required
  ? {
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['flag'],
        properties: {
          flag: { type: 'string', minLength: 1, maxLength: 200, pattern: '^[a-z][a-z0-9_]*$' },
          context: { type: 'object', additionalProperties: false, properties: { userId: id, tenantId: id } },
        },
      },
      response: {
        200: {
          type: 'object',
          properties: { flag: { type: 'string' }, enabled: { type: 'boolean' }, reason: { type: 'string' }, version: { type: 'integer' } },
        },
      },
    }
  : undefined
app.post('/evaluate', { schema }, (request, reply) => {
  const body = request.body as { flag: string }
  reply.send({ flag: body.flag, enabled: true, reason: 'percentage_in', version: 1 })
})
await app.listen({ port: 0, host: '127.0.0.1' })
const address = app.server.address()
process.send?.({ type: 'ready', port: typeof address === 'object' && address ? address.port : 0 })
process.on('message', (msg: { type: string }) => {
  if (msg.type === 'memory') process.send?.({ type: 'memory', ...process.memoryUsage() })
  if (msg.type === 'cpu') process.send?.({ type: 'cpu', ...process.cpuUsage() })
  if (msg.type === 'stop') void app.close().then(() => process.exit(0))
})
