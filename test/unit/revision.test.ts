// A replica's revision (issue 15): the highest seq applied with every lower one applied, whatever
// order the seqs arrive in, and the waits of X-Switchyard-Min-Revision on it.
import { describe, expect, it } from 'vitest'
import { SeqSet } from '../../packages/core/src/replica/seq-set.js'
import { AppliedRevision, MAX_WAITERS } from '../../packages/server/src/replica/revision.js'

describe('SeqSet', () => {
  it('moves past a gap only once the gap is filled', () => {
    const seqs = new SeqSet()
    expect(seqs.add(1)).toBe(true)
    expect(seqs.add(3)).toBe(false)
    expect(seqs.add(4)).toBe(false)
    expect([seqs.contiguous, seqs.newest]).toEqual([1, 4])
    expect(seqs.add(2)).toBe(true)
    expect(seqs.contiguous).toBe(4)
    expect(seqs.add(2)).toBe(false)
  })

  it('a snapshot takes every seq below it, and the ones waiting above it join', () => {
    const seqs = new SeqSet()
    seqs.add(7)
    seqs.add(9)
    expect(seqs.addThrough(6)).toBe(true)
    expect(seqs.contiguous).toBe(7)
    seqs.addThrough(8)
    expect(seqs.contiguous).toBe(9)
    expect(seqs.addThrough(5)).toBe(false)
  })

  it('a restart forgets the seqs of the old sequence, above and below', () => {
    const seqs = new SeqSet()
    seqs.add(1)
    seqs.add(50)
    seqs.restart(20)
    expect([seqs.contiguous, seqs.newest]).toEqual([20, 20])
    seqs.add(21)
    expect(seqs.contiguous).toBe(21)
  })
})

describe('AppliedRevision.reached', () => {
  it('answers at once when the revision is there, and wakes a waiter when it arrives', async () => {
    const revision = new AppliedRevision()
    revision.applied(1)
    expect(revision.reached(1, 1000)).toBe(true)
    const waiting = revision.reached(3, 10_000)
    revision.applied(3)
    revision.applied(2)
    await expect(waiting).resolves.toBe(true)
  })

  it('gives up after the wait, and a later arrival wakes nobody twice', async () => {
    const revision = new AppliedRevision()
    await expect(revision.reached(5, 20)).resolves.toBe(false)
    revision.appliedThrough(5)
    expect(revision.value).toBe(5)
  })
})

describe('AppliedRevision waiters', () => {
  it('holds at most MAX_WAITERS at once, and a waiter that timed out frees its place', async () => {
    const revision = new AppliedRevision()
    const waiting = Array.from({ length: MAX_WAITERS }, () => revision.reached(1, 30))
    expect(revision.reached(1, 30)).toBeUndefined()
    expect(await Promise.all(waiting)).toEqual(waiting.map(() => false))
    const later = revision.reached(1, 10_000)
    expect(later).toBeInstanceOf(Promise)
    revision.applied(1)
    await expect(later).resolves.toBe(true)
  })
})
