// One process per DATA_DIR: a second server on the same directory exits 1 with one line naming
// the directory and the owner, and the lock is taken over only when its owner is provably gone
// (or, for another host's lock, when told to).
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { DataDirLock, LOCK_FILE, processStartTime, type LockOwner } from '../../packages/server/src/store/data-dir-lock.js'
import { StoreUnavailableError } from '../../packages/server/src/store/errors.js'
import { FLAG_DEFAULTS } from '../../packages/core/src/flags/schema.js'
import { FileStore } from '../../packages/server/src/store/file.js'
import type { Write } from '../../packages/server/src/store/store.js'
import { eventually, spawnServer, startServer, tempDir, waitReady, type ServerProcess } from '../support/helpers.js'
import { HttpClient } from '../support/http.js'

const ADMIN_TOKEN = 'lock-admin-token-0123456789'

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

function dataDir(): string {
  const dir = tempDir()
  cleanups.push(() => dir.remove())
  return dir.path
}

function track(server: ServerProcess): ServerProcess {
  cleanups.push(() => server.stop('SIGKILL').then(() => undefined))
  return server
}

async function start(dir: string, env: Record<string, string> = {}): Promise<{ server: ServerProcess; client: HttpClient }> {
  const server = track(await startServer({ ADMIN_TOKEN, DATA_DIR: dir, LOG_LEVEL: 'warn', ...env }))
  const client = new HttpClient(server.url, ADMIN_TOKEN)
  cleanups.push(() => client.close())
  return { server, client }
}

/** Starts a server that must refuse the directory; returns its one line of stderr. */
async function refused(dir: string, env: Record<string, string> = {}): Promise<string> {
  const server = track(await spawnServer({ ADMIN_TOKEN, DATA_DIR: dir, LOG_LEVEL: 'silent', ...env }))
  expect(await server.exited).toBe(1)
  const lines = server.stderr().trimEnd().split('\n')
  expect(lines).toHaveLength(1)
  return lines[0]!
}

/** The store write that creates flag `key`, as the registry would commit it. */
function createWrite(key: string): Write {
  const at = '2026-01-01T00:00:00.000Z'
  const flag = { ...FLAG_DEFAULTS, key, version: 1, createdAt: at, updatedAt: at, updatedBy: 't' }
  return {
    kind: 'flag',
    key,
    expectedVersion: 0,
    next: flag,
    audit: { id: key, type: 'audit', action: 'flag.created', flag: key, actor: 't', requestId: 'r', timestamp: at, changes: {} },
  }
}

function writeLock(dir: string, owner: Partial<LockOwner>): void {
  const full: LockOwner = { pid: 1, host: hostname(), startTime: null, bootId: null, acquiredAt: '2026-01-01T00:00:00.000Z', nonce: 'planted', ...owner }
  writeFileSync(join(dir, LOCK_FILE), `${JSON.stringify(full)}\n`)
}

describe('two server processes on one DATA_DIR', () => {
  it('the second exits 1 naming the directory and the owner; the first keeps serving, and its writes survive it', async () => {
    const dir = dataDir()
    const first = await start(dir)
    await first.client.json('POST', '/flags', { key: 'kept', state: 'enabled' }, 201)
    const token = await first.client.json<{ id: string }>('POST', '/tokens', { name: 'checkout', scope: 'evaluate' }, 201)

    const line = await refused(dir)
    expect(line).toContain(dir)
    expect(line).toContain(`pid ${first.server.child.pid} on host ${hostname()}`)

    // The first is unaffected, and its data stays its own.
    await first.client.json('PATCH', '/flags/kept', { description: 'after the refusal' })
    first.server.child.kill('SIGKILL')
    await first.server.exited

    // Its owner is gone: the next start takes the lock over and finds every write.
    const next = await start(dir)
    expect(await next.client.json('GET', '/flags/kept')).toMatchObject({ state: 'enabled', description: 'after the refusal', version: 2 })
    const tokens = await next.client.json<{ tokens: { id: string }[] }>('GET', '/tokens')
    expect(tokens.tokens.map((t) => t.id)).toContain(token.id)
  })

  it('a clean shutdown removes the lock file', async () => {
    const dir = dataDir()
    const { server } = await start(dir)
    expect(existsSync(join(dir, LOCK_FILE))).toBe(true)
    expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8'))).toMatchObject({ pid: server.child.pid, host: hostname() })
    expect(await server.stop('SIGTERM')).toBe(0)
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false)
  })
})

