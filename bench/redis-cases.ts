// Redis cases: loading 10,000 flags at startup; then, on one pair of replicas A and B (separate
// processes, heartbeating into the store as every replica does): toggle propagation beside the
// raw pub/sub round trip (the physical floor), measured by the same script; the wait a read with
// X-Switchyard-Min-Revision adds on B right after a write on A; and the time to drain concurrent
// writes to one flag through both replicas at once.
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { RedisStore } from '../packages/server/src/store/redis.js'
import { redisKeys } from '../packages/server/src/store/redis-scripts.js'
import { BENCH_TOKEN, makeFlags, seedWrite } from './fixtures.js'
import { HttpClient, revisionOf, type Answer } from '../test/support/http.js'
import { benchRedis } from './redis.js'
import { startChild, type ChildServer } from './servers.js'

type Row = { case: string; figure: string; ratio?: string; target?: string }
interface Ctx {
  rows: Row[]
  results: Record<string, unknown>
  want(name: string): boolean
}

const TOGGLES = Number(process.env.BENCH_TOGGLES ?? 1000)
// Untimed toggles before propagation is measured: a replica that has served a few thousand writes
// runs optimized code, one fresh from startup does not (A's CPU per PATCH fell from about 1.3 to
// 0.4 ms over its first 5,000; bench/RESULTS.md). BENCH_WARMUP=100 measures replicas just started.
const WARMUP = Number(process.env.BENCH_WARMUP ?? 2000)
const fmt = (n: number) => Math.round(n * 1000) / 1000

export function percentiles(samples: number[]): { p50: number; p99: number; max: number } {
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
  return { p50: fmt(at(0.5)), p99: fmt(at(0.99)), max: fmt(sorted[sorted.length - 1]!) }
}

