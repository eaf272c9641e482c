// A Switchyard server for the benchmark, seeded with N flags, listening on 127.0.0.1.
// Configured by environment: BENCH_FLAGS, BENCH_BETA_USERS, BENCH_RULES (bench_rules: bench_flag
// with the 20 rules of fixtures.ts), BENCH_VARIANTS=1 (bench_variants: bench_flag with two
// variants), BENCH_AUDIT_EVENTS, BENCH_STORE, REDIS_URL (+ REDIS_PREFIX), BENCH_CLOCK_SKEW_MS (this
// replica's own clock that far off: schedules must still switch by the store's).
import { mkdtempSync, rmSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildApp } from '../packages/server/src/app.js'
import { tuneHeap } from '../packages/server/src/heap-tuning.js'
import { loadConfig } from '../packages/server/src/config.js'
import { FileStore } from '../packages/server/src/store/file.js'
import { MemoryStore } from '../packages/server/src/store/memory.js'
import { createStore } from '../packages/server/src/store/create.js'
import { StoreClock } from '../packages/server/src/replica/clock.js'
import { BENCH_TOKEN, makeFlags, seedWrite, twentyRules } from './fixtures.js'

// As src/server.ts does, so the figures are those of the service as it runs.
tuneHeap()
const flagCount = Number(process.env.BENCH_FLAGS ?? 10)
const betaUsers = Number(process.env.BENCH_BETA_USERS ?? 0)
// Every benchmark consumer comes from one address with one token: the per-address and per-token
// stream limits would otherwise refuse the stream cases' 1,000 consumers.
// The Redis (REDIS_URL or REDIS_SENTINELS, REDIS_PREFIX, REDIS_WAIT_REPLICAS, …) as the service reads it.
const redisEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => name.startsWith('REDIS_')))
const config = {
  ...loadConfig(redisEnv),
  logLevel: 'warn',
  adminToken: BENCH_TOKEN,
  streamMaxPerToken: 1_000_000,
  streamMaxPerAddress: 1_000_000,
}
// BENCH_STORE=file: the embedded store, as `npm start` runs, in a folder of its own removed at stop.
const dataDir = process.env.BENCH_STORE === 'file' ? mkdtempSync(join(tmpdir(), 'switchyard-bench-')) : undefined
const store = config.redis ? await createStore(config) : dataDir ? new FileStore(dataDir) : new MemoryStore()
if (store instanceof FileStore) await store.load()
// Seeded through the store, as a real deployment would hold them, so PATCHes work on them.
if (!config.redis) {
  const flags = makeFlags(flagCount, betaUsers, process.env.BENCH_RULES ? twentyRules() : [], process.env.BENCH_VARIANTS === '1')
  for (const flag of flags) {
    await store.commit(seedWrite(flag))
  }
  // A replica that has run for a while holds a full audit trail, so every write also trims it:
  // BENCH_AUDIT_EVENTS earlier updates of flag_1 put it there.
  const history = Number(process.env.BENCH_AUDIT_EVENTS ?? 0)
  for (let version = 1; version < history; version++) {
    await store.commit(seedWrite({ ...flags[1]!, version: version + 1 }, version))
  }
}
const skew = Number(process.env.BENCH_CLOCK_SKEW_MS ?? 0)
const app = await buildApp(config, { store, clock: new StoreClock(() => Date.now() + skew) })
await app.listen({ port: 0, host: '127.0.0.1' })
const started = performance.now()
await app.switchyard.sync.start()
const loadMs = performance.now() - started
globalThis.gc?.()
const address = app.server.address()
process.send?.({ type: 'ready', port: typeof address === 'object' && address ? address.port : 0, loadMs, flags: app.switchyard.flags.size })
// The propagation case asks to be told when a flag changes here, stamped with the monotonic clock
// (shared by every process on the machine) at the moment this replica's registry applied it: the
// IPC message may arrive late without skewing the figure.
let watching: string | undefined
app.switchyard.flags.onChange((event) => {
  if (watching && event.type === 'change' && event.key === watching)
    process.send?.({ type: 'changed', key: event.key, version: event.flag?.version ?? 0, at: String(process.hrtime.bigint()) })
})
process.on('message', (msg: { type: string; key?: string }) => {
  if (msg.type === 'watch') watching = msg.key
  if (msg.type === 'memory') {
    globalThis.gc?.()
    process.send?.({ type: 'memory', ...process.memoryUsage() })
  }
  if (msg.type === 'cpu') process.send?.({ type: 'cpu', ...process.cpuUsage() })
  // Event-loop time so far (ms the loop was busy): a window's difference is what it cost the loop.
  if (msg.type === 'elu') process.send?.({ type: 'elu', ...performance.eventLoopUtilization(), streams: app.switchyard.stream.size })
  if (msg.type === 'stop') {
    void app.close().then(() => {
      if (dataDir) rmSync(dataDir, { recursive: true, force: true })
      process.exit(0)
    })
  }
})
