// The embedded store driven to the documented limits — 10,000 small flags beside one flag whose
// 10,000-id list of 200-character ids is swapped 500 times — stays bounded on disk, in memory and
// in every GET /audit page, and a kill -9 there is followed by a restart that succeeds.
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { DATA_FILE } from '../../packages/server/src/store/file.js'
import { startServer, tempDir, type ServerProcess } from '../support/helpers.js'
import { HttpClient } from '../support/http.js'

const ADMIN_TOKEN = 'growth-admin-token-0123456789'
const MiB = 1024 * 1024
/** The defaults the store runs with: AUDIT_MAX_BYTES and the journal's fold threshold. */
const AUDIT_MAX_BYTES = 64 * MiB
const FOLD_BYTES = 64 * MiB

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function start(dir: string): Promise<{ server: ServerProcess; client: HttpClient }> {
  const server = await startServer({ ADMIN_TOKEN, DATA_DIR: dir, LOG_LEVEL: 'warn' }, 120_000)
  const client = new HttpClient(server.url, ADMIN_TOKEN)
  cleanups.push(async () => {
    client.close()
    await server.stop('SIGKILL').catch(() => undefined)
  })
  return { server, client }
}

/** Runs `task(0 … count-1)`, `width` at a time. */
async function inParallel(count: number, width: number, task: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < count) await task(next++)
    }),
  )
}

const list = (side: string) => Array.from({ length: 10_000 }, (_, i) => `${side}-${i}-`.padEnd(200, side))

describe('the embedded store at its documented limits', () => {
  it('keeps journal, data file, audit trail and audit pages bounded through 500 swaps of a 10,000-id list, and restarts after kill -9', async () => {
    const dir = tempDir()
    cleanups.push(() => dir.remove())
    let { server, client } = await start(dir.path)

    await inParallel(10_000, 16, (i) => client.json('POST', '/flags', { key: `small_${i}` }, 201))
    const lists = [list('a'), list('b')]
    await client.json('POST', '/flags', { key: 'big', state: 'beta_users', betaUsers: lists[0] }, 201)
    let largestOnDisk = 0
    for (let i = 1; i <= 500; i++) {
      await client.json('PATCH', '/flags/big', { betaUsers: lists[i % 2] })
      if (i % 50 === 0) {
        const bytes = readdirSync(dir.path).reduce((sum, name) => sum + statSync(join(dir.path, name)).size, 0)
        largestOnDisk = Math.max(largestOnDisk, bytes)
      }
    }
    // On disk: the data file (flags + an audit trail within AUDIT_MAX_BYTES) and a journal folded
    // at FOLD_BYTES, each a few MB over its bound at most (one list, one line).
    expect(largestOnDisk).toBeLessThan(AUDIT_MAX_BYTES + FOLD_BYTES + 32 * MiB)

    // Every audit page answers, and stays within 4 MiB plus the one event that crossed it.
    let cursor: string | undefined
    let events = 0
    let swapEvents = 0
    do {
      const answer = await client.send('GET', `/audit?limit=1000${cursor ? `&cursor=${cursor}` : ''}`)
      expect(answer.status).toBe(200)
      expect(Buffer.byteLength(answer.body)).toBeLessThan(4 * MiB + MiB)
      const page = JSON.parse(answer.body) as {
        events: { flag: string; changes: { betaUsers?: { added: string[]; addedCount?: number } } }[]
        nextCursor?: string
      }
      events += page.events.length
      for (const e of page.events) {
        if (e.flag !== 'big' || !e.changes.betaUsers) continue
        swapEvents++
        // The large-list rule: 1,000 ids per side, then a count.
        expect(e.changes.betaUsers.added).toHaveLength(1000)
        expect(e.changes.betaUsers.addedCount).toBe(10_000)
      }
      cursor = page.nextCursor
    } while (cursor)
    // The audit trail gave up the oldest events to stay within AUDIT_MAX_BYTES (each swap ~400 KB).
    expect(swapEvents).toBeGreaterThan(100)
    expect(swapEvents * 400_000).toBeLessThan(AUDIT_MAX_BYTES + MiB)
    expect(events).toBeLessThanOrEqual(10_000)

    server.child.kill('SIGKILL')
    await server.exited
    ;({ server, client } = await start(dir.path))
    expect((await client.json<{ betaUsers: string[]; version: number }>('GET', '/flags/big')).version).toBe(501)
    expect((await client.json<{ betaUsers: string[] }>('GET', '/flags/big')).betaUsers).toEqual(lists[0])
    expect((await client.json<{ flags: unknown[] }>('GET', '/flags?limit=1000&cursor=small_9990')).flags).toHaveLength(9)
    expect(await server.stop('SIGTERM')).toBe(0)
    expect(readdirSync(dir.path)).toEqual([DATA_FILE])
  }, 600_000)
})