describe('a lock left behind', () => {
  it('is taken over when its process is no longer running', async () => {
    const dir = dataDir()
    const gone = spawn('true')
    await new Promise((resolve) => gone.on('exit', resolve))
    writeLock(dir, { pid: gone.pid! })
    const { server } = await start(dir)
    expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).pid).toBe(server.child.pid)
  })

  it('is taken over when its pid now belongs to another process (another start time)', async () => {
    const dir = dataDir()
    writeLock(dir, { pid: process.pid, startTime: 'not-this-process-start-time' })
    await start(dir)
  })

  it('stops startup while its process runs with the same start time', async () => {
    const dir = dataDir()
    const sleeper = spawn('sleep', ['30'])
    cleanups.push(() => void sleeper.kill('SIGKILL'))
    await eventually(() => processStartTime(sleeper.pid!) !== null, 5000, 'the sleeper to start')
    writeLock(dir, { pid: sleeper.pid!, startTime: processStartTime(sleeper.pid!) })
    expect(await refused(dir)).toContain(`pid ${sleeper.pid} on host ${hostname()}`)
  })

  it('from another host is never taken over without DATA_DIR_FORCE_UNLOCK=1 or --force-unlock', async () => {
    const dir = dataDir()
    writeLock(dir, { host: 'another-host.example', pid: 4242 })
    const line = await refused(dir)
    expect(line).toContain('pid 4242 on host another-host.example')
    expect(line).toContain('DATA_DIR_FORCE_UNLOCK=1')

    await start(dir, { DATA_DIR_FORCE_UNLOCK: '1' }).then(({ server }) => server.stop('SIGTERM'))
    writeLock(dir, { host: 'another-host.example', pid: 4242 })
    const forced = track(await spawnServer({ ADMIN_TOKEN, DATA_DIR: dir, LOG_LEVEL: 'warn' }, ['--force-unlock']))
    await waitReady(forced)
    expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).pid).toBe(forced.child.pid)
  })

  it('in this process (a restarted container keeps its pid) is taken over, and releasing an old acquisition leaves the new one', async () => {
    const dir = dataDir()
    const old = await DataDirLock.acquire(dir)
    const current = await DataDirLock.acquire(dir)
    await old.release()
    expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).nonce).toBe(current.owner.nonce)
    await current.release()
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false)
  })

  it('once replaced behind a running store (removed by hand, another process started), stops that store writing', async () => {
    const dir = dataDir()
    const store = new FileStore(dir)
    cleanups.push(() => store.close())
    await store.load()
    const write = (key: string) => store.commit(createWrite(key))
    await write('before')
    const journal = readFileSync(store.journalPath, 'utf8')
    rmSync(join(dir, LOCK_FILE))
    writeLock(dir, { pid: 4242, nonce: 'someone-else' })

    const refused = write('after')
    await expect(refused).rejects.toThrow(StoreUnavailableError)
    await expect(refused).rejects.toThrow(/another process has taken over data directory/)
    expect(store.health()).toMatchObject({ status: 'down' })
    expect(readFileSync(store.journalPath, 'utf8')).toBe(journal)
    // Nor does it fold over the other process's files, or remove its lock, when it closes.
    await store.close()
    expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).nonce).toBe('someone-else')
    expect(readFileSync(store.journalPath, 'utf8')).toBe(journal)
  })

  it("a store whose directory is taken over in the middle of its fold leaves the new owner's writes and lock alone", async () => {
    const dir = dataDir()
    const a = new FileStore(dir)
    await a.load()
    await a.commit(createWrite('x'))
    // A's fold is held up after writing its snapshot, as on a slow disk.
    let release!: () => void
    const held = new Promise<void>((resolve) => (release = resolve))
    const slow = a as unknown as { writeDataFile(...args: unknown[]): Promise<void> }
    const write = slow.writeDataFile.bind(a)
    slow.writeDataFile = async (...args) => {
      await held
      return write(...args)
    }
    const closing = a.close()
    // B takes the directory over (this process's own pid: a restarted container) and writes.
    const b = new FileStore(dir)
    cleanups.push(() => b.close())
    await b.load()
    await b.commit(createWrite('y'))
    release()
    await closing

    // B's write survives a restart, and B still owns the directory and can write.
    const reloaded = await new FileStore(dir, { readOnly: true }).load()
    expect(reloaded.flags.map((f) => f.key).sort()).toEqual(['x', 'y'])
    await b.commit(createWrite('z'))
    expect((await new FileStore(dir, { readOnly: true }).load()).flags.map((f) => f.key).sort()).toEqual(['x', 'y', 'z'])
  })
})
