// flagctl's variants commands (issue 19), run as real processes against a real listening service.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Flag } from '../../packages/core/src/flags/schema.js'
import { createFlag, getFlag } from '../support/helpers.js'
import { concurrentEdit, flagctl, flagctlBin, serve, type Run, type Service } from '../support/cli-helpers.js'

let service: Service
const run = (args: string[]) => flagctl(args, { url: service.url })
const json = <T = Record<string, unknown>>(result: Run): T => {
  expect(result.code, result.stderr).toBe(0)
  return JSON.parse(result.stdout) as T
}
type Variants = { flag: string; version: number; variants: Flag['variants']; offVariant?: string }

beforeAll(async () => {
  ;[service] = await Promise.all([serve(), flagctlBin()])
}, 120_000)
afterAll(() => service.close())

const COLOURS = ['--variant', 'grey=grey', '--variant', 'blue:50=blue', '--variant', 'green:50=green', '--off', 'grey']

describe('flagctl variants set and list', () => {
  it('replaces the variants in the order given, values read as JSON or else as text, and lists them as a table and as JSON', async () => {
    await createFlag(service.app, { key: 'cli_colour', state: 'enabled' })
    const set = json<Variants>(await run(['variants', 'set', 'cli_colour', ...COLOURS, '--json']))
    expect(set).toEqual({
      flag: 'cli_colour',
      version: 2,
      variants: [
        { key: 'grey', value: 'grey' },
        { key: 'blue', value: 'blue', weight: 50 },
        { key: 'green', value: 'green', weight: 50 },
      ],
      offVariant: 'grey',
    })
    const [table, listed, details, evaluated] = await Promise.all([
      run(['variants', 'list', 'cli_colour']),
      run(['variants', 'list', 'cli_colour', '--json']),
      run(['get', 'cli_colour']),
      run(['evaluate', 'cli_colour', '--user', 'u1', '--explain']),
    ])
    expect(table.stdout).toMatch(/^KEY +WEIGHT +OFF +VALUE +DESCRIPTION\ngrey +0% +off +"grey"\nblue +50% +"blue"\ngreen +50% +"green"\n$/)
    expect(json(listed)).toEqual(set)
    expect(details.stdout).toMatch(/^variants: +grey = "grey"\n +blue = "blue" \(50%\)\n +green = "green" \(50%\)\noffVariant: +grey$/m)
    const served = (await getFlag(service.app, 'cli_colour')) as Flag
    expect(served.model).toBe(3)
    expect(evaluated.stdout).toMatch(/^cli_colour is on, serving (blue|green) = "(blue|green)" \(reason: enabled, version 2\)\n/)
    expect(evaluated.stdout).toMatch(/^ {2}variant (blue|green): from a split by userId, bucket \d+$/m)

    const typed = await Promise.all([
      run([
        'variants',
        'set',
        'cli_colour',
        '--variant',
        'small:100={"limit":10,"regions":["eu"]}',
        '--variant',
        'big={"limit":1000}',
        '--off',
        'small',
        '--json',
      ]),
      createFlag(service.app, { key: 'cli_numbers' }).then(() =>
        run(['variants', 'set', 'cli_numbers', '--variant', 'low:50=0.5', '--variant', 'high:50.000=12', '--off', 'low', '--json']),
      ),
      createFlag(service.app, { key: 'cli_texts' }).then(() =>
        run(['variants', 'set', 'cli_texts', '--variant', 'a:100="12"', '--variant', 'url=https://example.com:8443/x?a=b', '--off', 'url', '--json']),
      ),
    ])
    expect(json<Variants>(typed[0]).variants!.map((v) => v.value)).toEqual([{ limit: 10, regions: ['eu'] }, { limit: 1000 }])
    expect(json<Variants>(typed[1]).variants!.map((v) => [v.value, v.weight])).toEqual([
      [0.5, 50],
      [12, 50],
    ])
    expect(json<Variants>(typed[2]).variants!.map((v) => v.value)).toEqual(['12', 'https://example.com:8443/x?a=b'])
  })

  it('keeps the offVariant when --off is left out and it is given again, and needs --off otherwise', async () => {
    await createFlag(service.app, { key: 'cli_keep_off' })
    const first = await run(['variants', 'set', 'cli_keep_off', '--variant', 'on:100=true', '--variant', 'off=false'])
    expect(first.code).toBe(1)
    expect(first.stderr).toContain('--off is required: name the variant cli_keep_off serves when it is off (one of on, off)')
    await run(['variants', 'set', 'cli_keep_off', '--variant', 'on:100=true', '--variant', 'off=false', '--off', 'off'])
    const kept = json<Variants>(await run(['variants', 'set', 'cli_keep_off', '--variant', 'on:60=true', '--variant', 'off:40=false', '--json']))
    expect(kept).toMatchObject({ version: 3, offVariant: 'off' })
    const again = await run(['variants', 'set', 'cli_keep_off', '--variant', 'on:60=true', '--variant', 'off:40=false'])
    expect(again.stderr).toContain('cli_keep_off already was so: nothing changed')
  })

  it('refuses bad arguments with exit 1 before anything reaches the API', async () => {
    await createFlag(service.app, { key: 'cli_usage' })
    const seeded = service.requests.length
    const results = await Promise.all([
      run(['variants', 'set', 'cli_usage', '--variant', 'novalue', '--off', 'novalue']),
      run(['variants', 'set', 'cli_usage', '--variant', 'a:50=null', '--off', 'a']),
      run(['variants', 'set', 'cli_usage', '--variant', 'a:150=x', '--off', 'a']),
      run(['variants', 'set', 'cli_usage', '--variant', 'a b=x', '--off', 'a b']),
      run(['variants', 'set', 'cli_usage', '--variant', 'a:50=x', '--variant', 'a:50=y', '--off', 'a']),
      run(['variants', 'set', 'cli_usage', '--variant', 'a:100=x', '--off', 'b']),
      run(['variants', 'set', 'cli_usage']),
      run(['variants', 'weights', 'cli_usage', 'a']),
      run(['variants', 'weights', 'cli_usage', 'a=1.0001']),
    ])
    expect(results.map((r) => r.code)).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1])
    expect(results.map((r) => r.stderr.split('\n')[0])).toEqual([
      'flagctl: --variant novalue: must be key=value or key:weight=value (e.g. treatment:50=green)',
      `flagctl: --variant a:50=null: a variant's value cannot be null (for the text null, quote it: '"null"')`,
      "flagctl: --variant a:150=x: the weight '150' must be a number from 0 to 100 with at most three decimals",
      "flagctl: --variant a b=x: 'a b' is not a variant key (letters, digits, _ . and -, starting with a letter or digit; at most 64)",
      'flagctl: --variant a is given twice',
      'flagctl: --off b is not one of the variants given (a)',
      'flagctl: variants set needs at least one --variant key[:weight]=value (variants clear removes them all)',
      "flagctl: 'a': must be key=weight (e.g. treatment=40)",
      "flagctl: 'a=1.0001': the weight '1.0001' must be a number from 0 to 100 with at most three decimals",
    ])
    expect(service.requests.slice(seeded)).toEqual([])
  })

  it("passes on the service's refusal, naming the field: weights not summing to 100, mixed types, a rule naming a variant set removes", async () => {
    await createFlag(service.app, {
      key: 'cli_refused',
      variants: [
        { key: 'a', value: 'x', weight: 50 },
        { key: 'b', value: 'y', weight: 50 },
      ],
      offVariant: 'a',
      rules: [{ id: 'r', clauses: [], serve: { enabled: true, variant: 'b' } }],
    })
    const [sum, mixed, named] = await Promise.all([
      run(['variants', 'set', 'cli_refused', '--variant', 'a:50=x', '--variant', 'b:40=y']),
      run(['variants', 'set', 'cli_refused', '--variant', 'a:50=x', '--variant', 'b:50=12']),
      run(['variants', 'set', 'cli_refused', '--variant', 'a:100=x']),
    ])
    expect([sum.code, mixed.code, named.code]).toEqual([2, 2, 2])
    expect(sum.stderr).toContain('400 VALIDATION_FAILED): body.variants weights sum to 90: they must sum to 100')
    expect(mixed.stderr).toContain('body.variants[1].value is a number, but variants[0].value is a string')
    expect(named.stderr).toContain("body.rules[0].serve.variant 'b' is not a variant the flag declares")
    expect(await getFlag(service.app, 'cli_refused')).toMatchObject({ version: 1 })
  })
})

