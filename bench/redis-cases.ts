// Redis cases: loading 10,000 flags at startup, and toggle propagation between two replicas
// beside the raw pub/sub round trip (the physical floor), measured by the same script.
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { RedisStore } from '../packages/server/src/store/redis.js'
import { redisKeys } from '../packages/server/src/store/redis-scripts.js'
import { BENCH_TOKEN, makeFlags, seedWrite } from './fixtures.js'
import { HttpClient } from '../test/support/http.js'
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

async function cleanup(url: string, prefix: string): Promise<void> {
  const client = new Redis(url)
  const keys = redisKeys(prefix)
  await client.del(keys.seq, keys.flags, keys.tokens, keys.audit, keys.auditBytes, keys.flagTombstones, keys.flagVersionFloor)
  client.disconnect()
}

/** PUBLISH on one connection until the message arrives on another: the floor for any propagation. */
async function pubsubFloor(url: string, channel: string): Promise<{ sample(): Promise<number>; close(): void }> {
  const pub = new Redis(url)
  const sub = new Redis(url)
  await sub.subscribe(channel)
  let resolveMessage: (() => void) | undefined
  sub.on('message', () => resolveMessage?.())
  let seq = 0
  return {
    async sample() {
      const arrived = new Promise<void>((resolve) => (resolveMessage = resolve))
      const t0 = performance.now()
      await pub.publish(channel, `{"key":"prop_flag","seq":${seq++}}`)
      await arrived
      return performance.now() - t0
    },
    close() {
      pub.disconnect()
      sub.disconnect()
    },
  }
}

/**
 * PATCH over HTTP on replica A, until replica B's registry (what its evaluations read) holds the
 * new version. A and B are separate processes, as in a fleet; B stamps the moment it applied each
 * change with the machine's monotonic clock, which this process reads too. One floor sample is
 * taken before each toggle, so both series meet the same bursts of noise on this shared machine
 * (measured one after the other, the short floor run's p99 swung 0.15–1.4 ms between runs).
 */
async function propagation(url: string, prefix: string): Promise<{ samples: number[]; floor: number[]; missed: number }> {
  const env = { REDIS_URL: url, REDIS_PREFIX: prefix }
  const [a, b] = await Promise.all([startChild('child-switchyard.ts', env), startChild('child-switchyard.ts', env)])
  const client = new HttpClient(`http://127.0.0.1:${a.port}`, BENCH_TOKEN, { maxSockets: 1 })
  const probe = await pubsubFloor(url, `switchyard-bench-floor:${randomBytes(4).toString('hex')}`)
  try {
    const applied = new Map<number, bigint>()
    let notify: (() => void) | undefined
    b.on('changed', (msg) => {
      applied.set(msg.version as number, BigInt(msg.at as string))
      notify?.()
    })
    b.send({ type: 'watch', key: 'prop_flag' })
    const created = await client.send('POST', '/flags', { key: 'prop_flag', state: 'disabled' })
    if (created.status !== 201) throw new Error(`creating the flag failed: ${created.status} ${created.body}`)
    const appliedOnB = async (version: number, timeoutMs: number) => {
      const deadline = performance.now() + timeoutMs
      while (!applied.has(version) && performance.now() < deadline) {
        let timer: NodeJS.Timeout | undefined
        await new Promise<void>((resolve) => {
          notify = resolve
          timer = setTimeout(resolve, Math.max(0, deadline - performance.now()))
        })
        clearTimeout(timer)
      }
      return applied.get(version)
    }
    // B must have subscribed before the first toggle counts.
    if ((await appliedOnB(1, 10_000)) === undefined) throw new Error('replica B never saw the flag created on A')
    const samples: number[] = []
    const floor: number[] = []
    let missed = 0
    for (let i = 0; i < TOGGLES + 100; i++) {
      const floorMs = await probe.sample()
      if (i >= 100) floor.push(floorMs)
      const t0 = process.hrtime.bigint()
      const res = await client.send('PATCH', '/flags/prop_flag', { state: i % 2 ? 'disabled' : 'enabled' })
      if (res.status !== 200) throw new Error(`PATCH failed: ${res.status} ${res.body}`)
      const { version } = JSON.parse(res.body) as { version: number }
      const at = await appliedOnB(version, 2000)
      if (at === undefined) missed++
      else if (i >= 100) samples.push(Number(at - t0) / 1e6)
      applied.delete(version)
    }
    return { samples, floor, missed }
  } finally {
    probe.close()
    client.close()
    await Promise.all([a.stop(), b.stop()])
  }
}

async function loadTime(url: string, prefix: string): Promise<{ loadMs: number; flags: number }> {
  const store = new RedisStore({ url, prefix, auditMaxEvents: 10_000 })
  await store.load()
  await Promise.all(makeFlags(10_000).map((flag) => store.commit(seedWrite(flag))))
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

      const propPrefix = `switchyard-bench:${randomBytes(4).toString('hex')}:`
      const prop = await propagation(redis.url, propPrefix).finally(() => cleanup(redis.url, propPrefix))
      const p = percentiles(prop.samples)
      const floor = percentiles(prop.floor)
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
