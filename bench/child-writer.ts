// Writes to a Switchyard server at a steady rate from its own process, so the writer's work
// never lands in the load generator's event loop (where it would delay reading responses and
// inflate the very latencies being compared). Started and paused by the parent over IPC.
import { HttpClient } from '../test/support/http.js'
import { BENCH_TOKEN } from './fixtures.js'

const port = Number(process.env.WRITER_PORT)
const perSecond = Number(process.env.WRITER_RATE ?? 20)
const client = new HttpClient(`http://127.0.0.1:${port}`, BENCH_TOKEN, { maxSockets: 4 })
let patches = 0
let failures = 0
let timer: NodeJS.Timeout | undefined

function patch(): void {
  client.send('PATCH', '/flags/flag_2', { percentage: 40 + (patches++ % 20) }).then(
    (res) => res.status === 200 || failures++,
    () => failures++,
  )
}

process.on('message', (msg: { type: string }) => {
  if (msg.type === 'start') {
    patches = 0
    failures = 0
    timer = setInterval(patch, 1000 / perSecond)
  }
  if (msg.type === 'pause') {
    clearInterval(timer)
    process.send?.({ type: 'counts', patches, failures })
  }
  if (msg.type === 'stop') {
    clearInterval(timer)
    client.close()
    process.exit(0)
  }
})
process.send?.({ type: 'ready', port: 0 })