describe('flagctl variants weights', () => {
  it('changes the weights named, keeps the others, and says how much of the split moves; unknown variants and bad sums are refused', async () => {
    await createFlag(service.app, { key: 'cli_weights', state: 'enabled' })
    await run(['variants', 'set', 'cli_weights', ...COLOURS])
    const changed = await run(['variants', 'weights', 'cli_weights', 'blue=60', 'green=40', '--json'])
    expect(json<Variants>(changed).variants).toEqual([
      { key: 'grey', value: 'grey' },
      { key: 'blue', value: 'blue', weight: 60 },
      { key: 'green', value: 'green', weight: 40 },
    ])
    expect(changed.stderr).toContain('10% of the default split now gets another variant')

    const seeded = service.requests.length
    const unknown = await run(['variants', 'weights', 'cli_weights', 'purple=10'])
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toContain("'purple' is not a variant of cli_weights (its variants: grey, blue, green)")
    expect(service.requests.slice(seeded).map((r) => r.method)).toEqual(['GET'])

    const short = await run(['variants', 'weights', 'cli_weights', 'blue=50'])
    expect(short.code).toBe(2)
    expect(short.stderr).toContain('body.variants weights sum to 90')

    await createFlag(service.app, { key: 'cli_no_variants' })
    const none = await run(['variants', 'weights', 'cli_no_variants', 'a=100'])
    expect(none.stderr).toContain('cli_no_variants has no variants (variants set gives it some)')
  })

  it('writes against the version it read: a change made in between is refused, not overwritten', async () => {
    await createFlag(service.app, { key: 'cli_weights_raced' })
    await run(['variants', 'set', 'cli_weights_raced', ...COLOURS])
    service.afterRead('GET', '/flags/cli_weights_raced', () =>
      concurrentEdit(service.app, 'cli_weights_raced', {
        variants: [
          { key: 'grey', value: 'grey', weight: 100 },
          { key: 'blue', value: 'blue' },
        ],
      }),
    )
    const raced = await run(['variants', 'weights', 'cli_weights_raced', 'blue=70', 'green=30'])
    expect(raced.code).toBe(2)
    expect(raced.stderr).toContain('412 VERSION_MISMATCH')
    expect(((await getFlag(service.app, 'cli_weights_raced')) as Flag).variants).toEqual([
      { key: 'grey', value: 'grey', weight: 100 },
      { key: 'blue', value: 'blue' },
    ])
  })
})

