// GET /audit?flag=KEY as a timeline: the flag's writes with the schedule transitions that have
// happened between them, computed from the trail (a step being reached is never written).
import { transitionsBetween, phaseAt, timelineOf, type Phase } from '@switchyard/core/evaluation/schedule'
import { percentageThreshold } from '@switchyard/core/evaluation/bucket'
import { AUDIT_PAGE_MAX_BYTES, type AuditEvent, type AuditPage, type AuditQuery, type FieldChange } from '@switchyard/core/audit/schema'
import { FLAG_DEFAULTS, type Flag, type FlagState, type Schedule } from '@switchyard/core/flags/schema'
import type { Store } from '../store/store.js'

/** The actor of a computed transition (a built-in actor's name: no token may take it). */
export const SCHEDULE_ACTOR = 'schedule'

/** The most of one flag's trail read to compute its transitions; older events count as trimmed. */
export const FLAG_TRAIL_MAX = 100_000
/** Interval moves of one ramp listed, past which only its start and end are (transitionsBetween). */
const RAMP_MOVES_MAX = 1000

/** What a schedule drives, as the trail tells it at one write. */
interface Driven {
  state: FlagState
  percentage: number
  schedule?: Schedule
}
const DRIVEN = ['state', 'percentage', 'schedule'] as const

const iso = (ms: number) => new Date(ms).toISOString()
const valueOf = (change: FieldChange, side: 'before' | 'after') => (change[side] === null ? undefined : change[side])

/** Every retained audit event of `flag`, newest first: the store's pages read to the end, at most FLAG_TRAIL_MAX. */
export async function readFlagTrail(store: Store, flag: string): Promise<AuditEvent[]> {
  const events: AuditEvent[] = []
  let before: number | undefined
  do {
    const page = await store.readAudit({ flag, before, limit: 1000 })
    events.push(...page.events)
    before = page.nextCursor === undefined ? undefined : Number(page.nextCursor)
  } while (before !== undefined && events.length < FLAG_TRAIL_MAX)
  return events
}

/**
 * The trail of one flag (newest first) in groups, newest first: each write after the transitions
 * that happened before the next write, newest first, which carry its seq and version. `current`: the flag as held now
 * (undefined when deleted); `now`: the store's clock, past which nothing has happened yet.
 *
 * A schedule runs from the write that leaves it running until the next write that changes the
 * state, percentage or schedule (which pauses, clears, changes or finishes it), deletes the flag,
 * or now. The state and percentage at each write are replayed from the trail oldest to newest.
 * Trimmed trails (AUDIT_MAX_EVENTS, AUDIT_MAX_BYTES, FLAG_TRAIL_MAX) lose their oldest events: what
 * held before the oldest one kept is read from the first kept event that changes each field (its
 * `before`), or from the flag now when none does, so every kept write's values stay exact; a schedule
 * set by a write no longer kept lists no transitions, having no write to be placed after.
 */
export function timelineGroups(trail: readonly AuditEvent[], current: Driven | undefined, now: number): AuditEvent[][] {
  const oldestFirst = [...trail].reverse()
  const values = initialValues(oldestFirst, current)
  let exists = true
  let run: { opener: AuditEvent; driven: Driven; from: number } | null = null
  const computed = new Map<AuditEvent, AuditEvent[]>()
  const close = (end: number) => {
    if (run !== null) computed.set(run.opener, transitionEvents(run.opener, run.driven, run.from, Math.min(end, now)))
    run = null
  }
  for (const event of oldestFirst) {
    const created = event.action === 'flag.created'
    const deleted = event.action === 'flag.deleted'
    if (!created && !deleted && !DRIVEN.some((field) => field in event.changes)) continue
    const at = Date.parse(event.timestamp)
    close(at)
    if (created) {
      exists = true
      values.state = (valueOf(event.changes.state ?? {}, 'after') as FlagState | undefined) ?? FLAG_DEFAULTS.state
      values.percentage = (valueOf(event.changes.percentage ?? {}, 'after') as number | undefined) ?? FLAG_DEFAULTS.percentage
      values.schedule = valueOf(event.changes.schedule ?? {}, 'after') as Schedule | undefined
    } else if (deleted) exists = false
    else for (const field of DRIVEN) if (event.changes[field]) Object.assign(values, { [field]: valueOf(event.changes[field], 'after') })
    if (exists && timelineOf(values) !== null) run = { opener: event, driven: { ...values }, from: at }
  }
  close(now)
  return placed(trail, [...computed.values()].flat())
}

/**
 * Each write (newest first) after the transitions that happened between it and the next write,
 * newest first: the history in time order, whatever else was written while a schedule ran. A
 * transition carries the seq and version of the write it follows, so paging by seq keeps them
 * together.
 */
