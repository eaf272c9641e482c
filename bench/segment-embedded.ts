// A 1,000,000-member segment in the service as `npm start` runs it (the embedded store): the RSS it
// adds, and how long adding 10,000 members more takes through POST /segments/:key/targets. Part of
// BENCH_ONLY=segments (run.ts starts it with --expose-gc); prints its figures as one JSON line.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { buildApp } from '../packages/server/src/app.js'
import { defaultConfig } from '../packages/server/src/config.js'
import { FileStore } from '../packages/server/src/store/file.js'
import { uuid } from './targeting.js'

const TOKEN = 'bench-admin-token-0123456789abcdef'
const dir = mkdtempSync(join(tmpdir(), 'switchyard-segment-'))
const store = new FileStore(dir)
const app = await buildApp(defaultConfig({ logLevel: 'warn', adminToken: TOKEN }), { store })
await app.ready()
await app.switchyard.sync.start()
const headers = { authorization: `Bearer ${TOKEN}` }
const rss = () => {
  globalThis.gc?.()
  return process.memoryUsage().rss / 2 ** 20
}
// Ids as a client's JSON delivers them (flat strings, not built by concatenation here).
const ids = (from: number, count: number): string[] => JSON.parse(JSON.stringify(Array.from({ length: count }, (_, i) => uuid(from + i)))) as string[]
await app.inject({ method: 'POST', url: '/segments', headers, payload: { key: 'big' } })
const before = rss()
for (let batch = 0; batch < 100; batch++) {
  const res = await app.inject({ method: 'POST', url: '/segments/big/targets', headers, payload: { add: { users: ids(batch * 10_000, 10_000) } } })
  if (res.statusCode !== 200) throw new Error(res.body)
}
const after = rss()
const times: number[] = []
for (let i = 0; i < 10; i++) {
  const payload = { add: { users: ids(1_000_000 + i * 10_000, 10_000) }, remove: { users: ids(i * 10_000, 10_000) } }
  const start = performance.now()
  const res = await app.inject({ method: 'POST', url: '/segments/big/targets', headers, payload })
  times.push(performance.now() - start)
  if (res.statusCode !== 200) throw new Error(res.body)
}
times.sort((a, b) => a - b)
console.log(
  JSON.stringify({
    members: app.switchyard.segments.sizeOf('big'),
    rssBeforeMB: Math.round(before),
    rssAfterMB: Math.round(after),
    addedMB: Math.round(after - before),
    editMs: { median: Math.round(times[5]!), max: Math.round(times[9]!) },
  }),
)
await app.close()
rmSync(dir, { recursive: true, force: true })
