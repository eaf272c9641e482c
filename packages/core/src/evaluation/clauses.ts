// Clauses compiled once per flag (or segment) change and matched without allocating. A match
// answers a small code, so evaluate() only compares it with MATCH while explain() tells why.
import { toNfc, hasOtherForms } from '../flags/identity.js'
import type { Clause, ClauseOperator } from '../flags/rules.js'
import { compareSemver, parseInstant, parseSemver, type Semver } from '../flags/values.js'
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

/** A segment's members as evaluation reads them: segments/id-table.ts's IdTable. */
export interface MemberIds extends Iterable<string> {
  has(id: string): boolean
  readonly size: number
}

/** A segment ready for membership checks (segments/compile.ts builds it). */
export interface CompiledSegment {
  readonly key: string
  /** False in an SDK that was not sent the segment's members (larger than SEGMENT_INLINE_MAX). */
  readonly local: boolean
  /** Members: up to a million ids each. */
  readonly users: MemberIds
  readonly tenants: MemberIds
  readonly excludedUsers: ReadonlySet<string>
  readonly excludedTenants: ReadonlySet<string>
  readonly clauses: readonly CompiledClause[]
  /** Whether any listed id has other Unicode forms (identity.ts), per list. */
  readonly nfc: { users: boolean; tenants: boolean; excludedUsers: boolean; excludedTenants: boolean }
}

/** Finds a segment by key at evaluation time, so a segment's change needs no flag recompiled. */
export type SegmentLookup = (key: string) => CompiledSegment | undefined
export const NO_SEGMENTS: SegmentLookup = () => undefined

// Operators as small integers, so matching switches on a number (a jump table), never on a string.
const OP_IN = 0 // in and not_in (negate set)
const OP_STARTS_WITH = 1
const OP_ENDS_WITH = 2
const OP_CONTAINS = 3
const OP_LT = 4
const OP_LTE = 5
const OP_GT = 6
const OP_GTE = 7
const OP_SEMVER_EQ = 8
const OP_SEMVER_LT = 9
const OP_SEMVER_GT = 10
const OP_BEFORE = 11
const OP_AFTER = 12
const OP_EXISTS = 13
const OP_IN_SEGMENT = 14
const OPCODES: Record<ClauseOperator, number> = {
  in: OP_IN,
  not_in: OP_IN,
  starts_with: OP_STARTS_WITH,
  ends_with: OP_ENDS_WITH,
  contains: OP_CONTAINS,
  lt: OP_LT,
  lte: OP_LTE,
  gt: OP_GT,
  gte: OP_GTE,
  semver_eq: OP_SEMVER_EQ,
  semver_lt: OP_SEMVER_LT,
  semver_gt: OP_SEMVER_GT,
  before: OP_BEFORE,
  after: OP_AFTER,
  exists: OP_EXISTS,
  in_segment: OP_IN_SEGMENT,
}

export interface CompiledClause {
  readonly clause: Clause
  readonly operator: ClauseOperator
  /** The operator's number (OP_*); -1 for an operator this build does not know, which never matches. */
  readonly op: number
  readonly source: number
  readonly attribute: string
  /**
   * Where an evaluation caches this clause's attribute value (compileFlag numbers a flag's attribute
   * names, so its twenty clauses on `country` read it once); -1: read every time.
   */
  readonly slot: number
  /** True for not_in, and for any clause with negate (not_in with negate is in). */
  readonly negate: boolean
  readonly set: ReadonlySet<string | number | boolean>
  /** The same values as a list when they are few: comparing with a handful beats hashing. */
  readonly few: readonly (string | number | boolean)[] | null
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
  /**
   * A value matches when it compares with ANY of the values, so lt, lte and before need only the
   * largest value, gt, gte and after the smallest: one comparison, whatever the number of values.
   * NaN when there is no value to compare with (nothing matches).
   */
  readonly bound: number
  /** The same for semver_lt (the greatest version) and semver_gt (the least); null without one. */
  readonly semverBound: Semver | null
}

const NUMBER_OPERATORS: ReadonlySet<ClauseOperator> = new Set(['lt', 'lte', 'gt', 'gte'])

