// The published evaluation vectors (test/vectors/evaluation.json), typed and loaded: what any
// test that replays them uses (core's own, the server's over HTTP, the SDK's). Written by
// scripts/generate-evaluation-vectors.ts (`npm run vectors`); read the file's `contract` first.
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { EvaluationContext, Flag, Reason } from '../../packages/core/src/flags/schema.js'
import type { Segment } from '../../packages/core/src/segments/schema.js'

export const EVALUATION_VECTORS_FILE = fileURLToPath(new URL('../vectors/evaluation.json', import.meta.url))

export interface EvaluationExpectation {
  enabled: boolean
  reason: Reason
  /** Present exactly when the answer names the rule that decided. */
  ruleId?: string
  /** On a flag with variants: the variant served and its value. */
  variant?: string
  value?: unknown
}

export interface EvaluationVector {
  /** Unique within the file; the part before the first colon is the case's group. */
  name: string
  /** A stored flag, as GET /flags/:key returns it. */
  flag: Flag
  /** Segment records, as GET /segments/:key returns them: every segment the flag's rules name, when it exists. */
  segments: Segment[]
  /** A context POST /evaluate accepts. */
  context: EvaluationContext
  /** The clock at evaluation (ISO-8601), when the answer depends on it; absent otherwise. */
  now?: string
  expected: EvaluationExpectation
}

export interface EvaluationVectors {
  description: string
  /** How to consume the file, one rule a line. */
  contract: string[]
  /** The flag model these cases are written for (a flag's `model` above it answers unsupported_model). */
  model: number
  cases: EvaluationVector[]
}

/** The checked-in vectors, parsed. */
export function loadEvaluationVectors(file = EVALUATION_VECTORS_FILE): EvaluationVectors {
  return JSON.parse(readFileSync(file, 'utf8')) as EvaluationVectors
}

/** What an answer (`answer()`, POST /evaluate, an SDK's evaluate) must equal: its enabled, reason, ruleId, variant and value. */
export function expectationOf(result: { enabled: boolean; reason: Reason; ruleId?: string; variant?: string; value?: unknown }): EvaluationExpectation {
  const expected: EvaluationExpectation = { enabled: result.enabled, reason: result.reason }
  if (result.ruleId !== undefined) expected.ruleId = result.ruleId
  if (result.variant !== undefined) {
    expected.variant = result.variant
    expected.value = result.value
  }
  return expected
}
