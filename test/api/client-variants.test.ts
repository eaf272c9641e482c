// The SDK on flags with variants (issue 19): typed getters and their details, the onEvaluation
// hook, and bootstrap snapshots that hold variants; against a real server in process.
import type { FastifyInstance } from 'fastify'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createClient, SnapshotError, type ClientOptions, type EvaluationEvent, type SwitchyardClient } from '../../packages/sdk/src/index.js'
import { ADMIN, createFlag, evaluateFlag, startApp } from '../support/helpers.js'

const FAST_RECONNECT = { minDelayMs: 20, maxDelayMs: 200 }
const clients: SwitchyardClient[] = []
async function connect(options: Partial<ClientOptions> = {}) {
  const client = await createClient({ url, token: ADMIN, reconnect: FAST_RECONNECT, ...options })
  clients.push(client)
  return client
}
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
})

let app: FastifyInstance
let url: string
const users = Array.from({ length: 50 }, (_, i) => `user-${i}`)
const split = (a: unknown, b: unknown) => [
  { key: 'a', value: a, weight: 40 },
  { key: 'b', value: b, weight: 60 },
]

beforeAll(async () => {
  app = await startApp()
  await createFlag(app, { key: 'plain', state: 'percentage', percentage: 50 })
  await createFlag(app, { key: 'v_string', state: 'percentage', percentage: 70, variants: split('blue', 'green'), offVariant: 'a' })
  await createFlag(app, { key: 'v_number', state: 'enabled', stickiness: 'tenantId', variants: split(3, 7.5), offVariant: 'a' })
  await createFlag(app, { key: 'v_bool', state: 'enabled', variants: split(false, true), offVariant: 'a' })
  await createFlag(app, {
    key: 'v_object',
    state: 'enabled',
    variants: split({ seats: 1 }, { seats: 10, extras: ['sso'] }),
    offVariant: 'a',
    rules: [{ id: 'dutch', clauses: [{ attribute: 'country', operator: 'in', values: ['NL'] }], serve: { enabled: true, variant: 'b' } }],
  })
  await createFlag(app, { key: 'v_off', state: 'disabled', variants: split('blue', 'green'), offVariant: 'b' })
  url = await app.listen({ port: 0, host: '127.0.0.1' })
})

afterAll(async () => {
  await app?.close()
})