/** The least and greatest of `xs` (NaN skipped); NaN for both when there is none. */
function range(xs: readonly number[]): { lo: number; hi: number } {
  let lo = NaN
  let hi = NaN
  for (const x of xs) {
    if (Number.isNaN(x)) continue
    if (!(x >= lo)) lo = x
    if (!(x <= hi)) hi = x
  }
  return { lo, hi }
}

function semverRange(xs: readonly Semver[], greatest: boolean): Semver | null {
  let best: Semver | null = null
  for (const x of xs) if (best === null || (greatest ? compareSemver(x, best) > 0 : compareSemver(x, best) < 0)) best = x
  return best
}

/** The most values an in/not_in clause compares one by one rather than through its Set. */
const FEW = 8

/** `slot`: where evaluations cache the attribute's value (see CompiledClause.slot); -1 for none. */
export function compileClause(clause: Clause, slot = -1): CompiledClause {
  const attribute = clause.attribute ?? ''
  const values = clause.values.map((v) => (typeof v === 'string' ? toNfc(v) : v))
  const strings = clause.values.filter((v): v is string => typeof v === 'string').map(toNfc)
  let types = 0
  for (const v of clause.values) types |= typeof v === 'string' ? STRING_VALUES : typeof v === 'number' ? NUMBER_VALUES : BOOLEAN_VALUES
  const takesStrings = clause.operator === 'in' || clause.operator === 'not_in' ? (types & STRING_VALUES) !== 0 : !NUMBER_OPERATORS.has(clause.operator)
  const op = Object.hasOwn(OPCODES, clause.operator) ? OPCODES[clause.operator] : -1
  const numbers = clause.values.filter((v): v is number => typeof v === 'number')
  const semvers = strings.map(parseSemver).filter((v): v is Semver => v !== null)
  const instants = strings.map(parseInstant).filter((v) => !Number.isNaN(v))
  const numberRange = range(numbers)
  const instantRange = range(instants)
  const bound =
    op === OP_LT || op === OP_LTE
      ? numberRange.hi
      : op === OP_GT || op === OP_GTE
        ? numberRange.lo
        : op === OP_BEFORE
          ? instantRange.hi
          : op === OP_AFTER
            ? instantRange.lo
            : NaN
  // Fields the rule loop reads come first: V8 lays an object out in this order, so matching a
  // clause touches one cache line of it.
  return {
    op,
    source: attribute === 'userId' ? USER : attribute === 'tenantId' ? TENANT : ATTRIBUTE,
    slot: attribute === 'userId' || attribute === 'tenantId' || op === OP_IN_SEGMENT ? -1 : slot,
    negate: (clause.negate === true) !== (clause.operator === 'not_in'),
    types,
    bound,
    few: values.length <= FEW ? values : null,
    strings,
    setNfc: strings.some(hasOtherForms),
    set: new Set(values),
    emptyList: takesStrings ? NOT_MATCHED : TYPE_MISMATCH,
    semverBound: op === OP_SEMVER_LT ? semverRange(semvers, true) : op === OP_SEMVER_GT ? semverRange(semvers, false) : null,
    semvers,
    attribute,
    clause,
    operator: clause.operator,
    numbers,
    instants,
  }
}

// The attribute values one evaluation has read, by slot. beginEvaluation() forgets them all (in
// O(1): a slot holds a value only while its epoch is the current one), so a context object that
// changes between two evaluations is always read afresh.
const SLOTS = 4096
const slotValues: unknown[] = new Array<unknown>(SLOTS).fill(undefined)
const slotEpochs: number[] = new Array<number>(SLOTS).fill(-1)
let epoch = 0

/**
 * Starts an evaluation: forgets the attribute values the last one read. Every caller that matches
 * clauses compiled with slots (a flag's rules) calls it first, as evaluate() and explain() do.
 */
export function beginEvaluation(): void {
  epoch++
}

/** The context's value for a clause; an inherited property (`constructor`) or a nested object is no value. */
export function valueOf(c: CompiledClause, ctx: Context): unknown {
  if (c.source === USER) return ctx.userId
  if (c.source === TENANT) return ctx.tenantId
  const slot = c.slot
  if (slot < 0 || slot >= SLOTS) return readAttribute(c.attribute, ctx)
  if (slotEpochs[slot] === epoch) return slotValues[slot]
  const v = readAttribute(c.attribute, ctx)
  slotValues[slot] = v
  slotEpochs[slot] = epoch
  return v
}

