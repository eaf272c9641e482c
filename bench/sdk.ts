// SDK case: isEnabled ns/op after warm-up, and the time from a PATCH on the server to the
// SDK's answer changing (p50/p99 over 1,000 toggles). The server runs in a child process on
// 127.0.0.1, on Redis when given a URL; the SDK runs here, as it would inside a service.
import { randomBytes } from 'node:crypto'
import { createClient, type Context, type SwitchyardClient } from '../packages/sdk/src/index.js'
import { BENCH_TOKEN } from './fixtures.js'
import { percentiles } from './redis-cases.js'
import { startChild } from './servers.js'

type Row = { case: string; figure: string; ratio?: string; target?: string }

const TOGGLES = Number(process.env.BENCH_TOGGLES ?? 1000)
const WARM_UP_TOGGLES = 100
const TOGGLE_FLAG = 'sdk_toggle'

// Realistic ids (UUID-length), as in the engine case, so hashing is not flattered.
const contexts: Context[] = Array.from({ length: 4096 }, (_, i) => ({ userId: `user-${i}-3f2a9c1e-7b4d-4e8a-9c2f`, tenantId: `tenant-${i % 50}` }))

/** Nanoseconds per `isEnabled` of `key`, over realistic contexts (bench/schedule-clock.ts measures with it too). */
export function nsPerCall(client: SwitchyardClient, key: string, iterations: number): number {
  let on = 0
  const start = process.hrtime.bigint()
  for (let i = 0; i < iterations; i++) if (client.isEnabled(key, contexts[i & 4095])) on++
  const ns = Number(process.hrtime.bigint() - start) / iterations
  if (on < 0) console.log(on) // keeps the loop observable
  return Math.round(ns * 10) / 10
}

async function api(base: string, method: string, path: string, body: unknown): Promise<void> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${BENCH_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${await res.text()}`)
  await res.arrayBuffer()
}

/** PATCH → the moment isEnabled answers the new value, measured from just before the PATCH is sent. */
async function toggles(base: string, client: SwitchyardClient): Promise<number[]> {
  let waiting: { enabled: boolean; resolve(at: number): void } | undefined
  const stop = client.onChange((change) => {
    if (waiting && change.keys.includes(TOGGLE_FLAG) && client.isEnabled(TOGGLE_FLAG) === waiting.enabled) waiting.resolve(performance.now())
  })
  const samples: number[] = []
  try {
    for (let i = 0; i < TOGGLES + WARM_UP_TOGGLES; i++) {
      const enabled = !client.isEnabled(TOGGLE_FLAG)
      let timer: NodeJS.Timeout | undefined
      const seen = new Promise<number>((resolve, reject) => {
        waiting = { enabled, resolve }
        timer = setTimeout(() => reject(new Error(`toggle ${i} not seen by the SDK within 5 s`)), 5000)
      })
      const t0 = performance.now()
      const [at] = await Promise.all([seen, api(base, 'PATCH', `/flags/${TOGGLE_FLAG}`, { state: enabled ? 'enabled' : 'disabled' })])
      clearTimeout(timer)
      if (i >= WARM_UP_TOGGLES) samples.push(at - t0)
    }
  } finally {
    stop()
  }
  return samples
}

export async function sdkBench(redisUrl?: string): Promise<{ rows: Row[]; results: Record<string, unknown> }> {
  const env: Record<string, string> = { BENCH_FLAGS: '50' }
  if (redisUrl) Object.assign(env, { REDIS_URL: redisUrl, REDIS_PREFIX: `switchyard-bench-sdk:${randomBytes(4).toString('hex')}:` })
  const server = await startChild('child-switchyard.ts', env)
  const base = `http://127.0.0.1:${server.port}`
  try {
    await api(base, 'POST', '/flags', { key: TOGGLE_FLAG, state: 'disabled' })
    await api(base, 'POST', '/flags', { key: 'sdk_percentage', state: 'percentage', percentage: 37.5, betaUsers: ['user-1-3f2a9c1e-7b4d-4e8a-9c2f'] })
    await api(base, 'POST', '/flags', { key: 'sdk_enabled', state: 'enabled' })
    const client = await createClient({ url: base, token: BENCH_TOKEN })
    try {
      const ns: Record<string, number> = {}
      for (const key of ['sdk_percentage', 'sdk_enabled', 'sdk_unknown']) {
        nsPerCall(client, key, 2_000_000) // warm-up: let the JIT settle
        ns[key.replace('sdk_', '')] = nsPerCall(client, key, 20_000_000)
      }
      const latency = percentiles(await toggles(base, client))
      const store = redisUrl ? 'Redis' : 'memory'
      return {
        rows: [
          {
            case: '7. SDK isEnabled, ns/op',
            figure: Object.entries(ns)
              .map(([k, v]) => `${k} ${v}`)
              .join(', '),
            target: '≪ 1000 ns',
          },
          {
            case: `7. PATCH → SDK answer changed, ${TOGGLES} toggles (${store} store)`,
            figure: `p50 ${latency.p50} ms, p99 ${latency.p99} ms, max ${latency.max} ms`,
            target: 'within milliseconds',
          },
        ],
        results: { sdkIsEnabledNs: ns, sdkToggleLatencyMs: { ...latency, toggles: TOGGLES, store } },
      }
    } finally {
      await client.close()
    }
  } finally {
    await server.stop()
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { rows, results } = await sdkBench(process.env.REDIS_URL)
  console.table(rows)
  console.log(JSON.stringify(results, null, 2))
}
