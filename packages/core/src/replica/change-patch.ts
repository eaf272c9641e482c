// The change-patch format: how one committed change to a record (a flag, a token) travels and is
// kept. A patch names the fields that changed and, for id lists, what was added and removed, so a
// state toggle on a flag with 10,000 beta ids costs a few hundred bytes, not the whole flag. It is
// the one format for every channel that carries changes: the embedded store's journal now, later
// Redis notifications, the SSE stream and PostgreSQL.

/** What one list field gained and lost; `add` keeps the order the record lists them in. */
interface ListPatch {
  add: string[]
  remove: string[]
}

export type RecordPatch =
  /** The record as a whole: a create, or a change with nothing to gain from a diff. */
  | { op: 'put'; value: Record<string, unknown> }
  /** Changed fields replaced whole, fields removed, and list fields by their additions and removals. */
  | { op: 'patch'; set?: Record<string, unknown>; unset?: string[]; lists?: Record<string, ListPatch> }
  | { op: 'delete' }

export class PatchError extends Error {
  override name = 'PatchError'
}

/** The patch that turns `before` into `after` (null: absent). */
export function diffRecord(before: object | null, after: object | null): RecordPatch {
  if (after === null) return { op: 'delete' }
  if (before === null) return { op: 'put', value: after as Record<string, unknown> }
  const b = before as Record<string, unknown>
  const a = after as Record<string, unknown>
  // No prototype: a field named __proto__ is a field like any other.
  const set: Record<string, unknown> = Object.create(null) as Record<string, unknown>
  const unset: string[] = []
  const lists: Record<string, ListPatch> = Object.create(null) as Record<string, ListPatch>
  for (const field of Object.keys(b)) if (!Object.hasOwn(a, field)) unset.push(field)
  for (const [field, next] of Object.entries(a)) {
    const previous = b[field]
    if (previous === next) continue
    if (isStringList(previous) && isStringList(next)) {
      if (sameList(previous, next)) continue
      const list = listPatch(previous, next)
      if (list) lists[field] = list
      else set[field] = next
    } else if (!sameValue(previous, next)) {
      set[field] = next
    }
  }
  const patch: RecordPatch = { op: 'patch' }
  if (Object.keys(set).length) patch.set = set
  if (unset.length) patch.unset = unset
  if (Object.keys(lists).length) patch.lists = lists
  return patch
}

/** Applies a patch made by diffRecord to the record it was made from. */
export function applyPatch<T extends object>(before: T | null, patch: RecordPatch): T | null {
  if (patch.op === 'delete') return null
  if (patch.op === 'put') return patch.value as T
  if (before === null) throw new PatchError('a patch names a record that does not exist')
  const next: Record<string, unknown> = { ...before, ...patch.set }
  for (const field of patch.unset ?? []) delete next[field]
  for (const [field, { add, remove }] of Object.entries(patch.lists ?? {})) {
    const current = next[field]
    if (!isStringList(current)) throw new PatchError(`a patch edits list '${field}', which the record does not hold as a list`)
    next[field] = withoutThenWith(current, remove, add)
  }
  return next as T
}

/**
 * Additions and removals, or undefined when they would not be smaller than the new list or could
 * not reproduce its order (a reordering PATCH): then the list travels whole.
 */
function listPatch(before: readonly string[], after: readonly string[]): ListPatch | undefined {
  const had = new Set(before)
  const has = new Set(after)
  const add = after.filter((id) => !had.has(id))
  const remove = before.filter((id) => !has.has(id))
  if (add.length + remove.length >= after.length) return undefined
  const rebuilt = withoutThenWith(before, remove, add)
  return sameList(rebuilt, after) ? { add, remove } : undefined
}

function withoutThenWith(list: readonly string[], remove: readonly string[], add: readonly string[]): string[] {
  const removed = new Set(remove)
  const kept = removed.size ? list.filter((id) => !removed.has(id)) : [...list]
  for (const id of add) kept.push(id)
  return kept
}

function isStringList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string')
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

function sameValue(a: unknown, b: unknown): boolean {
  return a === b || (typeof a === 'object' && typeof b === 'object' && JSON.stringify(a) === JSON.stringify(b))
}
