// npm run bench: every benchmark case in one run, printed as a table and written to
// bench/results.json. Servers run in child processes; autocannon loads them from this one.
// Figures are measured, never asserted: see bench/RESULTS.md for the latest run.
import { writeFileSync } from 'node:fs'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import { engineBench } from './engine.js'
import { BENCH_TOKEN } from './fixtures.js'
import { load, type LoadResult } from './load.js'
import { startChild } from './servers.js'

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10)
const single = { flag: 'bench_flag', context: { userId: 'user-42-3f2a9c1e-7b4d', tenantId: 'acme' } }
const batchKeys = ['bench_flag', ...Array.from({ length: 49 }, (_, i) => `flag_${i + 1}`)]
const batch = { flags: batchKeys, context: single.context }

type Row = { case: string; figure: string; ratio?: string; target?: string }
const rows: Row[] = []
const results: Record<string, unknown> = {}
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100

async function withServer<T>(script: 'child-bare.ts' | 'child-switchyard.ts', env: Record<string, string>, fn: (port: number, stop: () => Promise<NodeJS.MemoryUsage>) => Promise<T>): Promise<T> {
  const server = await startChild(script, env)
  try {
    return await fn(server.port, () => server.memory())
  } finally {
    await server.stop()
  }
}

const evaluateLoad = (port: number, body: unknown = single) => load({ port, path: '/evaluate', body, token: BENCH_TOKEN, seconds: SECONDS })

function report(name: string, r: LoadResult): void {
  results[name] = r
  if (r.errors || r.non2xx) console.warn(`  ! ${name}: ${r.errors} errors, ${r.non2xx} non-2xx responses`)
}

async function httpCases(): Promise<void> {
  const ceiling = await withServer('child-bare.ts', {}, (port) => load({ port, path: '/evaluate', body: single, seconds: SECONDS }))
  report('ceiling', ceiling)
  const small = await withServer('child-switchyard.ts', { BENCH_FLAGS: '50' }, async (port) => {
    const one = await evaluateLoad(port)
    const fifty = await evaluateLoad(port, batch)
    return { one, fifty }
  })
  report('evaluate', small.one)
  report('batch50', small.fifty)
  rows.push({ case: '1. ceiling: bare Fastify', figure: `${fmt(ceiling.reqPerSec)} req/s, p50 ${ceiling.p50} ms, p99 ${ceiling.p99} ms` })
  rows.push({
    case: '1. POST /evaluate, 1 flag (percentage)',
    figure: `${fmt(small.one.reqPerSec)} req/s, p50 ${small.one.p50} ms, p99 ${small.one.p99} ms`,
    ratio: `${ratio(small.one.reqPerSec, ceiling.reqPerSec)} × req/s, ${ratio(small.one.p99, ceiling.p99)} × p99`,
    target: '≥ 0.85 × req/s, ≤ 1.2 × p99',
  })
  rows.push({
    case: '2. POST /evaluate, batch of 50',
    figure: `${fmt(small.fifty.reqPerSec * 50)} evaluations/s (${fmt(small.fifty.reqPerSec)} req/s)`,
    ratio: `${ratio(small.fifty.reqPerSec * 50, small.one.reqPerSec)} × single`,
    target: '≥ 20 ×',
  })

  const many = await withServer('child-switchyard.ts', { BENCH_FLAGS: '10000' }, (port) => evaluateLoad(port))
  report('evaluate10kFlags', many)
  const beta = await withServer('child-switchyard.ts', { BENCH_FLAGS: '10', BENCH_BETA_USERS: '10000' }, (port) => evaluateLoad(port))
  report('evaluate10kBeta', beta)
  rows.push({ case: '3. 10,000 flags in the registry', figure: `${fmt(many.reqPerSec)} req/s`, ratio: `${ratio(many.reqPerSec, small.one.reqPerSec)} × small`, target: '≥ 0.95 ×' })
  rows.push({ case: '3. betaUsers of 10,000 ids', figure: `${fmt(beta.reqPerSec)} req/s`, ratio: `${ratio(beta.reqPerSec, small.one.reqPerSec)} × small`, target: '≥ 0.95 ×' })

  for (const count of [10_000, 100_000]) {
    const mem = await withServer('child-switchyard.ts', { BENCH_FLAGS: String(count) }, (_port, memory) => memory())
    results[`memory${count}`] = mem
    rows.push({
      case: `3. memory, ${fmt(count)} flags`,
      figure: `RSS ${fmt(mem.rss / 2 ** 20, 1)} MB, heap ${fmt(mem.heapUsed / 2 ** 20, 1)} MB`,
      target: count === 100_000 ? 'RSS < 300 MB' : undefined,
    })
  }

  // Reads under writes: the same replica takes 20 PATCH/s while autocannon evaluates.
  const rw = await withServer('child-switchyard.ts', { BENCH_FLAGS: '50' }, async (port) => {
    const quiet = await evaluateLoad(port)
    let patches = 0
    let failures = 0
    const timer = setInterval(() => {
      const percentage = 40 + (patches++ % 20)
      fetch(`http://127.0.0.1:${port}/flags/flag_2`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${BENCH_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ percentage }),
      })
        .then((r) => {
          if (!r.ok) failures++
          return r.arrayBuffer()
        })
        .catch(() => failures++)
    }, 50)
    const busy = await evaluateLoad(port).finally(() => clearInterval(timer))
    return { quiet, busy, patches, failures }
  })
  report('readsQuiet', rw.quiet)
  report('readsUnderWrites', rw.busy)
  rows.push({
    case: '6. evaluate p99 under 20 PATCH/s',
    figure: `p99 ${rw.busy.p99} ms vs ${rw.quiet.p99} ms without writes (${rw.patches} PATCHes, ${rw.failures} failed)`,
    ratio: `${ratio(rw.busy.p99, rw.quiet.p99)} ×`,
    target: '≤ 1.2 ×',
  })
}

function engineCase(): void {
  const ns = engineBench()
  results.engine = ns
  rows.push({ case: '4. engine, ns/evaluation', figure: Object.entries(ns).map(([s, v]) => `${s} ${v}`).join(', '), target: '≤ 150 percentage, ≤ 50 enabled/disabled' })
}

export async function main(): Promise<void> {
  const machine = { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.platform()} ${os.release()}` }
  console.log(`Switchyard benchmark — ${new Date().toISOString()} — ${machine.cpus} cores (${machine.cpuModel}), Node ${machine.node}, ${SECONDS} s per load case`)
  const only = process.env.BENCH_ONLY?.split(',')
  const want = (name: string) => !only || only.includes(name)
  if (want('engine')) engineCase()
  if (want('http')) await httpCases()
  if (want('redis') || want('sdk')) {
    const { redisCases } = await import('./redis-cases.js')
    await redisCases({ rows, results, want })
  }
  console.log()
  console.table(rows)
  const file = fileURLToPath(new URL('results.json', import.meta.url))
  writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), machine, secondsPerCase: SECONDS, rows, results }, null, 2) + '\n')
  console.log(`wrote ${file}`)
}

if (import.meta.url === `file://${process.argv[1]}`) await main()
