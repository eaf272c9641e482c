// Store seqs taken in any order, for the replicas that apply them (the server's revision, its Redis
// store's confirmed seqs): which is the highest with every lower one taken.

/** Seqs taken in any order; `contiguous` is the highest with every lower one taken. */
export class SeqSet {
  private through = 0
  private readonly above = new Set<number>()
  /** The highest seq taken, gap or not. */
  newest = 0

  get contiguous(): number {
    return this.through
  }

  /** Takes one seq; true when `contiguous` moved. */
  add(seq: number): boolean {
    if (seq > this.newest) this.newest = seq
    if (seq <= this.through) return false
    if (seq !== this.through + 1) {
      this.above.add(seq)
      return false
    }
    this.through = seq
    while (this.above.delete(this.through + 1)) this.through++
    return true
  }

  /** Takes every seq up to `seq` (a snapshot at `seq` holds them all); true when `contiguous` moved. */
  addThrough(seq: number): boolean {
    if (seq > this.newest) this.newest = seq
    if (seq <= this.through) return false
    this.through = seq
    for (const held of this.above) if (held <= seq) this.above.delete(held)
    while (this.above.delete(this.through + 1)) this.through++
    return true
  }

  /** Starts again at `seq`: a store with a new epoch numbers from there. */
  restart(seq: number): void {
    this.above.clear()
    this.through = seq
    this.newest = seq
  }
}
