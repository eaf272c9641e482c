// A flag's rules as one generated JavaScript function, built when the flag is compiled. The
// interpreter in engine.ts pays, per clause, a load, a dispatch and a call the JIT cannot inline;
// generated code holds each clause's test inline, reads each attribute once into a local, and
// gives every attribute read its own inline cache (docs/decisions/rules-code-generation.md).
//
// Nothing from a flag is pasted into the code as code: attribute names and string values enter as
// JSON string literals, numbers only when finite, and everything else through the arrays the
// function closes over. Where code generation is refused (a browser page whose Content Security
// Policy forbids eval) or a flag is too large for the JIT to optimise, engine.ts interprets.
import {
  attributeValue,
  endsWith,
  inString,
  instantOf,
  matchClause,
  matchSemver,
  matchValue,
  MATCH,
  nfcOf,
  SEGMENT_NOT_LOCAL,
  startsWith,
  STRING_VALUES,
  TYPE_MISMATCH,
  type CompiledClause,
  type SegmentLookup,
} from './clauses.js'
import type { Context, Decision } from './engine.js'

/**
 * The rules' part of an evaluation: the decision of the first rule that matches, or undefined.
 * `onlyOn`: a matching rule whose answer is off does not decide (engine.ts, the `enabled` state).
 */
export type RulesDecider = (ctx: Context, onlyOn: boolean) => Decision | undefined

/** What generated code needs of a compiled rule (engine.ts's CompiledRule). */
export interface GeneratedRule {
  readonly clauses: readonly CompiledClause[]
  readonly on: Decision
  readonly off: Decision
  readonly serveEnabled: boolean
  /** Whether `on` (serving on) or `off` is the answer as it stands; otherwise `serve` computes it. */
  readonly direct: boolean
}

/** Helpers the generated code calls: the interpreter's own, so both give the same answers. */
export interface RulesHelpers<R extends GeneratedRule> {
  /** A rule serving a percentage: its decision for the context. */
  readonly serve: (rule: R, ctx: Context) => Decision
  readonly segmentNotLocal: Decision
}

/**
 * Above this many clauses a flag is interpreted: V8 does not optimise a function past about 60 KB
 * of bytecode, and unoptimised generated code is slower than the interpreter.
 */
export const MAX_GENERATED_CLAUSES = 400
/** Prefixes and suffixes up to this long are compared character by character, inline. */
const INLINE_AFFIX = 12
/** A text clause with more values than this is matched by the interpreter's loop, not inline. */
const INLINE_VALUES = 16
/**
 * Past this much source a flag is interpreted whatever its clause count: values inline make
 * code grow with values, not clauses (a clause may hold 10,000).
 */
const MAX_SOURCE = 60_000

let allowed: boolean | undefined
/** Whether this process may generate code: false under a Content Security Policy without 'unsafe-eval'. */
function mayGenerate(): boolean {
  if (allowed === undefined) {
    try {
      allowed = new Function('return 1')() === 1
    } catch {
      allowed = false
    }
  }
  return allowed
}

/** @internal Tests run the vectors through both engines; true restores the default. */
export function setCodeGeneration(enabled: boolean): void {
  allowed = enabled ? undefined : false
}

const str = (s: string) => JSON.stringify(s)
const num = (n: number) => (Number.isFinite(n) ? `(${String(n)})` : null)

/** `s` (a local holding a string in NFC) starts or ends with `x`, written out for short ones. */
function affix(s: string, x: string, end: boolean): string {
  if (x.length > INLINE_AFFIX) return `${end ? 'endsWith' : 'startsWith'}(${s}, ${str(x)})`
  if (x.length === 0) return 'true'
  const at = (i: number) => (end ? `${s}.length - ${x.length - i}` : String(i))
  const chars = Array.from({ length: x.length }, (_, i) => `${s}.charCodeAt(${at(i)}) === ${x.charCodeAt(i)}`)
  return `(${s}.length >= ${x.length} && ${chars.join(' && ')})`
}

/** The test of a string value `v` (its NFC form in `n`) against clause `c`, negation applied; null: use matchValue. */
function stringTest(c: CompiledClause, v: string, n: string, ref: string): string | null {
  const negate = (test: string) => (c.negate ? `!(${test})` : `(${test})`)
  switch (c.operator) {
    case 'in':
    case 'not_in': {
      if ((c.types & STRING_VALUES) === 0) return 'false' // a string is the wrong type: never matches, negated or not
      if (c.setNfc) return negate(`inString(${ref}, ${v}) === ${MATCH}`)
      if (c.few === null) return negate(`${ref}.set.has(${v})`)
      const strings = c.few.filter((x): x is string => typeof x === 'string')
      return negate(strings.map((x) => `${v} === ${str(x)}`).join(' || '))
    }
    case 'starts_with':
    case 'ends_with':
      if (c.strings.length > INLINE_VALUES) return null
      return negate(c.strings.map((x) => affix(n, x, c.operator === 'ends_with')).join(' || ') || 'false')
    case 'contains':
      if (c.strings.length > INLINE_VALUES) return null
      return negate(c.strings.map((x) => `${n}.includes(${str(x)})`).join(' || ') || 'false')
    case 'lt':
    case 'lte':
    case 'gt':
    case 'gte':
      return 'false' // a string is the wrong type for a number operator
    case 'semver_eq':
    case 'semver_lt':
    case 'semver_gt':
      return `((t = matchSemver(${ref}, ${v})) !== ${TYPE_MISMATCH} && (t === ${MATCH}) !== ${c.negate})`
    case 'before':
    case 'after': {
      // Not a date (NaN) is mistyped: no match, negated or not.
      const bound = num(c.bound) ?? `${ref}.bound`
      return `((x = instantOf(${v})) === x && (x ${c.operator === 'before' ? '<' : '>'} ${bound}) !== ${c.negate})`
    }
    default:
      return null
  }
}

