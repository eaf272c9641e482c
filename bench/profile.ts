// One server under load, for profiling rather than comparing: `npx tsx bench/profile.ts [switchyard|floor|bare]`
// loads it for BENCH_SECONDS (after 3 s of warm-up) and prints req/s and the server's CPU µs per
// request. BENCH_NODE_ARGS reaches the server, e.g. "--cpu-prof --cpu-prof-dir=prof" or "--trace-gc".
import { BENCH_TOKEN } from './fixtures.js'
import { load } from './load.js'
import { startChild } from './servers.js'

const SERVERS = {
  switchyard: ['child-switchyard.ts', { BENCH_FLAGS: '50' }],
  floor: ['child-bare.ts', { BARE_REQUIRED: '1' }],
  bare: ['child-bare.ts', {}],
} as const

const which = (process.argv[2] ?? 'switchyard') as keyof typeof SERVERS
if (!(which in SERVERS)) throw new Error(`unknown server '${which}': one of ${Object.keys(SERVERS).join(', ')}`)
const seconds = Number(process.env.BENCH_SECONDS ?? 10)
const body = { flag: 'bench_flag', context: { userId: 'user-42-3f2a9c1e-7b4d', tenantId: 'acme' } }

const [script, env] = SERVERS[which]
const server = await startChild(script, env)
try {
  await load({ port: server.port, path: '/evaluate', body, token: BENCH_TOKEN, seconds: 3 })
  const before = await server.cpuMicros()
  const result = await load({ port: server.port, path: '/evaluate', body, token: BENCH_TOKEN, seconds })
  const cpu = (await server.cpuMicros()) - before
  console.log(
    `${which}: ${Math.round(result.reqPerSec)} req/s, p50 ${result.p50} ms, p99 ${result.p99} ms, ${(cpu / (result.reqPerSec * seconds)).toFixed(1)} µs ` +
      `CPU/req, ${result.errors + result.non2xx} failed`,
  )
} finally {
  await server.stop()
}
