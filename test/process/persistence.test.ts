// The embedded store: state survives a real restart of the process, a corrupt data file stops
// startup and is left untouched, and a write that cannot be saved changes nothing anywhere.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterEach, beforeEach, describe, expect, it, onTestFinished } from 'vitest'
import { buildApp } from '../../packages/server/src/app.js'
import { defaultConfig } from '../../packages/server/src/config.js'
import { DATA_FILE, DataFileError, FileStore, type FileStoreOptions } from '../../packages/server/src/store/file.js'
import { LOCK_FILE } from '../../packages/server/src/store/data-dir-lock.js'
import {
  ADMIN,
  call,
  createFlag,
  createToken,
  embeddedStoreText,
  eventually,
  listAudit,
  listFlags,
  listTokens,
  spawnServer,
  startApp,
  startServer,
  tempDir,
  type ServerProcess,
} from '../support/helpers.js'

/** A small client for a running server process. */
function client(server: ServerProcess, token = ADMIN) {
  return async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a test client that reads whatever JSON a route answers
    return { status: res.status, body: res.status === 204 ? null : ((await res.json()) as Record<string, any>) }
  }
}

describe('a restart of the server process', () => {
  it('keeps flags, tokens, revocations and the audit trail', async () => {
    const data = tempDir()
    onTestFinished(() => data.remove())
    const env = { DATA_DIR: data.path, ADMIN_TOKEN: ADMIN, LOG_LEVEL: 'warn' }

    const first = await startServer(env)
    onTestFinished(() => first.stop('SIGKILL').then(() => undefined))
    const api = client(first)
    expect((await api('POST', '/flags', { key: 'copilot_v2', tags: ['ai'] })).status).toBe(201)
    expect((await api('PATCH', '/flags/copilot_v2', { state: 'percentage', percentage: 33.333, betaUsers: ['tenant-admin'] })).status).toBe(200)
    expect(
      (await api('POST', '/flags', { key: 'tenant_rollout', state: 'percentage', percentage: 50, stickiness: 'tenantId', betaTenants: ['acme'] })).status,
    ).toBe(201)
    expect((await api('POST', '/flags', { key: 'doomed' })).status).toBe(201)
    expect((await api('DELETE', '/flags/doomed')).status).toBe(204)
    const kept = (await api('POST', '/tokens', { name: 'checkout-service', scope: 'evaluate' })).body!
    const revoked = (await api('POST', '/tokens', { name: 'retired', scope: 'evaluate' })).body!
    expect((await api('DELETE', `/tokens/${revoked.id}`)).status).toBe(204)

    const contexts = Array.from({ length: 50 }, (_, i) => ({ userId: `user-${i}`, tenantId: `tenant-${i % 7}` }))
    const evaluateAll = async (server: ServerProcess) => {
      const res = await client(server, kept.token)('POST', '/evaluate', { flags: ['copilot_v2', 'tenant_rollout', 'doomed'], context: contexts[0] })
      const answers = [res.body!.results]
      for (const context of contexts) answers.push((await client(server, kept.token)('POST', '/evaluate', { context })).body!.results)
      return answers
    }
    const before = {
      flags: (await api('GET', '/flags')).body,
      tokens: (await api('GET', '/tokens')).body!.tokens.filter((t: { id: string }) => t.id !== 'bootstrap'),
      audit: (await api('GET', '/audit')).body,
      answers: await evaluateAll(first),
    }
    expect(before.flags!.flags).toHaveLength(2)
    expect(before.audit!.events).toHaveLength(8)

    expect(await first.stop('SIGTERM')).toBe(0)
    expect(readdirSync(data.path)).toEqual([DATA_FILE])

    const second = await startServer(env)
    onTestFinished(() => second.stop('SIGKILL').then(() => undefined))
    const again = client(second)
    expect((await again('GET', '/flags')).body).toEqual(before.flags)
    expect((await again('GET', '/tokens')).body!.tokens.filter((t: { id: string }) => t.id !== 'bootstrap')).toEqual(before.tokens)
    expect((await again('GET', '/audit')).body).toEqual(before.audit)
    expect(await evaluateAll(second)).toEqual(before.answers)
    expect((await client(second, revoked.token)('GET', '/flags')).status).toBe(401)
    // Versions and the change order carry on from where they were.
    const patched = await again('PATCH', '/flags/copilot_v2', { percentage: 50 })
    expect(patched.body).toMatchObject({ version: 3 })
    const [newest, previous] = (await again('GET', '/audit?limit=2')).body!.events
    expect(newest.seq).toBeGreaterThan(previous.seq)
    expect(await second.stop('SIGTERM')).toBe(0)
  })
})

