// Review of issue 21 (guarded rollouts), without a server: each test FAILS on 7ce4b9c.
import { describe, expect, it } from 'vitest'
import pino from 'pino'
import { LeaseKeeper } from '../../packages/server/src/replica/lease.js'
import type { Store } from '../../packages/server/src/store/store.js'
import { loadConfig } from '../../packages/server/src/config.js'

describe('review: the guard lease', () => {
  it('stop() while a renewal is in flight leaves no lease behind (another replica takes it at once, not after the TTL)', async () => {
    let held: number | null = null
    let answer!: () => void
    const store = {
      holdLease: async () => {
        await new Promise<void>((resolve) => (answer = resolve))
        held = 1
        return 1
      },
      releaseLease: async (_name: string, token: number) => {
        if (held === token) held = null
      },
    } as unknown as Store
    const keeper = new LeaseKeeper(store, 'guards', pino({ level: 'silent' }), { ttlMs: 6000, renewMs: 2000 })
    keeper.start()
    // The process closes while the first renewal is on the wire; then its answer arrives.
    const stopped = keeper.stop()
    answer()
    await stopped
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(keeper.fence(), 'a stopped keeper holds no fence').toBeUndefined()
    expect(held, 'the lease is given back, not left to expire').toBeNull()
  })
})

describe('review: secrets in GUARD_HTTP_SOURCES', () => {
  it('a comma inside a source URL stays in it, and a startup error never quotes a piece of a URL', () => {
    const secret = 'c2VjcmV0'
    expect(loadConfig({ GUARD_HTTP_SOURCES: `errors=https://metrics.internal/q?token=abc,${secret}==` }).guardSources).toEqual([
      { name: 'errors', kind: 'http', url: `https://metrics.internal/q?token=abc,${secret}==` },
    ])
    for (const value of [`errors=https://m/q?token=abc,${secret} x=http://y`, `${secret}:x=http://m/q`]) {
      let message = ''
      try {
        loadConfig({ GUARD_HTTP_SOURCES: value })
      } catch (err) {
        message = (err as Error).message
      }
      expect(message, value).toMatch(/GUARD_HTTP_SOURCES entry \d/)
      expect(message).not.toContain(secret)
    }
  })
})
