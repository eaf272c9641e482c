// Engine case, targeting: ns per evaluation of flags with rules, segments and typed clauses, of the
// plain percentage flag in this engine and in the engine before targeting (engine-v1.ts), and of
// @openfeature/flagd-core evaluating the same 20 rules written as JSONLogic, all in one process.
//
// Every case is warmed up first (so call sites have seen every clause kind, as in a server holding
// many flags), then measured in ROUNDS interleaved rounds, and each figure is the median of its
// rounds. Time is the process's CPU time (process.cpuUsage), not the wall clock: on a shared machine
// the wall clock also counts the time other processes hold the core. Never asserted by a test.
//
// BENCH_BASELINE_CORE=<dir>: also measure the engine in <dir> (packages/core/src of another
// checkout, such as a git worktree of an earlier commit) on the same flags and contexts, for a
// before/after from one process.
import { FlagdCore } from '@openfeature/flagd-core'
import { compileFlag, evaluate, type CompiledFlag, type Context } from '../packages/core/src/evaluation/engine.js'
import type { Clause, Rule } from '../packages/core/src/flags/rules.js'
import type { Flag } from '../packages/core/src/flags/schema.js'
import type { CompiledSegment, SegmentLookup } from '../packages/core/src/evaluation/clauses.js'
import { compileSegmentRecord, segmentLookup } from '../packages/core/src/segments/compile.js'
import { compileFlagV1, evaluateV1, type CompiledFlagV1 } from './engine-v1.js'
import {
  COUNTRIES,
  makeFlag,
  percentageContexts as fixtureContexts,
  percentageFlag as plainPercentageFlag,
  percentageFlagWithVariants,
  RULES,
  twentyRules,
} from './fixtures.js'

const ROUNDS = Number(process.env.BENCH_ENGINE_ROUNDS ?? 7)
/** How long one timed run of a case lasts, roughly, in CPU milliseconds. */
const RUN_MS = Number(process.env.BENCH_ENGINE_RUN_MS ?? 250)

/**
 * Through JSON and back, as flags, segments and contexts reach a server or an SDK. Strings built
 * here by concatenation are V8 cons-strings (ropes), which hash, compare and index far slower than
 * the flat strings JSON.parse makes: 3.2 µs against ~0.3 µs per look-up in a 1,000,000-id Set.
 */
const asParsed = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T

function fmix32(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}
const hex8 = (n: number) => fmix32(n).toString(16).padStart(8, '0')
/** A distinct, UUID-shaped, 36-character id for each i < 2^30. */
export function uuid(i: number): string {
  const a = hex8(i * 4 + 1)
  const b = hex8(i * 4 + 2)
  const c = hex8(i * 4 + 3)
  const d = hex8(i * 4 + 4)
  return `${a}-${b.slice(0, 4)}-4${b.slice(5, 8)}-8${c.slice(1, 4)}-${c.slice(4, 8)}${d}`
}

// ---- 20 rules × 5 clauses: bench/fixtures.ts (twentyRuleFlag), shared with the HTTP case.

/** The same clause as JSONLogic, in flagd's dialect (its starts_with takes one prefix, as here). */
function jsonLogic(c: Clause): unknown {
  const v = { var: c.attribute }
  switch (c.operator) {
    case 'in':
      return { in: [v, c.values] }
    case 'starts_with':
      return { starts_with: [v, c.values[0]] }
    case 'gte':
      return { '>=': [v, c.values[0]] }
    case 'lt':
      return { '<': [v, c.values[0]] }
    default:
      throw new Error(`no JSONLogic for ${c.operator}`)
  }
}

const rules: Rule[] = twentyRules()
const twentyRuleFlag = asParsed(makeFlag('bench_rules', { state: 'beta_users', rules, model: 2 }))
// The same rules with the failing clause (plan) first: 19 + 5 = 24 clauses run, the least such a flag takes.
const rulesFailingFirst: Rule[] = rules.map((r) => ({ ...r, clauses: [r.clauses[4]!, ...r.clauses.slice(0, 4)] }))
const twentyRulesFailingFirst = asParsed(makeFlag('bench_rules_first', { state: 'beta_users', rules: rulesFailingFirst, model: 2 }))

