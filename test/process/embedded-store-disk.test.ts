// The embedded store on a real full or read-only disk (a small tmpfs), with the server as a child
// process: only whole, synced lines are acknowledged, kill -9 loses none of them, a full or
// read-only DATA_DIR stops startup with one line, and the store carries on once there is room.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { FileStore, JOURNAL_FILE } from '../../packages/server/src/store/file.js'
import { spawnServer, startServer, type ServerProcess } from '../support/helpers.js'
import { HttpClient } from '../support/http.js'
import { mountTmpfs, type Tmpfs } from '../support/tmpfs.js'

const ADMIN_TOKEN = 'disk-admin-token-0123456789'

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

function disk(size: string): Tmpfs {
  const fs = mountTmpfs(size)
  cleanups.push(() => fs.remove())
  return fs
}

async function start(dataDir: string): Promise<{ server: ServerProcess; client: HttpClient }> {
  const server = await startServer({ ADMIN_TOKEN, DATA_DIR: dataDir, LOG_LEVEL: 'warn' })
  const client = new HttpClient(server.url, ADMIN_TOKEN)
  cleanups.push(async () => {
    client.close()
    await server.stop('SIGKILL').catch(() => undefined)
  })
  return { server, client }
}

/** 500 ids of 200 characters: a create of this flag journals about 200 KB. */
const ids = (flag: number) => Array.from({ length: 500 }, (_, i) => `${flag}-${i}-`.padEnd(200, 'x'))

/** Keys of the flags a restart would load from the directory. */
async function storedKeys(dir: string): Promise<string[]> {
  const { flags } = await new FileStore(dir, { readOnly: true }).load()
  return flags.map((f) => f.key).sort()
}

async function expectRefusedStart(dir: string, message: RegExp): Promise<void> {
  const server = await spawnServer({ ADMIN_TOKEN, DATA_DIR: dir, LOG_LEVEL: 'silent' })
  cleanups.push(() => server.stop('SIGKILL').then(() => undefined))
  expect(await server.exited).toBe(1)
  const lines = server.stderr().trimEnd().split('\n')
  expect(lines).toHaveLength(1)
  expect(lines[0]).toContain(dir)
  expect(lines[0]).toMatch(message)
}

describe('a full disk (DATA_DIR on a 1 MB tmpfs)', () => {
  it('acknowledges only whole, synced writes, loses none to kill -9, refuses to start while full, and carries on once there is room', async () => {
    const fs = disk('1m')
    let { server, client } = await start(fs.path)

    const acknowledged: string[] = []
    const refused: string[] = []
    for (let i = 0; i < 9; i++) {
      const key = `large_${i}`
      const answer = await client.send('POST', '/flags', { key, state: 'beta_users', betaUsers: ids(i) })
      if (answer.status === 201) acknowledged.push(key)
      else {
        expect(answer.status, answer.body).toBe(503)
        expect(JSON.parse(answer.body)).toMatchObject({ code: 'STORE_UNAVAILABLE', message: expect.stringContaining('ENOSPC') })
        refused.push(key)
      }
    }
    expect(acknowledged.length).toBeGreaterThan(0)
    expect(refused.length).toBeGreaterThan(0)
    expect((await client.json<{ store: { status: string } }>('GET', '/healthz')).store.status).toBe('down')

    // The journal holds whole lines and nothing else: no part of a refused write, no zeros.
    const journal = readFileSync(join(fs.path, JOURNAL_FILE))
    expect(journal.includes(0)).toBe(false)
    expect(journal.at(-1)).toBe(0x0a)
    expect(journal.toString('utf8').split('\n').filter(Boolean)).toHaveLength(acknowledged.length)

    server.child.kill('SIGKILL')
    await server.exited
    expect(await storedKeys(fs.path)).toEqual([...acknowledged].sort())

    // Still full: the next start says so in one line instead of serving until the first write.
    await expectRefusedStart(fs.path, /is full/)

    fs.resize('16m')
    ;({ server, client } = await start(fs.path))
    for (const key of acknowledged) {
      expect((await client.json<{ betaUsers: string[] }>('GET', `/flags/${key}`)).betaUsers).toEqual(ids(Number(key.split('_')[1])))
    }
    for (const key of refused) await client.json('POST', '/flags', { key, state: 'beta_users', betaUsers: ids(Number(key.split('_')[1])) }, 201)
    expect((await client.json<{ store: { status: string } }>('GET', '/healthz')).store.status).toBe('up')

    server.child.kill('SIGKILL')
    await server.exited
    ;({ client } = await start(fs.path))
    const listed = await client.json<{ flags: { key: string }[] }>('GET', '/flags?limit=100')
    expect(listed.flags.map((f) => f.key)).toEqual([...acknowledged, ...refused].sort())
  })

  it('recovers on the same process once the disk has room again, without a restart', async () => {
    const fs = disk('1m')
    const { client } = await start(fs.path)
    let i = 0
    for (; i < 20; i++) {
      const answer = await client.send('POST', '/flags', { key: `large_${i}`, state: 'beta_users', betaUsers: ids(i) })
      if (answer.status === 503) break
      expect(answer.status).toBe(201)
    }
    expect(i).toBeLessThan(20)
    fs.resize('16m')
    await client.json('POST', '/flags', { key: `large_${i}`, state: 'beta_users', betaUsers: ids(i) }, 201)
    await client.json('PATCH', `/flags/large_${i}`, { state: 'enabled' })
    expect((await client.json<{ store: { status: string } }>('GET', '/healthz')).store.status).toBe('up')
    expect(await storedKeys(fs.path)).toHaveLength(i + 1)
  })
})

describe('DATA_DIR checked at startup', () => {
  it('a read-only directory stops startup with one line on stderr', async () => {
    const fs = disk('4m')
    fs.readOnly(true)
    await expectRefusedStart(fs.path, /is not writable \(EROFS/)
  })

  it('a directory with less than 256 KiB free stops startup with one line on stderr', async () => {
    const fs = disk('128k')
    await expectRefusedStart(fs.path, /is full: \d+ bytes free/)
  })
})