describe('a corrupt data file', () => {
  it('stops the server process: non-zero exit, the file named on stderr, the file byte-for-byte untouched', async () => {
    const data = tempDir()
    onTestFinished(() => data.remove())
    const path = join(data.path, DATA_FILE)
    const corrupt = Buffer.from('{"format":"switchyard/v1","seq":3,"flags":[{"key":"copilot_v2"')
    writeFileSync(path, corrupt)

    const server = await spawnServer({ DATA_DIR: data.path, ADMIN_TOKEN: ADMIN, LOG_LEVEL: 'warn' })
    onTestFinished(() => server.stop('SIGKILL').then(() => undefined))
    expect(await server.exited).not.toBe(0)
    expect(server.stderr()).toContain(path)
    expect(server.stderr()).toMatch(/corrupt/)
    expect(readFileSync(path).equals(corrupt)).toBe(true)
    expect(readdirSync(data.path)).toEqual([DATA_FILE])
  })

  it.each<[string, string | null, RegExp]>([
    ['truncated JSON', '{"format":"switchyard/v1","seq":1,', /is corrupt/],
    ['an empty file', '', /is corrupt/],
    ['another format', JSON.stringify({ format: 'other/v9', seq: 1, flags: [], tokens: [], audit: [] }), /is not a switchyard\/v2 or switchyard\/v1 file/],
    ['a JSON array', '[]', /is not a switchyard\/v2 or switchyard\/v1 file/],
    ['a missing list', JSON.stringify({ format: 'switchyard/v1', seq: 1, flags: [], tokens: [] }), /is not a switchyard\/v2 or switchyard\/v1 file/],
    ['a directory in its place', null, /cannot read data file/],
  ])('refuses %s, naming the file and leaving it as it was', async (_what, content, message) => {
    const data = tempDir()
    onTestFinished(() => data.remove())
    const path = join(data.path, DATA_FILE)
    if (content === null) mkdirSync(path)
    else writeFileSync(path, content)

    const app = await buildApp(defaultConfig({ logLevel: 'silent', adminToken: ADMIN }), { store: new FileStore(data.path) })
    onTestFinished(() => app.close())
    const failure = app.switchyard.sync.start()
    await expect(failure).rejects.toThrow(DataFileError)
    await expect(failure).rejects.toThrow(path)
    await expect(failure).rejects.toThrow(message)
    expect(app.switchyard.sync.ready).toBe(false)
    expect((await call(app, 'GET', '/readyz', { token: null })).statusCode).toBe(503)
    if (content !== null) expect(readFileSync(path, 'utf8')).toBe(content)
    // The store holds the directory's lock until it is closed.
    expect(readdirSync(data.path).sort()).toEqual([DATA_FILE, LOCK_FILE])
  })
})

