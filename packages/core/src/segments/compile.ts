// A segment ready for membership checks: members as tables of NFC ids (id-table.ts), clauses
// compiled. The tables are the caller's, so a holder of a million-member segment applies an edit
// to them in place.
import { compileClause, type CompiledSegment, type SegmentLookup } from '../evaluation/clauses.js'
import { hasOtherForms, toNfc } from '../flags/identity.js'
import { IdTable } from './id-table.js'
import type { Segment } from './schema.js'

/** What compileSegment needs: the segment without its member lists (which the tables hold). */
export type SegmentFields = Omit<Segment, 'users' | 'tenants'>

export interface MutableSegment extends CompiledSegment {
  readonly users: IdTable
  readonly tenants: IdTable
  readonly nfc: { users: boolean; tenants: boolean; excludedUsers: boolean; excludedTenants: boolean }
}

const anyOtherForms = (ids: Iterable<string>) => {
  for (const id of ids) if (hasOtherForms(id)) return true
  return false
}

/**
 * `users`/`tenants` are taken as they are (held in NFC); `local` false: an SDK that was not sent the
 * members. `known`: whether the member tables hold ids with other forms, when the caller knows (a
 * head's change over the same sets), so a million ids are not scanned again.
 */
export function compileSegment(
  segment: SegmentFields,
  users: IdTable,
  tenants: IdTable,
  local = true,
  known?: { users: boolean; tenants: boolean },
): MutableSegment {
  const excludedUsers = new Set(segment.excludedUsers.map(toNfc))
  const excludedTenants = new Set(segment.excludedTenants.map(toNfc))
  return {
    key: segment.key,
    local,
    users,
    tenants,
    excludedUsers,
    excludedTenants,
    // No cache slot: a segment's clauses run inside another flag's evaluation, whose slots they must not take.
    clauses: segment.clauses.map((clause) => compileClause(clause)),
    nfc: {
      users: known?.users ?? anyOtherForms(users),
      tenants: known?.tenants ?? anyOtherForms(tenants),
      excludedUsers: anyOtherForms(excludedUsers),
      excludedTenants: anyOtherForms(excludedTenants),
    },
  }
}

/** What compiling a whole record reads of a segment: the record, or any object with its key, lists and clauses. */
export type SegmentMembers = Pick<Segment, 'key' | 'users' | 'tenants' | 'excludedUsers' | 'excludedTenants' | 'clauses'>

/** A whole segment record (a vector, a bootstrap file) compiled: its lists become new tables. */
export function compileSegmentRecord(segment: SegmentMembers): MutableSegment {
  const { users, tenants, ...fields } = segment
  return compileSegment(fields as SegmentFields, IdTable.from(users.map(toNfc)), IdTable.from(tenants.map(toNfc)))
}

/** A SegmentLookup over compiled segments, by key (a later segment of the same key wins). */
export function segmentLookup(segments: Iterable<CompiledSegment>): SegmentLookup {
  const byKey = new Map<string, CompiledSegment>()
  for (const segment of segments) byKey.set(segment.key, segment)
  return (key) => byKey.get(key)
}

/** Adds and removes ids in place, keeping `nfc` true once an id with other forms arrived. */
export function editMembers(segment: MutableSegment, add: { users: string[]; tenants: string[] }, remove: { users: string[]; tenants: string[] }): void {
  for (const id of remove.users) segment.users.delete(id)
  for (const id of remove.tenants) segment.tenants.delete(id)
  for (const id of add.users) segment.users.add(id)
  for (const id of add.tenants) segment.tenants.add(id)
  if (!segment.nfc.users && anyOtherForms(add.users)) segment.nfc.users = true
  if (!segment.nfc.tenants && anyOtherForms(add.tenants)) segment.nfc.tenants = true
}

/** Replaces the lists a change names, in place (the compiled segment keeps its identity), keeping the other. */
export function replaceMembers(segment: MutableSegment, lists: { users?: string[]; tenants?: string[] }): void {
  if (lists.users) {
    segment.users.clear()
    for (const id of lists.users) segment.users.add(id)
    segment.nfc.users = anyOtherForms(segment.users)
  }
  if (lists.tenants) {
    segment.tenants.clear()
    for (const id of lists.tenants) segment.tenants.add(id)
    segment.nfc.tenants = anyOtherForms(segment.tenants)
  }
}
