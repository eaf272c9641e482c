// GET /audit?flag= as a timeline (issue 20): the transitions a schedule has made are listed as
// computed entries after the write that set it running, up to the store's now. Time is injected.
import type { FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import { StoreClock } from '../../packages/server/src/replica/clock.js'
import { MemoryStore } from '../../packages/server/src/store/memory.js'
import { call, createFlag, deleteFlag, listAudit, startApp, updateFlag } from '../support/helpers.js'
import { T0, DAY, at } from '../support/schedule-time.js'

const STEPS = [
  { at: at(T0 + DAY), state: 'beta_users' },
  { at: at(T0 + 2 * DAY), percentage: 5 },
  { at: at(T0 + 5 * DAY), percentage: 100 },
]

interface Entry {
  action: string
  seq: number
  version?: number
  actor: string
  timestamp: string
  computed?: true
  changes: Record<string, { before?: unknown; after?: unknown }>
  schedule?: string
}

let app: FastifyInstance
let now = T0
async function start(store = new MemoryStore()) {
  now = T0
  app = await startApp({}, { store, clock: new StoreClock(() => now) })
}
afterEach(async () => {
  await app.close()
})

const timeline = async (key: string, params: { cursor?: string; limit?: number; actor?: string } = {}) =>
  (await listAudit(app, { flag: key, ...params })).events as Entry[]
/** Each entry as [action, timestamp, changes], newest first. */
const brief = (events: Entry[]) => events.map((e) => [e.action, e.timestamp, e.changes])

describe('GET /audit?flag= with steps', () => {
  it('lists the steps reached as computed entries after the write that set them, with its seq and version', async () => {
    await start()
    await createFlag(app, { key: 'stepped', betaUsers: ['alice'], schedule: { steps: STEPS } })
    now = T0 + 3 * DAY
    const events = await timeline('stepped')
    expect(brief(events)).toEqual([
      ['flag.schedule_transition', STEPS[1]!.at, { state: { before: 'beta_users', after: 'percentage' }, percentage: { before: 0, after: 5 } }],
      ['flag.schedule_transition', STEPS[0]!.at, { state: { before: 'disabled', after: 'beta_users' } }],
      ['flag.created', at(T0), expect.objectContaining({ schedule: { before: null, after: { steps: STEPS } } })],
    ])
    const created = events[2]!
    for (const e of events.slice(0, 2)) expect(e).toMatchObject({ computed: true, actor: 'schedule', actorId: 'schedule', seq: created.seq, version: 1 })
    expect(created.computed).toBeUndefined()
    // The step still ahead is not listed until the store's clock passes it.
    now = T0 + 5 * DAY
    expect((await timeline('stepped')).map((e) => e.timestamp)).toEqual([STEPS[2]!.at, STEPS[1]!.at, STEPS[0]!.at, at(T0)])
  })

  it('without ?flag= lists the writes alone', async () => {
    await start()
    await createFlag(app, { key: 'stepped', schedule: { steps: STEPS } })
    now = T0 + 6 * DAY
    const { events } = await listAudit(app)
    expect(events.some((e: Entry) => e.computed)).toBe(false)
    expect(events.map((e: Entry) => e.action)).toContain('flag.created')
  })

  it('a pause ends the run: no transitions after it; a resume starts another, after the resume', async () => {
    await start()
    await createFlag(app, { key: 'paused', schedule: { steps: STEPS } })
    now = T0 + 1.5 * DAY
    await updateFlag(app, 'paused', { percentage: 20 })
    now = T0 + 3 * DAY
    await updateFlag(app, 'paused', { schedule: { steps: STEPS } })
    now = T0 + 4 * DAY
    let events = await timeline('paused')
    // Paused 1.5 days, so the steps left moved later by that: 5 % came at T0 + 3.5 days.
    expect(brief(events)).toEqual([
      ['flag.schedule_transition', at(T0 + 3.5 * DAY), { state: { before: 'beta_users', after: 'percentage' }, percentage: { before: 20, after: 5 } }],
      ['flag.updated', at(T0 + 3 * DAY), expect.objectContaining({ schedule: expect.anything() })],
      ['flag.updated', at(T0 + 1.5 * DAY), expect.objectContaining({ percentage: { before: 0, after: 20 } })],
      ['flag.schedule_transition', STEPS[0]!.at, { state: { before: 'disabled', after: 'beta_users' } }],
      ['flag.created', at(T0), expect.anything()],
    ])
    expect(events.map((e) => e.version)).toEqual([3, 3, 2, 1, 1])
    expect(events[1]!.schedule).toBe('resumed')
    expect(events[2]!.schedule).toBe('paused')
    // Deleting the flag ends the run too: time passing afterwards lists nothing more.
    await deleteFlag(app, 'paused')
    now = T0 + 30 * DAY
    events = await timeline('paused')
    expect(events.filter((e) => e.computed).map((e) => e.timestamp)).toEqual([at(T0 + 3.5 * DAY), STEPS[0]!.at])
    expect(events[0]!.action).toBe('flag.deleted')
  })

  it('?actor=schedule lists the computed entries alone', async () => {
    await start()
    await createFlag(app, { key: 'stepped', schedule: { steps: STEPS } })
    now = T0 + 6 * DAY
    const events = await timeline('stepped', { actor: 'schedule' })
    expect(events.map((e) => e.timestamp)).toEqual([STEPS[2]!.at, STEPS[1]!.at, STEPS[0]!.at])
    expect(await timeline('stepped', { actor: 'nobody' })).toEqual([])
  })
})

describe('GET /audit?flag= with a ramp', () => {
  it('lists its start, each interval it moved at and its end', async () => {
    await start()
    const ramp = { from: 10, to: 70, start: at(T0 + DAY), end: at(T0 + 4 * DAY), interval: '1d' }
    await createFlag(app, { key: 'ramped', schedule: { ramp } })
    now = T0 + 2.5 * DAY
    expect(brief((await timeline('ramped')).filter((e) => e.computed))).toEqual([
      ['flag.schedule_transition', at(T0 + 2 * DAY), { percentage: { before: 10, after: 30 } }],
      ['flag.schedule_transition', at(T0 + DAY), { state: { before: 'disabled', after: 'percentage' }, percentage: { before: 0, after: 10 } }],
    ])
    now = T0 + 10 * DAY
    expect((await timeline('ramped')).filter((e) => e.computed).map((e) => e.changes.percentage!.after)).toEqual([70, 50, 30, 10])
  })

  it('a continuous ramp lists its start and its end only', async () => {
    await start()
    await createFlag(app, { key: 'smooth', schedule: { ramp: { from: 1, to: 100, start: at(T0 + DAY), end: at(T0 + 8 * DAY) } } })
    now = T0 + 9 * DAY
    expect(brief((await timeline('smooth')).filter((e) => e.computed))).toEqual([
      ['flag.schedule_transition', at(T0 + 8 * DAY), { percentage: { before: 1, after: 100 } }],
      ['flag.schedule_transition', at(T0 + DAY), { state: { before: 'disabled', after: 'percentage' }, percentage: { before: 0, after: 1 } }],
    ])
  })
})

describe('pagination', () => {
  it('pages by cursor without losing or repeating an entry, never parting a write from its transitions', async () => {
    await start()
    await createFlag(app, { key: 'paged', schedule: { ramp: { from: 0, to: 100, start: at(T0 + 3_600_000), end: at(T0 + 11 * 3_600_000), interval: '1h' } } })
    for (let i = 0; i < 5; i++) await updateFlag(app, 'paged', { description: `edit ${i}` })
    now = T0 + DAY
    const whole = await timeline('paged', { limit: 1000 })
    // The ramp's start, nine hourly moves and its end; five edits and the create.
    expect(whole).toHaveLength(17)
    for (const limit of [1, 2, 3, 7]) {
      const seen: Entry[] = []
      let cursor: string | undefined
      for (let pages = 0; ; pages++) {
        expect(pages).toBeLessThan(20)
        const page = await listAudit(app, { flag: 'paged', limit, cursor })
        const events = page.events as Entry[]
        // A page ends with a write: its computed entries are never left for the next page.
        expect(events.at(-1)!.computed).toBeUndefined()
        if (events.length > limit) expect(events.filter((e) => !e.computed)).toHaveLength(1)
        seen.push(...events)
        if (page.nextCursor === undefined) break
        cursor = page.nextCursor
      }
      expect(seen).toEqual(whole)
    }
  })
})

describe('a trimmed trail', () => {
  it('still reads the state and percentage at each kept write exactly, from the kept changes', async () => {
    // The store keeps 100 events: the create and the manual 7 % are pushed out by other writes.
    await start(new MemoryStore({ auditMaxEvents: 100 }))
    await createFlag(app, { key: 'old' })
    await updateFlag(app, 'old', { percentage: 7 })
    await createFlag(app, { key: 'noise' })
    for (let i = 0; i < 100; i++) await updateFlag(app, 'noise', { description: `edit ${i}` })
    await updateFlag(app, 'old', {
      schedule: {
        steps: [
          { at: at(T0 + DAY), state: 'percentage' },
          { at: at(T0 + 2 * DAY), percentage: 50 },
        ],
      },
    })
    now = T0 + 3 * DAY
    await updateFlag(app, 'old', { percentage: 60 })
    const events = await timeline('old')
    expect(events.map((e) => e.action)).toEqual(['flag.updated', 'flag.schedule_transition', 'flag.schedule_transition', 'flag.updated'])
    // 7 % came from the pause's `before`, not from the flag now (60 %).
    expect(events[1]!.changes).toEqual({ percentage: { before: 7, after: 50 } })
    expect(events[2]!.changes).toEqual({ state: { before: 'disabled', after: 'percentage' } })
  })
})

describe('audit timestamps', () => {
  it("are the store's clock for flag writes, which the transitions are placed among", async () => {
    await start()
    now = T0 + 1234
    await createFlag(app, { key: 'timed' })
    const res = await call(app, 'GET', '/audit?flag=timed', { expected: 200 })
    expect(res.json().events[0].timestamp).toBe(at(T0 + 1234))
  })
})