async function cleanup(url: string, prefix: string): Promise<void> {
  const client = new Redis(url)
  // Every key the store writes under the prefix, the epoch and the heartbeats included.
  await client.del(...Object.values(redisKeys(prefix)))
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

/** Replicas A and B of one store, in processes of their own, and B's stamps of the flag it is told to watch. */
interface Fleet {
  a: ChildServer
  b: ChildServer
  /** Asks B to stamp each change of `key` (none: stop stamping) and hands every stamp to `onApplied`. */
  watch(key: string | undefined, onApplied?: (version: number, at: bigint) => void): void
}

interface FleetView {
  replicas: { id: string; self: boolean; lastBeatAt: string; revision: number; lag: number }[]
}

/** Both replicas' heartbeats as A's GET /admin/fleet lists them: proof the propagation case ran with heartbeats on. */
async function heartbeats(client: HttpClient): Promise<{ replicas: number; peerBeatAgeMs: number; peerLastBeatAt: string }> {
  const fleet = await client.json<FleetView>('GET', '/admin/fleet')
  const peer = fleet.replicas.find((r) => !r.self)
  if (fleet.replicas.length !== 2 || !peer) throw new Error(`expected replicas A and B in /admin/fleet, found ${JSON.stringify(fleet.replicas)}`)
  return { replicas: fleet.replicas.length, peerBeatAgeMs: Date.now() - Date.parse(peer.lastBeatAt), peerLastBeatAt: peer.lastBeatAt }
}

/**
 * PATCH over HTTP on replica A, until replica B's registry (what its evaluations read) holds the
 * new version. A and B are separate processes, as in a fleet; B stamps the moment it applied each
 * change with the machine's monotonic clock, which this process reads too. One floor sample is
 * taken before each toggle, so both series meet the same bursts of noise on this shared machine
 * (measured one after the other, the short floor run's p99 swung 0.15–1.4 ms between runs).
 * Both replicas heartbeat into the store every second throughout, as every replica does since
 * issue 15: A's /admin/fleet is read before and after the toggles to show B's beats went on.
 */
async function propagation(
  fleet: Fleet,
  url: string,
): Promise<{ samples: number[]; answered: number[]; floor: number[]; missed: number; heartbeats: { before: unknown; after: unknown; seconds: number } }> {
  const { a } = fleet
  const client = new HttpClient(`http://127.0.0.1:${a.port}`, BENCH_TOKEN, { maxSockets: 1 })
  const probe = await pubsubFloor(url, `switchyard-bench-floor:${randomBytes(4).toString('hex')}`)
  try {
    const applied = new Map<number, bigint>()
    let notify: (() => void) | undefined
    fleet.watch('prop_flag', (version, at) => {
      applied.set(version, at)
      notify?.()
    })
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
    const before = await heartbeats(client)
    const began = performance.now()
    const samples: number[] = []
    // How long A took to answer each PATCH: the write itself, which propagation includes.
    const answered: number[] = []
    const floor: number[] = []
    let missed = 0
    for (let i = 0; i < TOGGLES + WARMUP; i++) {
      const floorMs = await probe.sample()
      if (i >= WARMUP) floor.push(floorMs)
      const t0 = process.hrtime.bigint()
      const res = await client.send('PATCH', '/flags/prop_flag', { state: i % 2 ? 'disabled' : 'enabled' })
      if (res.status !== 200) throw new Error(`PATCH failed: ${res.status} ${res.body}`)
      const { version } = JSON.parse(res.body) as { version: number }
      const at = await appliedOnB(version, 2000)
      if (at === undefined) missed++
      else if (i >= WARMUP) samples.push(Number(at - t0) / 1e6)
      if (i >= WARMUP) answered.push(res.ms)
      applied.delete(version)
    }
    const seconds = fmt((performance.now() - began) / 1000)
    const after = await heartbeats(client)
    if (after.peerLastBeatAt === before.peerLastBeatAt && seconds > 2) throw new Error(`B's heartbeat did not move in ${seconds} s of toggles`)
    return { samples, answered, floor, missed, heartbeats: { before, after, seconds } }
  } finally {
    fleet.watch(undefined)
    probe.close()
    client.close()
  }
}

/**
 * Read-your-writes across replicas: PATCH on A, then at once GET the flag on B with A's
 * X-Switchyard-Revision as X-Switchyard-Min-Revision, which makes B wait until it has applied the
 * write. Right after it, the same GET without the header (the flag is now current on B) is the
 * baseline: one pair per PATCH, on one kept-alive connection to B, so both meet the same noise.
 * The difference is the wait the header adds. B's stamps say how many GETs left this process
 * before B had applied the write (an upper bound on those that had to wait).
 */
async function minRevisionReads(fleet: Fleet): Promise<{
  withHeader: number[]
  without: number[]
  stale: number
  behind: number
  sentBeforeApplied: number
  samples: number
}> {
  const toA = new HttpClient(`http://127.0.0.1:${fleet.a.port}`, BENCH_TOKEN)
  const toB = new HttpClient(`http://127.0.0.1:${fleet.b.port}`, BENCH_TOKEN)
  const appliedAt = new Map<number, bigint>()
  const sentAt = new Map<number, bigint>()
  fleet.watch('minrev_flag', (version, at) => appliedAt.set(version, at))
  try {
    const created = await toA.send('POST', '/flags', { key: 'minrev_flag', state: 'disabled' })
    if (created.status !== 201) throw new Error(`creating the flag failed: ${created.status} ${created.body}`)
    const first = await toB.send('GET', '/flags/minrev_flag', undefined, { 'x-switchyard-min-revision': String(revisionOf(created)) })
    if (first.status !== 200) throw new Error(`replica B never saw the flag created on A: ${first.status} ${first.body}`)
    const withHeader: number[] = []
    const without: number[] = []
    let stale = 0
    let behind = 0
    for (let i = 0; i < TOGGLES + 100; i++) {
      const patch = await toA.send('PATCH', '/flags/minrev_flag', { state: i % 2 ? 'disabled' : 'enabled' })
      if (patch.status !== 200) throw new Error(`PATCH failed: ${patch.status} ${patch.body}`)
      const { version } = JSON.parse(patch.body) as { version: number }
      if (i >= 100) sentAt.set(version, process.hrtime.bigint())
      const read = await toB.send('GET', '/flags/minrev_flag', undefined, { 'x-switchyard-min-revision': String(revisionOf(patch)) })
      if (read.status === 503 && (JSON.parse(read.body) as { code?: string }).code === 'STALE_REPLICA') {
        stale++
        continue
      }
      if (read.status !== 200) throw new Error(`GET with X-Switchyard-Min-Revision answered ${read.status} ${read.body}`)
      // Read-your-writes: B answers with the write or a later one, never an older flag.
      if ((JSON.parse(read.body) as { version: number }).version < version) behind++
      const plain = await toB.send('GET', '/flags/minrev_flag')
      if (plain.status !== 200) throw new Error(`GET answered ${plain.status} ${plain.body}`)
      if (i >= 100) {
        withHeader.push(read.ms)
        without.push(plain.ms)
      }
    }
    // B's last stamps may still be on their way over IPC.
    await new Promise((resolve) => setTimeout(resolve, 200))
    let sentBeforeApplied = 0
    for (const [version, sent] of sentAt) if ((appliedAt.get(version) ?? 0n) > sent) sentBeforeApplied++
    return { withHeader, without, stale, behind, sentBeforeApplied, samples: sentAt.size }
  } finally {
    fleet.watch(undefined)
    toA.close()
    toB.close()
  }
}

const CONTENDED_WRITES = Number(process.env.BENCH_CONTENDED_WRITES ?? 200)
const CONTENDED_ROUNDS = Number(process.env.BENCH_CONTENDED_ROUNDS ?? 3)

interface ContendedRound {
  /** Kept-alive connections open to each replica as the burst began (each write has one of its own). */
  connections: { a: number; b: number }
  drainMs: number
  /** When the last answer came from each replica, from the first send. */
  lastAnswerMs: { a: number; b: number }
  latency: { p50: number; p99: number; max: number }
  statuses: Record<string, number>
  /**
   * How often the replica that committed changed, taking the answered writes in version order:
   * 1 means one replica's writes all went in before the other's, 2 × CONTENDED_WRITES − 1 strict turns.
   */
  handovers: number
  contended: number
  startVersion: number
  finalVersion: { a: number; b: number }
  expectedVersion: number
}

/**
 * CONTENDED_WRITES concurrent PATCHes without If-Match on one flag through A and as many through B,
 * all sent at once, each on a kept-alive connection of its own (opened beforehand): every replica
 * queues its own writes to the flag, and the two replicas' writes race in the store, where each
 * loss is drafted again (or, past WRITE_DEADLINE_MS, refused with 503 WRITE_CONTENDED). Each PATCH
 * sets a description of its own, so each one changes the flag and must add one to its version.
 */
async function contendedWrites(fleet: Fleet): Promise<ContendedRound[]> {
  const toA = new HttpClient(`http://127.0.0.1:${fleet.a.port}`, BENCH_TOKEN, { maxSockets: CONTENDED_WRITES })
  const toB = new HttpClient(`http://127.0.0.1:${fleet.b.port}`, BENCH_TOKEN, { maxSockets: CONTENDED_WRITES })
  try {
    const created = await toA.send('POST', '/flags', { key: 'contended_flag', state: 'disabled' })
    if (created.status !== 201) throw new Error(`creating the flag failed: ${created.status} ${created.body}`)
    let revision = revisionOf(created)
    const versionOn = async (client: HttpClient) => {
      const res = await client.send('GET', '/flags/contended_flag', undefined, { 'x-switchyard-min-revision': String(revision) })
      if (res.status !== 200) throw new Error(`GET /flags/contended_flag answered ${res.status} ${res.body}`)
      return (JSON.parse(res.body) as { version: number }).version
    }
    // Open every connection before the first timed burst, so none of them is set up inside it.
    for (const client of [toA, toB]) {
      await Promise.all(Array.from({ length: CONTENDED_WRITES }, () => versionOn(client)))
      if (client.sockets !== CONTENDED_WRITES) throw new Error(`expected ${CONTENDED_WRITES} open connections, found ${client.sockets}`)
    }
    const rounds: ContendedRound[] = []
    for (let round = 0; round < CONTENDED_ROUNDS; round++) {
      const startVersion = await versionOn(toA)
      const connections = { a: toA.sockets, b: toB.sockets }
      const sends: Promise<Answer & { side: 'a' | 'b' }>[] = []
      const t0 = performance.now()
      for (let i = 0; i < CONTENDED_WRITES; i++) {
        for (const [side, client] of [
          ['a', toA],
          ['b', toB],
        ] as const) {
          const body = { description: `contended round ${round} via ${side} #${i}` }
          sends.push(client.send('PATCH', '/flags/contended_flag', body).then((answer) => ({ ...answer, side })))
        }
      }
      const answers = await Promise.all(sends)
      const statuses: Record<string, number> = {}
      let contended = 0
      for (const answer of answers) {
        statuses[answer.status] = (statuses[answer.status] ?? 0) + 1
        if (answer.status === 200) revision = Math.max(revision, revisionOf(answer))
        else if ((JSON.parse(answer.body) as { code?: string }).code === 'WRITE_CONTENDED') contended++
      }
      const order = answers
        .filter((x) => x.status === 200)
        .map((x) => ({ side: x.side, version: (JSON.parse(x.body) as { version: number }).version }))
        .sort((x, y) => x.version - y.version)
      const handovers = order.filter((x, i) => i > 0 && x.side !== order[i - 1]!.side).length
      const last = (side: 'a' | 'b') => fmt(Math.max(...answers.filter((x) => x.side === side).map((x) => x.end)) - t0)
      rounds.push({
        connections,
        drainMs: fmt(Math.max(...answers.map((x) => x.end)) - t0),
        lastAnswerMs: { a: last('a'), b: last('b') },
        latency: percentiles(answers.map((x) => x.ms)),
        statuses,
        handovers,
        contended,
        startVersion,
        // Read on each replica once it holds every write answered (the highest revision answered).
        finalVersion: { a: await versionOn(toA), b: await versionOn(toB) },
        expectedVersion: startVersion + 2 * CONTENDED_WRITES,
      })
    }
    return rounds
  } finally {
    toA.close()
    toB.close()
  }
}

/** Replicas A and B in processes of their own, configured by `env` (which Redis, the prefix, WAIT). */
async function startFleet(env: Record<string, string>): Promise<Fleet & { stop(): Promise<void> }> {
  const [a, b] = await Promise.all([startChild('child-switchyard.ts', env), startChild('child-switchyard.ts', env)])
  let onApplied: ((version: number, at: bigint) => void) | undefined
  b.on('changed', (msg) => onApplied?.(msg.version as number, BigInt(msg.at as string)))
  return {
    a,
    b,
    watch(key, listener) {
      onApplied = listener
      b.send({ type: 'watch', key })
    },
    stop: async () => void (await Promise.all([a.stop(), b.stop()])),
  }
}

/** Starts A and B on one store and runs the fleet cases on them, propagation first. */
async function fleetCases(url: string, prefix: string) {
  const fleet = await startFleet({ REDIS_URL: url, REDIS_PREFIX: prefix })
  try {
    const prop = await propagation(fleet, url)
    const reads = await minRevisionReads(fleet)
    const contended = await contendedWrites(fleet)
    return { prop, reads, contended }
  } finally {
    await fleet.stop()
  }
}

/**
 * Propagation on a Sentinel set (a master and one replica), three ways on the same servers in one
 * run: the master named by REDIS_URL, as a single node; through the sentinels; through the sentinels
 * with REDIS_WAIT_REPLICAS=1, where A announces a write only once the replica holds it.
 */
async function sentinelCases({ rows, results }: Ctx): Promise<void> {
  const { benchSentinel } = await import('./sentinel.js')
  const set = await benchSentinel()
  try {
    const ways = [
      { name: 'single node (REDIS_URL = the master)', env: { REDIS_URL: set.masterUrl } },
      { name: 'Sentinel, REDIS_WAIT_REPLICAS=0', env: set.env },
      { name: 'Sentinel, REDIS_WAIT_REPLICAS=1', env: { ...set.env, REDIS_WAIT_REPLICAS: '1' } },
    ]
    const figures: Record<string, unknown> = {}
    let singleP99 = 0
    for (const way of ways) {
      const prefix = `switchyard-bench:${randomBytes(4).toString('hex')}:`
      const fleet = await startFleet({ ...way.env, REDIS_PREFIX: prefix })
      const prop = await propagation(fleet, set.masterUrl).finally(() => fleet.stop())
      const p = percentiles(prop.samples)
      const floor = percentiles(prop.floor)
      const answered = percentiles(prop.answered)
      figures[way.name] = { ...p, missed: prop.missed, floor, patchAnswered: answered }
      if (singleP99 === 0) singleP99 = p.p99
      rows.push({
        case: `6. propagation A → B on a Sentinel set (master + 1 replica), ${way.name}, ${TOGGLES} toggles after ${WARMUP} untimed`,
        figure:
          `p50 ${p.p50} ms, p99 ${p.p99} ms, max ${p.max} ms, missed ${prop.missed}; ` +
          `PATCH answered p50 ${answered.p50} / p99 ${answered.p99} ms; floor p99 ${floor.p99} ms`,
        ratio: `${Math.round((p.p99 / singleP99) * 100) / 100} × the single-node p99 of this run`,
      })
    }
    results.sentinelPropagation = figures
  } finally {
    await set.stop()
  }
}

async function loadTime(url: string, prefix: string): Promise<{ loadMs: number; flags: number }> {
  const store = new RedisStore({ target: { kind: 'single', url }, prefix, auditMaxEvents: 10_000 })
  await store.load()
  await Promise.all(makeFlags(10_000).map((flag) => store.commit(seedWrite(flag))))
  await store.close()
  const server = await startChild('child-switchyard.ts', { REDIS_URL: url, REDIS_PREFIX: prefix })
  await server.stop()
  return { loadMs: server.info.loadMs as number, flags: server.info.flags as number }
}

export async function redisCases(ctx: Ctx): Promise<void> {
  const { rows, results, want } = ctx
  if (want('sentinel')) await sentinelCases(ctx)
  if (!want('redis') && !want('sdk')) return
  const redis = await benchRedis()
  try {
    if (want('redis')) {
      const loadPrefix = `switchyard-bench:${randomBytes(4).toString('hex')}:`
      const loaded = await loadTime(redis.url, loadPrefix).finally(() => cleanup(redis.url, loadPrefix))
      results.redisLoad10k = loaded
      rows.push({ case: '3. load 10,000 flags from Redis at startup', figure: `${fmt(loaded.loadMs)} ms (${loaded.flags} flags)`, target: '< 1000 ms' })

      const fleetPrefix = `switchyard-bench:${randomBytes(4).toString('hex')}:`
      const { prop, reads, contended } = await fleetCases(redis.url, fleetPrefix).finally(() => cleanup(redis.url, fleetPrefix))
      const p = percentiles(prop.samples)
      const floor = percentiles(prop.floor)
      results.pubsubFloor = floor
      const answered = percentiles(prop.answered)
      results.propagation = { ...p, missed: prop.missed, toggles: TOGGLES, heartbeats: prop.heartbeats, patchAnswered: answered }
      rows.push({ case: '5. raw Redis pub/sub round trip (floor)', figure: `p50 ${floor.p50} ms, p99 ${floor.p99} ms, max ${floor.max} ms` })
      rows.push({
        case: `5. propagation A → B, ${TOGGLES} toggles after ${WARMUP} untimed, heartbeats on (both replicas beat every 1 s; /admin/fleet before and after)`,
        figure: `p50 ${p.p50} ms, p99 ${p.p99} ms, max ${p.max} ms, missed ${prop.missed}`,
        ratio: `${Math.round((p.p99 / floor.p99) * 100) / 100} × floor p99`,
        target: 'p99 ≤ 5 ms, ≤ 3 × floor, none missed',
      })
      rows.push({
        case: '5. of which the write: PATCH sent → answered by A (the same toggles)',
        figure: `p50 ${answered.p50} ms, p99 ${answered.p99} ms, max ${answered.max} ms`,
      })

      const withHeader = percentiles(reads.withHeader)
      const without = percentiles(reads.without)
      const extra = { p50: fmt(withHeader.p50 - without.p50), p99: fmt(withHeader.p99 - without.p99) }
      results.minRevisionReads = {
        withHeader,
        without,
        extra,
        samples: reads.samples,
        staleReplica: reads.stale,
        olderThanTheWrite: reads.behind,
        sentBeforeBApplied: reads.sentBeforeApplied,
      }
      rows.push({
        case:
          `5. GET /flags/:key on B right after each PATCH on A, X-Switchyard-Min-Revision = the PATCH's revision, vs the same GET without it ` +
          `(flag current), ${reads.samples} pairs`,
        figure:
          `with p50 ${withHeader.p50} ms, p99 ${withHeader.p99} ms, max ${withHeader.max} ms; without p50 ${without.p50} ms, p99 ${without.p99} ms, ` +
          `max ${without.max} ms; ${reads.stale} × 503 STALE_REPLICA, ${reads.behind} older than the write; ` +
          `${reads.sentBeforeApplied} of ${reads.samples} sent before B applied the write`,
        ratio: `extra wait p50 ${extra.p50} ms, p99 ${extra.p99} ms`,
        target: 'no STALE_REPLICA',
      })

      results.contendedWrites = { writesPerReplica: CONTENDED_WRITES, rounds: contended }
      const statusText = (s: Record<string, number>) =>
        Object.entries(s)
          .map(([status, n]) => `${n} × ${status}`)
          .join(' ')
      rows.push({
        case: `5. 2 × ${CONTENDED_WRITES} concurrent PATCHes without If-Match on one flag, through A and B at once, ${contended.length} rounds`,
        figure: contended
          .map(
            (r) =>
              `${r.drainMs} ms (last answer via A ${r.lastAnswerMs.a} ms, via B ${r.lastAnswerMs.b} ms; ${statusText(r.statuses)}, ` +
              `${r.contended} WRITE_CONTENDED, ${r.handovers} handovers A↔B, version ${r.startVersion} → ` +
              `${r.finalVersion.a}/${r.finalVersion.b} on A/B)`,
          )
          .join('; '),
        ratio: `per-write latency p50 ${contended.map((r) => r.latency.p50).join(', ')} ms; max ${contended.map((r) => r.latency.max).join(', ')} ms`,
        target: `all 200, version + ${2 * CONTENDED_WRITES} on both`,
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