function flagdFor(): FlagdCore {
  const targeting = (rs: Rule[]) => ({ if: [...rs.flatMap((r) => [{ and: r.clauses.map(jsonLogic) }, 'on']), 'off'] })
  const flag = (rs: Rule[]) => ({ state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'off', targeting: targeting(rs) })
  const core = new FlagdCore()
  core.setConfigurations(JSON.stringify({ flags: { bench_rules: flag(rules), bench_rules_first: flag(rulesFailingFirst) } }))
  return core
}

// Realistic contexts: UUID-length ids, and attributes that differ from one context to the next.
const ruleContexts: Context[] = asParsed(
  Array.from({ length: 4096 }, (_, i) => ({
    userId: uuid(i),
    tenantId: `tenant-${i % 50}`,
    attributes: { country: COUNTRIES[i % 4]!, plan: `plan-${RULES - 1}`, email: `user-${i}@example.com`, seats: 10 + (i % 90), age: 18 + (i % 60) },
  })),
)
const flagdContexts: Record<string, string | number>[] = asParsed(ruleContexts.map((c) => ({ targetingKey: c.userId!, ...c.attributes })))

// ---- One typed clause: a rotating set of versions and instants, so each evaluation parses its value.
const oneRule = (key: string, clause: Clause) =>
  asParsed(makeFlag(key, { state: 'beta_users', rules: [{ id: 'one', clauses: [clause], serve: { enabled: true } }], model: 2 }))
const semverFlag = oneRule('bench_semver', { attribute: 'app', operator: 'semver_gt', values: ['2.0.0-beta.3'] })
const semverContexts: Context[] = asParsed(
  ruleContexts.map((c, i) => ({
    userId: c.userId,
    attributes: { app: `${i % 4}.${i % 13}.${i % 7}${i % 3 === 0 ? `-beta.${i % 11}` : i % 3 === 1 ? `-rc.${i % 5}+build.${i}` : ''}` },
  })),
)
const dateFlag = oneRule('bench_date', { attribute: 'signup', operator: 'after', values: ['2026-03-01T00:00:00Z'] })
const ZONES = ['Z', '+01:00', '-05:00', '+05:30']
const pad = (n: number) => String(n).padStart(2, '0')
const dateContexts: Context[] = asParsed(
  ruleContexts.map((c, i) => ({
    userId: c.userId,
    attributes: { signup: `2026-${pad(1 + (i % 12))}-${pad(1 + (i % 28))}T${pad(i % 24)}:${pad(i % 60)}:${pad((i * 7) % 60)}${ZONES[i % 4]}` },
  })),
)

// ---- Membership in a segment of 1,000,000 users (36-character ids), for 4,096 contexts (as every
// case here) and for 65,536, whose look-ups reach further out of the caches. Half are members.
const MEMBERS = 1_000_000
const segmentFlag = asParsed(
  makeFlag('bench_segment', {
    state: 'beta_users',
    rules: [{ id: 'big', clauses: [{ operator: 'in_segment', values: ['big'] }], serve: { enabled: true } }],
    model: 2,
  }),
)
const segmentContexts = (count: number): Context[] =>
  asParsed(Array.from({ length: count }, (_, i) => ({ userId: i % 2 === 0 ? uuid((i * 7919) % MEMBERS) : uuid(MEMBERS + i) })))

// ---- The plain percentage flag of before targeting, in both engines, and the same flag with two variants.
const percentageFlag = asParsed(plainPercentageFlag())
const percentageContexts: Context[] = fixtureContexts()
const variantFlag = asParsed(percentageFlagWithVariants())

