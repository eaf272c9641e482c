// Evaluation counts by flag, reason and (on a flag with variants) variant: plain numbers on the
// hot path, handed to prom-client only when /metrics is scraped.
import { Counter, type Registry } from 'prom-client'
import { REASONS, type Reason } from '@switchyard/core/flags/schema'
import { MAX_VARIANTS } from '@switchyard/core/flags/variants'

/**
 * The flag label of evaluations that named no existing flag. Not a valid flag key, so it never
 * collides with one; one label for all of them keeps arbitrary requested keys out of the series.
 */
export const UNKNOWN_FLAG = '_unknown'

const REASON_INDEX = new Map<string, number>(REASONS.map((reason, i) => [reason, i]))

// One slot per (reason, enabled) pair, and what the last scrape already reported.
interface Cells {
  counts: Float64Array
  reported: Float64Array
}

// Per flag: the answers without a variant (the series of flags without variants, unchanged since
// before variants), and those of each variant.
interface FlagCells {
  plain?: Cells
  variants?: Map<string, Cells>
  /** Variants counted here that the flag no longer declares: their series go at the next scrape. */
  retired?: [string, Cells][]
}

const newCells = (): Cells => ({ counts: new Float64Array(REASONS.length * 2), reported: new Float64Array(REASONS.length * 2) })

/** The variants a flag declares now ([] for none); undefined once the flag is gone. */
export type VariantsOf = (key: string) => readonly string[] | undefined

export class EvaluationCounter {
  private readonly byFlag = new Map<string, FlagCells>()

  /**
   * `variantsOf(key)` tells a scrape which flags still exist and which variants they declare:
   * counters of deleted flags and of variants a flag no longer declares are dropped, so a flag
   * has at most MAX_VARIANTS variant labels whatever its history.
   */
  constructor(
    registry: Registry,
    private readonly variantsOf: VariantsOf,
  ) {
    const cellsByFlag = this.byFlag
    new Counter({
      name: 'switchyard_evaluations_total',
      help:
        `Flag evaluations by flag, reason and answer, and variant on a flag with variants; flag="${UNKNOWN_FLAG}" counts evaluations of flags ` +
        'that do not exist',
      labelNames: ['flag', 'reason', 'enabled', 'variant'] as const,
      registers: [registry],
      collect() {
        // Reports what was counted since the last scrape, or removes the series of what is gone.
        const report = (flag: string, variant: string | undefined, cells: Cells, gone: boolean) => {
          for (let i = 0; i < cells.counts.length; i++) {
            const labels = { flag, reason: REASONS[i >> 1]!, enabled: i & 1 ? 'true' : 'false', ...(variant === undefined ? {} : { variant }) }
            if (gone) {
              if (cells.reported[i]! > 0) this.remove(labels)
            } else if (cells.counts[i]! > cells.reported[i]!) {
              this.inc(labels, cells.counts[i]! - cells.reported[i]!)
              cells.reported[i] = cells.counts[i]!
            }
          }
        }
        for (const [flag, held] of cellsByFlag) {
          const declared = flag === UNKNOWN_FLAG ? [] : variantsOf(flag)
          const gone = declared === undefined
          if (held.plain) report(flag, undefined, held.plain, gone)
          for (const [variant, cells] of held.retired ?? []) report(flag, variant, cells, true)
          held.retired = undefined
          for (const [variant, cells] of held.variants ?? []) {
            const retired = gone || !declared.includes(variant)
            report(flag, variant, cells, retired)
            if (retired) held.variants!.delete(variant)
          }
          if (gone) cellsByFlag.delete(flag)
        }
      },
    })
  }

  count(flag: string, reason: Reason, enabled: boolean, variant?: string): void {
    const key = reason === 'flag_not_found' ? UNKNOWN_FLAG : flag
    let held = this.byFlag.get(key)
    if (held === undefined) {
      held = {}
      this.byFlag.set(key, held)
    }
    const cells = variant === undefined ? (held.plain ??= newCells()) : (held.variants?.get(variant) ?? this.addVariant(key, held, variant))
    const index = REASON_INDEX.get(reason)
    if (index !== undefined) cells.counts[index * 2 + (enabled ? 1 : 0)]!++
  }

  /** A variant's first count since the last scrape; past MAX_VARIANTS, variants the flag no longer declares make room. */
  private addVariant(flag: string, held: FlagCells, variant: string): Cells {
    held.variants ??= new Map()
    if (held.variants.size >= MAX_VARIANTS) {
      const declared = this.variantsOf(flag) ?? []
      for (const [name, cells] of held.variants) {
        if (declared.includes(name)) continue
        held.variants.delete(name)
        ;(held.retired ??= []).push([name, cells])
      }
    }
    const cells = newCells()
    held.variants.set(variant, cells)
    return cells
  }
}
