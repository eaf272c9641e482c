// The write path every registry shares: a conflict drafts the write again from what the store
// holds, a bounded number of times; a draft with nothing to change writes nothing.
import { describe, expect, it } from 'vitest'
import type { Actor } from '../../packages/server/src/audit/audit.js'
import { FLAG_DEFAULTS, type Flag } from '../../packages/core/src/flags/schema.js'
import { commitAndApply } from '../../packages/server/src/replica/commit-and-apply.js'
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

describe('commitAndApply', () => {
  it('drafts the write again from the version the store holds after a conflict, and applies the one that commits', async () => {
    const store = new Contended(2)
    const applied: Change[] = []
    const seen: (number | undefined)[] = []
    const result = await commitAndApply({ store, actor, what: "flag 'k'", apply: (c) => applied.push(c) }, (conflict) => {
      seen.push(conflict?.current?.version)
      // The store itself holds no flag: a create passes its real version check once the races stop.
      return write(0, flag(1))
    })
    expect(seen).toEqual([undefined, 101, 102])
    expect(result?.kind === 'flag' && result.next?.version).toBe(1)
    expect(store.commits).toBe(3)
    expect(applied).toHaveLength(1)
  })

  it('gives up with STORE_UNAVAILABLE after 50 attempts in a row, having applied nothing', async () => {
    const store = new Contended(1000)
    const applied: Change[] = []
    const attempt = commitAndApply({ store, actor, what: "flag 'k'", apply: (c) => applied.push(c) }, () => write(0, flag(1)))
    await expect(attempt).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE', message: expect.stringContaining("flag 'k' changed under 50 attempts") })
    expect(store.commits).toBe(50)
    expect(applied).toEqual([])
  })

  it('writes nothing when the draft finds nothing to change', async () => {
    const store = new Contended(0)
    expect(await commitAndApply({ store, actor, what: "flag 'k'", apply: () => undefined }, () => null)).toBeNull()
    expect(store.commits).toBe(0)
  })
})
