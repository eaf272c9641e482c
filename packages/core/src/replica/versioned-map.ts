// Apply-if-newer bookkeeping shared by the flag and token registries. Changes arrive from this
// replica's own commits and from other replicas, duplicated or out of order; the store's
// global seq decides which one is newest. Deletions leave a tombstone so a late, older
// "create" cannot resurrect a deleted record.
import { hash, randomBytes } from 'node:crypto'

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
  /** XOR of every held value's identity hash (see `digest`). */
  private xor = 0n

  /**
   * `identify` names a value by what makes it the same on every replica (a flag's key and version),
   * for `digest`; without it the digest stays empty.
   */
  constructor(private readonly identify?: (value: V) => string) {}

  /**
   * The state held, as 16 hex digits: equal on two maps that hold the same values, whatever order
   * they came in. Kept up to date with each change (an XOR of each value's hash), not recomputed.
   */
  get digest(): string {
    return this.xor.toString(16).padStart(16, '0')
  }

  private mix(value: V | undefined): void {
    if (value === undefined || !this.identify) return
    this.xor ^= hash('sha1', this.identify(value), 'buffer').readBigUInt64BE(0)
  }

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
    this.mix(this.values.get(key))
    this.mix(value ?? undefined)
    if (value === null) this.values.delete(key)
    else this.values.set(key, value)
    return true
  }

  /**
   * Replaces everything with a full snapshot taken at `seq`, keeping only changes already
   * applied that are newer than the snapshot (a slow resync must not roll anything back).
   * `exact` keeps nothing: the snapshot comes from a store with a new epoch, whose seqs do not
   * compare with the ones held.
   */
  reset(entries: Iterable<[string, V]>, seq: number, exact = false): void {
    const wasEmpty = this.values.size === 0
    const newer = new Map<string, [number, V | undefined]>()
    if (!exact) for (const [key, held] of this.seqs) if (held > seq) newer.set(key, [held, this.values.get(key)])
    this.values.clear()
    this.seqs.clear()
    this.xor = 0n
    this.floor = exact ? seq : Math.max(this.floor, seq)
    for (const [key, value] of entries) {
      this.values.set(key, value)
      this.seqs.set(key, seq)
    }
    for (const [key, [held, value]] of newer) {
      this.seqs.set(key, held)
      if (value === undefined) this.values.delete(key)
      else this.values.set(key, value)
    }
    for (const value of this.values.values()) this.mix(value)
    if (!(wasEmpty && this.values.size === 0)) this.moved(seq)
  }
}
