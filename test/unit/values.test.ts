// The typed values clauses compare (evaluation/values.ts): SemVer 2.0 versions and their
// precedence, ISO-8601 instants with zones. Both parsers are hand-written, so they are checked
// against the specs' own examples and against Date.parse where it is defined.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { compareSemver, parseInstant, parseSemver, type Semver } from '../../packages/core/src/flags/values.js'

const v = (s: string): Semver => {
  const parsed = parseSemver(s)
  if (parsed === null) throw new Error(`${s} did not parse`)
  return parsed
}
const cmp = (a: string, b: string) => Math.sign(compareSemver(v(a), v(b)))

describe('parseSemver()', () => {
  it.each([
    ['1.2.3', { major: 1, minor: 2, patch: 3, pre: [] }],
    ['0.0.0', { major: 0, minor: 0, patch: 0, pre: [] }],
    ['v1.2.3', { major: 1, minor: 2, patch: 3, pre: [] }],
    ['1.0.0-alpha', { major: 1, minor: 0, patch: 0, pre: ['alpha'] }],
    ['1.0.0-alpha.1', { major: 1, minor: 0, patch: 0, pre: ['alpha', 1] }],
    ['1.0.0-0.3.7', { major: 1, minor: 0, patch: 0, pre: [0, 3, 7] }],
    ['1.0.0-x.7.z.92', { major: 1, minor: 0, patch: 0, pre: ['x', 7, 'z', 92] }],
    ['1.0.0-x-y-z.--', { major: 1, minor: 0, patch: 0, pre: ['x-y-z', '--'] }],
    ['1.0.0-0a', { major: 1, minor: 0, patch: 0, pre: ['0a'] }],
    ['1.0.0+20130313144700', { major: 1, minor: 0, patch: 0, pre: [] }],
    ['1.0.0-beta+exp.sha.5114f85', { major: 1, minor: 0, patch: 0, pre: ['beta'] }],
    ['1.0.0+21AF26D3----117B344092BD', { major: 1, minor: 0, patch: 0, pre: [] }],
    ['999999999999999.0.0', { major: 999_999_999_999_999, minor: 0, patch: 0, pre: [] }],
  ])('parses %s', (text, expected) => {
    expect(parseSemver(text)).toEqual(expected)
  })

  it.each([
    '',
    'v',
    '1',
    '1.2',
    '1.2.3.4',
    '01.2.3',
    '1.02.3',
    '1.2.03',
    '1.2.3-',
    '1.2.3-01',
    '1.2.3-alpha..1',
    '1.2.3-alpha.',
    '1.2.3+',
    '1.2.3+build..1',
    '1.2.3-alpha_1',
    '1.2.3-é',
    '1.2.3 ',
    ' 1.2.3',
    'V1.2.3',
    '-1.2.3',
    '1.-2.3',
    '1.2.3-rc.1+build+more',
    'a.b.c',
    '1.2.x',
    '1.2.*',
    '1.2.3\n',
    '1000000000000000.0.0',
  ])('refuses %j', (text) => {
    expect(parseSemver(text)).toBeNull()
  })

  it('never throws, whatever the string', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), (s) => {
        const parsed = parseSemver(s)
        return parsed === null || (Number.isSafeInteger(parsed.major) && Number.isSafeInteger(parsed.minor) && Number.isSafeInteger(parsed.patch))
      }),
      { numRuns: 500 },
    )
  })
})

