// Cursor paging over a registry's sorted ids, the same for flags and tokens: a page starts after
// the cursor, and ends with a cursor only when another match follows, so a filtered listing never
// ends on an empty page.

/** One page of `sorted` (ascending ids): the items after `after` that `matches`, at most `limit`. */
export function pageAfter<T>(
  sorted: readonly string[],
  query: { after?: string; limit: number },
  get: (id: string) => T,
  matches: (item: T) => boolean = () => true,
): { items: T[]; nextCursor?: string } {
  // Binary search: the first id strictly after the cursor.
  let i = 0
  if (query.after !== undefined) {
    let hi = sorted.length
    while (i < hi) {
      const mid = (i + hi) >>> 1
      if (sorted[mid]! <= query.after) i = mid + 1
      else hi = mid
    }
  }
  const items: T[] = []
  let last: string | undefined
  for (; i < sorted.length && items.length < query.limit; i++) {
    const item = get(sorted[i]!)
    if (matches(item)) {
      items.push(item)
      last = sorted[i]
    }
  }
  let more = false
  for (; i < sorted.length && !more; i++) more = matches(get(sorted[i]!))
  return { items, nextCursor: more ? last : undefined }
}
