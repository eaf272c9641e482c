// Property-based attacks on every documented route: malformed and mistyped bodies, wrong content
// types, hostile path parameters and query strings. Every request here is invalid by
// construction, so each must be refused with a 4xx in the error shape (never a 5xx, a hang or a
// crash), and the stored state must be byte-for-byte what it was before.
import { Ajv } from 'ajv'
import addFormats from 'ajv-formats'
import fc from 'fast-check'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import { FileStore } from '../../packages/server/src/store/file.js'
import { EvaluateRequest, flagSchemas } from '../../packages/core/src/flags/schema.js'
import { FlagCreate, FlagPatch } from '../../packages/core/src/flags/schema.js'
import { TokenCreate, tokenSchemas } from '../../packages/core/src/auth/schema.js'
import { ADMIN, bearer, createFlag, createToken, evaluateFlag, startApp, tempDir } from '../support/helpers.js'
import { documentedRoutes, expectClientError, expectNoLeak, fillPath, stateDump, type DocumentedRoute } from '../support/hostile-helpers.js'

const BODY_LIMIT = 64 * 1024
const EXISTING_FLAG = 'existing_flag'
// Runs per property: enough to find the classic failures, few enough for ~20 s on 2 cores.
const RUNS = Number(process.env.HOSTILE_RUNS ?? 300)

// ---- Arbitraries ------------------------------------------------------------------------------

const PROTO_KEYS = ['__proto__', 'constructor', 'prototype']

/** Strings an attacker would try: traversal, NUL and control characters, odd unicode, injections. */
const nastyString = fc.oneof(
  fc.constantFrom(
    ...PROTO_KEYS,
    '../../../../etc/passwd',
    '..\\..\\..\\windows\\win.ini',
    '%2e%2e%2f%2e%2e%2f',
    '\u0000',
    'a\u0000b',
    '\u202eevil',
    '\ud800',
    '\ufeff',
    '😀😀😀',
    '<script>alert(1)</script>',
    "' OR 1=1 --",
    '${jndi:ldap://x/a}',
    '{{7*7}}',
    'x'.repeat(1001),
    '',
  ),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: fc.constantFrom('\u0000', '\u0001', '\n', '\r', '\t', '\u007f', '\u2028', '\ufeff', '/', '.', '%', '\\', '"', '\u00e9'), maxLength: 20 }),
)

/** Number literals JSON does not have, or values out of every range. */
const NON_JSON_NUMBERS = ['NaN', 'Infinity', '-Infinity', '0x10', '01', '.5', '+1', '1.', '1e', 'undefined']
const OUT_OF_RANGE = ['1e309', '-1e309', '-1', '100.0001', '1e-7', '9007199254740993', '"50"', 'true', '[]', '{}', 'null']
/** Values for fields that exist, none of them valid there: -0 only where no number is allowed. */
const badValue = fc.oneof(
  fc.constantFrom(...OUT_OF_RANGE, '-0.0001', '{"__proto__":{"polluted":true}}', '[-0]', `"${'x'.repeat(1001)}"`),
  nastyString.filter((s) => !/^[a-z][a-z0-9_]*$/.test(s)).map((s) => JSON.stringify(s)),
)

const jsonKey = (key: string) => JSON.stringify(key)
const object = (entries: [string, string][]) => `{${entries.map(([k, v]) => `${jsonKey(k)}:${v}`).join(',')}}`
const parses = (text: string) => {
  try {
    JSON.parse(text.replace(/^\ufeff/, ''))
    return true
  } catch {
    return false
  }
}

// The body schemas themselves, to keep generated bodies invalid: a random name can happen to be a
// legal token name, and that request would rightly succeed.
const ajv = new Ajv({ strict: false, multipleOfPrecision: 9 })
addFormats.default(ajv)
for (const schema of [...flagSchemas, ...tokenSchemas]) ajv.addSchema(schema)
const BODY_SCHEMAS: Record<string, object> = { evaluate: EvaluateRequest, createFlag: FlagCreate, updateFlag: FlagPatch, createToken: TokenCreate }
const validators = Object.fromEntries(Object.entries(BODY_SCHEMAS).map(([id, schema]) => [id, ajv.compile({ ...schema, $id: undefined })]))
/** Whether a strict route would accept this text as a JSON body (OFREP routes are not strict). */
const accepts = (operationId: string, text: string) => {
  const validate = validators[operationId]
  return validate !== undefined && parses(text) && validate(JSON.parse(text.replace(/^\ufeff/, '')))
}

