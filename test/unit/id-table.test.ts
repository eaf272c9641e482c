// IdTable (core's segments/id-table.ts) against a Set: the same answers, sizes and order, under
// seeded random edits, growth, deletion, compaction, non-ASCII ids and ids its sampled hash cannot tell apart.
import { describe, expect, it } from 'vitest'
import { IdTable } from '../../packages/core/src/segments/id-table.js'

/** mulberry32: a seeded generator, so every run makes the same sequence. */
function random(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const ALPHABETS = ['abcdef0123456789-', 'é\u0301ñü\u212a', '日本語\u{1f600}', 'aK;`\u00ff\u0100']

/** An id from a pool of `distinct`, so adds and deletes hit ids already in as often as new ones. */
function idMaker(next: () => number, distinct: number): () => string {
  const ids = Array.from({ length: distinct }, (_, i) => {
    const alphabet = [...ALPHABETS[i % ALPHABETS.length]!]
    const length = 1 + Math.floor(next() * 40)
    return Array.from({ length }, () => alphabet[Math.floor(next() * alphabet.length)]).join('') + `:${i}`
  })
  return () => ids[Math.floor(next() * distinct)]!
}

/** The table holds exactly what the Set holds, in the same (insertion) order. */
function expectSame(table: IdTable, set: Set<string>): void {
  expect(table.size).toBe(set.size)
  expect([...table]).toEqual([...set])
}

describe('IdTable', () => {
  for (const setMax of [0, 64]) {
    it(`answers as a Set does under seeded random adds, deletes and look-ups (Set up to ${setMax} ids)`, () => {
      for (const seed of [1, 2, 3]) {
        const next = random(seed)
        const id = idMaker(next, 3000)
        const table = new IdTable(0, 0, setMax)
        const set = new Set<string>()
        for (let step = 0; step < 40_000; step++) {
          const x = id()
          const r = next()
          // Phases that lean towards adding, then deleting, so the table grows, shrinks and grows again.
          const adding = Math.floor(step / 5000) % 2 === 0 ? 0.6 : 0.3
          if (r < adding) {
            table.add(x)
            set.add(x)
          } else if (r < 0.75) {
            expect(table.delete(x)).toBe(set.delete(x))
          } else {
            expect(table.has(x)).toBe(set.has(x))
          }
          expect(table.size).toBe(set.size)
        }
        expectSame(table, set)
        for (let i = 0; i < 3000; i++) {
          const x = id()
          expect(table.has(x)).toBe(set.has(x))
        }
      }
    })
  }

  it('tells apart ids that differ only in a unit above 0xff, or in length', () => {
    const ids = [
      'cafe\u0301',
      'café',
      'cafe',
      'caf',
      'cafe\u0300',
      '\u212a',
      'K',
      '',
      'ÿ',
      '\u0100',
      '\u{1f600}',
      '\ud83d',
      'x'.repeat(20_000),
      'x'.repeat(20_001),
    ]
    const table = new IdTable(0, 0, 0)
    for (const id of ids) table.add(id)
    expect(table.size).toBe(ids.length)
    for (const id of ids) expect(table.has(id)).toBe(true)
    expect(table.has('cafe\u0302')).toBe(false)
    expect(table.has('x'.repeat(19_999))).toBe(false)
    expect([...table]).toEqual(ids)
  })

  it('grows from empty to 200,000 ids and finds each, and none other', () => {
    const table = new IdTable(0, 0, 0)
    for (let i = 0; i < 200_000; i++) table.add(`member-${i}`)
    expect(table.size).toBe(200_000)
    for (let i = 0; i < 200_000; i += 7) expect(table.has(`member-${i}`)).toBe(true)
    for (let i = 200_000; i < 210_000; i++) expect(table.has(`member-${i}`)).toBe(false)
    expect(table.has('member-')).toBe(false)
  })

  it('moves from a Set to its slots past setMax, keeping the order', () => {
    const ids = Array.from({ length: 100 }, (_, i) => `id-${(i * 37) % 100}`)
    const table = new IdTable(0, 0, 50)
    for (const id of ids) table.add(id)
    expect([...table]).toEqual(ids)
    expect(IdTable.from(ids, 10).has('id-99')).toBe(true)
  })

  it('reuses the room of deleted ids: deleting and adding forever keeps it bounded', () => {
    const table = new IdTable(0, 0, 0)
    for (let i = 0; i < 1000; i++) table.add(`keep-${i}`)
    const bytes = (t: IdTable) => (t as unknown as { pool: Uint8Array }).pool.length + (t as unknown as { slots: Int32Array }).slots.length * 4
    const start = bytes(table)
    for (let round = 0; round < 200; round++) {
      for (let i = 0; i < 500; i++) table.add(`churn-${round}-${i}`)
      for (let i = 0; i < 500; i++) expect(table.delete(`churn-${round}-${i}`)).toBe(true)
    }
    expect(table.size).toBe(1000)
    expect(bytes(table)).toBeLessThanOrEqual(start * 4)
    for (let i = 0; i < 1000; i++) expect(table.has(`keep-${i}`)).toBe(true)
    expect(table.has('churn-0-0')).toBe(false)
    expect([...table]).toEqual(Array.from({ length: 1000 }, (_, i) => `keep-${i}`))
  })

  it('clear() empties it, and it fills again', () => {
    const table = IdTable.from(['a', 'b', 'c'], 0)
    table.clear()
    expect(table.size).toBe(0)
    expect(table.has('a')).toBe(false)
    expect([...table]).toEqual([])
    table.add('b')
    expect([...table]).toEqual(['b'])
  })

  it('hashes ids whole once its sampled hash lets too many collide, and still answers exactly', () => {
    // 40-unit ids that differ only in the middle, where the sample does not look.
    const ids = Array.from({ length: 5000 }, (_, i) => `prefix-prefix-${String(i).padStart(6, '0')}x-suffix-suffix`)
    const table = IdTable.from(ids, 0)
    expect((table as unknown as { full: boolean }).full).toBe(true)
    for (const id of ids) expect(table.has(id)).toBe(true)
    expect(table.has('prefix-prefix-005000x-suffix-suffix')).toBe(false)
    expect([...table]).toEqual(ids)
    for (const id of ids.slice(0, 2500)) table.delete(id)
    expect([...table]).toEqual(ids.slice(2500))
  })
})
