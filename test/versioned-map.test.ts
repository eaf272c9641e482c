// VersionedMap's revision: the store's seq when changes arrive in order, and a name of this map's
// own whenever the values moved without the seq moving, so no revision names two states.
import { describe, expect, it } from 'vitest'
import { VersionedMap } from '../src/store/versioned-map.js'

describe('VersionedMap.revision', () => {
  it('is the newest seq applied, the same on two maps given the same changes', () => {
    const a = new VersionedMap<string>()
    const b = new VersionedMap<string>()
    expect(a.revision).toBe('0')
    for (const map of [a, b]) {
      map.reset([['x', 'x1']], 4)
      map.apply('y', 7, 'y1')
    }
    expect(a.revision).toBe('7')
    expect(b.revision).toBe(a.revision)
  })

  it('does not move for a change it does not apply', () => {
    const map = new VersionedMap<string>()
    map.apply('x', 5, 'x1')
    expect(map.apply('x', 5, 'x1')).toBe(false)
    expect(map.apply('x', 3, 'x0')).toBe(false)
    expect(map.revision).toBe('5')
  })

  it('moves, to a name of its own, for a change applied after a newer one', () => {
    const late = new VersionedMap<string>()
    late.apply('y', 12, 'y1')
    const before = late.revision
    expect(late.apply('x', 11, 'x1')).toBe(true)
    const after = late.revision
    expect(after).not.toBe(before)
    // A map that got both in order holds the same values under '12': the late one's name differs from it too.
    const inOrder = new VersionedMap<string>()
    inOrder.apply('x', 11, 'x1')
    inOrder.apply('y', 12, 'y1')
    expect(inOrder.revision).toBe('12')
    expect(after).not.toBe('12')
    late.apply('z', 13, 'z1')
    expect(late.revision).toBe('13')
  })

  it('moves for a snapshot no newer than what it holds, which may repair a missed change', () => {
    const map = new VersionedMap<string>()
    map.apply('y', 11, 'y1')
    const before = map.revision
    map.reset([['x', 'x1'], ['y', 'y1']], 11)
    expect(map.revision).not.toBe(before)
    map.reset([['x', 'x1'], ['y', 'y2']], 14)
    expect(map.revision).toBe('14')
  })
})