// Fields each body route knows, with a valid value: poison goes next to them or into them.
const VALID_FIELDS: Record<string, [string, string][]> = {
  evaluate: [
    ['flag', '"existing_flag"'],
    ['context', '{"userId":"u1"}'],
  ],
  createFlag: [
    ['key', '"fresh_flag"'],
    ['state', '"enabled"'],
    ['percentage', '50'],
  ],
  updateFlag: [
    ['state', '"percentage"'],
    ['percentage', '25'],
    ['betaUsers', '["vip"]'],
  ],
  createToken: [
    ['name', '"fresh-token"'],
    ['scope', '"evaluate"'],
  ],
}
// Fields whose schema is a closed object: a value there is checked deeply.
const NESTED_FIELDS: Record<string, string[]> = { evaluate: ['context'], createFlag: [], updateFlag: [], createToken: [] }

/** A JSON object body with at least one field that makes it invalid for `operationId`. */
const poisonedObject = (operationId: string) => {
  const valid = VALID_FIELDS[operationId] ?? []
  const poison: fc.Arbitrary<[string, string][]> = fc.oneof(
    // An unknown field, such as __proto__, with any value (-0 and NaN-like literals included).
    fc
      .tuple(
        nastyString.filter((k) => !valid.some(([name]) => name === k)),
        fc.oneof(badValue, fc.constantFrom('-0', '0', '"x"')),
      )
      .map(([k, v]): [string, string][] => [[k, v]]),
    // A known field with a value of the wrong type or out of range.
    valid.length
      ? fc.tuple(fc.constantFrom(...valid.map(([k]) => k)), badValue).map(([k, v]): [string, string][] => [[k, v]])
      : fc.constant<[string, string][]>([['unknown', '1']]),
    // Deep nesting, in an unknown field or inside a known object field.
    fc.tuple(fc.integer({ min: 2, max: 3000 }), fc.constantFrom('[', '{"a":')).map(([depth, open]): [string, string][] => {
      const close = open === '[' ? ']' : '}'
      const deep = `${open.repeat(depth)}1${close.repeat(depth)}`
      const field = NESTED_FIELDS[operationId]?.[0]
      return [[field ?? 'nested', field ? `{"attributes":{"a":${deep}}}` : deep]]
    }),
    // A huge array or string, still under the body limit.
    fc.constantFrom<[string, string][]>(
      [['betaUsers', JSON.stringify(Array.from({ length: 10_001 }, (_, i) => String(i % 10)))]],
      [['flags', JSON.stringify(Array.from({ length: 1001 }, () => 'a'))]],
      [['description', JSON.stringify('d'.repeat(20_000))]],
    ),
  )
  return fc
    .tuple(fc.subarray(valid), poison, fc.boolean())
    .map(([kept, bad, first]) => object(first ? [...bad, ...kept] : [...kept, ...bad]))
    .filter((text) => !accepts(operationId, text))
}

/** Bytes that are not JSON at all, sent as JSON. */
const invalidJson = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 200 }).filter((s) => !parses(s)),
  fc.constantFrom(...NON_JSON_NUMBERS).map((n) => `{"percentage":${n}}`),
  fc.constantFrom(
    '{"a":1,}',
    "{'a':1}",
    '{"a":1 // c\n}',
    '{"a":"\u0000"}',
    '{"a":"\\x41"}',
    '{"a":1}{"b":2}',
    '{"a"',
    '[',
    '\ufeff',
    ' ',
    '{"a":"\ud800"'.slice(0, -1),
  ),
  fc.integer({ min: 1, max: 20_000 }).map((depth) => '['.repeat(depth)),
)

/** JSON that parses, but to something no body route accepts at the top level. */
const nonObjectJson = fc.constantFrom('[]', '[{"key":"a"}]', '"flag"', '42', '-0', 'true', 'null', '1e309')

