// GET /stream at scale: what opening a stream costs with 1,000 flags, and what one change to a
// flag with a 1 MB list costs the server's event loop with 1,000 consumers connected, with
// evaluate p99 measured while such changes flow. Run with BENCH_ONLY=streams.
import { connect, type Socket } from 'node:net'
import { BENCH_TOKEN } from './fixtures.js'
import { HttpClient } from '../test/support/http.js'
import { load, type LoadResult } from './load.js'
import { startChild, type ChildServer } from './servers.js'

const CONSUMERS = Number(process.env.BENCH_STREAMS ?? 1000)
const single = { flag: 'bench_flag', context: { userId: 'user-42-3f2a9c1e-7b4d', tenantId: 'acme' } }

interface Consumers {
  /** Events of `kind` each consumer has received so far (the smallest count). */
  least(kind: string): number
  close(): void
}

/**
 * `count` raw SSE consumers that read everything and count the events of each kind: GET /stream
 * in `format`, or POST /stream/evaluations for a context of their own (`evaluations`).
 */
async function openConsumers(port: number, count: number, format: 'patch' | 'flag' | 'evaluations'): Promise<Consumers> {
  const counts: Map<string, number>[] = []
  const sockets: Socket[] = []
  const opened: Promise<void>[] = []
  for (let i = 0; i < count; i++) {
    const seen = new Map<string, number>()
    counts.push(seen)
    const socket = connect(port, '127.0.0.1')
    sockets.push(socket)
    let carry = ''
    opened.push(
      new Promise((resolve, reject) => {
        socket.on('error', reject)
        socket.on('data', (chunk: Buffer) => {
          // Only the `event:` lines matter; a marker split across chunks is rejoined by the carry.
          const text = carry + chunk.toString('latin1')
          for (let at = text.indexOf('\nevent: '); at !== -1; at = text.indexOf('\nevent: ', at + 1)) {
            const end = text.indexOf('\n', at + 8)
            if (end === -1) break
            const kind = text.slice(at + 8, end)
            seen.set(kind, (seen.get(kind) ?? 0) + 1)
            if (kind === 'state' || kind === 'evaluations') resolve()
          }
          carry = text.slice(-32)
        })
      }),
    )
    if (format === 'evaluations') {
      const body = JSON.stringify({ context: { userId: `user-${i}`, tenantId: `tenant-${i % 10}` } })
      socket.write(
        `POST /stream/evaluations HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${BENCH_TOKEN}\r\nContent-Type: ` +
          `application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      )
    } else socket.write(`GET /stream?format=${format} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${BENCH_TOKEN}\r\n\r\n`)
    // A few at a time, as clients arrive.
    if (i % 50 === 49) await Promise.all(opened.slice(-50))
  }
  await Promise.all(opened)
  return {
    least: (kind) => Math.min(...counts.map((c) => c.get(kind) ?? 0)),
    close: () => sockets.forEach((s) => s.destroy()),
  }
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!
const list = (side: string) => Array.from({ length: 10_000 }, (_, i) => `${side}-${i}-`.padEnd(100, side))

/** The PATCH body that flips the large flag's state from what it is now (a PATCH that changes nothing sends no event). */
async function toggle(port: number): Promise<unknown> {
  const res = await fetch(`http://127.0.0.1:${port}/flags/big`, { headers: { authorization: `Bearer ${BENCH_TOKEN}` } })
  return { state: ((await res.json()) as { state: string }).state === 'enabled' ? 'beta_users' : 'enabled' }
}

/** Event-loop ms one change costs with the consumers open: median of `rounds` changes. */
async function changeCost(
  server: ChildServer,
  client: HttpClient,
  consumers: Consumers,
  kind: string,
  rounds: number,
  body: (i: number) => unknown | Promise<unknown>,
): Promise<number> {
  const costs: number[] = []
  for (let i = 0; i < rounds; i++) {
    const patch = await body(i)
    const before = consumers.least(kind)
    const { active: start } = await server.loopBusyMs()
    const res = await client.send('PATCH', '/flags/big', patch).catch(() => client.send('PATCH', '/flags/big', patch))
    if (res.status !== 200) throw new Error(`PATCH answered ${res.status}`)
    await until(() => consumers.least(kind) > before, 60_000, 'every consumer to receive the change')
    costs.push((await server.loopBusyMs()).active - start)
  }
  return Math.round(median(costs) * 10) / 10
}

export interface StreamResults {
  openCpuMicros: number
  toggleLoopMs: number
  swapLoopMs: number
  legacyToggleLoopMs: number
  quiet: LoadResult
  busy: LoadResult
  clientToggleLoopMs: number
  clientBusy: LoadResult
  /** PATCHes sent by the timers during the p99 runs, and how many failed. */
  toggles: number
  failedToggles: number
}

export async function streamCases(): Promise<StreamResults> {
  const server = await startChild('child-switchyard.ts', { BENCH_FLAGS: '1000' })
  const client = new HttpClient(`http://127.0.0.1:${server.port}`, BENCH_TOKEN, { maxSockets: 4 })
  try {
    // Opening a stream with 1,000 flags: the server's CPU per open, one at a time.
    const cpuBefore = await server.cpuMicros()
    const opens = 200
    const probe = await openConsumers(server.port, opens, 'patch')
    const openCpuMicros = Math.round(((await server.cpuMicros()) - cpuBefore) / opens)
    probe.close()

    const lists = [list('a'), list('b')]
    const created = await client.send('POST', '/flags', { key: 'big', state: 'beta_users', betaUsers: lists[0] })
    if (created.status !== 201) throw new Error(`POST /flags answered ${created.status}`)
    const consumers = await openConsumers(server.port, CONSUMERS, 'patch')
    const toggleLoopMs = await changeCost(server, client, consumers, 'patch', 5, () => toggle(server.port))
    const swapLoopMs = await changeCost(server, client, consumers, 'patch', 3, (i) => ({ betaUsers: lists[(i + 1) % 2] }))

    // Evaluate p99 while the large flag toggles twice a second, against the same without.
    await load({ port: server.port, path: '/evaluate', body: single, token: BENCH_TOKEN, seconds: 2 })
    const quiet = await load({ port: server.port, path: '/evaluate', body: single, token: BENCH_TOKEN, seconds: 5 })
    let toggles = 0
    let failedToggles = 0
    // A kept-alive socket the server closed meanwhile may fail one request: counted, not thrown.
    const flip = async () => {
      toggles++
      await client.send('PATCH', '/flags/big', await toggle(server.port)).catch(() => failedToggles++)
    }
    const timer = setInterval(() => void flip(), 500)
    const busy = await load({ port: server.port, path: '/evaluate', body: single, token: BENCH_TOKEN, seconds: 5 })
    clearInterval(timer)
    consumers.close()

    // The same toggle for consumers of whole flags (GET /stream without format=patch): reported, no target.
    const legacy = await openConsumers(server.port, CONSUMERS, 'flag')
    const legacyToggleLoopMs = await changeCost(server, client, legacy, 'change', 3, () => toggle(server.port))
    legacy.close()

    // 1,000 client streams (POST /stream/evaluations), each its own context: one change is one
    // evaluation and one small event per stream.
    const clients = await openConsumers(server.port, CONSUMERS, 'evaluations')
    const clientToggleLoopMs = await changeCost(server, client, clients, 'evaluation', 5, () => toggle(server.port))
    const clientTimer = setInterval(() => void flip(), 500)
    const clientBusy = await load({ port: server.port, path: '/evaluate', body: single, token: BENCH_TOKEN, seconds: 5 })
    clearInterval(clientTimer)
    clients.close()
    return { openCpuMicros, toggleLoopMs, swapLoopMs, legacyToggleLoopMs, quiet, busy, clientToggleLoopMs, clientBusy, toggles, failedToggles }
  } finally {
    client.close()
    await server.stop()
  }
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(JSON.stringify(await streamCases(), null, 2))
