// Whose clock schedules switch by (issue 20): a replica's offset to the store's clock (StoreClock)
// and an SDK's to its replica's (ReplicaClock), measured over injected clocks and round trips.
import { describe, expect, it, vi } from 'vitest'
import { StoreClock } from '../../packages/server/src/replica/clock.js'
import { ReplicaClock } from '../../packages/sdk/src/clock.js'
import { T0 } from '../support/schedule-time.js'

const SKEW = 30_000

/** A store 30 s ahead of the replica, whose reads take `legs[i]` ms out and back (the clock moves only with them). */
function skewedStore(legs: [number, number][]) {
  let local = T0
  let i = 0
  const read = async () => {
    const [out, back] = legs[i++ % legs.length]!
    local += out
    const storeTime = local + SKEW
    local += back
    return storeTime
  }
  return { local: () => local, read }
}

describe('StoreClock', () => {
  it('reads the local clock until measured, then the store’s: the offset from a symmetric round trip is exact', async () => {
    const store = skewedStore([[20, 20]])
    const clock = new StoreClock(store.local)
    expect(clock.now()).toBe(T0)
    expect(await clock.measure(store.read)).toBe(true)
    expect(clock.offsetMs).toBe(SKEW)
    expect(clock.roundTripMs).toBe(40)
    expect(clock.now()).toBe(store.local() + SKEW)
  })

  it('takes the read with the shortest round trip: one that waited in a queue on either leg is off by half its wait', async () => {
    const store = skewedStore([
      [300, 2],
      [2, 2],
      [2, 500],
    ])
    const clock = new StoreClock(store.local)
    await clock.measure(store.read)
    expect(clock.roundTripMs).toBe(4)
    // The first read alone would have put it 149 ms off, the last one 249 ms.
    expect(clock.offsetMs).toBe(SKEW)
  })

  it('keeps the last offset when the store cannot be read, and uses the reads that answered before a failure', async () => {
    const store = skewedStore([[10, 10]])
    const clock = new StoreClock(store.local)
    await clock.measure(store.read)
    expect(await clock.measure(() => Promise.reject(new Error('unreachable')))).toBe(false)
    expect(clock.offsetMs).toBe(SKEW)
    let reads = 0
    const flaky = async () => {
      if (++reads > 1) throw new Error('lost')
      return store.local() + SKEW + 5_000
    }
    expect(await clock.measure(flaky)).toBe(true)
    expect(clock.offsetMs).toBe(SKEW + 5_000)
  })
})

describe('ReplicaClock', () => {
  it('measures the offset from heartbeats, half the round trip added; the largest of the last four counts', () => {
    let local = T0 + SKEW
    const clock = new ReplicaClock(() => local)
    expect(clock.offsetMs).toBe(0)
    clock.connected(40)
    // Sent at T0 (replica time), read 20 ms later by a clock 30 s ahead.
    local = T0 + 20 + SKEW
    clock.comment(` heartbeat ${T0}`)
    expect(clock.offsetMs).toBe(-SKEW)
    // Read 300 ms late (a busy event loop): it looks 300 ms smaller, and does not count.
    local = T0 + 1000 + 320 + SKEW
    clock.comment(` heartbeat ${T0 + 1000}`)
    expect(clock.offsetMs).toBe(-SKEW)
    // Four more on time, with the process's clock stepped 2 s back: the late one and the old ones leave the window.
    for (let i = 2; i < 6; i++) {
      local = T0 + i * 1000 + 20 + SKEW - 2000
      clock.comment(` heartbeat ${T0 + i * 1000}`)
    }
    expect(clock.offsetMs).toBe(-SKEW + 2000)
  })

  it('ignores comments that are not heartbeats, and heartbeats without a time (servers before schedules)', () => {
    const clock = new ReplicaClock(() => T0)
    clock.connected(0)
    for (const text of [' heartbeat', ' a comment first', ' heartbeat soon', ` heartbeat ${T0 + 5}x`]) clock.comment(text)
    expect(clock.offsetMs).toBe(0)
  })

  it('reads the clock at most once per resolution: a field read in between, the timer gone once idle', () => {
    vi.useFakeTimers()
    try {
      let local = T0
      let reads = 0
      const clock = new ReplicaClock(() => {
        reads++
        return local
      }, 10)
      expect(clock.now()).toBe(T0)
      local += 1000
      expect(clock.now()).toBe(T0)
      expect(reads).toBe(1)
      vi.advanceTimersByTime(10)
      expect(clock.now()).toBe(T0 + 1000)
      expect(reads).toBe(2)
      // Two ticks without a read: the timer stops, and a read starts it again.
      vi.advanceTimersByTime(20)
      expect(vi.getTimerCount()).toBe(0)
      local += 5
      expect(clock.now()).toBe(T0 + 1005)
      expect(vi.getTimerCount()).toBe(1)
      clock.stop()
      expect(vi.getTimerCount()).toBe(0)
    } finally {
      vi.useRealTimers()
    }
  })

  it('reads the clock at every evaluation with resolution 0', () => {
    let local = T0
    const clock = new ReplicaClock(() => local, 0)
    expect(clock.now()).toBe(T0)
    local += 1
    expect(clock.now()).toBe(T0 + 1)
  })
})