const wrongContentType = fc.constantFrom(
  'application/xml',
  'multipart/form-data; boundary=x',
  'application/x-www-form-urlencoded',
  'application/jsonp',
  'application/json-patch+json',
  'text/json',
  'text/html',
  'application/octet-stream',
  'image/png',
  'application/json\u0000',
  'ä/ö',
)

interface HostileBody {
  contentType: string | undefined
  payload: string
  what: string
}

/** A body invalid for `operationId`, whatever the route does with a valid one. */
const hostileBody = (operationId: string): fc.Arbitrary<HostileBody> =>
  fc.oneof(
    invalidJson.map((payload) => ({ contentType: 'application/json', payload, what: 'invalid JSON' })),
    nonObjectJson.map((payload) => ({ contentType: 'application/json', payload, what: 'not an object' })),
    poisonedObject(operationId).map((payload) => ({ contentType: 'application/json', payload, what: 'poisoned object' })),
    fc.tuple(wrongContentType, poisonedObject(operationId)).map(([contentType, payload]) => ({ contentType, payload, what: `as ${contentType}` })),
    poisonedObject(operationId).map((payload) => ({ contentType: undefined, payload, what: 'no content type' })),
    poisonedObject(operationId).map((payload) => ({ contentType: 'text/plain', payload, what: 'as text/plain' })),
  )

/** Percent-encodes every byte but the unreserved ones; a lone surrogate goes as U+FFFD. */
const percentEncode = (text: string) =>
  [...Buffer.from(text, 'utf8')]
    .map((b) => (/[A-Za-z0-9._~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`))
    .join('')

/** Path parameter values: never an existing key or id, often not a legal one at all. */
const hostileParam = fc.oneof(
  nastyString.map(percentEncode),
  fc.constantFrom(
    '..',
    '.',
    '%2e%2e',
    '..%2f..%2f',
    '..%252f',
    '%00',
    'a%00b',
    '%E0%A4%A',
    '%',
    '%%',
    '%ZZ',
    'x'.repeat(300),
    ...PROTO_KEYS,
    'to_string',
    'has_own_property',
    'value_of',
  ),
)

/** Query strings that break the route's querystring schema: unknown names or bad values. */
const hostileQuery = (operationId: string) => {
  const known: Record<string, string[]> = {
    listFlags: ['limit', 'tag', 'state', 'cursor'],
    listAuditEvents: ['limit', 'flag', 'actor', 'cursor'],
  }
  const badValues: Record<string, string[]> = {
    limit: ['NaN', 'Infinity', '-Infinity', '-0', '0', '1e309', '1001', '1.5', '', 'abc', '%00'],
    state: ['ENABLED', 'on', '', '__proto__'],
    tag: ['x'.repeat(101)],
    flag: ['f'.repeat(201)],
    actor: ['a'.repeat(101)],
    cursor: operationId === 'listAuditEvents' ? ['-1', '1e3', '1'.repeat(16), '', 'abc', '%00'] : ['c'.repeat(201)],
  }
  const names = known[operationId] ?? []
  return fc.oneof(
    fc
      .tuple(
        fc.oneof(
          fc.constantFrom('__proto__[polluted]', 'constructor[prototype][polluted]', 'prototype', '__proto__', 'a[b][c][d]', 'limit[]'),
          nastyString.filter((n) => !names.includes(n)),
        ),
        nastyString,
      )
      .filter(([name]) => name !== '' && !names.includes(name))
      .map(([name, value]) => `${percentEncode(name).replace(/%5B/g, '[').replace(/%5D/g, ']')}=${percentEncode(value)}`),
    names.length ? fc.constantFrom(...names.flatMap((n) => (badValues[n] ?? []).map((v) => `${n}=${v}`))) : fc.constant('unknown=1'),
    names.includes('limit') ? fc.constantFrom('limit=1&limit=2', 'limit=5&limit=abc') : fc.constant('unknown=2'),
  )
}

// ---- The app under attack ---------------------------------------------------------------------

let app: FastifyInstance
let dir: { path: string; remove(): void }
let routes: DocumentedRoute[]
// The state at the start of the current test: one test's failure does not fail the next.
let initial: string

beforeAll(async () => {
  dir = tempDir()
  app = await startApp({ bodyLimit: BODY_LIMIT }, { store: new FileStore(dir.path) })
  await createFlag(app, { key: EXISTING_FLAG, state: 'percentage', percentage: 10, betaUsers: ['vip'] })
  await createToken(app, 'existing-token', 'evaluate')
  routes = documentedRoutes(app).filter((r) => !r.streams)
})
beforeEach(async () => {
  initial = await stateDump(app)
})
afterAll(async () => {
  await app.close()
  dir.remove()
})

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms: ${what}`)), ms)))
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