describe('a write that cannot be saved', () => {
  let data: ReturnType<typeof tempDir>
  let store: FileStore
  let app: FastifyInstance

  /** Puts something else where `path` is (or is not), and gives back what puts the original back. */
  function replaceWith(path: string, put: () => void): () => void {
    const aside = `${path}.aside`
    const had = existsSync(path)
    if (had) renameSync(path, aside)
    put()
    return () => {
      rmSync(path, { recursive: true, force: true })
      if (had) renameSync(aside, path)
    }
  }

  // Each fails for root too: writes to /dev/full always end in ENOSPC, and no file can be
  // opened for appending where a directory stands.
  const failures: [string, () => () => void][] = [
    ['the disk is full', () => replaceWith(store.journalPath, () => symlinkSync('/dev/full', store.journalPath))],
    ['the journal path is a directory', () => replaceWith(store.journalPath, () => mkdirSync(store.journalPath))],
  ]

  // The fold runs after a write is acknowledged: when it fails, the write stands in the journal.
  const foldFailures: [string, () => () => void][] = [
    [
      'the disk is full as the journal is folded into the data file',
      () => {
        symlinkSync('/dev/full', store.tempPath)
        return () => rmSync(store.tempPath, { force: true })
      },
    ],
    ['the data file path is a directory as the journal is folded into it', () => replaceWith(store.path, () => mkdirSync(store.path))],
  ]

  const writes: [string, (app: FastifyInstance) => Promise<{ statusCode: number }>][] = [
    ['POST /flags', (a) => call(a, 'POST', '/flags', { body: { key: 'new_flag' } })],
    ['PATCH /flags/:key', (a) => call(a, 'PATCH', '/flags/copilot_v2', { body: { state: 'enabled' } })],
    ['DELETE /flags/:key', (a) => call(a, 'DELETE', '/flags/copilot_v2')],
    ['POST /tokens', (a) => call(a, 'POST', '/tokens', { body: { name: 'another', scope: 'admin' } })],
    ['DELETE /tokens/:id', async (a) => call(a, 'DELETE', `/tokens/${(await listTokens(a)).tokens[1].id}`)],
  ]

  async function state() {
    return {
      flags: await listFlags(app),
      // lastUsedAt moves with every request (the admin token's own included): it is not state.
      tokens: (await listTokens(app)).tokens.map(({ lastUsedAt: _, ...token }: { lastUsedAt?: string }) => token),
      audit: await listAudit(app),
      evaluation: (await call(app, 'POST', '/evaluate', { body: { flag: 'copilot_v2', context: { userId: 'alice' } } })).json(),
    }
  }

  describe.each(failures)('when %s', (_failure, inject) => {
    beforeEach(async () => {
      data = tempDir()
      store = new FileStore(data.path)
      app = await startApp({}, { store })
      await createFlag(app, { key: 'copilot_v2', state: 'beta_users', betaUsers: ['alice'] })
      await createToken(app, 'checkout-service', 'evaluate')
    })
    afterEach(async () => {
      await app.close()
      data.remove()
    })

    it.each(writes)('%s answers 503 and changes neither memory nor disk', async (_write, write) => {
      const before = await state()
      const onDisk = embeddedStoreText(store)
      const restore = inject()
      const listing = readdirSync(data.path).sort()

      const res = (await write(app)) as { statusCode: number; json(): Record<string, unknown> }
      expect(res.statusCode).toBe(503)
      expect(res.json()).toMatchObject({ code: 'STORE_UNAVAILABLE', message: expect.stringContaining('nothing was changed') })
      expect(await state()).toEqual(before)
      expect((await call(app, 'GET', '/healthz', { token: null })).json().store).toMatchObject({ kind: 'file', status: 'down' })
      // No half-written temp file is left behind.
      expect(readdirSync(data.path).sort()).toEqual(listing.filter((name) => !name.endsWith('.tmp')))

      restore()
      expect(embeddedStoreText(store)).toBe(onDisk)
      // The store recovers with the next write, and what is on disk is what is in memory.
      expect((await write(app)).statusCode).toBeLessThan(300)
      expect((await call(app, 'GET', '/healthz', { token: null })).json().store.status).toBe('up')
      await expectOnDisk()
    })
  })

  /** What a restart would load is what the app serves. */
  async function expectOnDisk(): Promise<void> {
    const reloaded = await new FileStore(data.path, { readOnly: true }).load()
    expect(reloaded.flags).toEqual((await listFlags(app)).flags)
    expect(reloaded.tokens.map((t) => t.id).sort()).toEqual((await listTokens(app)).tokens.slice(1).map((t: { id: string }) => t.id))
  }

  describe.each(foldFailures)('when %s', (_failure, inject) => {
    /** What was true at the moment each fold failed: the retry a second later may already have succeeded. */
    let failed: { message: string; health: ReturnType<FileStore['health']>; journal: string }[]

    beforeEach(async () => {
      data = tempDir()
      failed = []
      // Every write is followed by a fold.
      const log = {
        info() {},
        error(_fields: unknown, message?: string) {
          failed.push({ message: message ?? '', health: store.health(), journal: readFileSync(store.journalPath, 'utf8') })
        },
      }
      store = new FileStore(data.path, { compactEvery: 1, log: log as unknown as FileStoreOptions['log'] })
      app = await startApp({}, { store })
      await createFlag(app, { key: 'copilot_v2', state: 'beta_users', betaUsers: ['alice'] })
      await createToken(app, 'checkout-service', 'evaluate')
      await eventually(() => !existsSync(store.journalPath), 5000, 'the fold after the setup writes')
    })
    afterEach(async () => {
      await app.close()
      data.remove()
    })

    it.each(writes)('%s is acknowledged and kept in the journal; health says degraded until a retry folds it', async (_write, write) => {
      const restore = inject()
      expect((await write(app)).statusCode).toBeLessThan(300)
      await eventually(() => store.foldStats().failures > 0, 5000, 'the fold to fail')
      // Logged at error, with health degraded and the write whole in the journal meanwhile.
      expect(failed[0]).toMatchObject({
        message: 'store.fold_failed',
        health: { kind: 'file', status: 'degraded', detail: expect.stringContaining('folding the journal') },
      })
      expect(failed[0]!.journal).toMatch(/^\{"seq":\d+,.*\}\n$/)

      restore()
      // Retried by itself (after a second), with no further write.
      await eventually(() => store.health().status === 'up', 10_000, 'the retried fold')
      expect(existsSync(store.journalPath)).toBe(false)
      expect((await call(app, 'GET', '/healthz', { token: null })).json().store.status).toBe('up')
      expect(readdirSync(data.path).filter((name) => name.endsWith('.tmp'))).toEqual([])
      await expectOnDisk()
    })
  })
})