type Evaluate = (f: CompiledFlag, ctx: Context) => { enabled: boolean }
type Compile = (flag: Flag, segments?: SegmentLookup) => CompiledFlag
let baselineEvaluate: Evaluate = evaluate

const cpuNs = (start: NodeJS.CpuUsage, iterations: number) => {
  const used = process.cpuUsage(start)
  return ((used.user + used.system) * 1000) / iterations
}

// One loop per engine, each with a single evaluate call site the JIT sees one function at.
function loopEngine(f: CompiledFlag, contexts: Context[], iterations: number): number {
  const mask = contexts.length - 1
  let on = 0
  const start = process.cpuUsage()
  for (let i = 0; i < iterations; i++) if (evaluate(f, contexts[i & mask]!).enabled) on++
  const ns = cpuNs(start, iterations)
  if (on < 0) console.log(on) // keeps the loop observable
  return ns
}

function loopBaseline(f: CompiledFlag, contexts: Context[], iterations: number): number {
  const mask = contexts.length - 1
  let on = 0
  const start = process.cpuUsage()
  for (let i = 0; i < iterations; i++) if (baselineEvaluate(f, contexts[i & mask]!).enabled) on++
  const ns = cpuNs(start, iterations)
  if (on < 0) console.log(on)
  return ns
}

function loopV1(f: CompiledFlagV1, contexts: Context[], iterations: number): number {
  const mask = contexts.length - 1
  let on = 0
  const start = process.cpuUsage()
  for (let i = 0; i < iterations; i++) if (evaluateV1(f, contexts[i & mask]!).enabled) on++
  const ns = cpuNs(start, iterations)
  if (on < 0) console.log(on)
  return ns
}

function loopFlagd(core: FlagdCore, key: string, contexts: Record<string, string | number>[], iterations: number): number {
  const mask = contexts.length - 1
  let on = 0
  const start = process.cpuUsage()
  for (let i = 0; i < iterations; i++) if (core.resolveBooleanEvaluation(key, false, contexts[i & mask]!).value) on++
  const ns = cpuNs(start, iterations)
  if (on < 0) console.log(on)
  return ns
}

/** Both engines answer a 20-rule flag alike: rule 20 for every context, off when no rule matches. */
function checkEquivalent(compiled: CompiledFlag, core: FlagdCore, key: string): void {
  for (const [i, ctx] of ruleContexts.entries()) {
    const ours = evaluate(compiled, ctx)
    const theirs = core.resolveBooleanEvaluation(key, false, flagdContexts[i]!)
    if (ours.ruleId !== `rule-${RULES}` || !ours.enabled || theirs.value !== true) throw new Error(`the engines disagree on context ${i}`)
  }
  const other = { ...ruleContexts[0]!, attributes: { ...ruleContexts[0]!.attributes, plan: 'none' } }
  if (evaluate(compiled, other).enabled || core.resolveBooleanEvaluation(key, false, { ...flagdContexts[0]!, plan: 'none' }).value !== false) {
    throw new Error('the engines disagree on a context no rule matches')
  }
}

export interface TargetingFigures {
  /** CPU ns per evaluation, median of the rounds. */
  ns: Record<string, number>
  /** CPU ns per evaluation, every round, in order. */
  rounds: Record<string, number[]>
  baseline?: string
}

type Case = { name: string; run: (iterations: number) => number; iterations: number }

