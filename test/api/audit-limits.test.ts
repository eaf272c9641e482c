// The audit trail's size limits through the API: list changes name at most 1,000 ids per side
// (with counts past it), AUDIT_MAX_BYTES drops the oldest events, GET /audit pages end at 4 MiB.
import type { FastifyInstance } from 'fastify'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { AUDIT_LIST_IDS } from '../../packages/core/src/audit/diff.js'
import { AUDIT_PAGE_MAX_BYTES } from '../../packages/core/src/audit/schema.js'
import { loadConfig } from '../../packages/server/src/config.js'
import { createStore } from '../../packages/server/src/store/create.js'
import { MemoryStore } from '../../packages/server/src/store/memory.js'
import { call, createFlag, createToken, listAudit, startApp, tempDir, updateFlag } from '../support/helpers.js'
import { newestWithin } from '../support/audit-model.js'

const MiB = 1024 * 1024

/** `n` distinct ids, each exactly `length` characters. */
function ids(prefix: string, n: number, length = 12): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}-${i}-`.padEnd(length, 'x'))
}

/** The change the newest event records for `field`. */
async function newestChange(app: FastifyInstance, field = 'betaUsers') {
  const [event] = (await listAudit(app, { limit: 1 })).events
  return event.changes[field]
}

describe('list changes in audit events', () => {
  let app: FastifyInstance
  beforeEach(async () => {
    app = await startApp()
  })
  afterEach(async () => {
    await app.close()
  })

  it('name 1,000 ids per side of a swapped 10,000-id list, with both full counts', async () => {
    const before = ids('old', 10_000)
    const after = ids('new', 10_000)
    await createFlag(app, { key: 'big', betaUsers: before })
    await updateFlag(app, 'big', { betaUsers: after })
    expect(AUDIT_LIST_IDS).toBe(1000)
    expect(await newestChange(app)).toEqual({ added: after.slice(0, 1000), removed: before.slice(0, 1000), addedCount: 10_000, removedCount: 10_000 })
  })

  it('name the first 1,000 of 5,000 ids a new flag starts with, and count them all', async () => {
    const users = ids('user', 5000)
    await createFlag(app, { key: 'big', betaUsers: users })
    expect(await newestChange(app)).toEqual({ added: users.slice(0, 1000), removed: [], addedCount: 5000 })
  })

  it('name every id of a small change to a 10,000-id list, without counts', async () => {
    const users = ids('user', 10_000)
    await createFlag(app, { key: 'big', betaUsers: users })
    const gone = [users[17], users[4242], users[9000]]
    const next = [...users.filter((u) => !gone.includes(u)), 'newcomer-1', 'newcomer-2']
    await updateFlag(app, 'big', { betaUsers: next })
    expect(await newestChange(app)).toEqual({ added: ['newcomer-1', 'newcomer-2'], removed: gone })
  })

  it('count a side only past 1,000: exactly 1,000 ids are all named, 1,001 are cut and counted', async () => {
    const first = ids('first', 1000)
    await createFlag(app, { key: 'edge', betaUsers: first })
    expect(await newestChange(app)).toEqual({ added: first, removed: [] })

    const second = ids('second', 1001)
    await updateFlag(app, 'edge', { betaUsers: second })
    expect(await newestChange(app)).toEqual({ added: second.slice(0, 1000), removed: first, addedCount: 1001 })

    await updateFlag(app, 'edge', { betaUsers: [] })
    expect(await newestChange(app)).toEqual({ added: [], removed: second.slice(0, 1000), removedCount: 1001 })
  })

  it('apply the same rule to betaTenants, and to a deleted flag', async () => {
    const tenants = ids('tenant', 2500)
    await createFlag(app, { key: 'tenanted', betaTenants: tenants })
    expect(await newestChange(app, 'betaTenants')).toEqual({ added: tenants.slice(0, 1000), removed: [], addedCount: 2500 })
    await call(app, 'DELETE', '/flags/tenanted', { expected: 204 })
    expect(await newestChange(app, 'betaTenants')).toEqual({ added: [], removed: tenants.slice(0, 1000), removedCount: 2500 })
  })
})

describe('AUDIT_MAX_BYTES on the memory store', () => {
  const CAP = 300_000

  it('drops the oldest events past the cap, keeps the newest even when it alone is larger, and never answers more', async () => {
    const store = new MemoryStore({ auditMaxBytes: CAP })
    const app = await startApp({}, { store })
    try {
      // The bytes of every event as it was committed (the store counts the JSON of each).
      const sizes = new Map<number, number>()
      const record = async () => {
        const [event] = (await store.readAudit({ limit: 1 })).events
        sizes.set(event!.seq, Buffer.byteLength(JSON.stringify(event)))
      }
      const fitting = () => newestWithin(sizes, CAP)
      const check = async () => {
        const { events, nextCursor } = await listAudit(app, { limit: 1000 })
        expect(nextCursor).toBeUndefined()
        expect(events.map((e: { seq: number }) => e.seq)).toEqual(fitting())
        if (events.length > 1) expect(events.reduce((sum: number, e: { seq: number }) => sum + sizes.get(e.seq)!, 0)).toBeLessThanOrEqual(CAP)
      }

      await createFlag(app, { key: 'big', betaUsers: ids('list0', 300, 100) })
      await record()
      await check()
      // Each swap records both lists (about 100 bytes an id): 50 to 130 KB an event.
      for (const [i, n] of [500, 200, 700, 100, 400, 600, 250].entries()) {
        await updateFlag(app, 'big', { betaUsers: ids(`list${i + 1}`, n, 100) })
        await record()
        await check()
      }
      expect(sizes.size).toBe(8)
      expect(fitting().length).toBeGreaterThan(1)
      expect(fitting().length).toBeLessThan(sizes.size)

      // 1,000 ids of 200 characters each side: about 400 KB, over the cap on its own.
      await updateFlag(app, 'big', { betaUsers: ids('wide-a', 1000, 200) })
      await record()
      await updateFlag(app, 'big', { betaUsers: ids('wide-b', 1000, 200) })
      await record()
      const newest = Math.max(...sizes.keys())
      expect(sizes.get(newest)).toBeGreaterThan(CAP)
      await check()
      expect((await listAudit(app, { limit: 1000 })).events.map((e: { seq: number }) => e.seq)).toEqual([newest])

      await updateFlag(app, 'big', { description: 'small' })
      await record()
      await check()
      const { events } = await listAudit(app, { limit: 1000 })
      expect(events).toHaveLength(1)
      expect(events[0].changes).toEqual({ description: { before: '', after: 'small' } })
    } finally {
      await app.close()
    }
  })
})

describe('AUDIT_MAX_BYTES in the configuration', () => {
  it('bounds the trail of the store the service creates from it', async () => {
    const dir = tempDir()
    const app = await startApp({}, { store: await createStore(loadConfig({ DATA_DIR: dir.path, AUDIT_MAX_BYTES: String(MiB) })) })
    try {
      const a = ids('side-a', 1000, 200)
      const b = ids('side-b', 1000, 200)
      await createFlag(app, { key: 'big', betaUsers: a })
      // About 400 KB a swap: two fit in 1 MiB, three do not.
      for (let i = 0; i < 4; i++) await updateFlag(app, 'big', { betaUsers: i % 2 ? a : b })
      const { events } = await listAudit(app, { limit: 1000 })
      expect(events.map((e: { version: number }) => e.version)).toEqual([5, 4])
    } finally {
      await app.close()
      dir.remove()
    }
  })
})

describe('GET /audit pages of large events', () => {
  // A token's creation, then a flag's and 24 swaps of 1,000 ids of 200 characters for 1,000
  // others: about 400 KB an event, 10 MB in all.
  let app: FastifyInstance
  beforeAll(async () => {
    app = await startApp()
    await createToken(app, 'reader', 'evaluate')
    const a = ids('side-a', 1000, 200)
    const b = ids('side-b', 1000, 200)
    await createFlag(app, { key: 'big', betaUsers: a })
    for (let i = 0; i < 24; i++) await updateFlag(app, 'big', { betaUsers: i % 2 ? a : b })
  })
  afterAll(async () => {
    await app.close()
  })

  it.each([
    ['every event', {}, 26],
    ['the events of one flag', { flag: 'big' }, 25],
  ])('end at 4 MiB with a cursor, and walk %s exactly once, newest first', async (_what, filter, total) => {
    const seen: number[] = []
    let cursor: string | undefined
    const pages: { bytes: number; events: number; cursor?: string }[] = []
    do {
      const qs = new URLSearchParams({ ...filter, limit: '1000', ...(cursor ? { cursor } : {}) })
      const res = await call(app, 'GET', `/audit?${qs}`)
      expect(res.statusCode, res.body.slice(0, 200)).toBe(200)
      const page = res.json() as { events: { seq: number }[]; nextCursor?: string }
      expect(page.events.length).toBeGreaterThan(0)
      pages.push({ bytes: Buffer.byteLength(res.body), events: page.events.length, cursor: page.nextCursor })
      seen.push(...page.events.map((e) => e.seq))
      cursor = page.nextCursor
    } while (cursor !== undefined && pages.length < 50)

    expect(pages.length).toBeGreaterThanOrEqual(3)
    for (const page of pages) expect(page.bytes).toBeLessThan(4.5 * MiB)
    // A page that ends early is full: it ended on bytes, not sooner.
    for (const page of pages.slice(0, -1)) {
      expect(page.cursor).toBeDefined()
      expect(page.bytes).toBeGreaterThanOrEqual(AUDIT_PAGE_MAX_BYTES)
    }
    expect(pages.at(-1)!.cursor).toBeUndefined()
    expect(seen).toHaveLength(total)
    expect(new Set(seen).size).toBe(total)
    expect(seen).toEqual([...seen].sort((x, y) => y - x))
    // The same events as small pages, which no byte bound touches.
    const small: number[] = []
    cursor = undefined
    do {
      const page = await listAudit(app, { ...filter, limit: 5, cursor })
      small.push(...page.events.map((e: { seq: number }) => e.seq))
      cursor = page.nextCursor
    } while (cursor !== undefined)
    expect(seen).toEqual(small)
  })
})
