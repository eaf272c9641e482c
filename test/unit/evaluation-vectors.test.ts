// test/vectors/evaluation.json: what `npm run vectors` generates, answered exactly by core's
// engine and by explain(), made of records the API accepts, and covering what the issue lists.
import { readFileSync } from 'node:fs'
import { Ajv } from 'ajv'
import { describe, expect, it } from 'vitest'
import { answer, compileFlag, evaluate, inForce } from '../../packages/core/src/evaluation/engine.js'
import { explain } from '../../packages/core/src/evaluation/explain.js'
import { setCodeGeneration } from '../../packages/core/src/evaluation/generate.js'
import { settleClauses, settleRules } from '../../packages/core/src/flags/model.js'
import { CLAUSE_OPERATORS } from '../../packages/core/src/flags/rules.js'
import { flagSchemas, MODEL_VERSION, type Clause } from '../../packages/core/src/flags/schema.js'
import { compileSegmentRecord, segmentLookup } from '../../packages/core/src/segments/compile.js'
import { Segment } from '../../packages/core/src/segments/schema.js'
import { generateEvaluationVectors } from '../../scripts/generate-evaluation-vectors.js'
import { EVALUATION_VECTORS_FILE, expectationOf, loadEvaluationVectors, type EvaluationVector } from '../support/evaluation-vectors.js'
import { referenceBucket } from '../support/reference-bucket.js'

const document = loadEvaluationVectors()
const compiled = (c: EvaluationVector) => compileFlag(c.flag, segmentLookup(c.segments.map(compileSegmentRecord)))
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b)
/** The case's clock in ms, when it has one. */
const nowOf = (c: EvaluationVector) => (c.now === undefined ? undefined : Date.parse(c.now))

/** The cases `wrong` finds fault with, by name: checked in one assertion, so 1,500 cases take milliseconds. */
function faults(wrong: (c: EvaluationVector) => unknown): string[] {
  const out: string[] = []
  for (const c of document.cases) {
    const fault = wrong(c)
    if (fault) out.push(`${c.name}: ${typeof fault === 'string' ? fault : 'wrong'}`)
  }
  return out
}

