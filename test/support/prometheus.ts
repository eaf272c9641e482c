// Helpers for the guarded-rollout suites: a private Prometheus on a free port, scraping a tiny
// exporter whose values the test sets, so a guard reads a real query API rather than a stub.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { delimiter, join } from 'node:path'
import { onTestFinished } from 'vitest'
import { eventually, tempDir } from './helpers.js'
import { freePort } from './process.js'

export const PROMETHEUS_MISSING = 'prometheus not found: install it (apt-get install prometheus)'

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, name)
    if (dir && existsSync(candidate)) return candidate
  }
  return undefined
}

export function prometheusBinary(): string {
  const binary = onPath('prometheus')
  if (!binary) throw new Error(PROMETHEUS_MISSING)
  return binary
}

/** Inside a test, `stop` runs when it finishes, passed or failed; started in a hook, the caller's afterAll must stop it. */
function stopWhenTestFinishes(stop: () => Promise<void>): void {
  try {
    onTestFinished(stop)
  } catch {
    // Not inside a test: vitest would silently drop an afterAll registered from a beforeAll.
  }
}

export interface MetricExporter {
  /** http://127.0.0.1:<port>; the metrics are at `${url}/metrics`. */
  url: string
  port: number
  /** 127.0.0.1:<port>, as startPrometheus's targets take it. */
  target: string
  /** Sets one series (a gauge): the name with these labels; other label sets of the name stay. */
  set(name: string, value: number, labels?: Record<string, string>): void
  /** Removes every series of the name: Prometheus marks them stale at its next scrape. */
  remove(name: string): void
  /** While on, /metrics answers 500: the scrape fails, `up` is 0 and the target's series go stale. */
  fail(on: boolean): void
  /** How many times /metrics was fetched, failed fetches included. */
  scrapes(): number
  stop(): Promise<void>
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/

const formatValue = (value: number) => (Number.isNaN(value) ? 'NaN' : value === Infinity ? '+Inf' : value === -Infinity ? '-Inf' : String(value))
const escapeLabel = (value: string) => value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')

/** A node:http server on 127.0.0.1 and a port of its own serving GET /metrics in the text exposition format. */
export async function startMetricExporter(): Promise<MetricExporter> {
  // name → sorted label pairs (as JSON, one key per label set) → sample line
  const series = new Map<string, Map<string, string>>()
  let failing = false
  let scrapes = 0

  const server = createServer((req, res) => {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(404).end()
      return
    }
    scrapes++
    if (failing) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end('failing on purpose\n')
      return
    }
    const lines: string[] = []
    for (const [name, samples] of series) lines.push(`# TYPE ${name} gauge`, ...samples.values())
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(lines.map((line) => `${line}\n`).join(''))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  const { port } = server.address() as { port: number }

  let stopped: Promise<void> | undefined
  const stop = () =>
    (stopped ??= new Promise<void>((resolve) => {
      server.close(() => resolve())
      // Prometheus keeps its scrape connection alive: close() alone would wait for it.
      server.closeAllConnections()
    }))
  stopWhenTestFinishes(stop)

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    target: `127.0.0.1:${port}`,
    set(name, value, labels = {}) {
      if (!METRIC_NAME.test(name)) throw new Error(`invalid metric name: ${name}`)
      const pairs = Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      for (const [label] of pairs) if (!LABEL_NAME.test(label) || label.startsWith('__')) throw new Error(`invalid label name: ${label}`)
      const text = pairs.length ? `{${pairs.map(([label, v]) => `${label}="${escapeLabel(v)}"`).join(',')}}` : ''
      if (!series.has(name)) series.set(name, new Map())
      series.get(name)!.set(JSON.stringify(pairs), `${name}${text} ${formatValue(value)}`)
    },
    remove: (name) => void series.delete(name),
    fail: (on) => void (failing = on),
    scrapes: () => scrapes,
    stop,
  }
}

export interface PrometheusOptions {
  /** host:port of each target, scraped at /metrics under the job `switchyard-test`. */
  targets: string[]
  /** The scrape and rule-evaluation interval (a whole number of ms); 1000 by default. */
  scrapeIntervalMs?: number
}

