// The embedded store at its documented limits, as `npm start` runs it: the real server process on
// a data directory of its own, seeded over HTTP with 10,000 small flags and one flag whose
// 10,000-id list of 200-character ids is swapped BENCH_SWAPS times (500). Reports what one PATCH
// costs the server's CPU and the journal (a state toggle of the large flag, a percentage change
// of a small one), the RSS it runs at, and how long a restart takes after a clean stop (data file
// only) and after kill -9 (data file plus journal).
//
//   BENCH_ONLY=limits npx tsx bench/run.ts        (or: npx tsx bench/store-limits.ts)
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { BENCH_TOKEN } from './fixtures.js'
import { freePort, RUN_TS } from '../test/support/process.js'
import { HttpClient } from '../test/support/http.js'

const REPO = fileURLToPath(new URL('..', import.meta.url))
const SWAPS = Number(process.env.BENCH_SWAPS ?? 500)
const SMALL_FLAGS = Number(process.env.BENCH_SMALL_FLAGS ?? 10_000)

export interface LimitsResult {
  swaps: number
  smallFlags: number
  /** Server CPU per PATCH, one at a time, and journal bytes it appended. */
  toggleLargeFlag: { cpuMicros: number; journalBytes: number }
  percentageSmallFlag: { cpuMicros: number; journalBytes: number }
  rssAtLimitsMB: number
  dataDirMB: number
  restartCleanMs: number
  restartCleanRssMB: number
  restartAfterKillMs: number
}

interface Server {
  child: ChildProcess
  port: number
  client: HttpClient
  exited: Promise<void>
}

/** Starts the server on `dir` and resolves once /readyz answers 200, with the time that took. */
async function start(dir: string): Promise<{ server: Server; readyMs: number }> {
  const port = await freePort()
  const started = performance.now()
  const child = spawn(process.execPath, [...RUN_TS, 'packages/server/src/server.ts'], {
    cwd: REPO,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, HOST: '127.0.0.1', PORT: String(port), DATA_DIR: dir, ADMIN_TOKEN: BENCH_TOKEN, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()))
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode} before it was ready`)
    const res = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined)
    if (res?.status === 200) break
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  return {
    server: { child, port, client: new HttpClient(`http://127.0.0.1:${port}`, BENCH_TOKEN, { maxSockets: 16 }), exited },
    readyMs: Math.round(performance.now() - started),
  }
}

async function call(server: Server, method: string, path: string, body?: unknown, expected = 200): Promise<string> {
  const res = await server.client.send(method, path, body)
  if (res.status !== expected) throw new Error(`${method} ${path} answered ${res.status}: ${res.body.slice(0, 200)}`)
  return res.body
}

async function metric(server: Server, name: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${server.port}/metrics`, { headers: { authorization: `Bearer ${BENCH_TOKEN}` } })
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(await res.text())
  if (!m) throw new Error(`no ${name} in /metrics`)
  return Number(m[1])
}

const journalSize = (dir: string) => {
  try {
    return statSync(join(dir, 'switchyard.journal')).size
  } catch {
    return 0
  }
}

/**
 * Server CPU (from its own process_cpu_seconds_total) and journal growth per request of `send`,
 * one request at a time. The journal is read from the disk, so an older build measures alike; a
 * fold in between (the journal shrank) reports the growth as -1.
 */
async function perRequest(
  server: Server,
  dir: string,
  count: number,
  send: (i: number) => Promise<unknown>,
): Promise<{ cpuMicros: number; journalBytes: number }> {
  for (let i = 0; i < 20; i++) await send(i)
  const cpu = await metric(server, 'process_cpu_seconds_total')
  const journal = journalSize(dir)
  for (let i = 0; i < count; i++) await send(i)
  const journalAfter = journalSize(dir)
  const cpuMicros = Math.round((((await metric(server, 'process_cpu_seconds_total')) - cpu) * 1e6) / count)
  return { cpuMicros, journalBytes: journalAfter < journal ? -1 : Math.round((journalAfter - journal) / count) }
}

const list = (side: string) => Array.from({ length: 10_000 }, (_, i) => `${side}-${i}-`.padEnd(200, side))
const dirBytes = (dir: string) => readdirSync(dir).reduce((sum, name) => sum + statSync(join(dir, name)).size, 0)

async function stop(server: Server, signal: NodeJS.Signals): Promise<void> {
  server.client.close()
  server.child.kill(signal)
  await server.exited
}

export async function storeLimits(): Promise<LimitsResult> {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-bench-limits-'))
  try {
    let { server } = await start(dir)
    let next = 0
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < SMALL_FLAGS) await call(server, 'POST', '/flags', { key: `small_${next++}`, state: 'percentage', percentage: 10 }, 201)
      }),
    )
    const lists = [list('a'), list('b')]
    await call(server, 'POST', '/flags', { key: 'big', state: 'beta_users', betaUsers: lists[0] }, 201)
    for (let i = 1; i <= SWAPS; i++) await call(server, 'PATCH', '/flags/big', { betaUsers: lists[i % 2] })

    const toggleLargeFlag = await perRequest(server, dir, 200, (i) => call(server, 'PATCH', '/flags/big', { state: i % 2 ? 'enabled' : 'disabled' }))
    const percentageSmallFlag = await perRequest(server, dir, 500, (i) => call(server, 'PATCH', '/flags/small_7', { percentage: 20 + (i % 50) }))
    const rssAtLimitsMB = Math.round((await metric(server, 'process_resident_memory_bytes')) / 2 ** 20)

    await stop(server, 'SIGTERM')
    const dataDirMB = Math.round((dirBytes(dir) / 2 ** 20) * 10) / 10
    let readyMs
    ;({ server, readyMs } = await start(dir))
    const restartCleanMs = readyMs
    const restartCleanRssMB = Math.round((await metric(server, 'process_resident_memory_bytes')) / 2 ** 20)
    // A journal to replay: writes since the last fold, then kill -9.
    for (let i = 0; i < 100; i++) await call(server, 'PATCH', '/flags/big', { betaUsers: lists[i % 2] })
    await stop(server, 'SIGKILL')
    ;({ server, readyMs } = await start(dir))
    const restartAfterKillMs = readyMs
    await stop(server, 'SIGTERM')
    return {
      swaps: SWAPS,
      smallFlags: SMALL_FLAGS,
      toggleLargeFlag,
      percentageSmallFlag,
      rssAtLimitsMB,
      dataDirMB,
      restartCleanMs,
      restartCleanRssMB,
      restartAfterKillMs,
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(JSON.stringify(await storeLimits(), null, 2))
