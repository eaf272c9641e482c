// The plain percentage flag alone in a process: this engine against the engine before targeting
// (engine-v1.ts), and the same flag with two variants, with no other kind of flag evaluated, so
// no call site has seen rules or segments. bench/targeting.ts measures the same flags among every
// other case, where evaluate()'s JIT feedback is shared with them; the two together bound what
// the flags cost. Run: `npx tsx --conditions=source bench/percentage-alone.ts`; BENCH_BASELINE_CORE=<dir>
// adds another checkout's engine (packages/core/src), as in bench/targeting.ts.
import { compileFlag, evaluate, type CompiledFlag, type Context } from '../packages/core/src/evaluation/engine.js'
import { compileFlagV1, evaluateV1 } from './engine-v1.js'
import { percentageContexts, percentageFlag, percentageFlagWithVariants } from './fixtures.js'

const asParsed = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T
const flag = asParsed(percentageFlag())
const contexts: Context[] = percentageContexts()
const ITERATIONS = 3_000_000
const cpuNs = (start: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(start)
  return ((used.user + used.system) * 1000) / ITERATIONS
}

type Engine = { compileFlag: (f: typeof flag) => CompiledFlag; evaluate: (f: CompiledFlag, ctx: Context) => { enabled: boolean } }
const baselineDir = process.env.BENCH_BASELINE_CORE
const baseline = baselineDir ? ((await import(`${baselineDir}/evaluation/engine.ts`)) as Engine) : undefined

// One loop per engine, each with its own call site.
const compiled = compileFlag(flag)
function current(): number {
  let on = 0
  const start = process.cpuUsage()
  for (let i = 0; i < ITERATIONS; i++) if (evaluate(compiled, contexts[i & 4095]!).enabled) on++
  return cpuNs(start) + on * 0
}
const withVariants = compileFlag(asParsed(percentageFlagWithVariants()))
function variants(): number {
  let on = 0
  const start = process.cpuUsage()
  for (let i = 0; i < ITERATIONS; i++) if (evaluate(withVariants, contexts[i & 4095]!).enabled) on++
  return cpuNs(start) + on * 0
}
const v1 = compileFlagV1(flag)
function before(): number {
  let on = 0
  const start = process.cpuUsage()
  for (let i = 0; i < ITERATIONS; i++) if (evaluateV1(v1, contexts[i & 4095]!).enabled) on++
  return cpuNs(start) + on * 0
}
const other = baseline?.compileFlag(flag)
function checkout(): number {
  let on = 0
  const start = process.cpuUsage()
  for (let i = 0; i < ITERATIONS; i++) if (baseline!.evaluate(other!, contexts[i & 4095]!).enabled) on++
  return cpuNs(start) + on * 0
}

const rounds: number[][] = []
for (let round = 0; round < 8; round++) rounds.push([current(), before(), variants(), ...(baseline ? [checkout()] : [])])
const measured = rounds.slice(1) // the first round warms every loop up
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!
const column = (i: number) => median(measured.map((r) => r[i]!))
const ratio = (a: number, b: number) => median(measured.map((r) => r[a]! / r[b]!)).toFixed(2)
const others = baseline ? `, ${baselineDir} ${column(3).toFixed(1)}` : ''
console.log(
  `percentage flag alone, ns per evaluation (median of ${measured.length} rounds): this engine ${column(0).toFixed(1)}, ` +
    `before targeting ${column(1).toFixed(1)}${others}, with two variants ${column(2).toFixed(1)}; ` +
    `this engine / before: ${ratio(0, 1)} ×, variants / without: ${ratio(2, 0)} × (medians of per-round ratios)`,
)