describe('typed getters', () => {
  it('answer the value and variant POST /evaluate gives, for every type', async () => {
    const flags = await connect()
    const getters = { v_string: 'getStringDetails', v_number: 'getNumberDetails', v_bool: 'getBooleanDetails', v_object: 'getObjectDetails' } as const
    const fallbacks = { v_string: 'x', v_number: -1, v_bool: true, v_object: { fallback: true } }
    const served = new Set<string>()
    for (const user of users) {
      for (const flag of ['v_string', 'v_number', 'v_bool', 'v_object'] as const) {
        const context = { userId: user, tenantId: `t-${user}`, ...(user.endsWith('7') ? { attributes: { country: 'NL' } } : {}) }
        const server = await evaluateFlag(app, flag, context)
        const details = (flags[getters[flag]] as (k: string, c: object, f: unknown) => unknown)(flag, context, fallbacks[flag])
        const expected: Record<string, unknown> = { value: server.value, variant: server.variant, reason: server.reason }
        if (server.ruleId !== undefined) expected.ruleId = server.ruleId
        expect(details, `${flag} ${user}`).toEqual(expected)
        expect(flags.getValue(flag, context, null)).toEqual(server.value)
        served.add(`${flag}:${server.variant}:${server.enabled}`)
      }
    }
    for (const flag of ['v_string', 'v_number', 'v_bool', 'v_object']) for (const v of ['a', 'b']) expect(served).toContain(`${flag}:${v}:true`)
    // Off answers serve the offVariant, not the caller's fallback.
    expect(served).toContain('v_string:a:false')
    expect(flags.getStringDetails('v_off', { userId: 'u' }, 'x')).toEqual({ value: 'green', variant: 'b', reason: 'disabled' })
    expect(flags.getString('v_off', undefined, 'x')).toBe('green')
    expect(flags.getObjectDetails('v_object', { attributes: { country: 'NL' } }, {})).toEqual({
      value: { seats: 10, extras: ['sso'] },
      variant: 'b',
      reason: 'rule_match',
      ruleId: 'dutch',
    })
    // isEnabled is unchanged: whether the flag is on.
    expect(flags.isEnabled('v_off')).toBe(false)
    expect(flags.isEnabled('v_bool', { userId: 'anyone' })).toBe(true)
  })

  it('answer the fallback, saying why, for an unknown flag or a value of another type', async () => {
    const flags = await connect()
    expect(flags.getStringDetails('nope', { userId: 'u' }, 'x')).toEqual({ value: 'x', reason: 'flag_not_found', error: 'flag_not_found' })
    expect(flags.getNumber('nope', undefined, 4)).toBe(4)
    expect(flags.getNumberDetails('v_string', { userId: 'u' }, 4)).toMatchObject({ value: 4, error: 'type_mismatch' })
    expect(flags.getNumberDetails('v_string', { userId: 'u' }, 4).variant).toBeUndefined()
    expect(flags.getObject('v_string', { userId: 'u' }, { a: 1 })).toEqual({ a: 1 })
    expect(flags.getString('v_object', { userId: 'u' }, 'x')).toBe('x')
    expect(flags.getBooleanDetails('v_number', { tenantId: 't' }, true)).toMatchObject({ value: true, reason: 'enabled', error: 'type_mismatch' })
  })

  it('treat a flag without variants as boolean: getBoolean answers whether it is on, the others their fallback', async () => {
    const flags = await connect()
    for (const user of users.slice(0, 10)) {
      const on = (await evaluateFlag(app, 'plain', { userId: user })).enabled
      expect(flags.getBoolean('plain', { userId: user }, !on)).toBe(on)
      expect(flags.getValue('plain', { userId: user }, null)).toBe(on)
    }
    expect(flags.getBooleanDetails('plain', {}, true)).toEqual({ value: false, reason: 'missing_context' })
    expect(flags.getStringDetails('plain', { userId: 'u' }, 'x')).toMatchObject({ value: 'x', error: 'type_mismatch' })
  })

  it('hand out frozen values: one answer cannot change the next', async () => {
    const flags = await connect()
    const value = flags.getObject('v_object', { attributes: { country: 'NL' } }, {}) as { seats: number; extras: string[] }
    expect(Object.isFrozen(value) && Object.isFrozen(value.extras)).toBe(true)
    expect(() => value.extras.push('scim')).toThrow(TypeError)
  })
})

