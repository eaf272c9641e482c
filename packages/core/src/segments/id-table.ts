// A set of ids for segments of up to millions of members: open addressing over typed arrays, the ids
// packed in one byte pool, so a look-up touches one cache line for a non-member and two for a member,
// and the GC traces two arrays instead of a million strings (docs/decisions/segment-id-table.md).

/** The entry's flags, in the low bits of its 16-bit length field. */
const DELETED = 1
const WIDE = 2
/** A length field of this value is followed by the length as 32 bits (ids of 16,383 units or more). */
const LONG = 0x3fff
/** The most a table fills before it doubles: linear probing stays within a line or two. */
const MAX_LOAD = 0.5
/**
 * Up to this many ids a table is a plain Set: a Set that fits the caches answers faster than
 * hashing and comparing units in JavaScript, and the GC does not mind a few thousand strings.
 */
export const SET_MAX = 65_536

/**
 * The hash of every UTF-16 unit of a string, two lanes so the multiplications overlap. Reading a
 * unit costs ~1.2 ns here, so a table hashes a sample (sampledHash) until its ids defeat that.
 */
export function fullHash(s: string): number {
  const n = s.length
  let a = n
  let b = 0x9e3779b9
  let i = 0
  for (; i + 1 < n; i += 2) {
    a = Math.imul(a ^ s.charCodeAt(i), 0x85ebca6b)
    b = Math.imul(b ^ s.charCodeAt(i + 1), 0xc2b2ae35)
    a = (a << 13) | (a >>> 19)
    b = (b << 17) | (b >>> 15)
  }
  if (i < n) a = Math.imul(a ^ s.charCodeAt(i), 0x85ebca6b)
  return fmix32(a ^ Math.imul(b, 0x27d4eb2f))
}

/**
 * The hash of at most 12 units: the last 8 (where sequence numbers and random tails differ) and 4
 * spread over the rest. Ids that differ elsewhere collide, which add() notices (IdTable.collisions).
 */
export function sampledHash(s: string): number {
  const n = s.length
  if (n <= 12) return fullHash(s)
  let a = n
  let b = 0x9e3779b9
  for (let i = n - 8; i < n; i += 2) {
    a = Math.imul(a ^ s.charCodeAt(i), 0x85ebca6b)
    b = Math.imul(b ^ s.charCodeAt(i + 1), 0xc2b2ae35)
    a = (a << 13) | (a >>> 19)
    b = (b << 17) | (b >>> 15)
  }
  const step = (n - 8) >>> 2
  a = Math.imul(a ^ s.charCodeAt(0) ^ (s.charCodeAt(step) << 16), 0x85ebca6b)
  b = Math.imul(b ^ s.charCodeAt(2 * step) ^ (s.charCodeAt(3 * step) << 16), 0xc2b2ae35)
  return fmix32(a ^ Math.imul(b, 0x27d4eb2f))
}

function fmix32(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return h ^ (h >>> 16)
}

/**
 * An exact set of strings. Slots hold [hash, pool offset + 1] side by side (0: empty); deletion
 * shifts later entries of the run back, so there are no tombstones. The pool keeps each id as
 * [hash: 4][length << 2 | flags: 2][units], one byte a unit when every unit is below 0x100, two
 * otherwise; deleted entries stay in the pool until it is compacted. Iterates in insertion order.
 */
export class IdTable implements Iterable<string> {
  /** The ids while they are few (SET_MAX); null once they are in the slots and the pool. */
  private small: Set<string> | null
  private slots: Int32Array
  private mask: number
  private pool: Uint8Array
  /** Bytes of the pool in use, and of them, bytes of deleted entries. */
  private end = 0
  private dead = 0
  private count = 0
  /** Counts compactions, which move entries: an iteration across one cannot go on. */
  private moves = 0
  /** Whether ids are hashed whole, and how often an add met another id of its (sampled) hash. */
  private full = false
  private collisions = 0

  /**
   * `expected`: how many ids it will hold (`bytes`: their pool bytes), so building it from a list
   * never grows it. `setMax`: the most ids it holds as a Set (tests lower it).
   */
  constructor(
    expected = 0,
    bytes = expected * 42,
    private readonly setMax = SET_MAX,
  ) {
    const big = expected > setMax
    const capacity = capacityFor(big ? expected : 0)
    this.small = big ? null : new Set()
    this.slots = new Int32Array(capacity * 2)
    this.mask = capacity - 1
    this.pool = new Uint8Array(big ? Math.max(64, bytes) : 64)
  }

  static from(ids: Iterable<string>, setMax = SET_MAX): IdTable {
    const list = Array.isArray(ids) ? (ids as readonly string[]) : [...ids]
    let bytes = 0
    if (list.length > setMax) for (const id of list) bytes += 6 + id.length
    const table = new IdTable(list.length, bytes, setMax)
    for (const id of list) table.add(id)
    return table
  }

  get size(): number {
    return this.small !== null ? this.small.size : this.count
  }

  has(id: string): boolean {
    const small = this.small
    if (small !== null) return small.has(id)
    return this.find(id, this.full ? fullHash(id) : sampledHash(id)) >= 0
  }

