// The harness of the guard suites (test/api/guards*.test.ts): an HTTP metric source the test
// serves, an app whose store clock the test moves (and which paces the guard's samples), and a
// store whose fenced commits can be made to fail. Each sample is taken when the test says.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest'
import { StoreClock } from '../../packages/server/src/replica/clock.js'
import type { GuardRunner } from '../../packages/server/src/guards/runner.js'
import { MemoryStore } from '../../packages/server/src/store/memory.js'
import { StoreUnavailableError } from '../../packages/server/src/store/errors.js'
import type { Change, Write } from '../../packages/server/src/store/store.js'
import type { Flag } from '../../packages/core/src/flags/schema.js'
import { createFlag, startApp } from './helpers.js'
import { T0, MINUTE, at } from './schedule-time.js'

export const SECOND = 1000
/** A ramp from 10 % at T0 to 100 % in 90 minutes, in 10-minute steps (10, 20, 30 … %). */
export const RAMP = { from: 10, to: 100, start: at(T0), end: at(T0 + 90 * MINUTE), interval: '10m' }
/** A guard on the test's source: a breach above 0.05, every 15 s, three in a row roll back. */
export const GUARD = { source: 'errors', query: 'checkout', comparator: '>', threshold: 0.05, interval: '15s', breaches: 3, action: 'rollback' }

/** A store whose next `failFenced` fenced (guard) commits fail as an unreachable Redis would fail them. */
export class FlakyStore extends MemoryStore {
  failFenced = 0
  override commit(write: Write): Promise<Change> {
    if (write.kind === 'flag' && write.fence && this.failFenced > 0) {
      this.failFenced--
      return Promise.reject(new StoreUnavailableError('Redis did not answer; nothing was changed'))
    }
    return super.commit(write)
  }
}

export interface GuardHarness {
  /** What the source answers: `metric`, an HTTP 503 while `failing`, `rawBody` as JSON, each after `gate` resolves. */
  metric: number
  failing: boolean
  rawBody: string | undefined
  gate: Promise<void> | undefined
  /** The requests the source got, and the `query` of each. */
  requests: number
  readonly queries: string[]
  /** The store's clock. */
  now: number
  readonly app: FastifyInstance
  readonly runner: GuardRunner
  readonly store: FlakyStore
  sourceUrl(): string
  /** Moves the store's clock to `ms` and lets every guard due by then (of `runner`) take its sample and act on it. */
  sampleAt(ms: number, runner?: GuardRunner): Promise<void>
  /** Creates flag `checkout` with a running `ramp` and `guard`, and lets the guard take its first sample. */
  guardedFlag(guard?: Record<string, unknown>, ramp?: Record<string, unknown>): Promise<Flag>
}

/** Registers the hooks of a guard suite: one source for the file, a fresh app and store per test. */
export function useGuardHarness(): GuardHarness {
  let source: Server
  let port = 0
  let app: FastifyInstance
  let store: FlakyStore
  const h = {
    metric: 0,
    failing: false,
    rawBody: undefined,
    gate: undefined,
    requests: 0,
    queries: [],
    now: T0,
    get app() {
      return app
    },
    get runner() {
      return app.switchyard.guards!
    },
    get store() {
      return store
    },
    sourceUrl: () => `http://127.0.0.1:${port}/error-ratio`,
    async sampleAt(ms: number, runner = h.runner) {
      h.now = ms
      runner.tick()
      await runner.settled()
    },
    async guardedFlag(guard: Record<string, unknown> = GUARD, ramp: Record<string, unknown> = RAMP) {
      const flag = (await createFlag(app, { key: 'checkout', schedule: { ramp, guard } })) as Flag
      h.runner.tick()
      await h.runner.settled()
      return flag
    },
  } as GuardHarness
  beforeAll(async () => {
    source = createServer((req, res) => {
      h.requests++
      h.queries.push(new URL(req.url!, 'http://x').searchParams.get('query') ?? '')
      void (async () => {
        if (h.gate) await h.gate
        if (h.failing) res.writeHead(503).end('down')
        else if (h.rawBody !== undefined) res.writeHead(200, { 'content-type': 'application/json' }).end(h.rawBody)
        else res.writeHead(200, { 'content-type': 'text/plain' }).end(String(h.metric))
      })()
    })
    await new Promise<void>((resolve) => source.listen(0, '127.0.0.1', resolve))
    port = (source.address() as AddressInfo).port
  })
  afterAll(async () => {
    await new Promise((resolve) => source.close(resolve))
  })
  beforeEach(async () => {
    Object.assign(h, { now: T0, metric: 0, failing: false, rawBody: undefined, gate: undefined, requests: 0 })
    h.queries.length = 0
    store = new FlakyStore()
    app = await startApp({ guardSources: [{ name: 'errors', kind: 'http', url: h.sourceUrl() }] }, { clock: new StoreClock(() => h.now), store })
  })
  afterEach(async () => {
    h.gate = undefined
    await app.close()
  })
  return h
}