describe('test/vectors/evaluation.json', () => {
  it('is what `npm run vectors` generates (hand-written answers checked against the engine on the way)', () => {
    expect(readFileSync(EVALUATION_VECTORS_FILE, 'utf8')).toBe(generateEvaluationVectors())
  })

  it('holds at least 1,000 uniquely named cases for this model', () => {
    expect(document.model).toBe(MODEL_VERSION)
    expect(document.cases.length).toBeGreaterThanOrEqual(1000)
    expect(new Set(document.cases.map((c) => c.name)).size).toBe(document.cases.length)
    expect(document.cases.filter((c) => c.name.startsWith('hand: ')).length).toBeGreaterThanOrEqual(40)
    expect(document.contract.length).toBeGreaterThan(5)
  })

  it("is answered exactly by core's engine: evaluate() and answer()", () => {
    const wrong = faults((c) => {
      const flag = compiled(c)
      const decision = expectationOf(evaluate(flag, c.context, nowOf(c)))
      if (!same(decision, c.expected)) return `evaluate() answers ${JSON.stringify(decision)}`
      const result = answer(c.flag.key, flag, c.context, nowOf(c))
      if (!same(expectationOf(result), c.expected) || result.version !== c.flag.version) return `answer() answers ${JSON.stringify(result)}`
    })
    expect(wrong).toEqual([])
  })

  it('is answered exactly by the interpreter, where code generation is refused (generate.ts)', () => {
    setCodeGeneration(false)
    try {
      const wrong = faults((c) => {
        const flag = compiled(c)
        if (flag.decideRules !== null) return 'rules generated'
        const decision = expectationOf(evaluate(flag, c.context, nowOf(c)))
        return !same(decision, c.expected) && `evaluate() answers ${JSON.stringify(decision)}`
      })
      expect(wrong).toEqual([])
    } finally {
      setCodeGeneration(true)
    }
  })

  it('is answered exactly by explain(), whose trace agrees with the answer', () => {
    const wrong = faults((c) => {
      const result = explain(c.flag.key, compiled(c), c.context, nowOf(c))
      if (!same(expectationOf(result), c.expected)) return `explain() answers ${JSON.stringify(expectationOf(result))}`
      const trace = result.explanation!
      // A schedule's phase in force is what the trace shows.
      if (trace.state !== (c.flag.schedule ? inForce(compiled(c), nowOf(c)!).state : c.flag.state)) return 'trace state'
      const rules = trace.rules ?? []
      const last = rules.at(-1)
      const bucketSays = (p: { bucket?: number; threshold: number } | undefined) => p?.bucket !== undefined && p.bucket < p.threshold
      switch (c.expected.reason) {
        case 'beta_user':
          return trace.betaUsers?.listed !== true && 'trace: betaUsers not listed'
        case 'beta_tenant':
          return trace.betaTenants?.listed !== true && 'trace: betaTenants not listed'
        case 'rule_match':
          if (last === undefined || last.id !== c.expected.ruleId || !last.matched) return 'trace: the last rule is not the matching one'
          return last.percentage !== undefined && bucketSays(last.percentage) !== c.expected.enabled && 'trace: rule bucket'
        case 'percentage_in':
        case 'percentage_out':
          if (rules.some((r) => r.matched)) return 'trace: a rule matched'
          return bucketSays(trace.fallthrough) !== c.expected.enabled && 'trace: fallthrough bucket'
        case 'missing_context':
          if (c.expected.ruleId === undefined) return (trace.fallthrough === undefined || trace.fallthrough.bucket !== undefined) && 'trace: fallthrough'
          return (
            (last === undefined || last.id !== c.expected.ruleId || !last.matched || !last.percentage || last.percentage.bucket !== undefined) &&
            'trace: rule percentage'
          )
        case 'not_targeted':
          return (rules.length !== c.flag.rules!.length || rules.some((r) => r.matched || r.failedClause === undefined)) && 'trace: rules'
      }
    })
    expect(wrong).toEqual([])
  })

  it('buckets rule percentages with the seed <flagKey>:<ruleId>:, recomputed here from the bucketing algorithm', () => {
    const rollouts = document.cases.filter(
      (c) => c.expected.reason === 'rule_match' && c.flag.rules!.find((r) => r.id === c.expected.ruleId)!.serve.percentage !== undefined,
    )
    expect(rollouts.length).toBeGreaterThan(100)
    const seen = new Set<boolean>()
    const wrong: string[] = []
    for (const c of rollouts) {
      const rule = c.flag.rules!.find((r) => r.id === c.expected.ruleId)!
      const id = rule.serve.stickiness === 'tenantId' ? c.context.tenantId! : c.context.userId!
      // bucketing.json's algorithm with the key `${flagKey}:${ruleId}`.
      const b = referenceBucket(`${c.flag.key}:${rule.id}:${id}`)
      if (b < Math.round(rule.serve.percentage! * 1000) !== c.expected.enabled) wrong.push(c.name)
      seen.add(c.expected.enabled)
    }
    expect(wrong).toEqual([])
    expect(seen).toEqual(new Set([true, false]))
  })

  describe('is made of what the API accepts and returns', () => {
    const ajv = new Ajv({ allErrors: true, strict: false, coerceTypes: false, multipleOfPrecision: 9, unicodeRegExp: true, validateFormats: false })
    for (const schema of flagSchemas) ajv.addSchema(schema)
    ajv.addSchema(Segment)
    const validFlag = ajv.getSchema('Flag')!
    const validSegment = ajv.getSchema('Segment')!
    const validContext = ajv.getSchema('EvaluationContext')!

    const nfc = (ids: string[]) => ids.every((id) => id === id.normalize('NFC'))

    it('flags are stored Flag records whose rules are settled (ids, NFC) and valid', () => {
      const wrong = faults((c) => {
        if (!validFlag(c.flag)) return ajv.errorsText(validFlag.errors)
        const settled = settleRules(c.flag.rules!)
        if (settled.problem) return `rules${settled.problem.field} ${settled.problem.message}`
        if (!same(settled.rules, c.flag.rules)) return 'rules not as settled'
        return !(nfc(c.flag.betaUsers) && nfc(c.flag.betaTenants)) && 'beta lists not in NFC'
      })
      expect(wrong).toEqual([])
    })

    it('segments are Segment records, with every segment the rules name that exists', () => {
      const wrong = faults((c) => {
        for (const s of c.segments) {
          if (!validSegment(s)) return ajv.errorsText(validSegment.errors)
          if (!same(settleClauses(s.clauses).clauses, s.clauses)) return 'segment clauses not as settled'
          if (![s.users, s.tenants, s.excludedUsers, s.excludedTenants].every(nfc)) return 'segment ids not in NFC'
        }
        const named = new Set(c.flag.rules!.flatMap((r) => r.clauses.filter((x) => x.operator === 'in_segment').flatMap((x) => x.values.map(String))))
        return !c.segments.every((s) => named.has(s.key)) && 'a segment no rule names'
      })
      expect(wrong).toEqual([])
    })

    it('contexts are ones POST /evaluate accepts', () => {
      expect(faults((c) => !validContext(c.context) && ajv.errorsText(validContext.errors))).toEqual([])
    })

    it('a case has a clock exactly when its flag has a schedule', () => {
      expect(document.cases.filter((c) => (c.now !== undefined) !== (c.flag.schedule !== undefined)).map((c) => c.name)).toEqual([])
    })
  })

  describe('covers what the issue lists', () => {
    const clausesOf = (c: EvaluationVector): Clause[] => [...c.flag.rules!.flatMap((r) => r.clauses), ...c.segments.flatMap((s) => s.clauses)]
    const names = document.cases.map((c) => c.name)

    it('schedules: ramps up, down and by interval, steps, a paused one, each answered on and off at instants before, during and after', () => {
      const scheduled = document.cases.filter((c) => c.flag.schedule !== undefined)
      expect(scheduled.length).toBeGreaterThanOrEqual(500)
      const kinds = new Set(
        scheduled.map((c) => (c.flag.schedule!.ramp?.interval ? 'interval' : c.flag.schedule!.paused ? 'paused' : c.flag.schedule!.steps ? 'steps' : 'ramp')),
      )
      expect(kinds).toEqual(new Set(['interval', 'paused', 'steps', 'ramp']))
      expect(scheduled.some((c) => c.flag.schedule!.ramp && c.flag.schedule!.ramp.to < c.flag.schedule!.ramp.from)).toBe(true)
      for (const reason of ['percentage_in', 'percentage_out', 'beta_user', 'not_targeted', 'disabled', 'enabled', 'rule_match'])
        expect(
          scheduled.some((c) => c.expected.reason === reason),
          reason,
        ).toBe(true)
    })

    it('every operator, negated and not, matched and not', () => {
      for (const operator of CLAUSE_OPERATORS) {
        for (const negate of [false, true]) {
          const using = document.cases.filter(
            (c) => c.flag.rules!.length === 1 && c.flag.rules![0]!.clauses.some((x) => x.operator === operator && (x.negate ?? false) === negate),
          )
          const reasons = new Set(using.map((c) => c.expected.reason === 'rule_match'))
          expect(reasons, `${operator}${negate ? ' negated' : ''}`).toEqual(new Set([true, false]))
        }
      }
      expect(new Set(document.cases.flatMap(clausesOf).map((x) => x.operator))).toEqual(new Set(CLAUSE_OPERATORS))
    })

    it('missing and mistyped attributes, unicode, semver pre-releases, dates across zones, rule order, segments with exclusions, rule percentages', () => {
      for (const group of [
        'missing and mistyped',
        'unicode',
        'semver pre-releases',
        'dates across zones',
        'rule order',
        'segments with exclusions',
        'rule percentages',
      ]) {
        expect(names.filter((n) => n.startsWith(`${group}: `)).length, group).toBeGreaterThanOrEqual(10)
      }
      const nonAscii = document.cases.filter((c) => [...JSON.stringify(c.context)].some((ch) => ch.charCodeAt(0) > 0x7f))
      expect(nonAscii.some((c) => JSON.stringify(c.context) !== JSON.stringify(c.context).normalize('NFC'))).toBe(true)
      expect(document.cases.some((c) => c.segments.some((s) => s.excludedUsers.length > 0 && s.excludedTenants.length > 0))).toBe(true)
    })

    it('variants: splits of every value type, rule-chosen variants and splits, the offVariant on every off answer, weight changes', () => {
      const withVariants = document.cases.filter((c) => c.expected.variant !== undefined)
      const types = new Set(withVariants.map((c) => (Array.isArray(c.expected.value) ? 'array' : typeof c.expected.value)))
      expect(types).toEqual(new Set(['string', 'number', 'boolean', 'object', 'array']))
      const offReasons = new Set(withVariants.filter((c) => !c.expected.enabled && c.expected.variant === c.flag.offVariant).map((c) => c.expected.reason))
      expect(offReasons).toEqual(new Set(['disabled', 'not_targeted', 'percentage_out', 'missing_context', 'rule_match']))
      const ruleServes = withVariants.filter((c) => c.expected.enabled && c.expected.ruleId !== undefined)
      const serveOf = (c: EvaluationVector) => c.flag.rules!.find((r) => r.id === c.expected.ruleId)!.serve
      expect(ruleServes.some((c) => serveOf(c).variant !== undefined)).toBe(true)
      expect(ruleServes.some((c) => serveOf(c).split !== undefined)).toBe(true)
      expect(withVariants.some((c) => c.flag.state === 'enabled' && c.expected.ruleId !== undefined)).toBe(true)
      // The same ids under three weightings, some answered differently and some alike.
      const weights = withVariants.filter((c) => c.name.startsWith('variants: weights '))
      const byId = new Map<string, Set<string>>()
      for (const c of weights) byId.set(c.context.userId!, (byId.get(c.context.userId!) ?? new Set()).add(c.expected.variant!))
      expect([...byId.values()].some((v) => v.size > 1) && [...byId.values()].some((v) => v.size === 1)).toBe(true)
    })

    it('every reason an evaluator with every segment at hand can give', () => {
      const reasons = new Set(document.cases.map((c) => c.expected.reason))
      for (const reason of [
        'enabled',
        'disabled',
        'beta_user',
        'beta_tenant',
        'not_targeted',
        'percentage_in',
        'percentage_out',
        'missing_context',
        'rule_match',
        'unsupported_model',
      ])
        expect(reasons.has(reason as never), reason).toBe(true)
      expect(document.cases.some((c) => c.expected.reason === 'missing_context' && c.expected.ruleId !== undefined)).toBe(true)
      expect(document.cases.some((c) => c.expected.reason === 'rule_match' && !c.expected.enabled)).toBe(true)
    })
  })
})