  /** The slot holding `id`, or -1. */
  private find(id: string, h: number): number {
    const slots = this.slots
    const mask = this.mask
    let i = h & mask
    for (;;) {
      const ref = slots[2 * i + 1]!
      if (ref === 0) return -1
      if (slots[2 * i] === h && this.holds(ref - 1, id)) return i
      i = (i + 1) & mask
    }
  }

  /** Whether the entry at `at` in the pool is `id`. */
  private holds(at: number, id: string): boolean {
    const p = this.pool
    const field = p[at + 4]! | (p[at + 5]! << 8)
    let n = field >>> 2
    at += 6
    if (n === LONG) {
      n = p[at]! | (p[at + 1]! << 8) | (p[at + 2]! << 16) | (p[at + 3]! << 24)
      at += 4
    }
    if (n !== id.length) return false
    if ((field & WIDE) === 0) {
      for (let i = 0; i < n; i++) if (p[at + i] !== id.charCodeAt(i)) return false
    } else {
      for (let i = 0; i < n; i++) if ((p[at + 2 * i]! | (p[at + 2 * i + 1]! << 8)) !== id.charCodeAt(i)) return false
    }
    return true
  }

  add(id: string): this {
    const small = this.small
    if (small !== null) {
      small.add(id)
      if (small.size > this.setMax) this.leaveSet(small)
      return this
    }
    const h = this.full ? fullHash(id) : sampledHash(id)
    const slots = this.slots
    const mask = this.mask
    for (let i = h & mask; slots[2 * i + 1] !== 0; i = (i + 1) & mask) {
      if (slots[2 * i] !== h) continue
      if (this.holds(slots[2 * i + 1]! - 1, id)) return this
      this.collisions++
    }
    // Ids the sample does not tell apart (they differ only where it does not look): hash them whole.
    if (!this.full && this.collisions > 16 + (this.count >>> 6)) {
      this.hashWhole()
      return this.add(id)
    }
    if (this.count + 1 > (this.mask + 1) * MAX_LOAD) this.rehash(capacityFor(this.count + 1))
    const at = this.append(id, h)
    this.place(h, at + 1)
    this.count++
    return this
  }

