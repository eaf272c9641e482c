// Clauses compiled once per flag (or segment) change and matched without allocating. A match
// answers a small code, so evaluate() only compares it with MATCH while explain() tells why.
import { toNfc, hasOtherForms } from '../flags/identity.js'
import type { Clause, ClauseOperator } from '../flags/rules.js'
import { compareSemver, parseInstant, parseSemver, type Semver } from './values.js'
import type { Context } from './engine.js'

export const MATCH = 0
export const NOT_MATCHED = 1
export const MISSING_ATTRIBUTE = 2
export const TYPE_MISMATCH = 3
export const SEGMENT_MISSING = 4
/** Not a clause's answer but the evaluation's: the SDK does not hold a segment the clause needs. */
export const SEGMENT_NOT_LOCAL = 5
export type ClauseCode = 0 | 1 | 2 | 3 | 4 | 5

/** Where a clause reads its value. */
const USER = 0
const TENANT = 1
const ATTRIBUTE = 2

/** The types of an in/not_in clause's values, as bits: an attribute of none of them is mistyped. */
export const STRING_VALUES = 1
export const NUMBER_VALUES = 2
export const BOOLEAN_VALUES = 4

/** A segment ready for membership checks (segments/compile.ts builds it). */
export interface CompiledSegment {
  readonly key: string
  /** False in an SDK that was not sent the segment's members (larger than SEGMENT_INLINE_MAX). */
  readonly local: boolean
  readonly users: ReadonlySet<string>
  readonly tenants: ReadonlySet<string>
  readonly excludedUsers: ReadonlySet<string>
  readonly excludedTenants: ReadonlySet<string>
  readonly clauses: readonly CompiledClause[]
  /** Whether any listed id has other Unicode forms (identity.ts), per list. */
  readonly nfc: { users: boolean; tenants: boolean; excludedUsers: boolean; excludedTenants: boolean }
}

/** Finds a segment by key at evaluation time, so a segment's change needs no flag recompiled. */
export type SegmentLookup = (key: string) => CompiledSegment | undefined
export const NO_SEGMENTS: SegmentLookup = () => undefined

export interface CompiledClause {
  readonly clause: Clause
  readonly operator: ClauseOperator
  readonly source: number
  readonly attribute: string
  /** True for not_in, and for any clause with negate (not_in with negate is in). */
  readonly negate: boolean
  readonly set: ReadonlySet<string | number | boolean>
  readonly setNfc: boolean
  /** in/not_in: the types its values hold (STRING_VALUES | NUMBER_VALUES | BOOLEAN_VALUES). */
  readonly types: number
  /**
   * The verdict on an empty list of strings: NOT_MATCHED (no element matches) where the operator
   * compares strings, TYPE_MISMATCH where a list of strings is the wrong type (numbers).
   */
  readonly emptyList: ClauseCode
  readonly strings: readonly string[]
  readonly numbers: readonly number[]
  readonly semvers: readonly Semver[]
  readonly instants: readonly number[]
}

const NUMBER_OPERATORS: ReadonlySet<ClauseOperator> = new Set(['lt', 'lte', 'gt', 'gte'])

export function compileClause(clause: Clause): CompiledClause {
  const attribute = clause.attribute ?? ''
  const strings = clause.values.filter((v): v is string => typeof v === 'string').map(toNfc)
  let types = 0
  for (const v of clause.values) types |= typeof v === 'string' ? STRING_VALUES : typeof v === 'number' ? NUMBER_VALUES : BOOLEAN_VALUES
  const takesStrings = clause.operator === 'in' || clause.operator === 'not_in' ? (types & STRING_VALUES) !== 0 : !NUMBER_OPERATORS.has(clause.operator)
  return {
    clause,
    operator: clause.operator,
    source: attribute === 'userId' ? USER : attribute === 'tenantId' ? TENANT : ATTRIBUTE,
    attribute,
    negate: (clause.negate === true) !== (clause.operator === 'not_in'),
    set: new Set(clause.values.map((v) => (typeof v === 'string' ? toNfc(v) : v))),
    setNfc: strings.some(hasOtherForms),
    types,
    emptyList: takesStrings ? NOT_MATCHED : TYPE_MISMATCH,
    strings,
    numbers: clause.values.filter((v): v is number => typeof v === 'number'),
    semvers: strings.map(parseSemver).filter((v): v is Semver => v !== null),
    instants: strings.map(parseInstant).filter((v) => !Number.isNaN(v)),
  }
}

/** The context's value for a clause; an inherited property (`constructor`) or a nested object is no value. */
export function valueOf(c: CompiledClause, ctx: Context): unknown {
  if (c.source === USER) return ctx.userId
  if (c.source === TENANT) return ctx.tenantId
  const attributes = ctx.attributes
  // null only from plain JavaScript, which the types do not stop: evaluation never throws.
  if (attributes === undefined || attributes === null) return undefined
  const v = attributes[c.attribute]
  if (typeof v === 'object' && !Array.isArray(v)) return undefined
  if (typeof v === 'function') return undefined
  return v
}

// One-entry memos: a version or date read by several clauses of one evaluation is parsed once.
let semverText: string | undefined
let semverValue: Semver | null = null
function semverOf(s: string): Semver | null {
  if (s !== semverText) {
    semverText = s
    semverValue = parseSemver(s)
  }
  return semverValue
}
let instantText: string | undefined
let instantValue = NaN
function instantOf(s: string): number {
  if (s !== instantText) {
    instantText = s
    instantValue = parseInstant(s)
  }
  return instantValue
}

