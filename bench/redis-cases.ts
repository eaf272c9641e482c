// Redis cases: loading 10,000 flags at startup, and toggle propagation between two replicas
// beside the raw pub/sub round trip (the physical floor), measured by the same script.
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../src/app.js'
import { defaultConfig } from '../src/config.js'
import { RedisStore } from '../src/store/redis.js'
import { redisKeys } from '../src/store/redis-scripts.js'
import type { FlagEvent } from '../src/flags/registry.js'
import { BENCH_TOKEN, makeFlags, seedWrite } from './fixtures.js'
import { benchRedis } from './redis.js'
import { startChild } from './servers.js'

type Row = { case: string; figure: string; ratio?: string; target?: string }
interface Ctx {
  rows: Row[]
  results: Record<string, unknown>
  want(name: string): boolean
}

const TOGGLES = Number(process.env.BENCH_TOGGLES ?? 1000)
const fmt = (n: number) => Math.round(n * 1000) / 1000

export function percentiles(samples: number[]): { p50: number; p99: number; max: number } {
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
  return { p50: fmt(at(0.5)), p99: fmt(at(0.99)), max: fmt(sorted[sorted.length - 1]!) }
}

async function replica(url: string, prefix: string): Promise<FastifyInstance> {
  const config = defaultConfig({ logLevel: 'warn', adminToken: BENCH_TOKEN, redisUrl: url, redisPrefix: prefix })
  const app = await buildApp(config, { store: new RedisStore({ url, prefix, auditMaxEvents: 10_000 }) })
  await app.ready()
  await app.switchyard.sync.start()
  return app
}

async function cleanup(url: string, prefix: string): Promise<void> {
  const client = new Redis(url)
  const keys = redisKeys(prefix)
  await client.del(keys.seq, keys.flags, keys.tokens, keys.audit)
  client.disconnect()
}

/** PUBLISH on one connection until the message arrives on another: the floor for any propagation. */
async function pubsubFloor(url: string, channel: string): Promise<number[]> {
  const pub = new Redis(url)
  const sub = new Redis(url)
  await sub.subscribe(channel)
  let resolveMessage: (() => void) | undefined
  sub.on('message', () => resolveMessage?.())
  const samples: number[] = []
  for (let i = 0; i < TOGGLES + 100; i++) {
    const arrived = new Promise<void>((resolve) => (resolveMessage = resolve))
    const t0 = performance.now()
    await pub.publish(channel, `{"key":"prop_flag","seq":${i}}`)
    await arrived
    if (i >= 100) samples.push(performance.now() - t0)
  }
  pub.disconnect()
  sub.disconnect()
  return samples
}

/** PATCH on replica A, until replica B's registry (what its evaluations read) holds the new version. */
async function propagation(url: string, prefix: string): Promise<{ samples: number[]; missed: number }> {
  const a = await replica(url, prefix)
  const b = await replica(url, prefix)
  const auth = { authorization: `Bearer ${BENCH_TOKEN}` }
  await a.inject({ method: 'POST', url: '/flags', headers: auth, payload: { key: 'prop_flag', state: 'disabled' } })
  // B must have subscribed before the first toggle counts.
  while (!b.switchyard.flags.get('prop_flag')) await new Promise((r) => setTimeout(r, 5))
  let waiting: { version: number; resolve: () => void } | undefined
  b.switchyard.flags.onChange((event: FlagEvent) => {
    if (event.type === 'change' && event.key === 'prop_flag' && waiting && (event.flag?.version ?? 0) >= waiting.version) waiting.resolve()
  })
  const samples: number[] = []
  let missed = 0
  for (let i = 0; i < TOGGLES + 100; i++) {
    const version = b.switchyard.flags.get('prop_flag')!.flag.version + 1
    let timer: NodeJS.Timeout | undefined
    const seen = new Promise<boolean>((resolve) => {
      waiting = { version, resolve: () => resolve(true) }
      timer = setTimeout(() => resolve(false), 2000)
    })
    const t0 = performance.now()
    const res = await a.inject({ method: 'PATCH', url: '/flags/prop_flag', headers: auth, payload: { state: i % 2 ? 'disabled' : 'enabled' } })
    if (res.statusCode !== 200) throw new Error(`PATCH failed: ${res.statusCode} ${res.body}`)
    const ok = await seen
    clearTimeout(timer)
    if (!ok) missed++
    else if (i >= 100) samples.push(performance.now() - t0)
  }
  await a.close()
  await b.close()
  return { samples, missed }
}

async function loadTime(url: string, prefix: string): Promise<{ loadMs: number; flags: number }> {
  const store = new RedisStore({ url, prefix, auditMaxEvents: 10_000 })
  await store.load()
  await Promise.all(
    makeFlags(10_000).map((flag) =>
      store.commit(seedWrite(flag)),
    ),
  )
  await store.close()
  const server = await startChild('child-switchyard.ts', { REDIS_URL: url, REDIS_PREFIX: prefix })
  await server.stop()
  return { loadMs: server.info.loadMs as number, flags: server.info.flags as number }
}

export async function redisCases({ rows, results, want }: Ctx): Promise<void> {
  const redis = await benchRedis()
  try {
    if (want('redis')) {
      const loadPrefix = `switchyard-bench:${randomBytes(4).toString('hex')}:`
      const loaded = await loadTime(redis.url, loadPrefix).finally(() => cleanup(redis.url, loadPrefix))
      results.redisLoad10k = loaded
      rows.push({ case: '3. load 10,000 flags from Redis at startup', figure: `${fmt(loaded.loadMs)} ms (${loaded.flags} flags)`, target: '< 1000 ms' })

      const floor = percentiles(await pubsubFloor(redis.url, `switchyard-bench-floor:${randomBytes(4).toString('hex')}`))
      const propPrefix = `switchyard-bench:${randomBytes(4).toString('hex')}:`
      const prop = await propagation(redis.url, propPrefix).finally(() => cleanup(redis.url, propPrefix))
      const p = percentiles(prop.samples)
      results.pubsubFloor = floor
      results.propagation = { ...p, missed: prop.missed, toggles: TOGGLES }
      rows.push({ case: '5. raw Redis pub/sub round trip (floor)', figure: `p50 ${floor.p50} ms, p99 ${floor.p99} ms, max ${floor.max} ms` })
      rows.push({
        case: `5. propagation A → B, ${TOGGLES} toggles`,
        figure: `p50 ${p.p50} ms, p99 ${p.p99} ms, max ${p.max} ms, missed ${prop.missed}`,
        ratio: `${Math.round((p.p99 / floor.p99) * 100) / 100} × floor p99`,
        target: 'p99 ≤ 5 ms, ≤ 3 × floor, none missed',
      })
    }
    if (want('sdk')) {
      const { sdkBench } = (await import('./sdk.js')) as { sdkBench?: (url: string) => Promise<{ rows: Row[]; results: Record<string, unknown> }> }
      if (sdkBench) {
        const sdk = await sdkBench(redis.url)
        rows.push(...sdk.rows)
        Object.assign(results, sdk.results)
      }
    }
  } finally {
    await redis.stop()
  }
}
