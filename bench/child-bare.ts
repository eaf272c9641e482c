// The ceiling: a bare Fastify route taking and returning the same JSON as POST /evaluate,
// with no validation, auth, hooks or response schema.
import Fastify from 'fastify'

const app = Fastify({ logger: false })
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
