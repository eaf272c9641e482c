// The typed values clauses and schedules compare: SemVer 2.0 versions, ISO-8601 instants and
// durations, parsed by hand (no regular expressions: linear in the input, no allocation for a date).

export interface Semver {
  readonly major: number
  readonly minor: number
  readonly patch: number
  /**
   * Pre-release identifiers, numbers where numeric (a bigint past 15 digits, so that numeric
   * identifiers of any length compare as numbers); empty for a release.
   */
  readonly pre: readonly (string | number | bigint)[]
}

const isDigit = (c: number) => c >= 48 && c <= 57
const isIdentChar = (c: number) => isDigit(c) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45

const NO_PRE: readonly (string | number | bigint)[] = Object.freeze([])

/**
 * SemVer 2.0 (`1.2.3-rc.1+build`; a leading `v` is allowed), or null. Build metadata is ignored, as precedence says.
 * Numbers are read digit by digit: a release allocates nothing but its result.
 */
export function parseSemver(s: string): Semver | null {
  let i = s.charCodeAt(0) === 118 ? 1 : 0
  let major = 0
  let minor = 0
  let patch = 0
  for (let n = 0; n < 3; n++) {
    const start = i
    let value = 0
    for (let c = s.charCodeAt(i); isDigit(c); c = s.charCodeAt(++i)) value = value * 10 + (c - 48)
    if (i === start || (i - start > 1 && s.charCodeAt(start) === 48) || i - start > 15) return null
    if (n === 0) major = value
    else if (n === 1) minor = value
    else patch = value
    if (n < 2) {
      if (s.charCodeAt(i) !== 46) return null
      i++
    }
  }
  let pre = NO_PRE
  if (s.charCodeAt(i) === 45) {
    i++
    const ids: (string | number | bigint)[] = []
    for (;;) {
      const start = i
      let numeric = true
      let value = 0
      for (let c = s.charCodeAt(i); isIdentChar(c); c = s.charCodeAt(++i)) {
        if (isDigit(c)) value = value * 10 + (c - 48)
        else numeric = false
      }
      if (i === start) return null
      const length = i - start
      if (numeric && length > 1 && s.charCodeAt(start) === 48) return null
      ids.push(!numeric ? s.slice(start, i) : length <= 15 ? value : BigInt(s.slice(start, i)))
      if (s.charCodeAt(i) !== 46) break
      i++
    }
    pre = ids
  }
  if (s.charCodeAt(i) === 43) {
    i++
    for (;;) {
      const start = i
      while (isIdentChar(s.charCodeAt(i))) i++
      if (i === start) return null
      if (s.charCodeAt(i) !== 46) break
      i++
    }
  }
  if (i !== s.length) return null
  return { major, minor, patch, pre }
}

/** SemVer 2.0 precedence: negative, zero or positive. */
export function compareSemver(a: Semver, b: Semver): number {
  if (a.major !== b.major) return a.major - b.major
  if (a.minor !== b.minor) return a.minor - b.minor
  if (a.patch !== b.patch) return a.patch - b.patch
  // A release ranks above its pre-releases.
  if (a.pre.length === 0 || b.pre.length === 0) return b.pre.length - a.pre.length
  const n = Math.min(a.pre.length, b.pre.length)
  for (let i = 0; i < n; i++) {
    const x = a.pre[i]!
    const y = b.pre[i]!
    if (x === y) continue
    const xn = typeof x !== 'string'
    const yn = typeof y !== 'string'
    // Numeric identifiers rank below alphanumeric ones; alphanumerics compare in ASCII order.
    // A number and a bigint compare by value (`<` is exact across the two; `===` is not, but a
    // bigint holds 16 digits or more and so never equals a number).
    if (xn !== yn) return xn ? -1 : 1
    return x < y ? -1 : 1
  }
  return a.pre.length - b.pre.length
}

function digits(s: string, i: number, n: number): number {
  let v = 0
  for (let k = 0; k < n; k++) {
    const c = s.charCodeAt(i + k)
    if (!isDigit(c)) return -1
    v = v * 10 + (c - 48)
  }
  return v
}

const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
const leap = (y: number) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0

/**
 * Days from 1970-01-01 to a proleptic Gregorian date (year 0 … 9999). Arithmetic rather than
 * Date.UTC, which reads years 0 … 99 as 1900 … 1999 (H. Hinnant's days_from_civil).
 */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year
  const era = Math.floor(y / 400)
  const yoe = y - era * 400
  const doy = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1
  return era * 146_097 + yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy - 719_468
}
const DAY_MS = 86_400_000

/**
 * An ISO-8601 instant in milliseconds since the epoch, or NaN: a date (`2026-03-01`, midnight UTC)
 * or a date-time with a zone (`2026-03-01T09:00:00.5+01:00`, `…Z`). A date-time without a zone names
 * no instant, so it is refused rather than guessed.
 */
export function parseInstant(s: string): number {
  const year = digits(s, 0, 4)
  const month = digits(s, 5, 2)
  const day = digits(s, 8, 2)
  if (year < 0 || month < 1 || month > 12 || day < 1 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45) return NaN
  if (day > (month === 2 && leap(year) ? 29 : DAYS[month - 1]!)) return NaN
  if (s.length === 10) return daysFromCivil(year, month, day) * DAY_MS
  const t = s.charCodeAt(10)
  if (t !== 84 && t !== 116 && t !== 32) return NaN
  const hour = digits(s, 11, 2)
  const minute = digits(s, 14, 2)
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || s.charCodeAt(13) !== 58) return NaN
  let i = 16
  let second = 0
  let ms = 0
  if (s.charCodeAt(i) === 58) {
    second = digits(s, 17, 2)
    if (second < 0 || second > 60) return NaN
    i = 19
    if (s.charCodeAt(i) === 46 || s.charCodeAt(i) === 44) {
      i++
      // Milliseconds are the first three digits; any further digits are cut, never rounded up.
      const start = i
      let scale = 100
      while (i < s.length && isDigit(s.charCodeAt(i))) {
        ms += (s.charCodeAt(i) - 48) * scale
        scale = scale === 1 ? 0 : scale / 10
        i++
      }
      if (i === start) return NaN
    }
  }
  let offset = 0
  const z = s.charCodeAt(i)
  if ((z === 90 || z === 122) && i + 1 === s.length) offset = 0
  else if (z === 43 || z === 45) {
    const oh = digits(s, i + 1, 2)
    const colon = s.charCodeAt(i + 3) === 58
    const om = digits(s, i + (colon ? 4 : 3), 2)
    if (oh < 0 || oh > 23 || om < 0 || om > 59 || i + (colon ? 6 : 5) !== s.length) return NaN
    offset = (z === 43 ? 1 : -1) * (oh * 60 + om)
  } else return NaN
  return daysFromCivil(year, month, day) * DAY_MS + hour * 3_600_000 + (minute - offset) * 60_000 + second * 1000 + ms
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** A duration such as `90s`, `1h` or `7d` (schedule.ts's DURATION_PATTERN) in milliseconds; NaN when it is none. */
export function durationMs(text: string): number {
  let i = 0
  let n = 0
  while (i < text.length && i < 10 && isDigit(text.charCodeAt(i))) n = n * 10 + (text.charCodeAt(i++) - 48)
  const unit = text.slice(i)
  return i === 0 || text.charCodeAt(0) === 48 || !Object.hasOwn(UNIT_MS, unit) ? NaN : n * UNIT_MS[unit]!
}
