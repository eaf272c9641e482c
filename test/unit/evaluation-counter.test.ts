// The evaluation counter's variant series stay bounded whatever a flag's history (issue 19).
import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { MAX_VARIANTS } from '../../packages/core/src/flags/variants.js'
import { EvaluationCounter } from '../../packages/server/src/metrics/evaluation-counter.js'

const variantLabels = async (registry: Registry) =>
  new Set(
    (await registry.getSingleMetric('switchyard_evaluations_total')!.get()).values.flatMap((v) => (v.labels.variant === undefined ? [] : [v.labels.variant])),
  )

describe('EvaluationCounter', () => {
  it('holds at most MAX_VARIANTS variant labels a flag, even when its variants are renamed between scrapes', async () => {
    const registry = new Registry()
    let declared: string[] = []
    const counter = new EvaluationCounter(registry, (key) => (key === 'f' ? declared : undefined))
    for (let round = 0; round < 4; round++) {
      declared = Array.from({ length: MAX_VARIANTS }, (_, i) => `r${round}-v${i}`)
      for (const variant of declared) counter.count('f', 'enabled', true, variant)
      if (round === 1) expect((await variantLabels(registry)).size).toBeLessThanOrEqual(MAX_VARIANTS)
    }
    const labels = await variantLabels(registry)
    expect(labels).toEqual(new Set(declared))
    // An answer without a variant still counts in the series without the label.
    counter.count('f', 'disabled', false)
    const values = (await registry.getSingleMetric('switchyard_evaluations_total')!.get()).values
    expect(values.find((v) => v.labels.reason === 'disabled')?.labels).toEqual({ flag: 'f', reason: 'disabled', enabled: 'false' })
  })

  it('never holds a variant counted before the flag changed past the limit', () => {
    const registry = new Registry()
    let declared = Array.from({ length: MAX_VARIANTS }, (_, i) => `old${i}`)
    const counter = new EvaluationCounter(registry, () => declared)
    for (const variant of declared) counter.count('f', 'enabled', true, variant)
    declared = Array.from({ length: MAX_VARIANTS }, (_, i) => `new${i}`)
    for (const variant of declared) counter.count('f', 'enabled', true, variant)
    const held = (counter as unknown as { byFlag: Map<string, { variants: Map<string, unknown> }> }).byFlag.get('f')!.variants
    expect(held.size).toBe(MAX_VARIANTS)
  })
})
