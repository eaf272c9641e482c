import { OFREPProvider } from '@openfeature/ofrep-provider'
import { OpenFeature, ProviderEvents, type Client, type EvaluationContext, type EvaluationDetails, type EventDetails } from '@openfeature/server-sdk'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SwitchyardProvider } from '../../packages/sdk/src/index.js'
import { ADMIN, createFlagPerState, eventually, startApp, updateFlag } from '../support/helpers.js'

let app: FastifyInstance
let local: Client
let remote: Client

beforeAll(async () => {
  app = await startApp()
  await createFlagPerState(app)
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

const comparable = (d: EvaluationDetails<boolean>) => ({
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
