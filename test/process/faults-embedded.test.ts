// Faults on the embedded store, with the real server in a child process: SIGTERM in the middle
// of load (in-flight requests finish, nothing half-written, exit 0), and kill -9 in the middle of
// a burst of writes (what is stored is the state after some prefix of the writes, never corrupt).
import { readdirSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { DATA_FILE, FileStore } from '../../packages/server/src/store/file.js'
import { eventually, startServer, tempDir, type ServerProcess } from '../support/helpers.js'
import { HttpClient } from '../support/http.js'
import { runLoad, type Outcome } from '../support/soak-helpers.js'

const ADMIN_TOKEN = 'faults-admin-token-0123456789'

interface DataFile {
  seq: number
  flags: { key: string; version: number; description: string }[]
  audit: { seq: number; action: string; flag?: string; version?: number; changes: Record<string, { before?: unknown; after?: unknown }> }[]
}

/** What a restart loads from the data directory: the data file with its journal replayed. */
async function readStored(dir: string): Promise<DataFile> {
  const store = new FileStore(dir, { readOnly: true })
  const { seq, flags } = await store.load()
  const { events } = await store.readAudit({ limit: Number.MAX_SAFE_INTEGER })
  return { seq, flags, audit: events.reverse() } as DataFile
}

/** The data file tells one consistent story: each flag's version is its audit events' count. */
function expectConsistent(data: DataFile): void {
  expect(data.audit.map((e) => e.seq)).toEqual([...data.audit.map((e) => e.seq)].sort((a, b) => a - b))
  expect(data.audit.at(-1)?.seq).toBe(data.seq)
  for (const flag of data.flags) {
    const events = data.audit.filter((e) => e.flag === flag.key)
    expect(events.map((e) => e.version)).toEqual(Array.from({ length: flag.version }, (_, i) => i + 1))
    const lastDescription = [...events].reverse().find((e) => e.changes.description)?.changes.description?.after ?? ''
    expect(flag.description).toBe(lastDescription)
  }
}

const descriptionsOf = (data: DataFile, key: string) =>
  data.audit.filter((e) => e.flag === key && e.action === 'flag.updated' && e.changes.description).map((e) => e.changes.description!.after as string)

const servers: ServerProcess[] = []
const dirs: { remove(): void }[] = []
const clients: HttpClient[] = []
afterEach(async () => {
  for (const client of clients.splice(0)) client.close()
  for (const server of servers.splice(0)) await server.stop('SIGKILL').catch(() => undefined)
  for (const dir of dirs.splice(0)) dir.remove()
})

async function start(dataDir: string): Promise<{ server: ServerProcess; client: HttpClient }> {
  const server = await startServer({ ADMIN_TOKEN, DATA_DIR: dataDir, LOG_LEVEL: 'info' })
  servers.push(server)
  const client = new HttpClient(server.url, ADMIN_TOKEN)
  clients.push(client)
  return { server, client }
}

/** Resolves once a new connection to the server is refused: it has stopped accepting. */
function refusesConnections(url: string): Promise<boolean> {
  const { port } = new URL(url)
  return new Promise((resolve) => {
    const socket = connect(Number(port), '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(false)
    })
    socket.once('error', () => resolve(true))
  })
}

/**
 * A PATCH whose body is sent in two halves. `Expect: 100-continue` makes the server confirm it
 * has the request before the test goes on, so the request is provably in flight.
 */
async function halfSentPatch(url: string, key: string, body: object): Promise<{ socket: Socket; finish(): Promise<string> }> {
  const { port } = new URL(url)
  const payload = JSON.stringify(body)
  const socket = connect(Number(port), '127.0.0.1')
  let answer = ''
  socket.on('data', (chunk) => (answer += chunk.toString()))
  await new Promise((resolve) => socket.once('connect', resolve))
  socket.write(
    `PATCH /flags/${key} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${ADMIN_TOKEN}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(payload)}\r\nExpect: 100-continue\r\n\r\n`,
  )
  await eventually(() => answer.startsWith('HTTP/1.1 100'), 10_000, '100 Continue')
  socket.write(payload.slice(0, 5))
  return {
    socket,
    async finish() {
      // No half-close (end): an HTTP client that sends FIN early tells the server it is gone.
      const ended = new Promise((resolve) => socket.once('close', resolve))
      socket.write(payload.slice(5))
      await ended
      return answer.replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, '')
    },
  }
}