/** Matches one scalar against a clause: MATCH, NOT_MATCHED or TYPE_MISMATCH (negation not applied). */
function matchScalar(c: CompiledClause, v: unknown): ClauseCode {
  switch (c.operator) {
    case 'in':
    case 'not_in':
      // An attribute of a type none of the values has is mistyped, so not_in cannot match it.
      if (typeof v === 'string') {
        if ((c.types & STRING_VALUES) === 0) return TYPE_MISMATCH
        if (c.set.has(v)) return MATCH
        if (!c.setNfc) return NOT_MATCHED
        const nfc = toNfc(v)
        return nfc !== v && c.set.has(nfc) ? MATCH : NOT_MATCHED
      }
      if ((c.types & (typeof v === 'number' ? NUMBER_VALUES : typeof v === 'boolean' ? BOOLEAN_VALUES : 0)) === 0) return TYPE_MISMATCH
      return c.set.has(v as number | boolean) ? MATCH : NOT_MATCHED
    case 'starts_with':
    case 'ends_with':
    case 'contains': {
      if (typeof v !== 'string') return TYPE_MISMATCH
      const s = toNfc(v)
      for (const x of c.strings) {
        if (c.operator === 'starts_with' ? s.startsWith(x) : c.operator === 'ends_with' ? s.endsWith(x) : s.includes(x)) return MATCH
      }
      return NOT_MATCHED
    }
    case 'lt':
    case 'lte':
    case 'gt':
    case 'gte': {
      if (typeof v !== 'number') return TYPE_MISMATCH
      for (const x of c.numbers) {
        if (c.operator === 'lt' ? v < x : c.operator === 'lte' ? v <= x : c.operator === 'gt' ? v > x : v >= x) return MATCH
      }
      return NOT_MATCHED
    }
    case 'semver_eq':
    case 'semver_lt':
    case 'semver_gt': {
      const parsed = typeof v === 'string' ? semverOf(v) : null
      if (parsed === null) return TYPE_MISMATCH
      for (const x of c.semvers) {
        const order = compareSemver(parsed, x)
        if (c.operator === 'semver_eq' ? order === 0 : c.operator === 'semver_lt' ? order < 0 : order > 0) return MATCH
      }
      return NOT_MATCHED
    }
    case 'before':
    case 'after': {
      const at = typeof v === 'string' ? instantOf(v) : NaN
      if (Number.isNaN(at)) return TYPE_MISMATCH
      for (const x of c.instants) if (c.operator === 'before' ? at < x : at > x) return MATCH
      return NOT_MATCHED
    }
    default:
      return TYPE_MISMATCH
  }
}

/** Scalars match as themselves; a list of strings matches when any element does. */
function matchValue(c: CompiledClause, v: unknown): ClauseCode {
  if (!Array.isArray(v)) return matchScalar(c, v)
  if (v.length === 0) return c.emptyList
  let code: ClauseCode = NOT_MATCHED
  for (const item of v) {
    const one = matchScalar(c, item)
    if (one === MATCH) return MATCH
    if (one === TYPE_MISMATCH) code = TYPE_MISMATCH
  }
  return code
}

/** The clause's verdict with negation applied: only a present value of the right type can match. */
export function matchClause(c: CompiledClause, ctx: Context, segments: SegmentLookup): ClauseCode {
  if (c.operator === 'in_segment') {
    const code = inSegments(c, ctx, segments)
    if (code !== MATCH && code !== NOT_MATCHED) return code
    return (code === MATCH) !== c.negate ? MATCH : NOT_MATCHED
  }
  const v = valueOf(c, ctx)
  if (c.operator === 'exists') return (v !== undefined && v !== null) !== c.negate ? MATCH : NOT_MATCHED
  if (v === undefined || v === null) return MISSING_ATTRIBUTE
  const code = matchValue(c, v)
  if (code === TYPE_MISMATCH) return code
  return (code === MATCH) !== c.negate ? MATCH : NOT_MATCHED
}

function inSegments(c: CompiledClause, ctx: Context, segments: SegmentLookup): ClauseCode {
  let found = false
  for (const key of c.strings) {
    const segment = segments(key)
    if (segment === undefined) continue
    if (!segment.local) return SEGMENT_NOT_LOCAL
    found = true
    if (inSegment(segment, ctx)) return MATCH
  }
  return found ? NOT_MATCHED : SEGMENT_MISSING
}

const listed = (ids: ReadonlySet<string>, id: string | undefined, nfc: boolean): boolean => {
  if (typeof id !== 'string' || ids.size === 0) return false
  if (ids.has(id)) return true
  if (!nfc) return false
  const normal = toNfc(id)
  return normal !== id && ids.has(normal)
}

/** Excluded ids first, then included ids, then the segment's clauses (all must match; none: no one). */
export function inSegment(s: CompiledSegment, ctx: Context): boolean {
  if (listed(s.excludedUsers, ctx.userId, s.nfc.excludedUsers) || listed(s.excludedTenants, ctx.tenantId, s.nfc.excludedTenants)) return false
  if (listed(s.users, ctx.userId, s.nfc.users) || listed(s.tenants, ctx.tenantId, s.nfc.tenants)) return true
  if (s.clauses.length === 0) return false
  for (const clause of s.clauses) if (matchClause(clause, ctx, NO_SEGMENTS) !== MATCH) return false
  return true
}