export interface Prometheus {
  /** http://127.0.0.1:<port> */
  url: string
  port: number
  /** An instant query: the single sample's value (or a scalar's), undefined for an empty vector; throws for several samples. */
  query(promql: string): Promise<number | undefined>
  /** Polls the query until it returns a value the predicate accepts (an empty vector never does), and returns it. */
  waitForValue(promql: string, predicate: (value: number) => boolean, timeoutMs?: number): Promise<number>
  /** The last few KB of Prometheus's stdout and stderr. */
  output(): string
  /** SIGKILL, as in a crash; its data directory stays until stop(). */
  kill(): Promise<void>
  /** SIGTERM, waits for the exit (SIGKILL after 10 s), and removes the data directory. */
  stop(): Promise<void>
}

const JOB = 'switchyard-test'
const OUTPUT_LIMIT = 8192
const READY_TIMEOUT_MS = 20_000

/** Prometheus durations take whole units: "1s" or "250ms". */
const duration = (ms: number) => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`)

/** Prometheus's sample values are strings, with Go's spellings of the infinities. */
const sampleValue = (text: string) => (text === '+Inf' ? Infinity : text === '-Inf' ? -Infinity : Number(text))

interface QueryResponse {
  status: 'success' | 'error'
  error?: string
  errorType?: string
  data?: { resultType: string; result: unknown }
}

/**
 * A private Prometheus on 127.0.0.1 and a free port, its configuration and TSDB in a temporary
 * directory, scraping `targets`. Resolves once /-/ready answers 200 and every target has been scraped
 * once (about 5 s after the start: see below), so a query then reflects what the exporter serves.
 * Started inside a test it is stopped when the test finishes; started in a beforeAll, stop it in the afterAll.
 */
export async function startPrometheus(opts: PrometheusOptions): Promise<Prometheus> {
  const binary = prometheusBinary()
  const interval = opts.scrapeIntervalMs ?? 1000
  if (!Number.isInteger(interval) || interval <= 0) throw new Error(`scrapeIntervalMs must be a positive whole number of ms: ${interval}`)
  const dir = tempDir('switchyard-prometheus-')
  const config = join(dir.path, 'prometheus.yml')
  const every = duration(interval)
  // The default scrape_timeout (10s) may not exceed the interval: it is the interval here.
  const yaml = [
    'global:',
    `  scrape_interval: ${every}`,
    `  scrape_timeout: ${every}`,
    `  evaluation_interval: ${every}`,
    'scrape_configs:',
    `  - job_name: ${JOB}`,
    '    static_configs:',
    `      - targets: ${JSON.stringify(opts.targets)}`,
  ]
  writeFileSync(config, `${yaml.join('\n')}\n`)

  // With setpriv (util-linux), the kernel SIGKILLs Prometheus when the test worker dies: vitest ends
  // a worker without running its exit handlers, so a stop forgotten in an afterAll would leak it.
  const setpriv = onPath('setpriv')
  let output = ''
  let port = 0
  let child: ChildProcess | undefined
  let exited: Promise<void> = Promise.resolve()
  let exitCode: string | undefined
  let spawnError: Error | undefined
  const deadline = Date.now() + READY_TIMEOUT_MS

  const launch = async (): Promise<void> => {
    const args = [`--config.file=${config}`, `--storage.tsdb.path=${join(dir.path, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn']
    const proc = setpriv
      ? spawn(setpriv, ['--pdeathsig', 'KILL', binary, ...args], { cwd: dir.path, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(binary, args, { cwd: dir.path, stdio: ['ignore', 'pipe', 'pipe'] })
    child = proc
    const onData = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-OUTPUT_LIMIT)
    }
    proc.stdout!.on('data', onData)
    proc.stderr!.on('data', onData)
    exited = new Promise((resolve) =>
      proc.once('exit', (code, signal) => {
        exitCode = signal ?? String(code)
        resolve()
      }),
    )
    proc.once('error', (err) => (spawnError = err))
    await until(
      async () => (await fetch(`http://127.0.0.1:${port}/-/ready`, { signal: AbortSignal.timeout(1000) }).catch(() => undefined))?.status === 200,
      'to answer /-/ready',
    )
  }

  /** eventually, pausing between HTTP polls, failing at once if Prometheus exits, its output in the error. */
  const until = async (check: () => Promise<boolean>, what: string): Promise<void> => {
    try {
      await eventually(
        async () => {
          if (spawnError) throw spawnError
          if (exitCode !== undefined) throw new Error(`prometheus exited (${exitCode}) before it was ready`)
          if (await check()) return true
          await new Promise((resolve) => setTimeout(resolve, 50))
          return false
        },
        Math.max(0, deadline - Date.now()),
        `prometheus on port ${port} ${what}`,
      )
    } catch (err) {
      throw new Error(`${(err as Error).message}; its output:\n${output}`)
    }
  }

  const exit = async (signal: NodeJS.Signals): Promise<void> => {
    const proc = child
    // No pid: it never started (spawn failed), and no exit will come.
    if (!proc || proc.pid === undefined || proc.exitCode !== null || proc.signalCode !== null) return
    proc.kill(signal)
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000)
    await exited
    clearTimeout(timer)
  }

  let stopped: Promise<void> | undefined
  const stop = () =>
    (stopped ??= (async () => {
      await exit('SIGTERM')
      dir.remove()
    })())
  // Registered before the start, so a test that times out while Prometheus starts stops it too.
  stopWhenTestFinishes(stop)

  // Another process may take the port between the probe and the bind: try a few.
  for (let attempt = 1; ; attempt++) {
    port = await freePort()
    output = ''
    exitCode = spawnError = undefined
    try {
      await launch()
      break
    } catch (err) {
      await exit('SIGKILL')
      if (attempt >= 5 || !output.includes('address already in use')) {
        await stop()
        throw err
      }
    }
  }

  const url = `http://127.0.0.1:${port}`
  const query = async (promql: string): Promise<number | undefined> => {
    const res = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: promql })}`, { signal: AbortSignal.timeout(5000) })
    const body = (await res.json()) as QueryResponse
    if (body.status !== 'success' || !body.data) throw new Error(`prometheus query ${promql} failed (${res.status}): ${body.errorType}: ${body.error}`)
    const { resultType, result } = body.data
    if (resultType === 'scalar') return sampleValue((result as [number, string])[1])
    if (resultType !== 'vector') throw new Error(`prometheus query ${promql} returned a ${resultType}, not a vector`)
    const samples = result as { metric: Record<string, string>; value: [number, string] }[]
    if (samples.length === 0) return undefined
    if (samples.length > 1) throw new Error(`prometheus query ${promql} returned ${samples.length} samples: ${JSON.stringify(samples.map((s) => s.metric))}`)
    return sampleValue(samples[0]!.value[1])
  }

  // Prometheus (2.42) applies its targets at most every 5 s, the first time too: until every target
  // has been scraped once, a query would answer as if the metric did not exist. Wait it out here:
  // `up` is committed with the scrape's samples, so once it is there for each target, they are too.
  const targets = new Set(opts.targets).size
  try {
    await until(async () => targets === 0 || (await query(`count(up{job="${JOB}"})`).catch(() => undefined)) === targets, 'to scrape every target once')
  } catch (err) {
    await stop()
    throw err
  }

  return {
    url,
    port,
    query,
    async waitForValue(promql, predicate, timeoutMs = 10_000) {
      let last: number | undefined
      try {
        await eventually(
          async () => {
            last = await query(promql)
            if (last !== undefined && predicate(last)) return true
            // Each poll is an HTTP query: no need to ask more often than a few times per scrape.
            await new Promise((resolve) => setTimeout(resolve, Math.min(100, interval / 4)))
            return false
          },
          timeoutMs,
          `the query ${promql} to match`,
        )
      } catch (err) {
        throw new Error(`${(err as Error).message} (its last value: ${last ?? 'an empty vector'})`)
      }
      return last!
    },
    output: () => output,
    kill: () => exit('SIGKILL'),
    stop,
  }
}

// The guards' process tests (guards-prometheus*.test.ts): their shortest interval, a 1 s scrape, a
// running ramp and a rollback guard on a query.
export const INTERVAL_MS = 5000
export const SCRAPE_MS = 1000
/** The runner looks for due guards every 500 ms; a write and its read back take a little more, on a busy machine more still. */
export const SLACK_MS = 3000

export const runningRamp = () => ({
  from: 10,
  to: 100,
  start: new Date(Date.now() - 60_000).toISOString(),
  end: new Date(Date.now() + 3_600_000).toISOString(),
})
export const rollbackGuard = (query: string, breaches: number) => ({
  source: 'prometheus',
  query,
  comparator: '>',
  threshold: 0.05,
  interval: '5s',
  breaches,
  action: 'rollback',
})
