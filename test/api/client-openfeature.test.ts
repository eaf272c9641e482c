import { OFREPProvider } from '@openfeature/ofrep-provider'
import {
  OpenFeature,
  ProviderEvents,
  type Client,
  type EvaluationContext,
  type EvaluationDetails,
  type EventDetails,
  type FlagValue,
  type JsonArray,
} from '@openfeature/server-sdk'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SwitchyardProvider } from '../../packages/sdk/src/index.js'
import { ADMIN, createFlag, createFlagPerState, eventually, startApp, updateFlag } from '../support/helpers.js'

let app: FastifyInstance
let local: Client
let remote: Client

beforeAll(async () => {
  app = await startApp()
  await createFlagPerState(app)
  await createVariantFlags(app)
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  await OpenFeature.setProviderAndWait('local', new SwitchyardProvider({ url, token: ADMIN, reconnect: { minDelayMs: 20, maxDelayMs: 200 } }))
  await OpenFeature.setProviderAndWait('remote', new OFREPProvider({ baseUrl: url, headers: [['authorization', `Bearer ${ADMIN}`]] }))
  local = OpenFeature.getClient('local')
  remote = OpenFeature.getClient('remote')
})

afterAll(async () => {
  await OpenFeature.close()
  await app?.close()
})

/** Flags with variants of each OpenFeature type, on, off and rolled out, one serving arrays. */
async function createVariantFlags(app: FastifyInstance): Promise<void> {
  const split = (a: unknown, b: unknown) => [
    { key: 'a', value: a, weight: 30 },
    { key: 'b', value: b, weight: 70 },
  ]
  const country = [{ attribute: 'country', operator: 'in', values: ['NL'] }]
  await createFlag(app, { key: 'v_string', state: 'percentage', percentage: 50, variants: split('blue', 'green'), offVariant: 'a' })
  await createFlag(app, { key: 'v_number', state: 'enabled', variants: split(1, 2.5), offVariant: 'a' })
  await createFlag(app, { key: 'v_bool', state: 'beta_users', betaUsers: ['alice'], variants: split(false, true), offVariant: 'a' })
  await createFlag(app, {
    key: 'v_object',
    state: 'enabled',
    variants: split({ limit: 1 }, { limit: 5, tiers: ['pro'] }),
    offVariant: 'a',
    rules: [{ id: 'dutch', clauses: country, serve: { enabled: true, variant: 'b' } }],
  })
  await createFlag(app, { key: 'v_off', state: 'disabled', variants: split('blue', 'green'), offVariant: 'b' })
  await createFlag(app, { key: 'v_array', state: 'enabled', variants: split(['x'], ['y']), offVariant: 'a' })
}

const comparable = (d: EvaluationDetails<FlagValue>) => ({
  value: d.value,
  reason: d.reason,
  variant: d.variant,
  errorCode: d.errorCode,
  flagMetadata: d.flagMetadata,
})

