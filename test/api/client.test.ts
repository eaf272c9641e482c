import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { join } from 'node:path'
import fc from 'fast-check'
import type { FastifyInstance } from 'fastify'
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { createClient, SwitchyardClientError, type Context, type FlagChange, type SwitchyardClient } from '../../packages/sdk/src/index.js'
import { FLAG_DEFAULTS } from '../../packages/core/src/flags/schema.js'
import { compileFlag } from '../../packages/core/src/evaluation/engine.js'
import { FileStore } from '../../packages/server/src/store/file.js'
import { MemoryStore } from '../../packages/server/src/store/memory.js'
import { ADMIN, call, createFlag, createToken, eventually, startApp, tempDir, updateFlag } from '../support/helpers.js'

const FAST_RECONNECT = { minDelayMs: 20, maxDelayMs: 200 }

// Every client a test creates is closed after it, whatever the outcome.
const clients: SwitchyardClient[] = []
async function connect(url: string, token = ADMIN, extra: { onChange?: (c: FlagChange) => void } = {}) {
  const client = await createClient({ url, token, reconnect: FAST_RECONNECT, ...extra })
  clients.push(client)
  return client
}
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
})

async function listen(app: FastifyInstance, port = 0): Promise<string> {
  return app.listen({ port, host: '127.0.0.1' })
}

