// GET /metrics counts evaluations per flag and variant (issue 19); flags without variants keep their series.
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { call, createFlag, deleteFlag, evaluateFlag, startApp, updateFlag } from '../support/helpers.js'

let app: FastifyInstance

/** The switchyard_evaluations_total series of `flag`, as `labels → value`. */
async function evaluationSeries(flag: string): Promise<Map<string, number>> {
  const text = (await call(app, 'GET', '/metrics', { expected: 200 })).body
  const series = new Map<string, number>()
  for (const line of text.split('\n')) {
    const m = /^switchyard_evaluations_total\{(.*)\} (\d+)$/.exec(line)
    if (m && m[1]!.startsWith(`flag="${flag}",`)) series.set(m[1]!, Number(m[2]))
  }
  return series
}

const variants = (a: string, b: string) => [
  { key: a, value: a.toUpperCase(), weight: 50 },
  { key: b, value: b.toUpperCase(), weight: 50 },
]

beforeAll(async () => {
  app = await startApp()
  await createFlag(app, { key: 'plain', state: 'enabled' })
  await createFlag(app, { key: 'color', state: 'percentage', percentage: 50, variants: variants('blue', 'green'), offVariant: 'blue' })
})

afterAll(async () => {
  await app?.close()
})

describe('GET /metrics: switchyard_evaluations_total', () => {
  it('keeps the series of a flag without variants as they were: no variant label', async () => {
    for (let i = 0; i < 3; i++) await evaluateFlag(app, 'plain', { userId: `u${i}` })
    expect(await evaluationSeries('plain')).toEqual(new Map([['flag="plain",reason="enabled",enabled="true"', 3]]))
  })

  it('counts a flag with variants by variant, from POST /evaluate and OFREP alike', async () => {
    const expected = new Map<string, number>()
    const tally = (labels: string) => expected.set(labels, (expected.get(labels) ?? 0) + 1)
    for (let i = 0; i < 60; i++) {
      const answer = await evaluateFlag(app, 'color', { userId: `user-${i}` })
      tally(`flag="color",reason="${answer.reason}",enabled="${answer.enabled}",variant="${answer.variant}"`)
    }
    const ofrep = await call(app, 'POST', '/ofrep/v1/evaluate/flags/color', { body: { context: { targetingKey: 'user-0' } }, expected: 200 })
    tally(`flag="color",reason="${ofrep.json().metadata.switchyardReason}",enabled="${ofrep.json().metadata.enabled}",variant="${ofrep.json().variant}"`)
    // Both variants on, and the offVariant off: three series at least.
    expect(expected.size).toBeGreaterThanOrEqual(3)
    expect(await evaluationSeries('color')).toEqual(expected)
  })

  it('drops the series of a variant the flag no longer declares, and of a deleted flag', async () => {
    await updateFlag(app, 'color', { variants: variants('blue', 'red'), state: 'enabled' })
    for (let i = 0; i < 20; i++) await evaluateFlag(app, 'color', { userId: `user-${i}` })
    const series = [...(await evaluationSeries('color')).keys()]
    expect(series.some((labels) => labels.includes('variant="red"'))).toBe(true)
    expect(series.some((labels) => labels.includes('variant="green"'))).toBe(false)
    expect(series.some((labels) => labels.includes('variant="blue"'))).toBe(true)
    await deleteFlag(app, 'color')
    expect((await evaluationSeries('color')).size).toBe(0)
  })
})
