// Evaluation counts by flag and reason: plain numbers on the hot path, handed to prom-client
// only when /metrics is scraped.
import { Counter, type Registry } from 'prom-client'
import { REASONS, type Reason } from '@switchyard/core/flags/schema'

/**
 * The flag label of evaluations that named no existing flag. Not a valid flag key, so it never
 * collides with one; one label for all of them keeps arbitrary requested keys out of the series.
 */
export const UNKNOWN_FLAG = '_unknown'

const REASON_INDEX = new Map<string, number>(REASONS.map((reason, i) => [reason, i]))

// Per flag: one slot per (reason, enabled) pair, and what the last scrape already reported.
interface Cells {
  counts: Float64Array
  reported: Float64Array
}

export class EvaluationCounter {
  private readonly byFlag = new Map<string, Cells>()

  /** `exists(key)` tells a scrape which flags still exist; counters of deleted flags are dropped. */
  constructor(registry: Registry, exists: (key: string) => boolean) {
    const cellsByFlag = this.byFlag
    new Counter({
      name: 'switchyard_evaluations_total',
      help: `Flag evaluations by flag, reason and answer; flag="${UNKNOWN_FLAG}" counts evaluations of flags that do not exist`,
      labelNames: ['flag', 'reason', 'enabled'] as const,
      registers: [registry],
      collect() {
        for (const [flag, cells] of cellsByFlag) {
          const gone = flag !== UNKNOWN_FLAG && !exists(flag)
          for (let i = 0; i < cells.counts.length; i++) {
            const labels = { flag, reason: REASONS[i >> 1]!, enabled: i & 1 ? 'true' : 'false' }
            if (gone) {
              if (cells.reported[i]! > 0) this.remove(labels)
            } else if (cells.counts[i]! > cells.reported[i]!) {
              this.inc(labels, cells.counts[i]! - cells.reported[i]!)
              cells.reported[i] = cells.counts[i]!
            }
          }
          if (gone) cellsByFlag.delete(flag)
        }
      },
    })
  }

  count(flag: string, reason: Reason, enabled: boolean): void {
    const key = reason === 'flag_not_found' ? UNKNOWN_FLAG : flag
    let cells = this.byFlag.get(key)
    if (cells === undefined) {
      cells = { counts: new Float64Array(REASONS.length * 2), reported: new Float64Array(REASONS.length * 2) }
      this.byFlag.set(key, cells)
    }
    const index = REASON_INDEX.get(reason)
    if (index !== undefined) cells.counts[index * 2 + (enabled ? 1 : 0)]!++
  }
}
