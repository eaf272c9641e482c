// VersionedMap's revision: it moves whenever the values do, and names this map's state only, so
// no revision names two states, on one replica or across replicas.
import { describe, expect, it } from 'vitest'
import { VersionedMap } from '../../packages/core/src/replica/versioned-map.js'

const seqOf = (revision: string) => Number(revision.split('~')[0])

describe('VersionedMap.revision', () => {
  it('starts from the newest seq applied', () => {
    const map = new VersionedMap<string>()
    expect(seqOf(map.revision)).toBe(0)
    map.reset([['x', 'x1']], 4)
    map.apply('y', 7, 'y1')
    expect(seqOf(map.revision)).toBe(7)
  })

  it('differs between two maps even at the same seq: one may have missed a change the other holds', () => {
    const complete = new VersionedMap<string>()
    const missed = new VersionedMap<string>()
    complete.apply('a', 9, 'a9')
    complete.apply('b', 10, 'b10')
    missed.apply('b', 10, 'b10')
    expect(seqOf(complete.revision)).toBe(seqOf(missed.revision))
    expect(complete.revision).not.toBe(missed.revision)
  })

  it('does not move for a change it does not apply', () => {
    const map = new VersionedMap<string>()
    map.apply('x', 5, 'x1')
    const revision = map.revision
    expect(map.apply('x', 5, 'x1')).toBe(false)
    expect(map.apply('x', 3, 'x0')).toBe(false)
    expect(map.revision).toBe(revision)
  })

  it('moves for a change applied after a newer one', () => {
    const late = new VersionedMap<string>()
    late.apply('y', 12, 'y1')
    const before = late.revision
    expect(late.apply('x', 11, 'x1')).toBe(true)
    expect(late.revision).not.toBe(before)
    const after = late.revision
    late.apply('z', 13, 'z1')
    expect(late.revision).not.toBe(after)
    expect(seqOf(late.revision)).toBe(13)
  })

  it('moves for a snapshot no newer than what it holds, which may repair a missed change', () => {
    const map = new VersionedMap<string>()
    map.apply('y', 11, 'y1')
    const before = map.revision
    map.reset(
      [
        ['x', 'x1'],
        ['y', 'y1'],
      ],
      11,
    )
    expect(map.revision).not.toBe(before)
    map.reset(
      [
        ['x', 'x1'],
        ['y', 'y2'],
      ],
      14,
    )
    expect(seqOf(map.revision)).toBe(14)
  })
})
