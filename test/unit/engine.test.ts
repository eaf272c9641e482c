// The pure evaluation engine and percentage bucketing: semantics, distribution, stickiness and
// the published test vectors.
import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { BUCKETS, bucket, bucketFromSeed, bucketSeed, percentageThreshold } from '../../packages/core/src/evaluation/bucket.js'
import { compileFlag, evaluate, type Context } from '../../packages/core/src/evaluation/engine.js'
import { FLAG_DEFAULTS, type Flag } from '../../packages/core/src/flags/schema.js'
import { generateBucketingVectors, VECTORS_FILE, type BucketingVector } from '../../scripts/generate-bucketing-vectors.js'
import { referenceBucket } from '../support/reference-bucket.js'

function flag(overrides: Partial<Flag> = {}): Flag {
  return {
    key: 'checkout',
    ...FLAG_DEFAULTS,
    version: 1,
    createdAt: '2024-01-01T00:00:00.000Z',
    updatedAt: '2024-01-01T00:00:00.000Z',
    updatedBy: 'test',
    ...overrides,
  }
}

const decide = (f: Partial<Flag>, ctx: Context) => evaluate(compileFlag(flag(f)), ctx)
const ids = (n: number, prefix = 'user-') => Array.from({ length: n }, (_, i) => `${prefix}${i}`)

// The boundary cases put the threshold exactly at, and just above, this id's bucket.
const USER = 'user-42'
const USER_BUCKET = bucket('checkout', USER)

describe('evaluate()', () => {
  const beta = { betaUsers: ['alice'], betaTenants: ['acme'] }
  it.each<[string, Partial<Flag>, Context, boolean, string]>([
    ['disabled is off', { state: 'disabled' }, { userId: 'bob' }, false, 'disabled'],
    ['disabled stays off for a beta user', { state: 'disabled', ...beta }, { userId: 'alice', tenantId: 'acme' }, false, 'disabled'],
    ['enabled is on', { state: 'enabled' }, { userId: 'bob' }, true, 'enabled'],
    ['enabled is on with no context at all', { state: 'enabled' }, {}, true, 'enabled'],
    ['beta_users: a listed user is on', { state: 'beta_users', ...beta }, { userId: 'alice' }, true, 'beta_user'],
    ['beta_users: an unlisted user is off', { state: 'beta_users', ...beta }, { userId: 'bob' }, false, 'not_targeted'],
    ['beta_users: a listed tenant is on', { state: 'beta_users', ...beta }, { userId: 'bob', tenantId: 'acme' }, true, 'beta_tenant'],
    ['beta_users: an unlisted tenant is off', { state: 'beta_users', ...beta }, { userId: 'bob', tenantId: 'globex' }, false, 'not_targeted'],
    ['beta_users: a user id that is only a tenant id is off', { state: 'beta_users', ...beta }, { userId: 'acme' }, false, 'not_targeted'],
    ['beta_users: a tenant id that is only a user id is off', { state: 'beta_users', ...beta }, { tenantId: 'alice' }, false, 'not_targeted'],
    ['beta_users: ids match exactly, not by case', { state: 'beta_users', ...beta }, { userId: 'Alice' }, false, 'not_targeted'],
    ['beta_users: no context is off', { state: 'beta_users', ...beta }, {}, false, 'not_targeted'],
    ['beta_users: user wins when both match', { state: 'beta_users', ...beta }, { userId: 'alice', tenantId: 'acme' }, true, 'beta_user'],
    ['percentage: a beta user is on at 0 %', { state: 'percentage', percentage: 0, ...beta }, { userId: 'alice' }, true, 'beta_user'],
    ['percentage: a beta tenant is on at 0 %', { state: 'percentage', percentage: 0, ...beta }, { userId: 'bob', tenantId: 'acme' }, true, 'beta_tenant'],
    ['percentage: everyone is in at 100 %', { state: 'percentage', percentage: 100 }, { userId: USER }, true, 'percentage_in'],
    ['percentage: nobody else is in at 0 %', { state: 'percentage', percentage: 0 }, { userId: USER }, false, 'percentage_out'],
    [
      'percentage: in when the bucket is just below the threshold',
      { state: 'percentage', percentage: (USER_BUCKET + 1) / 1000 },
      { userId: USER },
      true,
      'percentage_in',
    ],
    [
      'percentage: out when the bucket equals the threshold',
      { state: 'percentage', percentage: USER_BUCKET / 1000 },
      { userId: USER },
      false,
      'percentage_out',
    ],
    ['percentage: no userId is missing_context', { state: 'percentage', percentage: 100 }, { tenantId: 'acme' }, false, 'missing_context'],
    ['percentage: no context is missing_context', { state: 'percentage', percentage: 100 }, {}, false, 'missing_context'],
    [
      'percentage: tenant stickiness without tenantId is missing_context',
      { state: 'percentage', percentage: 100, stickiness: 'tenantId' },
      { userId: USER },
      false,
      'missing_context',
    ],
    [
      'percentage: tenant stickiness with a tenantId is bucketed',
      { state: 'percentage', percentage: 100, stickiness: 'tenantId' },
      { tenantId: 'acme' },
      true,
      'percentage_in',
    ],
    ['percentage: attributes are no stickiness value', { state: 'percentage', percentage: 100 }, { attributes: { userId: 'x' } }, false, 'missing_context'],
  ])('%s', (_name, f, ctx, enabled, reason) => {
    expect(decide(f, ctx)).toEqual({ enabled, reason })
  })

  it('answers the same for the same input every time (no randomness)', () => {
    const compiled = compileFlag(flag({ state: 'percentage', percentage: 50 }))
    for (const id of ids(1000)) expect(evaluate(compiled, { userId: id })).toBe(evaluate(compiled, { userId: id }))
  })

  it('compiles beta lists into sets once, so lookups do not scan the lists', () => {
    const compiled = compileFlag(flag({ state: 'beta_users', betaUsers: ids(10_000) }))
    expect(compiled.betaUsers).toBeInstanceOf(Set)
    expect(compiled.betaUsers.size).toBe(10_000)
    expect(compiled.threshold).toBe(0)
    expect(evaluate(compiled, { userId: 'user-9999' }).reason).toBe('beta_user')
  })
})

