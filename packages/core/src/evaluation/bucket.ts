// Percentage bucketing: a stable hash of (flag key, stickiness value) into 100,000 buckets.
//
// The algorithm is part of the public contract (test/vectors/bucketing.json): every replica,
// every version of the service and every SDK must put a given id in the same bucket, or
// users flicker in and out of a rollout. Do not change it.
//
//   bytes  = UTF-8 of `${flagKey}:${value}`
//   h      = FNV-1a 32-bit over bytes (offset 0x811c9dc5, prime 0x01000193)
//   h      = murmur3 fmix32(h)            (FNV alone mixes the last bytes poorly)
//   bucket = h mod 100000
//
// FNV is byte-streaming, so the state after `${flagKey}:` is computed once per flag and
// each evaluation hashes only the value, allocation-free.

export const BUCKETS = 100_000
const FNV_OFFSET = 0x811c9dc5
const FNV_PRIME = 0x01000193

function fnvByte(h: number, byte: number): number {
  return Math.imul(h ^ byte, FNV_PRIME)
}

/** Feeds the UTF-8 encoding of `s` into an FNV-1a state, without allocating. */
function fnvString(h: number, s: string): number {
  // ASCII is every id in practice: a loop this small is one the JIT compiles tightly.
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0x80) return fnvUtf8(h, s, i)
    h = Math.imul(h ^ c, FNV_PRIME)
  }
  return h
}

/** The rest of `s` from index `i`, which holds a non-ASCII character. */
function fnvUtf8(h: number, s: string, i: number): number {
  for (; i < s.length; i++) {
    let c = s.charCodeAt(i)
    if (c < 0x80) {
      h = fnvByte(h, c)
    } else if (c < 0x800) {
      h = fnvByte(fnvByte(h, 0xc0 | (c >> 6)), 0x80 | (c & 0x3f))
    } else {
      if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length) {
        const next = s.charCodeAt(i + 1)
        if (next >= 0xdc00 && next < 0xe000) {
          c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00)
          i++
          h = fnvByte(h, 0xf0 | (c >> 18))
          h = fnvByte(h, 0x80 | ((c >> 12) & 0x3f))
          h = fnvByte(h, 0x80 | ((c >> 6) & 0x3f))
          h = fnvByte(h, 0x80 | (c & 0x3f))
          continue
        }
      }
      // A lone surrogate encodes as U+FFFD, as TextEncoder does.
      if (c >= 0xd800 && c < 0xe000) c = 0xfffd
      h = fnvByte(h, 0xe0 | (c >> 12))
      h = fnvByte(h, 0x80 | ((c >> 6) & 0x3f))
      h = fnvByte(h, 0x80 | (c & 0x3f))
    }
  }
  return h
}

function fmix32(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** The hash state after `${flagKey}:`, computed once when a flag is compiled. */
export function bucketSeed(flagKey: string): number {
  return fnvString(FNV_OFFSET, flagKey + ':')
}

export function bucketFromSeed(seed: number, value: string): number {
  return fmix32(fnvString(seed, value)) % BUCKETS
}

// The second bucket of bucketPairFromSeeds: module state, so the pair costs no allocation.
let second = 0

/**
 * The buckets of one value under two seeds, hashed in one pass over the value: a variant flag's
 * on/off bucket and its split bucket. Returns the first; secondBucket() answers the second.
 */
export function bucketPairFromSeeds(seedA: number, seedB: number, value: string): number {
  let a = seedA
  let b = seedB
  const n = value.length
  let i = 0
  // Two characters a turn: half the loop's checks for the two multiply chains.
  for (; i + 1 < n; i += 2) {
    const c = value.charCodeAt(i)
    const d = value.charCodeAt(i + 1)
    if ((c | d) >= 0x80) break
    a = Math.imul(Math.imul(a ^ c, FNV_PRIME) ^ d, FNV_PRIME)
    b = Math.imul(Math.imul(b ^ c, FNV_PRIME) ^ d, FNV_PRIME)
  }
  for (; i < n; i++) {
    const c = value.charCodeAt(i)
    if (c >= 0x80) {
      a = fnvUtf8(a, value, i)
      b = fnvUtf8(b, value, i)
      break
    }
    a = Math.imul(a ^ c, FNV_PRIME)
    b = Math.imul(b ^ c, FNV_PRIME)
  }
  second = fmix32(b) % BUCKETS
  return fmix32(a) % BUCKETS
}

/** The second bucket of the last bucketPairFromSeeds. */
export const secondBucket = () => second

export function bucket(flagKey: string, value: string): number {
  return bucketFromSeed(bucketSeed(flagKey), value)
}

/** Buckets below the threshold are in the rollout; percentage has at most three decimals. */
export function percentageThreshold(percentage: number): number {
  return Math.round(percentage * 1000)
}
