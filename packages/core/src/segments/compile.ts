// A segment record compiled for membership checks (evaluation/clauses.ts's CompiledSegment): its
// id lists as Sets in NFC, so a check costs one lookup whatever the segment's size, and its
// clauses compiled once. Built once per segment change, like a compiled flag.
import { compileClause, type CompiledSegment, type SegmentLookup } from '../evaluation/clauses.js'
import { hasOtherForms, toNfc } from '../flags/identity.js'
import type { Segment } from './schema.js'

/** What compiling reads of a segment: the record, or any object with its key, lists and clauses. */
export type SegmentMembers = Pick<Segment, 'key' | 'users' | 'tenants' | 'excludedUsers' | 'excludedTenants' | 'clauses'>

function idSet(ids: readonly string[]): { set: Set<string>; nfc: boolean } {
  const set = new Set<string>()
  let nfc = false
  for (const id of ids) {
    const normal = toNfc(id)
    set.add(normal)
    if (!nfc && hasOtherForms(normal)) nfc = true
  }
  return { set, nfc }
}

/** Compiles a segment whose members this process holds (`local`). */
export function compileSegment(segment: SegmentMembers): CompiledSegment {
  const users = idSet(segment.users)
  const tenants = idSet(segment.tenants)
  const excludedUsers = idSet(segment.excludedUsers)
  const excludedTenants = idSet(segment.excludedTenants)
  return {
    key: segment.key,
    local: true,
    users: users.set,
    tenants: tenants.set,
    excludedUsers: excludedUsers.set,
    excludedTenants: excludedTenants.set,
    clauses: segment.clauses.map((clause) => compileClause(clause)),
    nfc: { users: users.nfc, tenants: tenants.nfc, excludedUsers: excludedUsers.nfc, excludedTenants: excludedTenants.nfc },
  }
}

/** A SegmentLookup over compiled segments, by key (a later segment of the same key wins). */
export function segmentLookup(segments: Iterable<CompiledSegment>): SegmentLookup {
  const byKey = new Map<string, CompiledSegment>()
  for (const segment of segments) byKey.set(segment.key, segment)
  return (key) => byKey.get(key)
}
