import { connect } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Flag } from '../../packages/core/src/flags/schema.js'
import { data, fetchEvents, type EventStream } from '../support/sse.js'
import { ADMIN, bearer, call, createFlag, eventually, NotifyingStore, startApp, updateFlag } from '../support/helpers.js'

type OpenStream = EventStream

/** A GET /stream consumer that reads everything. */
function openStream(base: string, headers: Record<string, string> = {}, query = ''): Promise<OpenStream> {
  return fetchEvents(`${base}/stream${query}`, { headers: { ...bearer(ADMIN), ...headers } })
}

async function listen(app: FastifyInstance): Promise<string> {
  return app.listen({ port: 0, host: '127.0.0.1' })
}

describe('GET /stream', () => {
  let app: FastifyInstance
  let base: string
  const store = new NotifyingStore()
  const streams: OpenStream[] = []
  const open = async (headers?: Record<string, string>, query?: string) => {
    const s = await openStream(base, headers, query)
    streams.push(s)
    return s
  }

  beforeAll(async () => {
    app = await startApp({ streamHeartbeatMs: 50 }, { store })
    base = await listen(app)
    await createFlag(app, { key: 'alpha', state: 'enabled' })
    await createFlag(app, { key: 'beta', state: 'percentage', percentage: 12.5, betaUsers: ['u1'] })
  })

  afterAll(async () => {
    await Promise.all(streams.map((s) => s.close()))
    await app?.close()
  })

  it('starts with one state event holding every flag in full, its id the store seq', async () => {
    const s = await open()
    expect(s.status).toBe(200)
    expect(s.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    expect(s.headers.get('cache-control')).toContain('no-cache')
    await eventually(() => s.events.length >= 1)
    const [state] = s.events
    expect(state!.event).toBe('state')
    const body = data(state!)
    expect(state!.id).toBe(String(body.seq))
    expect(body.heartbeatMs).toBe(50)
    const listed = (await call(app, 'GET', '/flags?limit=1000', { expected: 200 })).json().flags as Flag[]
    expect([...body.flags].sort((a: Flag, b: Flag) => a.key.localeCompare(b.key))).toEqual(listed)
    expect(listed.map((f) => f.key)).toEqual(expect.arrayContaining(['alpha', 'beta']))
  })

  it('then sends one change event per create, update and delete, in order, with the flag in full', async () => {
    const s = await open()
    await eventually(() => s.events.length >= 1)
    const created = await createFlag(app, { key: 'gamma' })
    const updated = await updateFlag(app, 'gamma', { state: 'enabled' })
    await call(app, 'DELETE', '/flags/gamma', { expected: 204 })
    await eventually(() => s.events.length >= 4, 5000, 'three change events')
    const changes = s.events.slice(1)
    expect(changes.map((e) => e.event)).toEqual(['change', 'change', 'change'])
    expect(changes.map((e) => data(e).flag)).toEqual([created, updated, null])
    expect(changes.every((e) => data(e).key === 'gamma' && e.id === String(data(e).seq))).toBe(true)
    const ids = changes.map((e) => Number(e.id))
    expect(ids).toEqual([...ids].sort((a, b) => a - b))
    expect(ids[0]).toBeGreaterThan(Number(s.events[0]!.id))
  })

  it("sends heartbeat comments on an idle connection, the first before the state, each with the server's time", async () => {
    const before = app.switchyard.clock.now()
    const s = await open()
    const beats = () => [...s.raw().matchAll(/^: heartbeat (\d+)\n\n/gm)].map((m) => Number(m[1]))
    await eventually(() => beats().length > 3, 5000, 'three heartbeats')
    expect(s.raw().startsWith(': heartbeat ')).toBe(true)
    expect(s.events).toHaveLength(1)
    const times = beats()
    expect(times[0]).toBeGreaterThanOrEqual(before)
    expect(times).toEqual([...times].sort((a, b) => a - b))
    expect(times.at(-1)).toBeLessThanOrEqual(app.switchyard.clock.now())
  })

  it('with format=patch, sends each change as a patch on the version it was made from', async () => {
    const s = await open(undefined, '?format=patch')
    await eventually(() => s.events.length >= 1)
    const created = await createFlag(app, { key: 'epsilon', betaUsers: ['u1', 'u2'] })
    await updateFlag(app, 'epsilon', { state: 'enabled', betaUsers: ['u1', 'u2', 'u3'] })
    await call(app, 'DELETE', '/flags/epsilon', { expected: 204 })
    await eventually(() => s.events.length >= 4, 5000, 'three patch events')
    const [put, patch, deleted] = s.events.slice(1).map((e) => ({ event: e.event, ...data(e) }))
    expect(put).toMatchObject({ event: 'patch', key: 'epsilon', from: 0, patch: { op: 'put', value: created } })
    expect(patch).toMatchObject({ event: 'patch', key: 'epsilon', from: 1, patch: { op: 'patch', set: { state: 'enabled', version: 2 } } })
    expect(patch.patch.set.betaUsers ?? patch.patch.lists.betaUsers).toBeDefined()
    expect(deleted).toMatchObject({ event: 'patch', key: 'epsilon', from: 2, patch: { op: 'delete' } })
  })

  it('resumes from Last-Event-ID (format=patch) with exactly the changes missed', async () => {
    const first = await open(undefined, '?format=patch')
    await eventually(() => first.events.length >= 1)
    await first.close()
    const lastId = first.events[0]!.id!
    await createFlag(app, { key: 'delta' })
    await updateFlag(app, 'delta', { description: 'missed' })
    const resumed = await open({ 'last-event-id': lastId }, '?format=patch')
    await eventually(() => resumed.events.length >= 2)
    expect(resumed.events.map((e) => [e.event, data(e).key, data(e).from, data(e).patch.op])).toEqual([
      ['patch', 'delta', 0, 'put'],
      ['patch', 'delta', 1, 'patch'],
    ])
    // A resumption that missed nothing gets nothing but heartbeats.
    const upToDate = await open({ 'last-event-id': resumed.events[1]!.id! }, '?format=patch')
    await eventually(() => upToDate.raw().includes(': heartbeat'))
    expect(upToDate.events).toEqual([])
    // A consumer of whole flags resumes from a full state: the replay ring holds patches only.
    const legacy = await open({ 'last-event-id': lastId })
    await eventually(() => legacy.events.length >= 1)
    expect(legacy.events[0]!.event).toBe('state')
    expect(data(legacy.events[0]!).flags.find((f: Flag) => f.key === 'delta').version).toBe(2)
  })

  it('falls back to a full state for an unknown, malformed or too old Last-Event-ID', async () => {
    const s = await open()
    await eventually(() => s.events.length >= 1)
    const oldId = s.events[0]!.id!
    // More changes than the replay ring keeps (1024).
    await createFlag(app, { key: 'churn' })
    for (let i = 0; i < 1030; i++) await updateFlag(app, 'churn', { description: `v${i}` })
    await eventually(() => s.events.length >= 1032, 10_000, 'every change live')
    for (const id of [oldId, '987654321', 'not-a-number']) {
      const again = await open({ 'last-event-id': id })
      await eventually(() => again.events.length >= 1)
      expect(again.events[0]!.event, id).toBe('state')
      expect(data(again.events[0]!).flags.find((f: Flag) => f.key === 'churn').description).toBe('v1029')
      await again.close()
    }
    // A recent id is still held: replay, not state.
    const recent = await open({ 'last-event-id': s.events[s.events.length - 3]!.id! }, '?format=patch')
    await eventually(() => recent.events.length >= 2)
    expect(recent.events.map((e) => e.event)).toEqual(['patch', 'patch'])
  })

  it('sends a new state event to open streams when the registry is resynced from the store', async () => {
    const s = await open()
    await eventually(() => s.events.length >= 1)
    store.notify({ type: 'resync', snapshot: await store.load() })
    await eventually(() => s.events.length >= 2)
    expect(s.events[1]!.event).toBe('state')
    // The ring no longer bridges to ids from before the resync.
    const resumed = await open({ 'last-event-id': s.events[0]!.id! })
    await eventually(() => resumed.events.length >= 1)
    expect(resumed.events[0]!.event).toBe('state')
  })

  it('needs a token', async () => {
    const res = await fetch(`${base}/stream`)
    expect(res.status).toBe(401)
    expect(await res.json()).toMatchObject({ code: 'UNAUTHORIZED' })
  })
})

describe('GET /stream with a consumer that stops reading', () => {
  it('drops that consumer once it is a bounded amount behind, keeps the others, and releases it', async () => {
    const app = await startApp({ streamMaxBuffer: 65_536 })
    try {
      const base = await listen(app)
      const { port } = new URL(base)
      // ~1 MB per change event: a few fill the socket buffers of a reader that stopped.
      const betaUsers = Array.from({ length: 10_000 }, (_, i) => `user-${String(i).padStart(95, '0')}`)
      await createFlag(app, { key: 'big', state: 'beta_users', betaUsers })
      const healthy = await openStream(base)

      const slow = connect(Number(port), '127.0.0.1')
      let received = ''
      let closed = false
      slow.on('close', () => (closed = true))
      slow.on('error', () => undefined)
      slow.write(`GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${ADMIN}\r\n\r\n`)
      await new Promise<void>((resolve) => {
        slow.on('data', function first(chunk: Buffer) {
          received += chunk.toString()
          if (!received.includes('event: state')) return
          slow.off('data', first)
          slow.pause()
          resolve()
        })
      })
      await eventually(() => app.switchyard.stream.size === 2)

      let changes = 0
      while (app.switchyard.stream.size === 2) {
        expect(changes, 'the stalled consumer was never dropped').toBeLessThan(200)
        await updateFlag(app, 'big', { description: `v${changes++}` })
        // Paced on the reading consumer, so only the stalled one can fall behind however slow the machine.
        await eventually(() => healthy.events.length >= changes + 1, 10_000, 'the reading consumer to receive the change')
      }
      expect(app.switchyard.stream.size).toBe(1)
      // The server let go of the socket: only the healthy consumer's connection is left.
      await eventually(
        () => new Promise<boolean>((resolve) => app.server.getConnections((_err, count) => resolve(count === 1))),
        5000,
        'the server to close the stalled socket',
      )
      // The healthy consumer got every change.
      await eventually(() => healthy.events.length === changes + 1, 10_000, 'every change on the healthy stream')
      expect(data(healthy.events[changes]!).flag.description).toBe(`v${changes - 1}`)
      // Once the stalled reader drains what was in flight, it finds the connection closed.
      slow.resume()
      slow.on('data', () => undefined)
      await eventually(() => closed, 10_000, 'the stalled socket to close')
      await healthy.close()
    } finally {
      await app.close()
    }
  })
})

describe('GET /stream at shutdown', () => {
  it('does not hold up app.close(): open streams are ended', async () => {
    const app = await startApp()
    const base = await listen(app)
    const s = await openStream(base)
    await eventually(() => s.events.length >= 1)
    await app.close()
    await eventually(() => s.ended(), 5000, 'the stream to end')
    expect(app.switchyard.stream.size).toBe(0)
  })
})