describe('SIGTERM during load (embedded store)', () => {
  it('finishes in-flight requests, leaves no half-written change, and exits 0', async () => {
    const dir = tempDir()
    dirs.push(dir)
    const { server, client } = await start(dir.path)
    for (const key of ['checkout', 'search']) await client.json('POST', '/flags', { key, state: 'percentage', percentage: 50 }, 201)

    let terminated = 0
    let completed = 0
    const load = runLoad({ clients: [client], flags: ['checkout', 'search'], workers: 12, patchShare: 0.1, stop: () => false, stopOnNetworkError: true }).then(
      (outcomes) => outcomes,
    )
    // Warm load first, counted in answers rather than time.
    await eventually(async () => (await client.send('GET', '/healthz')).status === 200 && ++completed > 20, 20_000, 'the load to run')
    const inFlight = await halfSentPatch(server.url, 'checkout', { description: 'in-flight' })

    terminated = Date.now()
    server.child.kill('SIGTERM')
    await eventually(() => refusesConnections(server.url), 15_000, 'the server to stop accepting connections')
    const answer = await inFlight.finish()
    expect(answer).toMatch(/^HTTP\/1\.1 200 /)
    expect(await server.exited).toBe(0)
    const outcomes: Outcome[] = await load

    // Before the signal everything answered 200; after it, 200, 503 or no connection: never a 500.
    expect(outcomes.length).toBeGreaterThan(50)
    const early = outcomes.filter((o) => o.endedAt < terminated)
    expect(early.filter((o) => o.status !== 200)).toEqual([])
    expect(outcomes.filter((o) => o.status !== undefined && ![200, 503].includes(o.status))).toEqual([])
    expect(outcomes.filter((o) => o.error !== undefined && o.startedAt < terminated - 1000)).toEqual([])

    // A clean shutdown folds the journal into the data file.
    expect(readdirSync(dir.path)).toEqual([DATA_FILE])
    // Every PATCH answered 200 is stored exactly once; nothing is there that was not answered 200.
    const data = await readStored(dir.path)
    expectConsistent(data)
    const stored = [...descriptionsOf(data, 'checkout'), ...descriptionsOf(data, 'search')]
    const acknowledged = outcomes.filter((o) => o.kind === 'patch' && o.status === 200).map((o) => o.mark!)
    expect(acknowledged.length).toBeGreaterThan(0)
    expect([...stored].sort()).toEqual([...acknowledged, 'in-flight'].sort())
    expect(server.stdout()).toContain('shutting down')
  })
})

describe('kill -9 during a burst of writes (embedded store)', () => {
  it('leaves the stored state at the state after some prefix of the writes, every time', async () => {
    const dir = tempDir()
    dirs.push(dir)
    const acknowledged: string[] = []
    const sent: string[] = []
    for (const [round, killAfter] of [50, 120, 200].entries()) {
      // Each start after the first is also the proof that the last kill left a loadable file.
      const { server, client } = await start(dir.path)
      if (round === 0) await client.json('POST', '/flags', { key: 'burst' }, 201)
      const before = await readStored(dir.path)
      expect((await client.json<{ version: number }>('GET', '/flags/burst')).version).toBe(before.flags[0]!.version)

      let acked = 0
      const burst = Array.from({ length: 8 }, async (_, w) => {
        for (let i = 0; ; i++) {
          const mark = `r${round}-w${w}-${i}`
          sent.push(mark)
          try {
            const answer = await client.send('PATCH', '/flags/burst', { description: mark })
            if (answer.status !== 200) throw new Error(`PATCH answered ${answer.status}: ${answer.body}`)
            acknowledged.push(mark)
            if (++acked === killAfter) server.child.kill('SIGKILL')
          } catch (err) {
            if ((err as Error).message.startsWith('PATCH answered')) throw err
            return
          }
        }
      })
      await Promise.all(burst)
      await server.exited

      const data = await readStored(dir.path)
      expectConsistent(data)
      const stored = descriptionsOf(data, 'burst')
      // Durable: every acknowledged write is there (it was fsynced before the answer) ...
      expect(stored.filter((d) => acknowledged.includes(d)).length).toBe(acknowledged.length)
      // ... each once, and nothing that was never sent.
      expect(new Set(stored).size).toBe(stored.length)
      expect(stored.every((d) => sent.includes(d))).toBe(true)
      // At most the writes in flight at the kill went further than the acknowledgements.
      expect(stored.length - acknowledged.length).toBeLessThanOrEqual(8)
    }
    const { client } = await start(dir.path)
    const data = await readStored(dir.path)
    expect(await client.json('GET', '/flags/burst')).toMatchObject({ version: data.flags[0]!.version, description: data.flags[0]!.description })
    expect((await client.json<{ enabled: boolean }>('POST', '/evaluate', { flag: 'burst' })).enabled).toBe(false)
  })
})
