// What a change changed, field by field, by the rule every store and the CLI's plan share.
import type { FieldChange } from './schema.js'

// Id lists can hold 10,000 entries: record the difference, not two copies of the list.
const LIST_FIELDS = new Set(['betaUsers', 'betaTenants', 'users', 'tenants', 'excludedUsers', 'excludedTenants'])

/** Ids an audit event names per side of a list change; past it the event counts the rest. */
export const AUDIT_LIST_IDS = 1000

/**
 * The audit rule for large lists, the same for every list and every store: the ids added and
 * removed, up to AUDIT_LIST_IDS per side, with the full counts once a side is cut.
 */
export function listChange(before: readonly string[], after: readonly string[]): FieldChange | undefined {
  const had = new Set(before)
  const has = new Set(after)
  const added = after.filter((x) => !had.has(x))
  const removed = before.filter((x) => !has.has(x))
  return listEdit(added, removed)
}

/** The audit record of ids added to and removed from a list, known without the list itself (a segment's members). */
export function listEdit(added: readonly string[], removed: readonly string[]): FieldChange | undefined {
  if (!added.length && !removed.length) return undefined
  const change: FieldChange = { added: added.slice(0, AUDIT_LIST_IDS), removed: removed.slice(0, AUDIT_LIST_IDS) }
  if (added.length > AUDIT_LIST_IDS) change.addedCount = added.length
  if (removed.length > AUDIT_LIST_IDS) change.removedCount = removed.length
  return change
}

export function diff(before: Record<string, unknown> | null, after: Record<string, unknown> | null, fields: readonly string[]) {
  const changes: Record<string, FieldChange> = {}
  for (const field of fields) {
    const b = before?.[field]
    const a = after?.[field]
    if (LIST_FIELDS.has(field)) {
      const change = listChange((b as string[] | undefined) ?? [], (a as string[] | undefined) ?? [])
      if (change) changes[field] = change
    } else if (JSON.stringify(b) !== JSON.stringify(a)) {
      changes[field] = { before: b ?? null, after: a ?? null }
    }
  }
  return changes
}
