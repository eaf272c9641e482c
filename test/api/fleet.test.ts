// The fleet view and staleness (issue 15): GET /admin/fleet from the replicas' heartbeats, the
// recovery routes refusing a store that did not diverge, and a replica that no longer hears from
// its store saying so in /healthz, OFREP and metrics.
import { afterEach, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { MemoryStore } from '../../packages/server/src/store/memory.js'
import type { ReplicaBeat } from '../../packages/server/src/store/store.js'
import { call, createFlag, eventually, startApp } from '../support/helpers.js'

let app: FastifyInstance
afterEach(() => app.close())

describe('GET /admin/fleet', () => {
  it('lists this replica with its revision, epoch and state hash, and flags another that holds a different state at the same revision', async () => {
    app = await startApp()
    await createFlag(app, { key: 'counted' })
    const fleet = (await call(app, 'GET', '/admin/fleet', { expected: 200 })).json()
    const [self] = fleet.replicas
    expect(fleet).toMatchObject({ counter: 1, consistent: true })
    expect(self).toMatchObject({ self: true, revision: 1, lag: 0, epoch: fleet.epoch, status: 'up', stale: false, hashMismatch: false })
    expect(self.stateHash).toMatch(/^[0-9a-f]{16}$/)
    expect(self.uptimeSeconds).toBeGreaterThanOrEqual(0)
    expect(Date.parse(self.startedAt)).toBeLessThanOrEqual(Date.parse(self.lastBeatAt))

    // Another replica at the same revision that holds something else: one of them missed a change.
    const other: ReplicaBeat = { ...self, id: 'other-replica', stateHash: '0123456789abcdef' }
    delete (other as Partial<typeof self>).self
    for (const field of ['lag', 'hashMismatch', 'lastBeatAt', 'uptimeSeconds']) delete (other as Record<string, unknown>)[field]
    await app.switchyard.store.beat(other)
    const mismatched = (await call(app, 'GET', '/admin/fleet', { expected: 200 })).json()
    expect(mismatched.consistent).toBe(false)
    expect(mismatched.replicas.map((r: { id: string; hashMismatch: boolean }) => [r.id, r.hashMismatch])).toEqual(
      [
        ['other-replica', true],
        [self.id, true],
      ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    )
  })

  it('the state hash is the same for the same records, whether they came one by one or in a snapshot', async () => {
    const store = new MemoryStore()
    app = await startApp({}, { store })
    for (const key of ['a_flag', 'b_flag']) await createFlag(app, { key })
    // A second replica of the same store loads both at once.
    const second = await startApp({}, { store })
    try {
      const hash = async (replica: FastifyInstance) => (await call(replica, 'GET', '/admin/fleet', { expected: 200 })).json().replicas[0].stateHash
      expect(await hash(second)).toBe(await hash(app))
      // The memory store tells no other replica: the second one now holds another state.
      await call(app, 'PATCH', '/flags/a_flag', { body: { state: 'enabled' }, expected: 200 })
      expect(await hash(second)).not.toBe(await hash(app))
    } finally {
      await second.close()
    }
  })

  it('needs an admin token', async () => {
    app = await startApp()
    await call(app, 'GET', '/admin/fleet', { token: null, expected: 401 })
  })
})

describe('recovery routes on a store that did not diverge', () => {
  it('refuse with 409 STORE_NOT_DIVERGED and change nothing', async () => {
    app = await startApp()
    await createFlag(app, { key: 'untouched' })
    for (const url of ['/admin/reseed', '/admin/accept-store']) {
      expect((await call(app, 'POST', url, { expected: 409 })).json()).toMatchObject({ code: 'STORE_NOT_DIVERGED' })
    }
    expect((await call(app, 'GET', '/audit', { expected: 200 })).json().events).toHaveLength(1)
  })
})

class SilentStore extends MemoryStore {
  override async beat(): Promise<number> {
    throw new Error('the store does not answer')
  }
}

describe('a replica that hears nothing from its store', () => {
  it('marks itself stale in /healthz, in OFREP metadata and in metrics once STALE_AFTER_MS has passed', async () => {
    app = await startApp({ staleAfterMs: 2000 }, { store: new SilentStore() })
    await createFlag(app, { key: 'served', state: 'enabled' })
    const ofrep = async () => (await call(app, 'POST', '/ofrep/v1/evaluate/flags/served', { body: { context: { targetingKey: 'u' } }, expected: 200 })).json()
    expect((await ofrep()).metadata).toEqual({ version: 1, switchyardReason: 'enabled' })
    await eventually(
      async () => (await call(app, 'GET', '/healthz', { token: null, expected: 200 })).json().stale === true,
      10_000,
      'the replica to call itself stale',
    )
    expect((await ofrep()).metadata).toEqual({ version: 1, switchyardReason: 'enabled', stale: true })
    const bulk = (await call(app, 'POST', '/ofrep/v1/evaluate/flags', { body: { context: { targetingKey: 'u' } }, expected: 200 })).json()
    expect(bulk.flags[0].metadata.stale).toBe(true)
    expect((await call(app, 'GET', '/metrics', { expected: 200 })).body).toMatch(/^switchyard_stale 1$/m)
  })
})