describe('createClient', () => {
  let app: FastifyInstance
  let url: string

  beforeAll(async () => {
    app = await startApp({ streamHeartbeatMs: 1000 })
    url = await listen(app)
    await createFlag(app, { key: 'copilot_v2', state: 'beta_users', betaUsers: ['alice'] })
  })
  afterAll(async () => {
    await app?.close()
  })

  it('fetches the state and answers isEnabled synchronously, the fallback for an unknown flag', async () => {
    const { token } = await createToken(app, 'sdk', 'evaluate')
    const flags = await connect(url, token)
    expect(flags.connected).toBe(true)
    expect(flags.isEnabled('copilot_v2', { userId: 'alice' })).toBe(true)
    expect(flags.isEnabled('copilot_v2', { userId: 'bob' })).toBe(false)
    expect(flags.isEnabled('copilot_v2')).toBe(false)
    expect(flags.isEnabled('nope', { userId: 'alice' })).toBe(false)
    expect(flags.isEnabled('nope', { userId: 'alice' }, true)).toBe(true)
    expect(flags.evaluate('nope')).toEqual({ flag: 'nope', enabled: false, reason: 'flag_not_found' })
    expect(flags.flag('copilot_v2')).toMatchObject({ key: 'copilot_v2', version: 1 })
    // The state names the store epoch it comes from (issue 15).
    expect(flags.epoch).toBe(app.switchyard.sync.epoch)
    expect(flags.epoch).toMatch(/^[A-Za-z0-9_-]{16}$/)
  })

  it('follows creates, updates and deletes, telling onChange and listeners', async () => {
    const fromOption: FlagChange[] = []
    const fromListener: FlagChange[] = []
    const flags = await connect(url, ADMIN, { onChange: (c) => fromOption.push(c) })
    const remove = flags.onChange((c) => fromListener.push(c))
    await createFlag(app, { key: 'followed' })
    await eventually(() => flags.flag('followed') !== undefined)
    await updateFlag(app, 'followed', { state: 'enabled' })
    await eventually(() => flags.isEnabled('followed'))
    remove()
    await call(app, 'DELETE', '/flags/followed', { expected: 204 })
    await eventually(() => flags.flag('followed') === undefined)
    expect(fromOption.map((c) => c.keys)).toEqual([['followed'], ['followed'], ['followed']])
    expect(fromListener).toHaveLength(2)
    expect(fromOption[2]!.seq).toBeGreaterThan(fromOption[0]!.seq)
  })

  it('rejects at once for a token the server refuses', async () => {
    // A timeout far past the test's own: only a rejection that does not wait for it passes.
    const err = await createClient({ url, token: 'wrong-token-0123456789', timeoutMs: 10 * 60_000 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(SwitchyardClientError)
    expect((err as SwitchyardClientError).status).toBe(401)
  })

  // Finding: pointed at a wrong URL with an evaluate token the SDK said 403 (unknown routes needed
  // an admin token), which sent the user hunting for a scope problem.
  it('says there is no Switchyard API at a URL that answers 404 to its valid token', async () => {
    const { token } = await createToken(app, 'sdk-wrong-url', 'evaluate')
    const err = await createClient({ url: `${url}/api/v1`, token, timeoutMs: 10 * 60_000 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(SwitchyardClientError)
    expect((err as SwitchyardClientError).status).toBe(404)
    expect((err as Error).message).toContain('no Switchyard API at this URL')
  })

  describe('starting while Switchyard is out of reach: bootstrap and persistTo (issue 17)', () => {
    /** A URL where nothing listens now, and the app to start there later. */
    async function deadUrl() {
      const later = await startApp({ streamHeartbeatMs: 1000 })
      const dead = await listen(later)
      await later.close()
      return { url: dead, port: Number(new URL(dead).port) }
    }
    const snapshot = { flags: [{ key: 'copilot_v2', state: 'beta_users' as const, betaUsers: ['alice'] }, { key: 'dark' }] }

    /** A client started on `snapshot` where nothing listens yet; its errors and changes as they come. */
    async function onBootstrap() {
      const { url: dead, port } = await deadUrl()
      const errors: Error[] = []
      const changes: FlagChange[] = []
      // A timeout far past the test's: only an answer that does not wait for it passes.
      const flags = await createClient({
        url: dead,
        token: ADMIN,
        bootstrap: snapshot,
        timeoutMs: 10 * 60_000,
        reconnect: FAST_RECONNECT,
        onError: (e) => errors.push(e),
        onChange: (c) => changes.push(c),
      })
      clients.push(flags)
      return { flags, port, errors, changes }
    }

    /** Switchyard comes up where the client looks, with copilot_v2 on for everyone. */
    async function switchyardAt(port: number) {
      const server = await startApp({ streamHeartbeatMs: 1000 })
      onTestFinished(() => server.close())
      await createFlag(server, { key: 'copilot_v2', state: 'enabled' })
      await listen(server, port)
    }

    it('answers from a bootstrap object at once when the server cannot be reached, then from the stream once it can', async () => {
      const { flags, port, errors, changes } = await onBootstrap()
      expect(flags.source).toBe('bootstrap')
      expect(flags.connected).toBe(false)
      expect(flags.isEnabled('copilot_v2', { userId: 'alice' })).toBe(true)
      expect(flags.isEnabled('copilot_v2', { userId: 'bob' })).toBe(false)
      expect(flags.evaluate('dark')).toMatchObject({ enabled: false, reason: 'disabled', version: 0 })
      expect(errors.some((e) => /answering from the bootstrap state until the stream connects/.test(e.message))).toBe(true)

      // Switchyard comes up where the client looks: the live state replaces the bootstrap.
      await switchyardAt(port)
      await eventually(() => flags.source === 'stream', 10_000, 'the stream to connect')
      expect(flags.isEnabled('copilot_v2', { userId: 'bob' })).toBe(true)
      expect(flags.flag('dark')).toBeUndefined()
      expect(changes.at(-1)!.keys.sort()).toEqual(['copilot_v2', 'dark'])
    })

    it('saves each state to persistTo and answers from it at the next start, before the bootstrap', async () => {
      const dir = tempDir('switchyard-sdk-state-')
      onTestFinished(() => dir.remove())
      const file = join(dir.path, 'flags-state.json')
      // The client saves what it receives, the first state and every change after it.
      const saving = await createClient({ url, token: ADMIN, persistTo: file, reconnect: FAST_RECONNECT })
      clients.push(saving)
      await createFlag(app, { key: 'persisted_flag', state: 'enabled' })
      await eventually(() => existsSync(file) && readFileSync(file, 'utf8').includes('persisted_flag'), 10_000, 'the state to be saved')
      await saving.close()

      const { url: dead } = await deadUrl()
      const restarted = await createClient({ url: dead, token: ADMIN, persistTo: file, bootstrap: snapshot, timeoutMs: 10 * 60_000, reconnect: FAST_RECONNECT })
      clients.push(restarted)
      expect(restarted.source).toBe('saved')
      expect(restarted.isEnabled('persisted_flag')).toBe(true)
      expect(restarted.flag('persisted_flag')?.version).toBe(1)
      expect(restarted.epoch).toBe(app.switchyard.sync.epoch)
    })

    it('reads a bootstrap file as flagctl export writes it (JSON), and refuses one it cannot use, naming the problem', async () => {
      const dir = tempDir('switchyard-sdk-bootstrap-')
      onTestFinished(() => dir.remove())
      const file = join(dir.path, 'flags.json')
      writeFileSync(file, JSON.stringify({ version: 1, flags: [{ key: 'from_file', state: 'percentage', percentage: 100 }] }))
      const { url: dead } = await deadUrl()
      const flags = await createClient({ url: dead, token: ADMIN, bootstrap: file, timeoutMs: 10 * 60_000, reconnect: FAST_RECONNECT })
      clients.push(flags)
      expect(flags.isEnabled('from_file', { userId: 'anyone' })).toBe(true)

      writeFileSync(file, JSON.stringify({ flags: [{ key: 'bad', state: 'sideways' }] }))
      await expect(createClient({ url: dead, token: ADMIN, bootstrap: file })).rejects.toThrow(
        `bootstrap ${file}: flags[0].state must be one of enabled, disabled, beta_users, percentage`,
      )
      await expect(createClient({ url: dead, token: ADMIN, bootstrap: join(dir.path, 'flags.yaml') })).rejects.toThrow('the SDK reads JSON only')
    })

    it('never overwrites a persistTo file it did not write (say, the bootstrap file itself)', async () => {
      const dir = tempDir('switchyard-sdk-foreign-')
      onTestFinished(() => dir.remove())
      const file = join(dir.path, 'flags.json')
      const text = JSON.stringify(snapshot)
      writeFileSync(file, text)
      const errors: Error[] = []
      const flags = await createClient({ url, token: ADMIN, persistTo: file, bootstrap: file, reconnect: FAST_RECONNECT, onError: (e) => errors.push(e) })
      clients.push(flags)
      expect(flags.source).toBe('stream')
      await createFlag(app, { key: 'after_foreign' })
      await eventually(() => flags.flag('after_foreign') !== undefined, 10_000, 'the change')
      await flags.close()
      expect(readFileSync(file, 'utf8')).toBe(text)
      expect(errors.map((e) => e.message)).toContain(
        `persistTo ${file} was not written by this SDK: it is neither used nor overwritten (point persistTo at a file of its own)`,
      )
    })

    // Review finding: a client answering from its bootstrap took a 404 (an ingress mid-deploy) as
    // fatal and never connected again.
    it('keeps retrying through a 404 once it answers from its bootstrap, and connects when Switchyard is there', async () => {
      const { flags, port, errors } = await onBootstrap()
      expect(flags.source).toBe('bootstrap')
      const ingress = createServer((_req, res) => res.writeHead(404).end('default backend - 404'))
      await new Promise<void>((resolve) => ingress.listen(port, '127.0.0.1', resolve))
      await eventually(() => errors.some((e) => (e as SwitchyardClientError).status === 404), 10_000, 'a 404 from the ingress')
      await new Promise<void>((resolve) => ingress.close(() => resolve()))
      await switchyardAt(port)
      await eventually(() => flags.source === 'stream', 10_000, 'the stream to connect after the 404s')
      expect(flags.isEnabled('copilot_v2', { userId: 'bob' })).toBe(true)
    })

    it('still rejects a token the server refuses, bootstrap or not', async () => {
      const err = await createClient({ url, token: 'wrong-token-0123456789', bootstrap: snapshot, timeoutMs: 10 * 60_000 }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(SwitchyardClientError)
      expect((err as SwitchyardClientError).status).toBe(401)
    })
  })

  it('rejects after its timeout when nothing answers', async () => {
    const down = await startApp()
    const deadUrl = await listen(down)
    await down.close()
    const err = await createClient({ url: deadUrl, token: ADMIN, timeoutMs: 300, reconnect: FAST_RECONNECT }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(SwitchyardClientError)
    expect((err as Error).message).toContain('within 300 ms')
  })

  it('close() ends the stream, stops listening, and leaves no timer or socket behind', async () => {
    const resources = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout' || r === 'TCPSocketWrap').length
    const before = resources()
    const changes: FlagChange[] = []
    const flags = await createClient({ url, token: ADMIN, onChange: (c) => changes.push(c) })
    await eventually(() => app.switchyard.stream.size === 1)
    await flags.close()
    await flags.close()
    expect(flags.connected).toBe(false)
    await eventually(() => app.switchyard.stream.size === 0, 5000, 'the server to see the stream end')
    await createFlag(app, { key: 'after_close', state: 'enabled' })
    expect(changes).toEqual([])
    expect(flags.isEnabled('copilot_v2', { userId: 'alice' })).toBe(true)
    await eventually(() => resources() <= before, 5000, 'timers and sockets to be released')
  })
})

describe('createClient on a stream of change patches', () => {
  it('applies patches to large lists and follows a toggle with a patch of a few hundred bytes', async () => {
    const app = await startApp({ streamHeartbeatMs: 1000 })
    try {
      const url = await listen(app)
      const betaUsers = Array.from({ length: 10_000 }, (_, i) => `user-${i}`)
      await createFlag(app, { key: 'big', state: 'beta_users', betaUsers })
      const flags = await connect(url)
      expect(flags.isEnabled('big', { userId: 'user-9999' })).toBe(true)
      await updateFlag(app, 'big', { betaUsers: [...betaUsers.slice(1), 'newcomer'] })
      await eventually(() => flags.isEnabled('big', { userId: 'newcomer' }))
      expect(flags.isEnabled('big', { userId: 'user-0' })).toBe(false)
      await updateFlag(app, 'big', { state: 'disabled' })
      await eventually(() => !flags.isEnabled('big', { userId: 'newcomer' }))
      expect(flags.flag('big')).toEqual((await call(app, 'GET', '/flags/big', { expected: 200 })).json())
    } finally {
      await app.close()
    }
  })

  it('reloads the whole state when a patch names a version it does not hold', async () => {
    const app = await startApp({ streamHeartbeatMs: 1000 })
    try {
      const url = await listen(app)
      await createFlag(app, { key: 'drifted', state: 'disabled' })
      const errors: Error[] = []
      const flags = await createClient({ url, token: ADMIN, reconnect: FAST_RECONNECT, onError: (e) => errors.push(e) })
      clients.push(flags)
      // As if this client had missed a change: the next patch is made from a version it lacks.
      const held = flags.flag('drifted')!
      const seq = Number((await call(app, 'GET', '/audit?limit=1', { expected: 200 })).json().events[0].seq)
      ;(flags as unknown as { flags: { apply(k: string, s: number, v: unknown): boolean } }).flags.apply(
        'drifted',
        seq + 0.5,
        compileFlag({ ...held, version: 99 }),
      )
      expect(flags.flag('drifted')!.version).toBe(99)
      await updateFlag(app, 'drifted', { state: 'enabled' })
      await eventually(() => flags.isEnabled('drifted') && flags.flag('drifted')!.version === 2, 5000, 'the client to reload and hold the flag again')
      expect(errors.some((e) => /reloading the state/.test(e.message))).toBe(true)
    } finally {
      await app.close()
    }
  })

  // A stream server that sends `first` on the first connection and `then` on every later one,
  // recording the Last-Event-ID of each.
  const flagAt = (key: string, version: number) => ({ ...FLAG_DEFAULTS, key, state: 'enabled', version, createdAt: 'x', updatedAt: 'x', updatedBy: 't' })
  const sse = (id: number, event: string, data: unknown) => `id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`
  async function scriptedStream(first: string, then: string, check: (flags: SwitchyardClient, lastEventIds: (string | undefined)[]) => Promise<void>) {
    const lastEventIds: (string | undefined)[] = []
    const server = createServer((req, res) => {
      lastEventIds.push(req.headers['last-event-id'] as string | undefined)
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.write(lastEventIds.length === 1 ? first : then)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const flags = await connect(`http://127.0.0.1:${(server.address() as { port: number }).port}`)
      await check(flags, lastEventIds)
      await flags.close()
    } finally {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  }

  it('reloads without Last-Event-ID even when more events follow the gap in the same chunk', async () => {
    await scriptedStream(
      sse(11, 'state', { seq: 11, flags: [flagAt('a', 1), flagAt('b', 1)] }) +
        // One chunk: a patch made from a version of `a` this client never saw, then a good one for `b`.
        sse(12, 'patch', { seq: 12, key: 'a', from: 2, patch: { op: 'patch', set: { version: 3 } } }) +
        sse(13, 'patch', { seq: 13, key: 'b', from: 1, patch: { op: 'patch', set: { version: 2 } } }),
      sse(13, 'state', { seq: 13, flags: [flagAt('a', 3), flagAt('b', 2)] }),
      async (flags, lastEventIds) => {
        await eventually(() => flags.flag('a')?.version === 3, 5000, 'the reload')
        expect(lastEventIds).toEqual([undefined, undefined])
      },
    )
  })

  // Issue 15: seqs of two store epochs do not compare, so a change of another epoch is a reason to reload.
  it('reloads the whole state, without Last-Event-ID, when a change comes from another store epoch', async () => {
    await scriptedStream(
      sse(40, 'state', { seq: 40, epoch: 'first', flags: [flagAt('a', 5)] }) +
        // A patch that applies cleanly to what the client holds, but from a recovered store.
        sse(41, 'patch', { seq: 41, epoch: 'second', key: 'a', from: 5, patch: { op: 'patch', set: { version: 6, state: 'disabled' } } }),
      sse(90, 'state', { seq: 90, epoch: 'second', flags: [flagAt('a', 2)] }),
      async (flags, lastEventIds) => {
        await eventually(() => flags.epoch === 'second', 5000, 'the reload')
        expect(flags.flag('a')!.version).toBe(2)
        expect(lastEventIds).toEqual([undefined, undefined])
      },
    )
  })

  it('stops, says why and keeps its last state when its token is revoked', async () => {
    const app = await startApp({ streamHeartbeatMs: 1000 })
    try {
      const url = await listen(app)
      await createFlag(app, { key: 'kept', state: 'enabled' })
      const { id, token } = await createToken(app, 'doomed-sdk', 'evaluate')
      const errors: SwitchyardClientError[] = []
      const flags = await createClient({ url, token, reconnect: FAST_RECONNECT, onError: (e) => errors.push(e as SwitchyardClientError) })
      clients.push(flags)
      await call(app, 'DELETE', `/tokens/${id}`, { expected: 204 })
      await eventually(() => errors.some((e) => e.status === 401 && /revoked/.test(e.message)), 5000, 'the revocation to reach the client')
      await eventually(() => !flags.connected)
      expect(flags.isEnabled('kept')).toBe(true)
      // It does not keep knocking with a dead token.
      const attempts = errors.length
      await updateFlag(app, 'kept', { state: 'disabled' })
      expect(app.switchyard.stream.size).toBe(0)
      expect(errors.length).toBe(attempts)
    } finally {
      await app.close()
    }
  })
})

describe('the SDK answers as the server does', () => {
  it('for 10,000 random contexts across every flag state', async () => {
    const app = await startApp()
    try {
      const url = await listen(app)
      const betaUsers = ['alice', 'bob', 'élodie', '用户-1']
      const betaTenants = ['acme', 'globex']
      const flags = [
        { key: 'on', state: 'enabled' },
        { key: 'off', state: 'disabled', betaUsers },
        { key: 'beta', state: 'beta_users', betaUsers, betaTenants },
        { key: 'beta_empty', state: 'beta_users' },
        { key: 'pct_zero', state: 'percentage', percentage: 0 },
        { key: 'pct_tiny', state: 'percentage', percentage: 0.125 },
        { key: 'pct_third', state: 'percentage', percentage: 33.333, betaUsers },
        { key: 'pct_half', state: 'percentage', percentage: 50 },
        { key: 'pct_most', state: 'percentage', percentage: 99.999 },
        { key: 'pct_all', state: 'percentage', percentage: 100 },
        { key: 'pct_tenant', state: 'percentage', percentage: 40, stickiness: 'tenantId', betaTenants },
        { key: 'pct_tenant_beta_user', state: 'percentage', percentage: 60, stickiness: 'tenantId', betaUsers },
      ]
      for (const flag of flags) await createFlag(app, flag)
      const keys = [...flags.map((f) => f.key), 'missing_flag']
      const sdk = await connect(url)

      const id = fc.oneof(
        fc.constantFrom(...betaUsers, ...betaTenants),
        fc.string({ minLength: 1, maxLength: 24 }),
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }),
      )
      const context = fc.record(
        {
          userId: id,
          tenantId: id,
          attributes: fc.dictionary(fc.string({ maxLength: 10 }), fc.oneof(fc.string({ maxLength: 10 }), fc.integer(), fc.boolean()), { maxKeys: 3 }),
        },
        { requiredKeys: [] },
      )
      const contexts: Context[] = fc.sample(context, { seed: 20240229, numRuns: 10_000 })
      expect(new Set(contexts.map((c) => JSON.stringify(c))).size).toBeGreaterThan(9000)

      const seen = new Set<string>()
      for (let i = 0; i < contexts.length; i += 50) {
        await Promise.all(
          contexts.slice(i, i + 50).map(async (ctx) => {
            const { results } = (await call(app, 'POST', '/evaluate', { body: { flags: keys, context: ctx }, expected: 200 })).json()
            const local = keys.map((key) => sdk.evaluate(key, ctx))
            expect(local, JSON.stringify(ctx)).toEqual(results)
            for (const [j, key] of keys.entries()) expect(sdk.isEnabled(key, ctx)).toBe(results[j].enabled)
            for (const r of results) seen.add(r.reason)
          }),
        )
      }
      // The sample reached every reason the engine has.
      expect([...seen].sort()).toEqual([
        'beta_tenant',
        'beta_user',
        'disabled',
        'enabled',
        'flag_not_found',
        'missing_context',
        'not_targeted',
        'percentage_in',
        'percentage_out',
      ])
    } finally {
      await app.close()
    }
  })
})

describe('when the server goes away', () => {
  it('keeps answering from the last state, then converges after the server restarts on the same store', async () => {
    const dir = tempDir()
    let app = await startApp({ streamHeartbeatMs: 1000 }, { store: new FileStore(dir.path) })
    try {
      const url = await listen(app)
      const port = Number(new URL(url).port)
      await createFlag(app, { key: 'survivor', state: 'enabled' })
      await createFlag(app, { key: 'doomed', state: 'enabled' })
      const errors: Error[] = []
      const flags = await createClient({ url, token: ADMIN, reconnect: FAST_RECONNECT, onError: (e) => errors.push(e) })
      clients.push(flags)

      await app.close()
      await eventually(() => !flags.connected, 5000, 'the client to notice')
      expect(flags.isEnabled('survivor')).toBe(true)
      await eventually(() => errors.length >= 3, 5000, 'several reconnection attempts')

      app = await startApp({ streamHeartbeatMs: 1000 }, { store: new FileStore(dir.path) })
      await listen(app, port)
      // Changed before the client is back: the resync must carry it.
      await updateFlag(app, 'survivor', { state: 'disabled' })
      await call(app, 'DELETE', '/flags/doomed', { expected: 204 })
      await eventually(() => !flags.isEnabled('survivor') && flags.flag('doomed') === undefined, 10_000, 'the resync after restart')
      expect(flags.connected).toBe(true)
      // And live again afterwards.
      await updateFlag(app, 'survivor', { state: 'enabled' })
      await eventually(() => flags.isEnabled('survivor'), 5000, 'a change after the restart')
    } finally {
      await app.close()
      dir.remove()
    }
  })

  it('adopts a replacement server whose store starts over with lower sequence numbers', async () => {
    let app = await startApp({}, { store: new MemoryStore() })
    try {
      const url = await listen(app)
      const port = Number(new URL(url).port)
      for (let i = 0; i < 5; i++) await createFlag(app, { key: `old_${i}`, state: 'enabled' })
      const flags = await connect(url)
      await app.close()
      app = await startApp({}, { store: new MemoryStore() })
      await listen(app, port)
      await createFlag(app, { key: 'fresh', state: 'enabled' })
      await eventually(() => flags.isEnabled('fresh') && flags.flag('old_0') === undefined, 10_000, 'the new server’s state')
      await updateFlag(app, 'fresh', { state: 'disabled' })
      await eventually(() => !flags.isEnabled('fresh'), 5000, 'a change on the new server')
    } finally {
      await app.close()
    }
  })
})