describe('compareSemver()', () => {
  // SemVer 2.0, item 11: the precedence example, in ascending order.
  const SPEC_ORDER = ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0']

  it('orders the specification’s example list 1.0.0-alpha < … < 1.0.0, every pair', () => {
    for (const [i, a] of SPEC_ORDER.entries()) {
      for (const [j, b] of SPEC_ORDER.entries()) expect(cmp(a, b), `${a} vs ${b}`).toBe(Math.sign(i - j))
    }
  })

  it('sorts a shuffled list into the specification’s order', () => {
    const shuffled = [SPEC_ORDER[5]!, SPEC_ORDER[0]!, SPEC_ORDER[7]!, SPEC_ORDER[2]!, SPEC_ORDER[6]!, SPEC_ORDER[1]!, SPEC_ORDER[4]!, SPEC_ORDER[3]!]
    expect(shuffled.sort((a, b) => compareSemver(v(a), v(b)))).toEqual(SPEC_ORDER)
  })

  it.each([
    ['1.0.0', '2.0.0', -1],
    ['2.0.0', '2.1.0', -1],
    ['2.1.0', '2.1.1', -1],
    ['1.10.0', '1.9.0', 1],
    ['1.0.10', '1.0.9', 1],
    ['1.0.0', '1.0.0', 0],
    ['v1.0.0', '1.0.0', 0],
    ['2.0.0-rc.1', '1.99.99', 1],
    // Numeric identifiers compare as numbers, and rank below alphanumeric ones.
    ['1.0.0-2', '1.0.0-10', -1],
    ['1.0.0-10', '1.0.0-alpha', -1],
    ['1.0.0-999', '1.0.0-0a', -1],
    // Alphanumerics compare in ASCII order: upper case before lower case, hyphen first.
    ['1.0.0-Beta', '1.0.0-alpha', -1],
    ['1.0.0--', '1.0.0-0a', -1],
    ['1.0.0-alpha', '1.0.0-alpha.0', -1],
    // Numeric identifiers of any length (past 2^53) still compare as numbers.
    ['1.0.0-99999999999999999', '1.0.0-100000000000000000', -1],
    ['1.0.0-9007199254740993', '1.0.0-9007199254740992', 1],
    ['1.0.0-1234567890123456', '1.0.0-999', 1],
    ['1.0.0-1234567890123456', '1.0.0--', -1],
    ['1.0.0-1234567890123456', '1.0.0-1234567890123456', 0],
  ])('%s vs %s: %d', (a, b, expected) => {
    expect(cmp(a, b)).toBe(expected)
    expect(cmp(b, a)).toBe(-expected || 0)
  })

  it.each([
    ['1.0.0+build.1', '1.0.0+build.2'],
    ['1.0.0+build', '1.0.0'],
    ['1.0.0-rc.1+linux', '1.0.0-rc.1+darwin'],
  ])('ignores build metadata: %s = %s', (a, b) => {
    expect(cmp(a, b)).toBe(0)
  })

  it('is a total order: antisymmetric and transitive over generated versions', () => {
    const ident = fc.oneof(fc.nat(20).map(String), fc.constantFrom('alpha', 'beta', 'rc', 'Beta', '-', '0a', 'x-1'))
    const version = fc
      .tuple(fc.nat(2), fc.nat(2), fc.nat(2), fc.array(ident, { maxLength: 3 }))
      .map(([a, b, c, pre]) => `${a}.${b}.${c}${pre.length ? '-' + pre.join('.') : ''}`)
    fc.assert(
      fc.property(version, version, version, (a, b, c) => {
        if (cmp(a, b) !== -cmp(b, a) + 0) return false
        if (cmp(a, b) <= 0 && cmp(b, c) <= 0 && cmp(a, c) > 0) return false
        return true
      }),
      { numRuns: 500 },
    )
  })
})