export async function targetingBench(log: (line: string) => void = () => {}): Promise<TargetingFigures> {
  const users: string[] = asParsed(Array.from({ length: MEMBERS }, (_, i) => uuid(i)))
  const big: CompiledSegment = compileSegmentRecord({ key: 'big', users, tenants: [], excludedUsers: [], excludedTenants: [], clauses: [] })
  const lookup = segmentLookup([big])
  const segmentSmall = segmentContexts(4096)
  const segmentLarge = segmentContexts(65_536)
  const core = flagdFor()

  const engineCases = (prefix: string, compile: Compile, loop: typeof loopEngine): Case[] => {
    const c = {
      rules: compile(twentyRuleFlag, lookup),
      rulesFirst: compile(twentyRulesFailingFirst, lookup),
      semver: compile(semverFlag, lookup),
      date: compile(dateFlag, lookup),
      segment: compile(segmentFlag, lookup),
      percentage: compile(percentageFlag, lookup),
      variants: compile(variantFlag, lookup),
    }
    return [
      { name: `${prefix}percentage`, run: (n) => loop(c.percentage, percentageContexts, n), iterations: 0 },
      { name: `${prefix}variantPercentage`, run: (n) => loop(c.variants, percentageContexts, n), iterations: 0 },
      { name: `${prefix}rules20x5`, run: (n) => loop(c.rules, ruleContexts, n), iterations: 0 },
      { name: `${prefix}rules20x5FailingFirst`, run: (n) => loop(c.rulesFirst, ruleContexts, n), iterations: 0 },
      { name: `${prefix}semverClause`, run: (n) => loop(c.semver, semverContexts, n), iterations: 0 },
      { name: `${prefix}dateClause`, run: (n) => loop(c.date, dateContexts, n), iterations: 0 },
      { name: `${prefix}segment1M`, run: (n) => loop(c.segment, segmentSmall, n), iterations: 0 },
      { name: `${prefix}segment1M65kContexts`, run: (n) => loop(c.segment, segmentLarge, n), iterations: 0 },
    ]
  }

  checkEquivalent(compileFlag(twentyRuleFlag, lookup), core, 'bench_rules')
  checkEquivalent(compileFlag(twentyRulesFailingFirst, lookup), core, 'bench_rules_first')
  if (!segmentLarge.every((c, i) => evaluate(compileFlag(segmentFlag, lookup), c).enabled === (i % 2 === 0))) throw new Error('segment membership is wrong')
  const percentageV1 = compileFlagV1(percentageFlag)
  const cases: Case[] = [
    ...engineCases('', compileFlag, loopEngine),
    { name: 'percentageBeforeTargeting', run: (n) => loopV1(percentageV1, percentageContexts, n), iterations: 0 },
    { name: 'flagdJsonLogic20x5', run: (n) => loopFlagd(core, 'bench_rules', flagdContexts, n), iterations: 0 },
    { name: 'flagdJsonLogic20x5FailingFirst', run: (n) => loopFlagd(core, 'bench_rules_first', flagdContexts, n), iterations: 0 },
  ]
  const baselineDir = process.env.BENCH_BASELINE_CORE
  if (baselineDir) {
    const engine = (await import(`${baselineDir}/evaluation/engine.ts`)) as { compileFlag: Compile; evaluate: Evaluate }
    baselineEvaluate = engine.evaluate
    cases.push(...engineCases('baseline.', engine.compileFlag, loopBaseline))
  }

  // Warm-up: every case, twice, so the JIT has seen them all; the second pass sizes each run.
  for (let pass = 0; pass < 2; pass++) {
    for (const c of cases) {
      const ns = c.run(pass === 0 ? 100_000 : 500_000)
      c.iterations = Math.max(50_000, Math.round((RUN_MS * 1e6) / ns))
    }
  }
  const rounds: Record<string, number[]> = {}
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of cases) (rounds[c.name] ??= []).push(Math.round(c.run(c.iterations) * 10) / 10)
    log(`  round ${round + 1}/${ROUNDS}: ${cases.map((c) => `${c.name} ${rounds[c.name]!.at(-1)}`).join(', ')}`)
  }
  const ns: Record<string, number> = {}
  for (const c of cases) {
    const sorted = [...rounds[c.name]!].sort((a, b) => a - b)
    ns[c.name] = sorted[sorted.length >> 1]!
  }
  return { ns, rounds, ...(baselineDir ? { baseline: baselineDir } : {}) }
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await targetingBench(console.log))