describe('onEvaluation', () => {
  it('is told the flag, variant, reason and the context key of every evaluation, never the context', async () => {
    const events: EvaluationEvent[] = []
    const flags = await connect({ onEvaluation: (e) => events.push(e) })
    const context = { userId: 'alice', tenantId: 'acme', attributes: { country: 'NL', email: 'alice@example.com' } }
    const expected = [
      { flag: 'v_object', variant: 'b', reason: 'rule_match', contextKey: 'alice' },
      // A flag bucketing by tenant names the tenant.
      { flag: 'v_number', variant: flags.evaluate('v_number', context).variant, reason: 'enabled', contextKey: 'acme' },
    ]
    const plainReason = (await evaluateFlag(app, 'plain', context)).reason
    const stringReason = flags.evaluate('v_string', context).reason
    events.length = 0
    flags.getObject('v_object', context, {})
    flags.getNumber('v_number', context, 0)
    flags.isEnabled('plain', context)
    flags.evaluate('v_off', context)
    flags.getString('nope', context, 'x')
    flags.getNumber('v_string', context, 0)
    flags.getBoolean('v_off', {}, true)
    expect(events).toEqual([
      ...expected,
      { flag: 'plain', reason: plainReason, contextKey: 'alice' },
      { flag: 'v_off', variant: 'b', reason: 'disabled', contextKey: 'alice' },
      { flag: 'nope', reason: 'flag_not_found', contextKey: 'alice' },
      // The app got its fallback, not a variant.
      { flag: 'v_string', reason: stringReason, contextKey: 'alice' },
      { flag: 'v_off', reason: 'disabled' },
    ])
    expect(JSON.stringify(events)).not.toContain('example.com')
  })

  it('never breaks an evaluation when it throws: the answer stands and onError hears of it', async () => {
    const errors: Error[] = []
    const flags = await connect({
      onEvaluation: () => {
        throw new Error('analytics down')
      },
      onError: (e) => errors.push(e),
    })
    expect(flags.getString('v_off', {}, 'x')).toBe('green')
    expect(flags.isEnabled('v_bool', { userId: 'u' })).toBe(true)
    expect(flags.evaluate('v_off')).toMatchObject({ variant: 'b', value: 'green' })
    expect(errors.map((e) => e.message)).toEqual(Array(3).fill('the onEvaluation hook threw: analytics down'))
  })
})

describe('bootstrap snapshots with variants', () => {
  /** A URL where nothing listens. */
  async function deadUrl() {
    const later = await startApp()
    const dead = await later.listen({ port: 0, host: '127.0.0.1' })
    await later.close()
    return dead
  }

  it('answers typed values from a bootstrap before the stream connects', async () => {
    const bootstrap = {
      flags: [
        {
          key: 'theme',
          state: 'enabled' as const,
          variants: [
            { key: 'dark', value: 'dark', weight: 100 },
            { key: 'light', value: 'light' },
          ],
          offVariant: 'light',
        },
        { key: 'future', state: 'enabled' as const, model: 99 },
      ],
    }
    const flags = await connect({ url: await deadUrl(), bootstrap, timeoutMs: 10 * 60_000, onError: () => undefined })
    expect(flags.source).toBe('bootstrap')
    expect(flags.getStringDetails('theme', { userId: 'u' }, 'x')).toEqual({ value: 'dark', variant: 'dark', reason: 'enabled' })
    // A flag of a newer model answers the fallback, saying so.
    expect(flags.getBooleanDetails('future', {}, true)).toEqual({ value: true, reason: 'unsupported_model', error: 'unsupported_model' })
  })

  it('refuses variants the engine cannot serve, naming the flag and field', async () => {
    const dead = await deadUrl()
    const refused: [object, string][] = [
      [{ key: 'f', variants: [{ key: 'a', value: 1 }], offVariant: 'z' }, "flags[0].offVariant must name one of the flag's variants (a)"],
      [{ key: 'f', variants: [{ key: 'a', value: 1 }] }, 'flags[0].offVariant must name'],
      [{ key: 'f', variants: [{ key: 'a' }], offVariant: 'a' }, 'flags[0].variants[0].value must be a JSON value other than null'],
      [
        {
          key: 'f',
          variants: [
            { key: 'a', value: 1 },
            { key: 'a', value: 2 },
          ],
          offVariant: 'a',
        },
        "flags[0].variants[1].key 'a' appears twice",
      ],
      [{ key: 'f', variants: 'a', offVariant: 'a' }, 'flags[0].variants must be a list'],
      [{ key: 'f', offVariant: 'a' }, 'flags[0].offVariant needs variants'],
    ]
    for (const [flag, message] of refused) {
      const attempt = createClient({ url: dead, token: ADMIN, bootstrap: { flags: [flag as { key: string }] }, timeoutMs: 10 * 60_000 })
      await expect(attempt, message).rejects.toThrow(SnapshotError)
      await expect(attempt).rejects.toThrow(message)
    }
  })
})
