// Review of issue 20's schedule arithmetic and cache (hostile review, branch sched-review).
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { nextTransition, phaseAt, timelineOf } from '../../packages/core/src/evaluation/schedule.js'
import { FLAG_DEFAULTS, type Flag, type Schedule } from '../../packages/core/src/flags/schema.js'

const flagOf = (schedule: Schedule, fields: Partial<Flag> = {}): Flag =>
  ({ ...FLAG_DEFAULTS, key: 'ramped', model: 4, version: 1, schedule, ...fields }) as Flag

describe('nextTransition against a scan', () => {
  it('is exactly the first instant after t at which the phase changes (small ramps, every ms)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 100_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.integer({ min: 2, max: 400 }),
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 0, max: 3 }),
        (from, to, span, interval, basePct) => {
          if (interval >= span) interval = 1
          const ramp = { from: from / 1000, to: to / 1000, start: at(T0), end: at(T0 + span) }
          const tl = timelineOf(flagOf({ ramp }, { state: 'percentage', percentage: basePct }))!
          const r = { ...tl, ramp: { ...tl.ramp!, interval } }
          const key = (p: { state: string; threshold: number }) => `${p.state}:${p.threshold}`
          for (let t = T0 - 2; t <= T0 + span + 1; t++) {
            const now = key(phaseAt(r, t))
            let expected: number | undefined
            for (let u = t + 1; u <= T0 + span + 1; u++)
              if (key(phaseAt(r, u)) !== now) {
                expected = u
                break
              }
            const next = nextTransition(r, t)
            // a transition that changes nothing is tolerated only before the start
            if (next !== undefined && key(phaseAt(r, next.at)) === now) {
              expect(t < T0, `t=${t} next=${next.at - T0} changes nothing`).toBe(true)
              continue
            }
            expect(next?.at, `from=${from} to=${to} span=${span} interval=${interval} t=${t - T0}`).toBe(expected)
            if (next) expect(next.threshold).toBe(phaseAt(r, next.at).threshold)
          }
        },
      ),
      { numRuns: 300 },
    )
  })
})

import { flagTimeline, FLAG_TRAIL_MAX } from '../../packages/server/src/audit/transitions.js'
import type { AuditEvent, AuditPage, AuditQuery } from '../../packages/core/src/audit/schema.js'
import type { Store } from '../../packages/server/src/store/store.js'
import { T0, at } from '../support/schedule-time.js'

describe('GET /audit?flag= on a long trail', () => {
  it('still pages back past FLAG_TRAIL_MAX events: older events stay reachable', async () => {
    const total = FLAG_TRAIL_MAX + 500
    const event = (seq: number): AuditEvent =>
      ({
        ...{ id: `e${seq}`, seq, type: 'audit', action: 'flag.updated', flag: 'busy', actor: 'a', actorId: 'a', requestId: 'r' },
        ...{ timestamp: at(T0 + seq), changes: { description: { before: '', after: `${seq}` } } },
      }) as unknown as AuditEvent
    // The store's paging: newest first, `before` exclusive.
    const store = {
      async readAudit(q: AuditQuery): Promise<AuditPage> {
        const top = Math.min(q.before === undefined ? total + 1 : q.before, total + 1)
        const events: AuditEvent[] = []
        for (let seq = top - 1; seq >= 1 && events.length < q.limit; seq--) events.push(event(seq))
        const last = events[events.length - 1]
        return last && last.seq > 1 ? { events, nextCursor: String(last.seq) } : { events }
      },
    } as unknown as Store
    const page = await flagTimeline(store, undefined, { flag: 'busy', before: 300, limit: 10 }, T0 + total + 1)
    expect(page.events.map((e) => e.seq)).toEqual([299, 298, 297, 296, 295, 294, 293, 292, 291, 290])
  })
})
