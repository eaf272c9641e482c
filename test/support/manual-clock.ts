// A store clock a test moves by hand, whose timers fire only when the test says: time-driven code
// (a schedule's transitions) is tested without waiting through it.
import { StoreClock } from '../../packages/server/src/replica/clock.js'

export interface ManualClock {
  clock: StoreClock
  /** The instant now. */
  now(): number
  /** Moves the clock to `ms` and fires every timer due by then, in order; returns how many fired. */
  set(ms: number): number
  /** The instants of the timers set and not yet fired or cancelled. */
  pending(): number[]
  /** Every instant a timer was ever set for, in the order they were set. */
  readonly armed: number[]
}

export function manualClock(start: number): ManualClock {
  let t = start
  let timers: { at: number; fn: () => void }[] = []
  const armed: number[] = []
  class Manual extends StoreClock {
    override at(instant: number, fn: () => void): () => void {
      const timer = { at: instant, fn }
      timers.push(timer)
      armed.push(instant)
      return () => {
        timers = timers.filter((x) => x !== timer)
      }
    }
  }
  const clock = new Manual(() => t)
  return {
    clock,
    now: () => t,
    armed,
    pending: () => timers.map((x) => x.at),
    set(ms) {
      t = ms
      let fired = 0
      for (;;) {
        const due = timers.filter((x) => x.at <= t).sort((a, b) => a.at - b.at)[0]
        if (due === undefined) return fired
        timers = timers.filter((x) => x !== due)
        due.fn()
        fired++
      }
    },
  }
}