describe('flagctl variants clear', () => {
  it('makes the flag answer on or off again (offVariant gone), is refused while a rule names a variant, and changes nothing on a flag without', async () => {
    await createFlag(service.app, { key: 'cli_clear', state: 'enabled' })
    await run(['variants', 'set', 'cli_clear', ...COLOURS])
    const cleared = json<Variants>(await run(['variants', 'clear', 'cli_clear', '--json']))
    expect(cleared).toEqual({ flag: 'cli_clear', version: 3, variants: [] })
    const flag = (await getFlag(service.app, 'cli_clear')) as Flag
    expect(flag).not.toHaveProperty('variants')
    expect(flag).not.toHaveProperty('offVariant')
    expect(flag.model).toBe(1)
    const again = await run(['variants', 'clear', 'cli_clear'])
    expect([again.code, again.stderr, again.stdout]).toEqual([
      0,
      'cli_clear has no variants: nothing changed\n',
      'cli_clear has no variants: it answers on or off\n',
    ])

    await createFlag(service.app, {
      key: 'cli_clear_named',
      variants: [{ key: 'a', value: 1, weight: 100 }],
      offVariant: 'a',
      rules: [{ id: 'r', clauses: [], serve: { enabled: true, variant: 'a' } }],
    })
    const refused = await run(['variants', 'clear', 'cli_clear_named'])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain('body.rules[0].serve.variant needs variants: the flag declares none')
    expect(await getFlag(service.app, 'cli_clear_named')).toMatchObject({ version: 1, offVariant: 'a' })
  })
})