describe('parseInstant()', () => {
  it.each([
    ['2026-03-01', '2026-03-01T00:00:00.000Z'],
    ['2026-03-01T09:00:00Z', '2026-03-01T09:00:00.000Z'],
    ['2026-03-01T09:00:00z', '2026-03-01T09:00:00.000Z'],
    ['2026-03-01t09:00:00Z', '2026-03-01T09:00:00.000Z'],
    ['2026-03-01 09:00:00Z', '2026-03-01T09:00:00.000Z'],
    ['2026-03-01T09:00Z', '2026-03-01T09:00:00.000Z'],
    ['2026-03-01T09:00:00+01:00', '2026-03-01T08:00:00.000Z'],
    ['2026-03-01T09:00:00+0100', '2026-03-01T08:00:00.000Z'],
    ['2026-03-01T09:00:00-05:30', '2026-03-01T14:30:00.000Z'],
    ['2026-03-01T00:30:00+14:00', '2026-02-28T10:30:00.000Z'],
    ['2026-12-31T23:00:00-02:00', '2027-01-01T01:00:00.000Z'],
    ['2026-03-01T09:00:00-00:00', '2026-03-01T09:00:00.000Z'],
    ['2026-03-01T09:00:00.5Z', '2026-03-01T09:00:00.500Z'],
    ['2026-03-01T09:00:00,25Z', '2026-03-01T09:00:00.250Z'],
    ['2026-03-01T09:00:00.123Z', '2026-03-01T09:00:00.123Z'],
    ['2026-03-01T09:00:00.123456789Z', '2026-03-01T09:00:00.123Z'],
    // Sub-millisecond digits are cut, never rounded up into the next millisecond (or second).
    ['2026-03-01T09:00:00.9999999999999999999999Z', '2026-03-01T09:00:00.999Z'],
    ['2026-03-01T09:00:00.0009Z', '2026-03-01T09:00:00.000Z'],
    ['2024-02-29', '2024-02-29T00:00:00.000Z'],
    ['2000-02-29', '2000-02-29T00:00:00.000Z'],
    ['1970-01-01T00:00:00Z', '1970-01-01T00:00:00.000Z'],
    ['1969-12-31T23:59:59Z', '1969-12-31T23:59:59.000Z'],
    ['9999-12-31T23:59:59.999Z', '9999-12-31T23:59:59.999Z'],
    // Years below 100 are those years, not 1900 + year (Date.UTC's legacy mapping).
    ['0000-01-01', '0000-01-01T00:00:00.000Z'],
    ['0050-06-15T12:00:00Z', '0050-06-15T12:00:00.000Z'],
    ['0099-12-31T23:59:59Z', '0099-12-31T23:59:59.000Z'],
    ['0004-02-29', '0004-02-29T00:00:00.000Z'],
  ])('%s is %s', (text, iso) => {
    expect(parseInstant(text)).toBe(Date.parse(iso))
    expect(new Date(parseInstant(text)).toISOString()).toBe(iso)
  })

  it('reads the same instant written in different zones as equal', () => {
    const instants = ['2026-03-01T09:00:00Z', '2026-03-01T10:00:00+01:00', '2026-03-01T04:00:00-05:00', '2026-03-01T14:30:00+05:30'].map(parseInstant)
    expect(new Set(instants).size).toBe(1)
  })

  it('orders instants by time, not by their text', () => {
    // Lexically '…T23:00:00-05:00' < '…T09:00:00Z' is false, yet it is the later instant.
    expect(parseInstant('2026-03-01T23:00:00-05:00')).toBeGreaterThan(parseInstant('2026-03-02T03:00:00Z'))
    expect(parseInstant('2026-03-02T01:00:00+05:00')).toBeLessThan(parseInstant('2026-03-01T21:00:00Z'))
  })

  it('accepts a leap second as the next second', () => {
    expect(parseInstant('2016-12-31T23:59:60Z')).toBe(Date.parse('2017-01-01T00:00:00Z'))
  })

  it.each([
    // Feb 29 on years that are not leap years (1900 and 2100: divisible by 100, not by 400).
    '2026-02-29',
    '2025-02-29T00:00:00Z',
    '1900-02-29',
    '2100-02-29',
    '2026-02-30',
    '2026-04-31',
    '2026-06-31',
    '2026-09-31',
    '2026-11-31',
    '2026-01-32',
    '2026-00-10',
    '2026-13-01',
    '2026-01-00',
    // A date-time without a zone names no instant: refused, not guessed.
    '2026-03-01T09:00:00',
    '2026-03-01T09:00',
    '2026-03-01T09:00:00.000',
    // Malformed.
    '',
    '2026',
    '2026-03',
    '2026-3-1',
    '2026/03/01',
    '20260301',
    '26-03-01',
    '+2026-03-01',
    '2026-03-01Z',
    '2026-03-01T',
    '2026-03-01T9:00:00Z',
    '2026-03-01T24:00:00Z',
    '2026-03-01T23:60:00Z',
    '2026-03-01T23:59:61Z',
    '2026-03-01T09:00:00.Z',
    '2026-03-01T09:00.5Z',
    '2026-03-01T09:00:00+24:00',
    '2026-03-01T09:00:00+01:60',
    '2026-03-01T09:00:00+01',
    '2026-03-01T09:00:00+1:00',
    '2026-03-01T09:00:00Z ',
    '2026-03-01T09:00:00ZZ',
    '2026-03-01T09:00:00+01:00x',
    '2026-03-01x',
    'yesterday',
    '2026-03-01T09:00:00 UTC',
  ])('refuses %j', (text) => {
    expect(parseInstant(text)).toBeNaN()
  })

  it('agrees with Date.parse on generated date-times with zones', () => {
    const pad = (n: number, w = 2) => String(n).padStart(w, '0')
    const dateTime = fc
      .record({
        year: fc.integer({ min: 0, max: 9999 }),
        month: fc.integer({ min: 1, max: 12 }),
        day: fc.integer({ min: 1, max: 28 }),
        hour: fc.integer({ min: 0, max: 23 }),
        minute: fc.integer({ min: 0, max: 59 }),
        second: fc.integer({ min: 0, max: 59 }),
        ms: fc.integer({ min: 0, max: 999 }),
        offset: fc.integer({ min: -23 * 60 - 59, max: 23 * 60 + 59 }),
      })
      .map(({ year, month, day, hour, minute, second, ms, offset }) => {
        const zone = offset === 0 ? 'Z' : `${offset < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`
        return `${pad(year, 4)}-${pad(month)}-${pad(day)}T${pad(hour)}:${pad(minute)}:${pad(second)}.${pad(ms, 3)}${zone}`
      })
    fc.assert(
      fc.property(dateTime, (s) => parseInstant(s) === Date.parse(s)),
      { numRuns: 1000 },
    )
  })

  it('never throws, whatever the string', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (s) => {
        const t = parseInstant(s)
        return Number.isNaN(t) || Number.isInteger(t)
      }),
      { numRuns: 500 },
    )
  })
})
