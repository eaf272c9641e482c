// Apply-if-newer bookkeeping shared by the flag and token registries. Changes arrive from this
// replica's own commits and from other replicas, duplicated or out of order; the store's
// global seq decides which one is newest. Deletions leave a tombstone so a late, older
// "create" cannot resurrect a deleted record.
import { randomBytes } from 'node:crypto'

export class VersionedMap<V> {
  private readonly values = new Map<string, V>()
  private readonly seqs = new Map<string, number>()
  // Seq of the last full snapshot: anything at or below it is already reflected.
  private floor = 0
  // The newest seq held (a change or a snapshot), and how often the values moved since without it
  // moving: a change that arrived after a newer one, or a snapshot no newer than what is held.
  private newest = 0
  private behind = 0
  private revisionText: string | undefined
  private readonly instance = randomBytes(6).toString('base64url')

  /**
   * Names the values held, and changes whenever they do: the newest seq, this map's own id, and
   * how often the values moved without the seq moving (a change that came out of order, a resync
   * that may repair a missed one). The id keeps two replicas from sharing a revision: one that
   * missed a change (pub/sub is at-most-once) holds other values at the same newest seq.
   */
  get revision(): string {
    return (this.revisionText ??= `${this.newest}~${this.instance}.${this.behind}`)
  }

  private moved(seq: number): void {
    if (seq > this.newest) {
      this.newest = seq
      this.behind = 0
    } else this.behind++
    this.revisionText = undefined
  }

  get(key: string): V | undefined {
    return this.values.get(key)
  }

  get size(): number {
    return this.values.size
  }

  valuesIterator(): IterableIterator<V> {
    return this.values.values()
  }

  /** Whether a change at `seq` to `key` would be applied. */
  isNewer(key: string, seq: number): boolean {
    return seq > (this.seqs.get(key) ?? this.floor)
  }

  /** Returns true when the change was newer than what is held and was applied. */
  apply(key: string, seq: number, value: V | null): boolean {
    if (seq <= (this.seqs.get(key) ?? this.floor)) return false
    this.seqs.set(key, seq)
    this.moved(seq)
    if (value === null) this.values.delete(key)
    else this.values.set(key, value)
    return true
  }

  /**
   * Replaces everything with a full snapshot taken at `seq`, keeping only changes already
   * applied that are newer than the snapshot (a slow resync must not roll anything back).
   */
  reset(entries: Iterable<[string, V]>, seq: number): void {
    const wasEmpty = this.values.size === 0
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
    if (!(wasEmpty && this.values.size === 0)) this.moved(seq)
  }
}