describe('percentage rollouts', () => {
  const inAt = (key: string, percentage: number, population: string[], stickiness: 'userId' | 'tenantId' = 'userId') => {
    const compiled = compileFlag(flag({ key, state: 'percentage', percentage, stickiness }))
    return new Set(population.filter((id) => evaluate(compiled, stickiness === 'userId' ? { userId: id } : { tenantId: id }).enabled))
  }

  it('puts 25 % ± 1 % of 100,000 ids in a 25 % rollout', () => {
    const share = inAt('copilot_v2', 25, ids(100_000)).size / 100_000
    expect(share).toBeGreaterThanOrEqual(0.24)
    expect(share).toBeLessThanOrEqual(0.26)
  })

  it('never turns anyone off when the percentage is raised', () => {
    const population = ids(20_000)
    const steps = [0, 0.001, 0.125, 1, 5, 10, 25, 33.333, 50, 75, 99.999, 100]
    let previous = new Set<string>()
    for (const p of steps) {
      const current = inAt('copilot_v2', p, population)
      expect(
        [...previous].filter((id) => !current.has(id)),
        `turned off by raising to ${p} %`,
      ).toEqual([])
      previous = current
    }
    expect(previous.size).toBe(population.length)
  })

  it('selects different ids for two flags at 10 % (independent buckets)', () => {
    const population = ids(100_000)
    const a = inAt('new_checkout', 10, population)
    const b = inAt('new_search', 10, population)
    const both = [...a].filter((id) => b.has(id)).length
    // Independent 10 % samples overlap on about 1 % (1,000 ids); identical ones on 10 %.
    expect(both).toBeGreaterThan(800)
    expect(both).toBeLessThan(1200)
  })

  it('with tenantId stickiness, every user of a tenant gets the same answer, whatever the userId', () => {
    const compiled = compileFlag(flag({ key: 'tenant_rollout', state: 'percentage', percentage: 50, stickiness: 'tenantId' }))
    const tenants = ids(200, 'tenant-')
    const answers = new Set<boolean>()
    for (const tenantId of tenants) {
      const expected = bucket('tenant_rollout', tenantId) < 50_000
      answers.add(expected)
      for (const userId of ids(20)) expect(evaluate(compiled, { userId, tenantId }).enabled).toBe(expected)
    }
    expect(answers).toEqual(new Set([true, false]))
  })

  it('with userId stickiness, the tenantId does not change the answer', () => {
    const compiled = compileFlag(flag({ state: 'percentage', percentage: 50 }))
    for (const userId of ids(200)) {
      const alone = evaluate(compiled, { userId })
      for (const tenantId of ['acme', 'globex', 'initech']) expect(evaluate(compiled, { userId, tenantId })).toBe(alone)
    }
  })

  it.each([
    [0, 0],
    [0.001, 1],
    [0.125, 125],
    [12.345, 12_345],
    [33.333, 33_333],
    [99.999, 99_999],
    [100, 100_000],
  ])('turns %d % into a threshold of %d buckets', (percentage, threshold) => {
    expect(percentageThreshold(percentage)).toBe(threshold)
  })
})