function readAttribute(name: string, ctx: Context): unknown {
  const attributes = ctx.attributes
  // null only from plain JavaScript, which the types do not stop: evaluation never throws.
  if (attributes === undefined || attributes === null) return undefined
  return attributeValue(attributes[name])
}

/** An attribute's value as clauses see it: an inherited method (`constructor`) or a nested object is no value. */
export function attributeValue(v: unknown): unknown {
  if (typeof v === 'object' && !Array.isArray(v)) return undefined
  if (typeof v === 'function') return undefined
  return v
}

// One-entry memos: a string, version or date read by several clauses of one evaluation (an
// email under twenty starts_with clauses) is normalised or parsed once.
let nfcText: string | undefined
let nfcValue = ''
export function nfcOf(s: string): string {
  if (s !== nfcText) {
    nfcText = s
    nfcValue = toNfc(s)
  }
  return nfcValue
}
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
export function instantOf(s: string): number {
  if (s !== instantText) {
    instantText = s
    instantValue = parseInstant(s)
  }
  return instantValue
}

// String.prototype.startsWith/endsWith, written out: for the short prefixes and suffixes clauses
// hold, a loop the JIT inlines costs less than the built-in's call and argument checks.
export function startsWith(s: string, x: string): boolean {
  const n = x.length
  if (n > s.length) return false
  for (let i = 0; i < n; i++) if (s.charCodeAt(i) !== x.charCodeAt(i)) return false
  return true
}
export function endsWith(s: string, x: string): boolean {
  const n = x.length
  const offset = s.length - n
  if (offset < 0) return false
  for (let i = 0; i < n; i++) if (s.charCodeAt(offset + i) !== x.charCodeAt(i)) return false
  return true
}

// Matching a value, by its type: small functions the JIT inlines into the rule loop, where one
// function with a case per operator would be called (too large to inline) and switch every time.

/** in/not_in for a string: its NFC form among the values; mistyped when no value is a string. */
export function inString(c: CompiledClause, v: string): ClauseCode {
  if ((c.types & STRING_VALUES) === 0) return TYPE_MISMATCH
  const few = c.few
  if (few !== null) {
    for (let i = 0; i < few.length; i++) if (few[i] === v) return MATCH
  } else if (c.set.has(v)) return MATCH
  if (!c.setNfc) return NOT_MATCHED
  const nfc = nfcOf(v)
  return nfc !== v && c.set.has(nfc) ? MATCH : NOT_MATCHED
}

/** in/not_in for a number or boolean (or anything else plain JavaScript passes): mistyped unless a value has its type. */
function inOther(c: CompiledClause, v: unknown): ClauseCode {
  if ((c.types & (typeof v === 'number' ? NUMBER_VALUES : typeof v === 'boolean' ? BOOLEAN_VALUES : 0)) === 0) return TYPE_MISMATCH
  return c.set.has(v as number | boolean) ? MATCH : NOT_MATCHED
}

/** starts_with, ends_with, contains: the string in NFC against any of the values. */
function matchText(c: CompiledClause, v: string): ClauseCode {
  const s = nfcOf(v)
  const xs = c.strings
  const op = c.op
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i]!
    if (op === OP_STARTS_WITH ? startsWith(s, x) : op === OP_ENDS_WITH ? endsWith(s, x) : s.includes(x)) return MATCH
  }
  return NOT_MATCHED
}

/** lt, lte, gt, gte against the clause's bound. */
function matchNumber(c: CompiledClause, v: number): ClauseCode {
  const op = c.op
  const bound = c.bound
  return (op === OP_LT ? v < bound : op === OP_LTE ? v <= bound : op === OP_GT ? v > bound : v >= bound) ? MATCH : NOT_MATCHED
}

