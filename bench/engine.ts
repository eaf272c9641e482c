// Engine case: ns per evaluation of the pure evaluation function, per state, after warm-up.
import { compileFlag, evaluate, type Context } from '../packages/core/src/evaluation/engine.js'
import { makeFlag } from './fixtures.js'

const CASES = {
  enabled: makeFlag('bench_enabled', { state: 'enabled' }),
  disabled: makeFlag('bench_disabled', { state: 'disabled' }),
  beta_users: makeFlag('bench_beta', { state: 'beta_users', betaUsers: Array.from({ length: 10_000 }, (_, i) => `user-${i * 2}`) }),
  percentage: makeFlag('bench_percentage', { state: 'percentage', percentage: 37.5 }),
}

// Realistic ids (UUID-length) so hashing cost is not flattered by short strings.
const contexts: Context[] = Array.from({ length: 4096 }, (_, i) => ({ userId: `user-${i}-3f2a9c1e-7b4d-4e8a-9c2f`, tenantId: `tenant-${i % 50}` }))

function measure(state: keyof typeof CASES, iterations: number): number {
  const compiled = compileFlag(CASES[state])
  let on = 0
  const start = process.hrtime.bigint()
  for (let i = 0; i < iterations; i++) if (evaluate(compiled, contexts[i & 4095]!).enabled) on++
  const ns = Number(process.hrtime.bigint() - start) / iterations
  if (on < 0) console.log(on) // keeps the loop observable
  return ns
}

/** Median of five timed runs per state, after a warm-up that lets the JIT settle. */
export function engineBench(iterations = 5_000_000): Record<string, number> {
  const out: Record<string, number> = {}
  for (const state of Object.keys(CASES) as (keyof typeof CASES)[]) {
    measure(state, 2_000_000)
    const runs = Array.from({ length: 5 }, () => measure(state, iterations)).sort((a, b) => a - b)
    out[state] = Math.round(runs[2]! * 10) / 10
  }
  return out
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(engineBench())
