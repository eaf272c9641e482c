// Apply-if-newer bookkeeping shared by the flag and token registries. Changes arrive from this
// replica's own commits and from other replicas, duplicated or out of order; the store's
// global seq decides which one is newest. Deletions leave a tombstone so a late, older
// "create" cannot resurrect a deleted record.
export class VersionedMap<V> {
  private readonly values = new Map<string, V>()
  private readonly seqs = new Map<string, number>()
  // Seq of the last full snapshot: anything at or below it is already reflected.
  private floor = 0

  get(key: string): V | undefined {
    return this.values.get(key)
  }

  get size(): number {
    return this.values.size
  }

  valuesIterator(): IterableIterator<V> {
    return this.values.values()
  }

  /** Returns true when the change was newer than what is held and was applied. */
  apply(key: string, seq: number, value: V | null): boolean {
    if (seq <= (this.seqs.get(key) ?? this.floor)) return false
    this.seqs.set(key, seq)
    if (value === null) this.values.delete(key)
    else this.values.set(key, value)
    return true
  }

  /**
   * Replaces everything with a full snapshot taken at `seq`, keeping only changes already
   * applied that are newer than the snapshot (a slow resync must not roll anything back).
   */
  reset(entries: Iterable<[string, V]>, seq: number): void {
    const newer = new Map<string, [number, V | undefined]>()
    for (const [key, held] of this.seqs) if (held > seq) newer.set(key, [held, this.values.get(key)])
    this.values.clear()
    this.seqs.clear()
    this.floor = Math.max(this.floor, seq)
    for (const [key, value] of entries) {
      this.values.set(key, value)
      this.seqs.set(key, seq)
    }
    for (const [key, [held, value]] of newer) {
      this.seqs.set(key, held)
      if (value === undefined) this.values.delete(key)
      else this.values.set(key, value)
    }
  }
}