/** semver_eq, semver_lt, semver_gt: mistyped unless the string is a SemVer 2.0 version. */
export function matchSemver(c: CompiledClause, v: string): ClauseCode {
  const parsed = semverOf(v)
  if (parsed === null) return TYPE_MISMATCH
  if (c.op !== OP_SEMVER_EQ) {
    const bound = c.semverBound
    if (bound === null) return NOT_MATCHED
    const order = compareSemver(parsed, bound)
    return (c.op === OP_SEMVER_LT ? order < 0 : order > 0) ? MATCH : NOT_MATCHED
  }
  const xs = c.semvers
  for (let i = 0; i < xs.length; i++) if (compareSemver(parsed, xs[i]!) === 0) return MATCH
  return NOT_MATCHED
}

/** before, after: mistyped unless the string is an ISO-8601 date or date-time with a zone. */
function matchInstant(c: CompiledClause, v: string): ClauseCode {
  const at = instantOf(v)
  if (Number.isNaN(at)) return TYPE_MISMATCH
  return (c.op === OP_BEFORE ? at < c.bound : at > c.bound) ? MATCH : NOT_MATCHED
}

/** Matches one value that is not a list: MATCH, NOT_MATCHED or TYPE_MISMATCH (negation not applied). */
function matchScalar(c: CompiledClause, v: unknown): ClauseCode {
  const op = c.op
  if (typeof v === 'string') {
    if (op === OP_IN) return inString(c, v)
    if (op <= OP_CONTAINS) return op < 0 ? TYPE_MISMATCH : matchText(c, v)
    if (op <= OP_GTE) return TYPE_MISMATCH
    if (op <= OP_SEMVER_GT) return matchSemver(c, v)
    return op <= OP_AFTER ? matchInstant(c, v) : TYPE_MISMATCH
  }
  if (typeof v === 'number' && op >= OP_LT && op <= OP_GTE) return matchNumber(c, v)
  return op === OP_IN ? inOther(c, v) : TYPE_MISMATCH
}

/** A list of strings matches when any element does; the empty list as the clause's emptyList says. */
function matchList(c: CompiledClause, v: readonly unknown[]): ClauseCode {
  if (v.length === 0) return c.emptyList
  let code: ClauseCode = NOT_MATCHED
  for (let i = 0; i < v.length; i++) {
    const one = matchScalar(c, v[i])
    if (one === MATCH) return MATCH
    if (one === TYPE_MISMATCH) code = TYPE_MISMATCH
  }
  return code
}

/** The clause's verdict with negation applied: only a present value of the right type can match. */
export function matchClause(c: CompiledClause, ctx: Context, segments: SegmentLookup): ClauseCode {
  const op = c.op
  if (op === OP_IN_SEGMENT) {
    const code = inSegments(c, ctx, segments)
    if (code !== MATCH && code !== NOT_MATCHED) return code
    return (code === MATCH) !== c.negate ? MATCH : NOT_MATCHED
  }
  return matchValue(c, valueOf(c, ctx))
}

/** The verdict of a clause that reads a value (any but in_segment) on the value read, negation applied. */
export function matchValue(c: CompiledClause, v: unknown): ClauseCode {
  if (c.op === OP_EXISTS) return (v !== undefined && v !== null) !== c.negate ? MATCH : NOT_MATCHED
  if (v === undefined || v === null) return MISSING_ATTRIBUTE
  const code = typeof v !== 'object' ? matchScalar(c, v) : matchList(c, v as readonly unknown[])
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

/** The same for members, apart so each look-up site sees one kind of set. */
const member = (ids: MemberIds, id: string | undefined, nfc: boolean): boolean => {
  if (typeof id !== 'string' || ids.size === 0) return false
  if (ids.has(id)) return true
  if (!nfc) return false
  const normal = toNfc(id)
  return normal !== id && ids.has(normal)
}

/** Excluded ids first, then included ids, then the segment's clauses (all must match; none: no one). */
export function inSegment(s: CompiledSegment, ctx: Context): boolean {
  if (listed(s.excludedUsers, ctx.userId, s.nfc.excludedUsers) || listed(s.excludedTenants, ctx.tenantId, s.nfc.excludedTenants)) return false
  if (member(s.users, ctx.userId, s.nfc.users) || member(s.tenants, ctx.tenantId, s.nfc.tenants)) return true
  if (s.clauses.length === 0) return false
  for (const clause of s.clauses) if (matchClause(clause, ctx, NO_SEGMENTS) !== MATCH) return false
  return true
}
