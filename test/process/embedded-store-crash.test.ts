// Crash points on a real small disk: random writes of random sizes on a 1 MB tmpfs (so appends
// run short and fail with ENOSPC), torn tails, the disk enlarged, and the process "killed" between
// any two steps. Whatever happens, a reload holds exactly the acknowledged writes, and the store
// takes writes again once there is room.
import { appendFileSync, mkdtempSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { FLAG_DEFAULTS, type Flag } from '../../packages/core/src/flags/schema.js'
import { StoreUnavailableError } from '../../packages/server/src/store/errors.js'
import { FileStore } from '../../packages/server/src/store/file.js'
import type { Write } from '../../packages/server/src/store/store.js'
import { mountTmpfs } from '../support/tmpfs.js'

const NOW = '2026-01-01T00:00:00.000Z'

function flagWrite(key: string, current: Flag | null, bytes: number, mark: number): Write {
  const version = (current?.version ?? 0) + 1
  const next: Flag = {
    ...FLAG_DEFAULTS,
    ...current,
    key,
    description: `${mark}`,
    // Long ids make the line as large as asked; each write changes them all.
    betaUsers: Array.from({ length: Math.ceil(bytes / 200) }, (_, i) => `${mark}-${i}-`.padEnd(190, 'x')),
    version,
    createdAt: NOW,
    updatedAt: NOW,
    updatedBy: 'test',
  }
  return {
    kind: 'flag',
    key,
    expectedVersion: current?.version ?? 0,
    next,
    audit: {
      id: `${key}-${version}`,
      type: 'audit',
      action: current ? 'flag.updated' : 'flag.created',
      flag: key,
      version,
      actor: 'test',
      requestId: 'r',
      timestamp: NOW,
      changes: {},
    },
  }
}

type Step = { op: 'write'; key: string; bytes: number } | { op: 'fill'; key: string } | { op: 'crash' } | { op: 'torn'; bytes: number } | { op: 'grow' }

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({ op: fc.constant('write' as const), key: fc.constantFrom('a', 'b', 'c'), bytes: fc.integer({ min: 100, max: 200_000 }) }),
  },
  // Writes of 200 KB until one is refused: the next steps meet a full disk.
  { weight: 1, arbitrary: fc.record({ op: fc.constant('fill' as const), key: fc.constantFrom('a', 'b', 'c') }) },
  { weight: 2, arbitrary: fc.constant({ op: 'crash' as const }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('torn' as const), bytes: fc.integer({ min: 1, max: 100_000 }) }) },
  { weight: 1, arbitrary: fc.constant({ op: 'grow' as const }) },
)

describe('the embedded store on a small real disk, stopped at any point', () => {
  it('reloads exactly the acknowledged writes, and takes writes again once the disk has room', async () => {
    let mark = 0
    let refusals = 0
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 12 }), fc.array(step, { minLength: 5, maxLength: 20 }), async (compactEvery, steps) => {
        const disk = mountTmpfs('1m')
        const stores: FileStore[] = []
        try {
          const dir = mkdtempSync(join(disk.path, 'data-'))
          const open = async () => {
            const store = new FileStore(dir, { compactEvery })
            stores.push(store)
            await store.load()
            return store
          }
          let store = await open()
          const acked = new Map<string, Flag>()
          let seq = 0

          const expectHolds = async (s: FileStore) => {
            const snapshot = await s.load()
            expect(new Map(snapshot.flags.map((f) => [f.key, f]))).toEqual(acked)
            expect(snapshot.seq).toBe(seq)
          }

          /** Stops `old` as a crash between two steps would find it, and starts again on the directory. */
          const restart = async (old: FileStore) => {
            // Let work already queued (a fold) finish first.
            await old.load()
            // What a restart would load, read without taking the directory.
            await expectHolds(new FileStore(dir, { readOnly: true }))
            let next: FileStore
            try {
              next = await open()
            } catch (err) {
              // A restart on a full disk is refused; with room it goes ahead.
              expect((err as Error).message).toMatch(/is full/)
              disk.resize('64m')
              next = await open()
            }
            await expectHolds(next)
            return next
          }

          /** Commits a write of `bytes`; false when the store refused it for want of room. */
          const write = async (key: string, bytes: number) => {
            const w = flagWrite(key, acked.get(key) ?? null, bytes, ++mark)
            try {
              await store.commit(w)
              acked.set(key, (w as { next: Flag }).next)
              seq++
              return true
            } catch (err) {
              expect(err).toBeInstanceOf(StoreUnavailableError)
              expect((err as Error).message).toMatch(/ENOSPC/)
              refusals++
              return false
            }
          }

          for (const s of steps) {
            if (s.op === 'write') {
              await write(s.key, s.bytes)
            } else if (s.op === 'fill') {
              for (let i = 0; i < 12 && (await write(s.key, 200_000)); i++);
            } else if (s.op === 'grow') {
              disk.resize('64m')
            } else {
              if (s.op === 'torn') {
                // A power cut in the middle of an append; on a full disk only part of it may land.
                try {
                  appendFileSync(store.journalPath, `{"seq":${seq + 1},"kind":"flag","id":"a","patch":{"op":"put","value":{"key":"a"${'x'.repeat(s.bytes)}`)
                } catch {
                  // ENOSPC: whatever reached the disk is the torn tail
                }
              }
              store = await restart(store)
            }
          }
          store = await restart(store)
          // With room, every key takes a write again, and the result survives another restart.
          disk.resize('64m')
          for (const key of ['a', 'b', 'c']) {
            const write = flagWrite(key, acked.get(key) ?? null, 1000, ++mark)
            await store.commit(write)
            acked.set(key, (write as { next: Flag }).next)
            seq++
          }
          await expectHolds(await open())
        } finally {
          for (const s of stores) await s.close().catch(() => undefined)
          disk.remove()
        }
      }),
      { numRuns: 40 },
    )
    // The runs did reach the paths under test: refused writes on a full disk.
    expect(refusals).toBeGreaterThan(0)
  }, 300_000)
})