const COMPARE = { lt: '<', lte: '<=', gt: '>', gte: '>=' } as const

/** The test of a number value against a number operator, negation applied; null for other operators. */
function numberTest(c: CompiledClause, v: string, ref: string): string | null {
  if (!Object.hasOwn(COMPARE, c.operator)) return null
  const test = `${v} ${COMPARE[c.operator as keyof typeof COMPARE]} ${num(c.bound) ?? `${ref}.bound`}`
  return c.negate ? `!(${test})` : `(${test})`
}

/**
 * The rules as one function, or null where code may not be generated (or should not be: see
 * MAX_GENERATED_CLAUSES). It answers exactly what engine.ts's interpreter answers.
 */
export function generateRules<R extends GeneratedRule>(rules: readonly R[], segments: SegmentLookup, helpers: RulesHelpers<R>): RulesDecider | null {
  const clauses = rules.flatMap((r) => r.clauses)
  if (clauses.length === 0 || clauses.length > MAX_GENERATED_CLAUSES || !mayGenerate()) return null
  const locals = new Map<string, number>() // attribute name → local number
  const lines: string[] = []
  const usesNfc = new Set<number>()
  let k = 0
  rules.forEach((rule, i) => {
    lines.push(`r${i}: {`)
    for (const c of rule.clauses) {
      const ref = `C[${k++}]`
      if (c.operator === 'in_segment') {
        lines.push(`  t = matchClause(${ref}, ctx, segments); if (t !== ${MATCH}) { if (t === ${SEGMENT_NOT_LOCAL}) return notLocal; break r${i} }`)
        continue
      }
      let v: string
      if (c.attribute === 'userId' || c.attribute === 'tenantId') v = `ctx.${c.attribute}`
      else {
        if (!locals.has(c.attribute)) locals.set(c.attribute, locals.size)
        const slot = locals.get(c.attribute)!
        v = `a${slot}`
        // The context's attributes are read on the first clause that needs them, as the interpreter does.
        lines.push(`  if (${v} === UNREAD) ${v} = attributeValue((attributes === UNREAD ? (attributes = attributesOf(ctx)) : attributes)[${str(c.attribute)}])`)
      }
      if (c.operator === 'exists') {
        lines.push(`  if ((${v} !== undefined && ${v} !== null) === ${c.negate}) break r${i}`)
        continue
      }
      const slot = v.startsWith('a') ? Number(v.slice(1)) : -1
      const n = slot >= 0 ? `n${slot}` : `nfcOf(${v})`
      const onString = c.op < 0 ? null : stringTest(c, v, n, ref)
      const onNumber = c.op < 0 ? null : numberTest(c, v, ref)
      const generic = `if (matchValue(${ref}, ${v}) !== ${MATCH}) break r${i}`
      let test = ''
      if (onString !== null) {
        const needsNfc = slot >= 0 && (c.operator === 'starts_with' || c.operator === 'ends_with' || c.operator === 'contains')
        if (needsNfc) usesNfc.add(slot)
        const prepare = needsNfc ? `if (n${slot} === UNREAD) n${slot} = nfcOf(${v}); ` : ''
        test += `if (typeof ${v} === "string") { ${prepare}if (!${onString}) break r${i} } else `
      }
      if (onNumber !== null) test += `if (typeof ${v} === "number") { if (!${onNumber}) break r${i} } else `
      lines.push(`  ${test}${generic}`)
    }
    if (!rule.direct) lines.push(`  d = serve(R[${i}], ctx); if (d.enabled || !onlyOn) return d`)
    else lines.push(rule.serveEnabled ? `  return R[${i}].on` : `  if (!onlyOn) return R[${i}].off`)
    lines.push('}')
  })
  const declared = [...locals.values()].flatMap((slot) => [`a${slot} = UNREAD`, ...(usesNfc.has(slot) ? [`n${slot} = UNREAD`] : [])])
  const body = [
    '"use strict"',
    'return function rules(ctx, onlyOn) {',
    '  let attributes = UNREAD',
    `  let t, x, d${declared.length ? `, ${declared.join(', ')}` : ''}`,
    ...lines.map((line) => `  ${line}`),
    '  return undefined',
    '}',
  ].join('\n')
  if (body.length > MAX_SOURCE) return null
  const factory = new Function(
    'C',
    'R',
    'segments',
    'serve',
    'notLocal',
    'UNREAD',
    'attributesOf',
    'attributeValue',
    'matchValue',
    'matchClause',
    'inString',
    'instantOf',
    'matchSemver',
    'nfcOf',
    'startsWith',
    'endsWith',
    body,
  ) as (...args: unknown[]) => RulesDecider
  // UNREAD: a value no attribute can hold, so "not read yet" costs one comparison.
  const unread = Symbol('unread')
  const none = Object.freeze(Object.create(null) as Record<string, unknown>)
  const attributesOf = (ctx: Context): Record<string, unknown> => {
    const given = ctx.attributes
    return given === undefined || given === null ? none : given
  }
  return factory(
    clauses,
    rules,
    segments,
    helpers.serve,
    helpers.segmentNotLocal,
    unread,
    attributesOf,
    attributeValue,
    matchValue,
    matchClause,
    inString,
    instantOf,
    matchSemver,
    nfcOf,
    startsWith,
    endsWith,
  )
}
