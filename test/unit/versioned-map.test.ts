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

describe('VersionedMap.digest', () => {
  const identified = () => new VersionedMap<string>((value) => value)

  it('is the same for the same values whatever order and path they came by, and moves with each change', () => {
    const oneByOne = identified()
    oneByOne.apply('b', 2, 'b@1')
    oneByOne.apply('a', 1, 'a@1')
    oneByOne.apply('a', 3, 'a@2')
    const snapshot = identified()
    snapshot.reset(
      [
        ['a', 'a@2'],
        ['b', 'b@1'],
      ],
      3,
    )
    expect(oneByOne.digest).toMatch(/^[0-9a-f]{16}$/)
    expect(oneByOne.digest).toBe(snapshot.digest)
    oneByOne.apply('b', 4, null)
    expect(oneByOne.digest).not.toBe(snapshot.digest)
    snapshot.apply('b', 4, null)
    expect(oneByOne.digest).toBe(snapshot.digest)
  })

  it('an exact reset keeps nothing held, not even values newer than the snapshot', () => {
    const map = identified()
    map.apply('a', 10, 'a@5')
    map.reset([['b', 'b@1']], 3, true)
    expect([map.get('a'), map.get('b')]).toEqual([undefined, 'b@1'])
    const fresh = identified()
    fresh.reset([['b', 'b@1']], 3)
    expect(map.digest).toBe(fresh.digest)
  })
})