describe('bucketing', () => {
  it('matches a straightforward UTF-8 + FNV-1a + fmix32 implementation for any string', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 40 }),
        fc.string({ unit: 'binary', maxLength: 40 }),
        (key, value) => bucket(key, value) === referenceBucket(`${key}:${value}`),
      ),
      { numRuns: 1000 },
    )
  })

  it.each([
    ['a lone high surrogate', '\ud800'],
    ['a lone low surrogate', '\udc00x'],
    ['a high surrogate at the end', 'abc\ud83d'],
    ['reversed surrogates', '\ude80\ud83d'],
  ])('encodes %s as U+FFFD, as TextEncoder does', (_name, value) => {
    expect(bucket('flag', value)).toBe(referenceBucket(`flag:${value}`))
  })

  it('gives the same bucket from a precomputed seed', () => {
    const seed = bucketSeed('copilot_v2')
    for (const id of ids(100)) expect(bucketFromSeed(seed, id)).toBe(bucket('copilot_v2', id))
  })

  it('stays within 0 … 99,999', () => {
    for (const id of ids(10_000)) {
      const b = bucket('range_check', id)
      expect(b >= 0 && b < BUCKETS && Number.isInteger(b)).toBe(true)
    }
  })
})

describe('test/vectors/bucketing.json', () => {
  const document = JSON.parse(readFileSync(VECTORS_FILE, 'utf8')) as { buckets: number; vectors: BucketingVector[] }

  it('is what `npm run vectors` generates', () => {
    expect(readFileSync(VECTORS_FILE, 'utf8')).toBe(generateBucketingVectors())
  })

  it('is reproduced exactly by src/evaluation/bucket.ts and by an independent implementation', () => {
    expect(document.buckets).toBe(BUCKETS)
    expect(document.vectors.length).toBeGreaterThan(50)
    for (const v of document.vectors) {
      expect(bucket(v.flagKey, v.value), `${v.flagKey} / ${v.value}`).toBe(v.bucket)
      expect(referenceBucket(`${v.flagKey}:${v.value}`), `${v.flagKey} / ${v.value}`).toBe(v.bucket)
    }
  })

  it('covers non-ASCII ids, emoji outside the BMP, and 200-character keys and ids', () => {
    const values = document.vectors.map((v) => v.value)
    expect(values.some((s) => [...s].some((c) => c.codePointAt(0)! >= 0x80 && c.codePointAt(0)! < 0x800))).toBe(true)
    expect(values.some((s) => [...s].some((c) => c.codePointAt(0)! >= 0x800 && c.codePointAt(0)! < 0x10000))).toBe(true)
    expect(values.some((s) => [...s].some((c) => c.codePointAt(0)! >= 0x1f300))).toBe(true)
    expect(values.some((s) => s.length === 200)).toBe(true)
    expect(document.vectors.some((v) => v.flagKey.length === 200)).toBe(true)
  })
})