function placed(trail: readonly AuditEvent[], transitions: AuditEvent[]): AuditEvent[][] {
  const newestFirst = transitions.sort((a, b) => Date.parse(b.timestamp) - Date.parse(a.timestamp))
  let next = 0
  const groups: AuditEvent[][] = []
  for (const event of trail) {
    const at = Date.parse(event.timestamp)
    const group: AuditEvent[] = []
    while (next < newestFirst.length && Date.parse(newestFirst[next]!.timestamp) >= at) {
      const { version: _, ...transition } = newestFirst[next++]!
      group.push({ ...transition, seq: event.seq, ...(event.version === undefined ? {} : { version: event.version }) })
    }
    group.push(event)
    groups.push(group)
  }
  return groups
}

/** The state, percentage and schedule before the oldest event kept (see timelineGroups). */
function initialValues(oldestFirst: readonly AuditEvent[], current: Driven | undefined): Driven {
  const values: Driven =
    current === undefined
      ? { state: FLAG_DEFAULTS.state, percentage: FLAG_DEFAULTS.percentage }
      : { state: current.state, percentage: current.percentage, schedule: current.schedule }
  for (const field of DRIVEN) {
    const first = oldestFirst.find((e) => e.action !== 'flag.schedule_transition' && e.changes[field] !== undefined)
    // Created: what came before is no flag at all, so nothing is read from it.
    if (first !== undefined && first.action !== 'flag.created') Object.assign(values, { [field]: valueOf(first.changes[field]!, 'before') })
  }
  return values
}

/** The transitions of the schedule `opener` left running, in (from, to], newest first, as audit entries. */
function transitionEvents(opener: AuditEvent, driven: Driven, from: number, to: number): AuditEvent[] {
  const timeline = timelineOf(driven)!
  let before: Phase = phaseAt(timeline, from)
  const events: AuditEvent[] = []
  const moves = transitionsBetween(timeline, from, to, RAMP_MOVES_MAX)
  // A resume serves the phase in force at once, which is not always what the paused flag served: a
  // guard's rollback to off left `disabled` there. Then the resume itself is a transition.
  if (opener.schedule === 'resumed') {
    const served: Phase = { state: driven.state, threshold: percentageThreshold(driven.percentage) }
    if (served.state !== before.state || served.threshold !== before.threshold) {
      moves.unshift({ at: from, ...before })
      before = served
    }
  }
  for (const transition of moves) {
    const changes: Record<string, FieldChange> = {}
    if (transition.state !== before.state) changes.state = { before: before.state, after: transition.state }
    if (transition.threshold !== before.threshold) changes.percentage = { before: before.threshold / 1000, after: transition.threshold / 1000 }
    before = transition
    // A named step that changes nothing in force is no transition.
    if (Object.keys(changes).length === 0) continue
    events.push({
      id: `${opener.id}:${iso(transition.at)}`,
      seq: opener.seq,
      type: 'audit',
      action: 'flag.schedule_transition',
      flag: opener.flag,
      actor: SCHEDULE_ACTOR,
      actorId: SCHEDULE_ACTOR,
      requestId: opener.requestId,
      timestamp: iso(transition.at),
      changes,
      ...(opener.version === undefined ? {} : { version: opener.version }),
      computed: true,
    })
  }
  return events.reverse()
}

/**
 * One page of the groups by GET /audit's rules (the cursor a seq, exclusive; the actor filter; the
 * limit; AUDIT_PAGE_MAX_BYTES), except that a page never splits a write from its transitions, which
 * share its seq: one group larger than the limit is a page of its own.
 */
export function pageGroups(groups: readonly AuditEvent[][], query: AuditQuery): AuditPage {
  const events: AuditEvent[] = []
  let bytes = 0
  let lastSeq = 0
  for (const group of groups) {
    const seq = group[group.length - 1]!.seq
    if (query.before !== undefined && seq >= query.before) continue
    const taken = query.actor === undefined ? group : group.filter((e) => e.actor === query.actor)
    if (taken.length === 0) continue
    if (events.length > 0 && (events.length + taken.length > query.limit || bytes >= AUDIT_PAGE_MAX_BYTES)) {
      return { events, nextCursor: String(lastSeq) }
    }
    events.push(...taken)
    for (const e of taken) bytes += Buffer.byteLength(JSON.stringify(e))
    lastSeq = seq
  }
  return { events }
}

/** GET /audit?flag=KEY: the flag's trail with its schedule's transitions up to `now`. */
export async function flagTimeline(store: Store, current: Flag | undefined, query: AuditQuery & { flag: string }, now: number): Promise<AuditPage> {
  const trail = await readFlagTrail(store, query.flag)
  // A trail cut at FLAG_TRAIL_MAX: what lies before its oldest event is paged from the store as it is
  // (no schedule placed there lists transitions), so no event becomes unreachable.
  const oldest = trail.length >= FLAG_TRAIL_MAX ? trail[trail.length - 1]!.seq : undefined
  if (oldest !== undefined && query.before !== undefined && query.before <= oldest) return store.readAudit(query)
  const page = pageGroups(timelineGroups(trail, current, now), query)
  if (oldest !== undefined && page.nextCursor === undefined) page.nextCursor = String(oldest)
  return page
}