async function send(options: InjectOptions, what: string): Promise<LightMyRequestResponse> {
  return within(app.inject({ ...options, headers: { ...bearer(ADMIN), ...options.headers } }), 5000, what)
}

const isOfrep = (route: DocumentedRoute) => route.path.startsWith('/ofrep/')

/** OFREP answers its client errors in the protocol's own shape; everything else in ours. */
function expectRefused(res: LightMyRequestResponse, route: DocumentedRoute, what: string): void {
  if (isOfrep(route) && 'errorCode' in (res.json() as object)) {
    expect([400, 404], what).toContain(res.statusCode)
    expect(res.json(), what).toMatchObject({ errorCode: expect.any(String), errorDetails: expect.any(String) })
    expectNoLeak(res, what)
  } else {
    expectClientError(res, what)
  }
}

async function expectStateUnchanged(what: string): Promise<void> {
  const now = await stateDump(app)
  if (now !== initial) expect(now, `state changed after ${what}`).toBe(initial)
}

// ---- Properties -------------------------------------------------------------------------------

describe('hostile bodies', () => {
  it('every body route refuses every invalid body with a 4xx, and nothing changes', async () => {
    const bodyRoutes = routes.filter((r) => r.hasBody)
    expect(bodyRoutes.map((r) => r.operationId)).toEqual(expect.arrayContaining(['evaluate', 'createFlag', 'updateFlag', 'createToken']))
    const strict = bodyRoutes.filter((r) => !isOfrep(r))
    const arbitrary = fc.oneof(...strict.map((route) => fc.record({ route: fc.constant(route), body: hostileBody(route.operationId) })))
    await fc.assert(
      fc.asyncProperty(arbitrary, async ({ route, body }) => {
        const what = `${route.method} ${route.path} with ${body.what}: ${JSON.stringify(body.payload.slice(0, 120))}`
        const headers = body.contentType === undefined ? {} : { 'content-type': body.contentType }
        const res = await send({ method: route.method, url: fillPath(route.path, EXISTING_FLAG), headers, payload: body.payload }, what)
        expectRefused(res, route, what)
        await expectStateUnchanged(what)
      }),
      { numRuns: RUNS * 2 },
    )
  })

  it('OpenFeature routes answer any body without a 5xx, in their own error shape', async () => {
    const ofrep = routes.filter((r) => r.hasBody && isOfrep(r))
    expect(ofrep.length).toBeGreaterThan(0)
    const arbitrary = fc.record({ route: fc.constantFrom(...ofrep), body: hostileBody('ofrep') })
    await fc.assert(
      fc.asyncProperty(arbitrary, async ({ route, body }) => {
        const what = `${route.method} ${route.path} with ${body.what}: ${JSON.stringify(body.payload.slice(0, 120))}`
        const headers = body.contentType === undefined ? {} : { 'content-type': body.contentType }
        const res = await send({ method: route.method, url: fillPath(route.path, EXISTING_FLAG), headers, payload: body.payload }, what)
        expect(res.statusCode, what).toBeLessThan(500)
        if (res.statusCode >= 400) expectRefused(res, route, what)
        await expectStateUnchanged(what)
      }),
      { numRuns: RUNS },
    )
  })

  it('routes without a body refuse one that is not JSON, or that tries prototype pollution', async () => {
    const deletes = routes.filter((r) => r.method === 'DELETE')
    expect(deletes.length).toBeGreaterThanOrEqual(2)
    const pollution = fc.constantFrom(
      '{"__proto__":{"polluted":true}}',
      '{"a":{"__proto__":{"polluted":true}}}',
      '{"constructor":{"prototype":{"polluted":true}}}',
    )
    const arbitrary = fc.record({ route: fc.constantFrom(...deletes), payload: fc.oneof(invalidJson, pollution) })
    await fc.assert(
      fc.asyncProperty(arbitrary, async ({ route, payload }) => {
        const what = `${route.method} ${route.path} with ${JSON.stringify(payload.slice(0, 120))}`
        const url = fillPath(route.path, route.path.includes('{key}') ? EXISTING_FLAG : 'bootstrap')
        const res = await send({ method: route.method, url, headers: { 'content-type': 'application/json' }, payload }, what)
        expectClientError(res, what)
        await expectStateUnchanged(what)
      }),
      { numRuns: RUNS },
    )
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })
})

