// The bucketing algorithm written the obvious way (TextEncoder, a byte loop), from the published
// contract (test/vectors/bucketing.json), to check the allocation-free one in bucket.ts against:
// fmix32(FNV-1a-32(UTF-8(text))) mod 100000, where text is "<key>:<id>", "<key>:<rule id>:<id>"
// or "<key>:variant:<id>".
export function referenceBucket(text: string): number {
  let h = 0x811c9dc5
  for (const byte of new TextEncoder().encode(text)) h = Math.imul(h ^ byte, 0x01000193)
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return (h >>> 0) % 100_000
}