describe('SwitchyardProvider (OpenFeature, evaluating locally)', () => {
  it('answers exactly as OFREP does, errors included', async () => {
    const contexts: EvaluationContext[] = [
      {},
      { targetingKey: 'alice' },
      { targetingKey: 'bob', tenantId: 'acme' },
      { targetingKey: 'carol', tenantId: 'globex', plan: 'pro', seats: 4, trial: true },
      ...Array.from({ length: 20 }, (_, i) => ({ targetingKey: `user-${i}`, tenantId: `tenant-${i % 7}` })),
      { targetingKey: 'dave', nested: { not: 'allowed' } },
    ]
    let errors = 0
    for (const context of contexts) {
      for (const flag of ['on', 'off', 'beta', 'rollout', 'by_tenant', 'missing']) {
        for (const fallback of [false, true]) {
          const mine = await local.getBooleanDetails(flag, fallback, context)
          const theirs = await remote.getBooleanDetails(flag, fallback, context)
          expect(comparable(mine), `${flag} ${JSON.stringify(context)}`).toEqual(comparable(theirs))
          if (mine.errorCode) errors++
        }
      }
    }
    // Both successes and every kind of error were compared.
    expect(errors).toBeGreaterThan(0)
    expect(await local.getBooleanDetails('missing', true)).toMatchObject({ value: true, errorCode: 'FLAG_NOT_FOUND' })
    expect(await local.getBooleanDetails('rollout', true, {})).toMatchObject({ value: true, errorCode: 'TARGETING_KEY_MISSING' })
    expect(await local.getBooleanDetails('on', false, { targetingKey: 'x', nested: { a: 1 } })).toMatchObject({ value: false, errorCode: 'INVALID_CONTEXT' })
  })

  it('answers flags with variants exactly as OFREP does, for every type and every resolver', async () => {
    const contexts: EvaluationContext[] = [
      {},
      { targetingKey: 'alice' },
      { targetingKey: 'bob', country: 'NL' },
      ...Array.from({ length: 20 }, (_, i) => ({ targetingKey: `user-${i}` })),
      { targetingKey: 'dave', nested: { not: 'allowed' } },
    ]
    const resolvers = [
      [(c: Client) => c.getBooleanDetails.bind(c), false],
      [(c: Client) => c.getStringDetails.bind(c), 'fallback'],
      [(c: Client) => c.getNumberDetails.bind(c), -1],
      [(c: Client) => c.getObjectDetails.bind(c), { fallback: true }],
    ] as const
    const seen = new Set<string>()
    for (const context of contexts) {
      for (const flag of ['v_string', 'v_number', 'v_bool', 'v_object', 'v_off', 'on', 'missing']) {
        for (const [resolver, fallback] of resolvers) {
          const get = (c: Client) => resolver(c) as (key: string, value: unknown, context: EvaluationContext) => Promise<EvaluationDetails<FlagValue>>
          const mine = await get(local)(flag, fallback, context)
          const theirs = await get(remote)(flag, fallback, context)
          expect(comparable(mine), `${flag} ${JSON.stringify(context)} ${JSON.stringify(fallback)}`).toEqual(comparable(theirs))
          seen.add(mine.errorCode ?? `${flag}:${mine.variant}`)
        }
      }
    }
    // Values of every type, both variants, and the errors were compared.
    for (const flag of ['v_string', 'v_number', 'v_bool', 'v_object']) for (const v of ['a', 'b']) expect(seen).toContain(`${flag}:${v}`)
    for (const code of ['TYPE_MISMATCH', 'FLAG_NOT_FOUND', 'INVALID_CONTEXT', 'TARGETING_KEY_MISSING']) expect(seen).toContain(code)
  })

  it('resolves each type with its value, variant and reason', async () => {
    expect(await local.getStringDetails('v_off', 'x', { targetingKey: 'u' })).toMatchObject({
      value: 'green',
      variant: 'b',
      reason: 'DISABLED',
      flagMetadata: { switchyardReason: 'disabled', enabled: false },
    })
    expect(await local.getObjectDetails('v_object', {}, { targetingKey: 'u', country: 'NL' })).toMatchObject({
      value: { limit: 5, tiers: ['pro'] },
      variant: 'b',
      reason: 'TARGETING_MATCH',
    })
    expect(await local.getBooleanDetails('v_bool', true, { targetingKey: 'alice' })).toMatchObject({
      reason: 'TARGETING_MATCH',
      flagMetadata: { enabled: true },
    })
    expect(await local.getBooleanDetails('v_bool', true, { targetingKey: 'bob' })).toMatchObject({ value: false, variant: 'a', reason: 'DEFAULT' })
    expect([1, 2.5]).toContain(await local.getNumberValue('v_number', -1, { targetingKey: 'u' }))
    expect(await local.getNumberDetails('v_string', 3, { targetingKey: 'u' })).toMatchObject({ value: 3, reason: 'ERROR', errorCode: 'TYPE_MISMATCH' })
    expect(await local.getStringDetails('v_number', 'x', {})).toMatchObject({ value: 'x', errorCode: 'TYPE_MISMATCH' })
    expect(await local.getStringDetails('missing', 'x', {})).toMatchObject({ value: 'x', errorCode: 'FLAG_NOT_FOUND' })
  })

  it('resolves a flag serving arrays as an object, where OFREP answers GENERAL', async () => {
    expect(['x', 'y']).toContainEqual((await local.getObjectValue<JsonArray>('v_array', [], { targetingKey: 'u' }))[0])
    expect(await local.getStringDetails('v_array', 'x', { targetingKey: 'u' })).toMatchObject({ value: 'x', errorCode: 'TYPE_MISMATCH' })
    expect(await remote.getObjectDetails('v_array', [], { targetingKey: 'u' })).toMatchObject({ value: [], errorCode: 'GENERAL' })
  })

  it('gives the default with TYPE_MISMATCH for non-boolean lookups of a flag', async () => {
    expect(await local.getStringDetails('on', 'x')).toMatchObject({ value: 'x', errorCode: 'TYPE_MISMATCH' })
    expect(await local.getNumberDetails('on', 3)).toMatchObject({ value: 3, errorCode: 'TYPE_MISMATCH' })
    expect(await local.getObjectDetails('missing', { a: 1 })).toMatchObject({ value: { a: 1 }, errorCode: 'FLAG_NOT_FOUND' })
  })

  it('emits PROVIDER_CONFIGURATION_CHANGED naming the flag, and answers the new value', async () => {
    const events: EventDetails[] = []
    const handler = (details?: EventDetails) => void (details && events.push(details))
    local.addHandler(ProviderEvents.ConfigurationChanged, handler)
    try {
      await updateFlag(app, 'off', { state: 'enabled' })
      await eventually(() => events.some((e) => (e as { flagsChanged?: string[] }).flagsChanged?.includes('off')), 5000, 'the event')
      expect(events[0]).toMatchObject({ providerName: 'switchyard', flagsChanged: ['off'] })
      expect(await local.getBooleanValue('off', false)).toBe(true)
    } finally {
      local.removeHandler(ProviderEvents.ConfigurationChanged, handler)
      await updateFlag(app, 'off', { state: 'disabled' })
    }
  })

  it('closes its stream when OpenFeature shuts the provider down', async () => {
    const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
    const before = app.switchyard.stream.size
    await OpenFeature.setProviderAndWait('short-lived', new SwitchyardProvider({ url, token: ADMIN }))
    await eventually(() => app.switchyard.stream.size === before + 1)
    await OpenFeature.setProviderAndWait('short-lived', new OFREPProvider({ baseUrl: url }))
    await eventually(() => app.switchyard.stream.size === before, 5000, 'the replaced provider to close')
  })
})
