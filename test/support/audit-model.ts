// What an audit trail capped by bytes should hold, computed apart from the stores that hold one.

/**
 * The seqs of the newest events whose bytes add up to at most `cap`, newest first: at least the
 * newest one, however large (the stores always keep it).
 */
export function newestWithin(sizes: ReadonlyMap<number, number>, cap: number): number[] {
  const kept: number[] = []
  let total = 0
  for (const seq of [...sizes.keys()].sort((a, b) => b - a)) {
    total += sizes.get(seq)!
    if (kept.length && total > cap) break
    kept.push(seq)
  }
  return kept
}