describe('hostile path parameters', () => {
  it('every route with a key or id refuses traversal, encodings, NUL, huge and prototype names with a 4xx', async () => {
    const withParams = routes.filter((r) => r.path.includes('{'))
    expect(withParams.length).toBeGreaterThanOrEqual(5)
    const validBodies: Record<string, string> = { updateFlag: '{"state":"enabled"}', ofrepEvaluateFlag: '{"context":{"targetingKey":"u1"}}' }
    const arbitrary = fc.record({ route: fc.constantFrom(...withParams), param: hostileParam })
    await fc.assert(
      fc.asyncProperty(arbitrary, async ({ route, param }) => {
        const what = `${route.method} ${fillPath(route.path, param)}`
        const body = validBodies[route.operationId]
        const res = await send(
          { method: route.method, url: fillPath(route.path, param), ...(body ? { headers: { 'content-type': 'application/json' }, payload: body } : {}) },
          what,
        )
        expectRefused(res, route, what)
        await expectStateUnchanged(what)
      }),
      { numRuns: RUNS },
    )
  })
})

describe('hostile query strings', () => {
  it('routes with a query schema refuse unknown names, prototype keys and bad values with a 400', async () => {
    const withQuery = routes.filter((r) => r.hasQuery)
    expect(withQuery.map((r) => r.operationId)).toEqual(expect.arrayContaining(['listFlags', 'listAuditEvents']))
    const arbitrary = fc.oneof(...withQuery.map((route) => fc.record({ route: fc.constant(route), query: hostileQuery(route.operationId) })))
    await fc.assert(
      fc.asyncProperty(arbitrary, async ({ route, query }) => {
        const url = `${fillPath(route.path, EXISTING_FLAG)}?${query}`
        const res = await send({ method: route.method, url }, `${route.method} ${url}`)
        expect(res.statusCode, `${url} → ${res.body}`).toBe(400)
        expectClientError(res, url)
        await expectStateUnchanged(url)
      }),
      { numRuns: RUNS },
    )
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  it('routes that take no query ignore any, and never fail on one', async () => {
    const others = routes.filter((r) => !r.hasQuery && r.method === 'GET')
    const arbitrary = fc.record({ route: fc.constantFrom(...others), query: hostileQuery('none') })
    await fc.assert(
      fc.asyncProperty(arbitrary, async ({ route, query }) => {
        const url = `${fillPath(route.path, EXISTING_FLAG)}?${query}`
        const res = await send({ method: route.method, url }, url)
        expect(res.statusCode, `${url} → ${res.body}`).toBeLessThan(500)
        if (res.statusCode >= 400) expectRefused(res, route, url)
        expectNoLeak(res, url)
      }),
      { numRuns: RUNS / 2 },
    )
    await expectStateUnchanged('queries')
  })
})

describe('after the attacks', () => {
  it('still serves, with the state it had', async () => {
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200)
    expect(await evaluateFlag(app, EXISTING_FLAG, { userId: 'vip' })).toMatchObject({ enabled: true, reason: 'beta_user' })
    await expectStateUnchanged('everything')
    expect(Object.prototype).not.toHaveProperty('polluted')
  })
})
