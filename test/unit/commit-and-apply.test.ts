// The write path every registry shares: a conflict drafts the write again from what the store
// holds, until the deadline; a draft with nothing to change writes nothing; writes to one record
// in one replica queue behind each other.
import { describe, expect, it } from 'vitest'
import type { Actor } from '../../packages/server/src/audit/audit.js'
import { FLAG_DEFAULTS, type Flag } from '../../packages/core/src/flags/schema.js'
import { commitAndApply, type Writer } from '../../packages/server/src/replica/commit-and-apply.js'
import { AppliedRevision } from '../../packages/server/src/replica/revision.js'
import { KeyQueue } from '../../packages/server/src/replica/key-queue.js'
import { ConflictError } from '../../packages/server/src/store/errors.js'
import { MemoryStore } from '../../packages/server/src/store/memory.js'
import type { Change, Write } from '../../packages/server/src/store/store.js'

const NOW = '2026-01-01T00:00:00.000Z'
const actor: Actor = { id: 'tok_test', name: 'test', requestId: 'r', log: { info() {} } as unknown as Actor['log'] }
const flag = (version: number): Flag => ({ ...FLAG_DEFAULTS, key: 'k', version, createdAt: NOW, updatedAt: NOW, updatedBy: 'test' })
const write = (expectedVersion: number, next: Flag): Write => ({
  kind: 'flag',
  key: 'k',
  expectedVersion,
  next,
  audit: {
    id: `e${next.version}`,
    type: 'audit',
    action: 'flag.updated',
    flag: 'k',
    actor: 'test',
    actorId: 'tok_test',
    requestId: 'r',
    timestamp: NOW,
    changes: {},
  },
})

/** A memory store whose flag `k` another writer moves on `lost` times before letting a write through. */
class Contended extends MemoryStore {
  commits = 0
  constructor(private lost: number) {
    super()
  }
  override async commit(w: Write): Promise<Change> {
    this.commits++
    if (this.lost-- > 0) throw new ConflictError(flag(100 + this.commits))
    return super.commit(w)
  }
}

const writer = (store: MemoryStore, apply: (c: Change) => unknown = () => undefined, deadlineMs = 10_000): Writer => ({
  store,
  actor,
  what: "flag 'k'",
  apply,
  queue: new KeyQueue(),
  key: 'k',
  deadlineMs,
  revision: new AppliedRevision(),
})

describe('commitAndApply', () => {
  it('drafts the write again from the version the store holds after a conflict, and applies the one that commits', async () => {
    const store = new Contended(2)
    const applied: Change[] = []
    const seen: (number | undefined)[] = []
    const result = await commitAndApply(
      writer(store, (c) => applied.push(c)),
      (conflict) => {
        seen.push(conflict?.current?.version)
        // The store itself holds no flag: a create passes its real version check once the races stop.
        return write(0, flag(1))
      },
    )
    expect(seen).toEqual([undefined, 101, 102])
    expect(result?.kind === 'flag' && result.next?.version).toBe(1)
    expect(store.commits).toBe(3)
    expect(applied).toHaveLength(1)
  })

  it('keeps retrying past 50 lost races, and refuses with WRITE_CONTENDED and Retry-After only at its deadline, having applied nothing', async () => {
    const store = new Contended(60)
    expect(await commitAndApply(writer(store), () => write(0, flag(1)))).not.toBeNull()
    expect(store.commits).toBe(61)

    const endless = new Contended(Infinity)
    const applied: Change[] = []
    const attempt = commitAndApply(
      writer(endless, (c) => applied.push(c), 200),
      () => write(0, flag(1)),
    )
    await expect(attempt).rejects.toMatchObject({ code: 'WRITE_CONTENDED', statusCode: 503, retryAfterSeconds: 1 })
    expect(endless.commits).toBeGreaterThan(1)
    expect(applied).toEqual([])
  })

  it('runs the writes to one record one at a time, each drafted after the one before it committed', async () => {
    const store = new MemoryStore()
    const shared = writer(store)
    let running = 0
    let most = 0
    let version = 0
    await Promise.all(
      Array.from({ length: 20 }, () =>
        commitAndApply(shared, async () => {
          running++
          most = Math.max(most, running)
          await new Promise((resolve) => setImmediate(resolve))
          running--
          version++
          return write(version - 1, flag(version))
        }),
      ),
    )
    expect(most).toBe(1)
    expect((await store.readFlag('k'))?.version).toBe(20)
  })

  it('lets the next write to a record run after one that failed, and holds nothing once they are done', async () => {
    const shared = writer(new MemoryStore())
    const failed = commitAndApply(shared, () => {
      throw new Error('refused by its draft')
    })
    const next = commitAndApply(shared, () => write(0, flag(1)))
    await expect(failed).rejects.toThrow('refused by its draft')
    expect(await next).not.toBeNull()
    await new Promise((resolve) => setImmediate(resolve))
    expect(shared.queue.size).toBe(0)
  })

  it('writes nothing when the draft finds nothing to change', async () => {
    const store = new Contended(0)
    expect(await commitAndApply(writer(store), () => null)).toBeNull()
    expect(store.commits).toBe(0)
  })
})
