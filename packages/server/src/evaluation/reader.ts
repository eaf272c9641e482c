// What the evaluation routes may see of the flags: compiled flags by key, the keys in order, and
// the revision. Read-only: nothing that answers can change what is held (the registry implements it).
import type { Reason } from '@switchyard/core/flags/schema'
import type { CompiledFlag } from '@switchyard/core/evaluation/engine'

export interface FlagReader {
  get(key: string): CompiledFlag | undefined
  /** Every flag's key, sorted: "all flags" answers come in this order. */
  keys(): readonly string[]
  /** Names the flags held; moves whenever they do (see VersionedMap.revision). */
  readonly revision: string
  /** The instant schedules are read at (the store's clock): read once per request, passed to every flag. */
  now(): number
  /** The earliest instant after `now` at which a scheduled flag's phase changes (undefined: none will). */
  nextTransition(now: number): number | undefined
}

/** Told of every answer an evaluation route gives, by the handler that gave it (metrics count them); `variant` on a flag with variants. */
export type OnEvaluated = (flag: string, reason: Reason, enabled: boolean, variant?: string) => void
