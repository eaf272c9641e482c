// The ceiling: a bare Fastify route taking and returning the same JSON as POST /evaluate,
// with no validation, auth, hooks or response schema. BARE_HEADERS=1 adds only the response
// headers Switchyard sends (helmet's security headers and x-request-id), to price them alone.
import { randomUUID } from 'node:crypto'
import Fastify from 'fastify'
import { securityHeaders } from '../src/plugins/security.js'

const app = Fastify({ logger: false })
if (process.env.BARE_HEADERS === '1') {
  const headers = securityHeaders()
  app.addHook('onRequest', (_request, reply, done) => {
    reply.headers(headers)
    reply.header('x-request-id', randomUUID())
    done()
  })
}
app.post('/evaluate', (request, reply) => {
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