  delete(id: string): boolean {
    if (this.small !== null) return this.small.delete(id)
    const i = this.find(id, this.full ? fullHash(id) : sampledHash(id))
    if (i < 0) return false
    const slots = this.slots
    const at = slots[2 * i + 1]! - 1
    this.pool[at + 4]! |= DELETED
    this.dead += entryBytes(this.pool, at)
    this.count--
    // Backward shift: move each later entry of the run whose home is not between the hole and it.
    const mask = this.mask
    let hole = i
    let j = (i + 1) & mask
    while (slots[2 * j + 1] !== 0) {
      const home = slots[2 * j]! & mask
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        slots[2 * hole] = slots[2 * j]!
        slots[2 * hole + 1] = slots[2 * j + 1]!
        hole = j
      }
      j = (j + 1) & mask
    }
    slots[2 * hole] = 0
    slots[2 * hole + 1] = 0
    return true
  }

  clear(): void {
    this.small = new Set()
    this.slots = new Int32Array(16)
    this.mask = 7
    this.pool = new Uint8Array(64)
    this.end = 0
    this.dead = 0
    this.count = 0
    this.moves++
    this.full = false
    this.collisions = 0
  }

  *[Symbol.iterator](): IterableIterator<string> {
    if (this.small !== null) {
      yield* this.small
      return
    }
    const moves = this.moves
    for (let at = 0; at < this.end;) {
      const p = this.pool
      const field = p[at + 4]! | (p[at + 5]! << 8)
      let n = field >>> 2
      let units = at + 6
      if (n === LONG) {
        n = p[units]! | (p[units + 1]! << 8) | (p[units + 2]! << 16) | (p[units + 3]! << 24)
        units += 4
      }
      const next = units + ((field & WIDE) === 0 ? n : 2 * n)
      if ((field & DELETED) === 0) yield decode(p, units, n, (field & WIDE) !== 0)
      // A table may be edited while iterated, as a Set may; only a compaction moves what follows.
      if (this.moves !== moves) throw new Error('IdTable compacted while iterated')
      at = next
    }
  }

  values(): IterableIterator<string> {
    return this[Symbol.iterator]()
  }

  /** Moves the ids of the Set into the slots and the pool, in the Set's order. */
  private leaveSet(ids: Set<string>): void {
    let bytes = 0
    for (const id of ids) bytes += 6 + id.length
    this.small = null
    this.moves++
    const capacity = capacityFor(ids.size * 2)
    this.slots = new Int32Array(capacity * 2)
    this.mask = capacity - 1
    this.pool = new Uint8Array(bytes * 2)
    for (const id of ids) this.add(id)
  }

  /** Appends `id` to the pool, one byte a unit unless a unit needs two; answers its offset. */
  private append(id: string, h: number, wide = false): number {
    const n = id.length
    const need = 6 + (n >= LONG ? 4 : 0) + (wide ? 2 * n : n)
    if (this.end + need > this.pool.length) this.makeRoom(need)
    const p = this.pool
    const start = this.end
    p[start] = h
    p[start + 1] = h >>> 8
    p[start + 2] = h >>> 16
    p[start + 3] = h >>> 24
    const field = (Math.min(n, LONG) << 2) | (wide ? WIDE : 0)
    p[start + 4] = field
    p[start + 5] = field >>> 8
    let at = start + 6
    if (n >= LONG) {
      p[at] = n
      p[at + 1] = n >>> 8
      p[at + 2] = n >>> 16
      p[at + 3] = n >>> 24
      at += 4
    }
    if (wide) {
      for (let i = 0; i < n; i++) {
        const c = id.charCodeAt(i)
        p[at + 2 * i] = c
        p[at + 2 * i + 1] = c >>> 8
      }
    } else {
      for (let i = 0; i < n; i++) {
        const c = id.charCodeAt(i)
        // Written over by the wide form (this.end has not moved).
        if (c > 0xff) return this.append(id, h, true)
        p[at + i] = c
      }
    }
    this.end = start + need
    return start
  }

  /** Room for `need` more bytes: compacts the pool when deleted entries fill half of it, else doubles it. */
  private makeRoom(need: number): void {
    const live = this.end - this.dead
    if (this.dead >= live && live + need <= this.pool.length) {
      this.compact()
      return
    }
    const next = new Uint8Array(Math.max(this.pool.length * 2, this.end + need))
    next.set(this.pool.subarray(0, this.end))
    this.pool = next
  }

  /** Drops deleted entries from the pool (in order, in place) and lays the slots out again. */
  private compact(): void {
    const p = this.pool
    let to = 0
    for (let at = 0; at < this.end;) {
      const bytes = entryBytes(p, at)
      if ((p[at + 4]! & DELETED) === 0) {
        if (to !== at) p.copyWithin(to, at, at + bytes)
        to += bytes
      }
      at += bytes
    }
    this.end = to
    this.dead = 0
    this.moves++
    this.rehash(this.mask + 1)
  }

  /** Hashes every id whole from now on: each entry's hash in the pool is written again. */
  private hashWhole(): void {
    this.full = true
    const p = this.pool
    for (let at = 0; at < this.end;) {
      const field = p[at + 4]! | (p[at + 5]! << 8)
      const long = field >>> 2 === LONG
      const n = long ? p[at + 6]! | (p[at + 7]! << 8) | (p[at + 8]! << 16) | (p[at + 9]! << 24) : field >>> 2
      if ((field & DELETED) === 0) {
        const h = fullHash(decode(p, at + (long ? 10 : 6), n, (field & WIDE) !== 0))
        p[at] = h
        p[at + 1] = h >>> 8
        p[at + 2] = h >>> 16
        p[at + 3] = h >>> 24
      }
      at += entryBytes(p, at)
    }
    this.rehash(this.mask + 1)
  }

  /** Lays every live entry out in `capacity` slots, from the pool (which holds each entry's hash). */
  private rehash(capacity: number): void {
    this.slots = new Int32Array(capacity * 2)
    this.mask = capacity - 1
    const p = this.pool
    for (let at = 0; at < this.end;) {
      if ((p[at + 4]! & DELETED) === 0) this.place(p[at]! | (p[at + 1]! << 8) | (p[at + 2]! << 16) | (p[at + 3]! << 24), at + 1)
      at += entryBytes(p, at)
    }
  }

  private place(h: number, ref: number): void {
    const slots = this.slots
    const mask = this.mask
    let i = h & mask
    while (slots[2 * i + 1] !== 0) i = (i + 1) & mask
    slots[2 * i] = h
    slots[2 * i + 1] = ref
  }
}

/** The fewest slots (a power of two, 8 at least) that hold `n` ids within MAX_LOAD. */
function capacityFor(n: number): number {
  let capacity = 8
  while (n > capacity * MAX_LOAD) capacity *= 2
  return capacity
}

function entryBytes(p: Uint8Array, at: number): number {
  const field = p[at + 4]! | (p[at + 5]! << 8)
  let n = field >>> 2
  let header = 6
  if (n === LONG) {
    n = p[at + 6]! | (p[at + 7]! << 8) | (p[at + 8]! << 16) | (p[at + 9]! << 24)
    header = 10
  }
  return header + ((field & WIDE) === 0 ? n : 2 * n)
}

function decode(p: Uint8Array, at: number, n: number, wide: boolean): string {
  if (!wide && n <= 4096) return String.fromCharCode.apply(null, p.subarray(at, at + n) as unknown as number[])
  let s = ''
  const units: number[] = []
  for (let i = 0; i < n; i++) {
    units.push(wide ? p[at + 2 * i]! | (p[at + 2 * i + 1]! << 8) : p[at + i]!)
    if (units.length === 4096) {
      s += String.fromCharCode(...units)
      units.length = 0
    }
  }
  return s + String.fromCharCode(...units)
}
