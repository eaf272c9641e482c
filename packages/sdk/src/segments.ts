// The segments an SDK holds for the rules it evaluates: whole ones (members as id tables, edited in
// place by each `segment` event's delta) and, past the server's SEGMENT_INLINE_MAX, heads alone
// that answer `segment_not_local` unless the client asked for every segment (`largeSegments`).
import { compileSegment, editMembers, replaceMembers, type MutableSegment } from '@switchyard/core/segments/compile'
import { toNfc } from '@switchyard/core/flags/identity'
import { IdTable } from '@switchyard/core/segments/id-table'
import type { Clause } from './types.js'

/** A segment without its members, written out so the published declarations need no core. */
interface SegmentFields {
  key: string
  description: string
  excludedUsers: string[]
  excludedTenants: string[]
  clauses: Clause[]
  version: number
  createdAt: string
  updatedAt: string
  updatedBy: string
}

/** A segment as the stream's state (and a saved state) holds it. */
export interface SegmentRecord extends SegmentFields {
  users: string[]
  tenants: string[]
  /** False: sent without its members. */
  local?: boolean
}

/** A list left out of a replace stays as it is. */
type Members = { op: 'same' } | { op: 'replace'; users?: string[]; tenants?: string[] } | { op: 'edit'; add: Lists; remove: Lists }
type Lists = { users: string[]; tenants: string[] }

/** A `segment` event of GET /stream. */
export interface SegmentEvent {
  seq: number
  key: string
  /** The version the change was made from (0: none). */
  from: number
  head: SegmentFields | null
  members: Members
  local: boolean
}

interface Held {
  head: SegmentFields
  compiled: MutableSegment
  seq: number
}

const nfcTable = (ids: readonly string[]) => IdTable.from(ids.map(toNfc))
const same = (x: unknown, y: unknown) => x === y || JSON.stringify(x) === JSON.stringify(y)
/** Clauses and exclusions equal by value: the compiled segment can be kept. */
const sameRest = (a: SegmentFields, b: SegmentFields) =>
  same(a.clauses, b.clauses) && same(a.excludedUsers, b.excludedUsers) && same(a.excludedTenants, b.excludedTenants)

export class HeldSegments {
  private held = new Map<string, Held>()
  /** Deleted keys by the seq of their deletion, so a late older event cannot bring one back. */
  private gone = new Map<string, number>()
  private floor = 0

  /**
   * How rules find a segment: undefined for none (no match), `local: false` for one not held whole.
   * @internal (its type is core's: not in the published declarations)
   */
  readonly lookup = (key: string): MutableSegment | undefined => this.held.get(key)?.compiled

  reset(records: readonly SegmentRecord[] | undefined, seq: number): void {
    this.held = new Map()
    this.gone = new Map()
    this.floor = seq
    for (const record of records ?? []) {
      const { users, tenants, local, ...head } = record
      const whole = local !== false
      this.held.set(head.key, {
        head,
        compiled: compileSegment(head, whole ? nfcTable(users) : new IdTable(), whole ? nfcTable(tenants) : new IdTable(), whole),
        seq,
      })
    }
  }

  /** Applies a change: 'applied', 'old' (already held), or 'gap' (made from a version not held: reload). */
  apply(event: SegmentEvent): 'applied' | 'old' | 'gap' {
    const current = this.held.get(event.key)
    if (event.seq <= (current?.seq ?? this.gone.get(event.key) ?? this.floor)) return 'old'
    if ((current?.head.version ?? 0) !== event.from) return 'gap'
    if (event.head === null) {
      this.held.delete(event.key)
      this.gone.set(event.key, event.seq)
      return 'applied'
    }
    const { head, members } = event
    let compiled: MutableSegment
    const whole = members.op === 'replace' && members.users !== undefined && members.tenants !== undefined
    if (!event.local) compiled = compileSegment(head, new IdTable(), new IdTable(), false)
    else if (whole) compiled = compileSegment(head, nfcTable(members.users!), nfcTable(members.tenants!))
    else if (!current || !current.compiled.local) return 'gap'
    else {
      // Applied to the tables held, in place: an edit of a million-member segment costs its delta.
      if (members.op === 'edit') editMembers(current.compiled, members.add, members.remove)
      else if (members.op === 'replace') replaceMembers(current.compiled, { users: members.users?.map(toNfc), tenants: members.tenants?.map(toNfc) })
      compiled = sameRest(head, current.head)
        ? current.compiled
        : compileSegment(head, current.compiled.users, current.compiled.tenants, true, current.compiled.nfc)
    }
    this.held.set(event.key, { head, compiled, seq: event.seq })
    return 'applied'
  }

  /** What a saved state holds: whole segments with their members, the rest as heads. */
  records(): SegmentRecord[] {
    return [...this.held.values()].map(({ head, compiled }) =>
      compiled.local ? { ...head, users: [...compiled.users], tenants: [...compiled.tenants] } : { ...head, users: [], tenants: [], local: false },
    )
  }
}
