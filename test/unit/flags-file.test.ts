import { readFileSync } from 'node:fs'
import { Ajv } from 'ajv'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import {
  flagsJsonSchemaText,
  formatFlagsFile,
  fullSegmentSpec,
  fullSpec,
  parseFlagsFile,
  readFlagsFile,
  FlagsFileError,
  SEGMENT_SPEC_DEFAULTS,
  type FlagsFile,
} from '../../packages/core/src/flags/flags-file.js'

const FLAGS_SCHEMA_FILE = new URL('../../schema/flags.schema.json', import.meta.url)
import { computePlan, needsSegments } from '../../packages/flagctl/src/plan.js'
import type { Flag } from '../../packages/core/src/flags/schema.js'
import { MAX_SEGMENT_MEMBERS, SEGMENT_DEFAULTS, SEGMENT_MUTABLE_FIELDS, SegmentKey, type Segment } from '../../packages/core/src/segments/schema.js'
import addFormats from 'ajv-formats'

/** A stock JSON Schema validator, with the standard formats (date-time) as editors have them. */
function stockValidator(schema: object) {
  const ajv = new Ajv({ strict: false })
  addFormats.default(ajv)
  return ajv.compile(schema)
}

const EXAMPLE = 'examples/flags.yaml'

function problemsOf(text: string, source = 'flags.yaml'): string[] {
  try {
    parseFlagsFile(text, source)
  } catch (err) {
    if (err instanceof FlagsFileError) return err.problems
    throw err
  }
  throw new Error('expected the file to be refused')
}

/** A flag as this build's server answers it: `rules: []` and `model: 1` unless given. */
function liveFlag(fields: Partial<Flag> & { key: string }): Flag {
  const { rules: _rules, ...spec } = fullSpec(fields)
  const managed = { version: 3, createdAt: '2024-01-01T00:00:00.000Z', updatedAt: '2024-01-01T00:00:00.000Z', updatedBy: 'someone' }
  return { ...spec, rules: [], model: fields.rules?.length ? 2 : 1, ...managed, ...fields }
}

function liveSegment(fields: Partial<Segment> & { key: string }): Segment {
  const managed = { version: 2, createdAt: '2024-01-01T00:00:00.000Z', updatedAt: '2024-01-01T00:00:00.000Z', updatedBy: 'someone' }
  return { ...SEGMENT_DEFAULTS, users: [], tenants: [], excludedUsers: [], excludedTenants: [], clauses: [], ...managed, ...fields }
}

describe('schema/flags.schema.json', () => {
  it('matches what the TypeBox schema generates (run `npm run flags-schema` after changing it)', () => {
    expect(readFileSync(FLAGS_SCHEMA_FILE, 'utf8')).toBe(flagsJsonSchemaText())
  })

  it('accepts examples/flags.yaml with a stock JSON Schema validator, and refuses what flagctl refuses', () => {
    const validate = stockValidator(JSON.parse(readFileSync(FLAGS_SCHEMA_FILE, 'utf8')))
    const example = parse(readFileSync(EXAMPLE, 'utf8'))
    expect(validate(example), JSON.stringify(validate.errors)).toBe(true)
    expect(validate({ version: 1, flags: [{ key: 'x', percentage: 101 }] })).toBe(false)
    expect(validate({ version: 1, flags: [{ key: 'x', version: 4 }] })).toBe(false)
    const targeted = {
      version: 1,
      flags: [
        {
          key: 'x',
          rules: [
            {
              clauses: [
                { attribute: 'country', operator: 'in', values: ['NL'] },
                { operator: 'in_segment', values: ['beta'] },
              ],
              serve: { enabled: true },
            },
          ],
        },
      ],
      segments: [{ key: 'beta', users: ['a'], clauses: [{ attribute: 'plan', operator: 'in', values: ['pro'] }] }],
    }
    expect(validate(targeted), JSON.stringify(validate.errors)).toBe(true)
    expect(validate({ ...targeted, segments: [{ key: 'beta', version: 2 }] })).toBe(false)
    expect(
      validate({ ...targeted, flags: [{ key: 'x', rules: [{ clauses: [{ attribute: 'a', operator: 'like', values: [] }], serve: { enabled: true } }] }] }),
    ).toBe(false)
  })

  it('states the segment limits segments/schema.ts states (flags/ cannot import segments/), and the same fields', () => {
    const schema = JSON.parse(flagsJsonSchemaText())
    const segment = schema.properties.segments.items
    expect(segment.properties.key.pattern).toBe((SegmentKey as { pattern?: string }).pattern)
    expect(segment.properties.users.maxItems).toBe(MAX_SEGMENT_MEMBERS)
    expect(Object.keys(SEGMENT_SPEC_DEFAULTS).sort()).toEqual([...SEGMENT_MUTABLE_FIELDS].sort())
    expect(SEGMENT_SPEC_DEFAULTS).toEqual(SEGMENT_DEFAULTS)
    // Clause, Serve, a split's share, a variant and a schedule's parts are written once, under definitions.
    expect(Object.keys(schema.definitions).sort()).toEqual(['Clause', 'Guard', 'Ramp', 'ScheduleSpec', 'ScheduleStep', 'Serve', 'SplitShare', 'Variant'])
  })
})

describe('examples/flags.yaml', () => {
  it('declares the four default flags, copilot_v2 at 50 % with tenant-admin in beta', async () => {
    const file = await readFlagsFile(EXAMPLE)
    expect(file.flags.map((f) => f.key).sort()).toEqual(['advanced_code_review', 'ai_response_caching', 'copilot_v2', 'distributed_tracing'])
    expect(file.flags.find((f) => f.key === 'copilot_v2')).toMatchObject({ state: 'percentage', percentage: 50, betaUsers: ['tenant-admin'] })
  })
})

describe('parseFlagsFile', () => {
  it('names the path and the line and column of every bad entry in YAML', () => {
    const problems = problemsOf(
      [
        'version: 1',
        'flags:',
        '  - key: fine',
        '  - key: too_far',
        '    percentage: 150',
        '    colour: red',
        '  - key: Bad-Key',
        '    state: maybe',
        '  - description: no key',
      ].join('\n'),
    )
    expect(problems).toEqual([
      'flags.yaml:5:17: flags[1].percentage must be <= 100',
      'flags.yaml:6:5: flags[1].colour is not a known field',
      'flags.yaml:7:10: flags[2].key must match pattern "^[a-z][a-z0-9_]*$"',
      'flags.yaml:8:12: flags[2].state must be one of: enabled, disabled, beta_users, percentage',
      'flags.yaml:9:5: flags[3].key is required',
    ])
  })

  it('gives JSON files lines too, and refuses what the API would refuse (types are never coerced)', () => {
    const json = JSON.stringify(
      {
        version: 1,
        flags: [
          { key: 'a', betaUsers: ['ok', 7] },
          { key: 'b', percentage: 12.3456 },
        ],
      },
      null,
      2,
    )
    expect(problemsOf(json, 'flags.json')).toEqual([
      'flags.json:8:9: flags[0].betaUsers[1] must be string',
      'flags.json:13:21: flags[1].percentage must have at most three decimals (a multiple of 0.001)',
    ])
    expect(problemsOf('{"version": "1", "flags": []}', 'f.json')).toEqual(['f.json:1:13: version must be 1'])
  })

  it('refuses a key declared twice, server-managed fields, syntax errors and a file that is not a flags file', () => {
    expect(problemsOf('version: 1\nflags:\n  - key: a\n  - key: a\n')).toEqual(["flags.yaml:4:10: flags[1].key 'a' is already declared at flags[0]"])
    expect(problemsOf('version: 1\nflags:\n  - key: a\n    version: 3\n')).toEqual(['flags.yaml:4:5: flags[0].version is not a known field'])
    expect(problemsOf('version: 1\nflags:\n  - key: a\n    key: b\n')[0]).toMatch(/^flags\.yaml:4:5: Map keys must be unique/)
    expect(problemsOf('version: 1\nflags: [\n')[0]).toMatch(/^flags\.yaml:\d+:\d+: /)
    expect(problemsOf('')).toEqual(['flags.yaml:1:1: (the file) must be object'])
    expect(problemsOf('- key: a\n')).toEqual(['flags.yaml:1:1: (the file) must be object'])
  })

  it('reports what the model refuses in rules and segments (flags/model.ts) at the line it is on, and keys declared twice', () => {
    const problems = problemsOf(
      [
        'version: 1',
        'flags:',
        '  - key: a',
        '    rules:',
        '      - clauses: [{attribute: seats, operator: lt, values: [ten]}]',
        '        serve: {enabled: true}',
        '  - key: b',
        '    rules:',
        '      - {id: r1, clauses: [], serve: {enabled: true}}',
        '      - {id: r1, clauses: [], serve: {enabled: false}}',
        'segments:',
        '  - key: beta',
        '    clauses: [{operator: in_segment, values: [other]}]',
        '  - key: beta',
      ].join('\n'),
    )
    expect(problems).toEqual([
      'flags.yaml:5:61: flags[0].rules[0].clauses[0].values[0] must be a number for operator lt',
      "flags.yaml:10:14: flags[1].rules[1].id 'r1' is already the id of rules[0]",
      'flags.yaml:13:26: segments[0].clauses[0].operator in_segment cannot be used inside a segment',
      "flags.yaml:14:10: segments[1].key 'beta' is already declared at segments[0]",
    ])
  })

  it('says once what a clause value must be, or the rule its own type breaks', () => {
    const clause = (value: string) =>
      `version: 1\nflags:\n  - key: a\n    rules:\n      - clauses: [{attribute: x, operator: in, values: [${value}]}]\n        serve: {enabled: true}\n`
    expect(problemsOf(clause('null'))).toEqual(['flags.yaml:5:57: flags[0].rules[0].clauses[0].values[0] must be string, number or boolean'])
    expect(problemsOf(clause('x'.repeat(1001)))).toEqual(['flags.yaml:5:57: flags[0].rules[0].clauses[0].values[0] must NOT have more than 1000 characters'])
  })

  it('accepts JSON and YAML spellings of the same flags alike', () => {
    const yaml = parseFlagsFile('version: 1\nflags:\n  - key: a\n    tags: [x]\n', 'a.yaml')
    const json = parseFlagsFile('{"version":1,"flags":[{"key":"a","tags":["x"]}]}', 'a.json')
    expect(yaml).toEqual(json)
  })
})

describe('formatFlagsFile', () => {
  const flags = [
    liveFlag({ key: 'zeta', betaUsers: ['u2', 'u10', 'u1'], tags: ['b', 'a'] }),
    liveFlag({ key: 'alpha', description: 'line one\nline two', betaTenants: ['123', 'true', 'null'], state: 'beta_users' }),
  ]

  it('writes flags sorted by key, every field, id lists sorted, nothing server-managed', () => {
    const file = parse(formatFlagsFile(flags, 'yaml')) as FlagsFile
    expect(file.version).toBe(1)
    expect(file.flags.map((f) => f.key)).toEqual(['alpha', 'zeta'])
    expect(Object.keys(file.flags[0]!)).toEqual(['key', 'description', 'tags', 'state', 'percentage', 'betaUsers', 'betaTenants', 'stickiness', 'rules'])
    expect(file.flags[1]).toMatchObject({ betaUsers: ['u1', 'u10', 'u2'], tags: ['a', 'b'] })
    // Ids that look like numbers, booleans or null stay strings.
    expect(file.flags[0]!.betaTenants).toEqual(['123', 'null', 'true'])
  })

  it('is stable whatever order the flags and ids come in, and parses back to the same flags', () => {
    const reordered = [...flags].reverse().map((f) => ({ ...f, betaUsers: [...f.betaUsers].reverse(), version: 99 }))
    for (const format of ['yaml', 'json'] as const) {
      const text = formatFlagsFile(flags, format)
      expect(formatFlagsFile(reordered, format)).toBe(text)
      expect(parseFlagsFile(text, `x.${format}`).flags).toEqual(flags.map(fullSpec).sort((a, b) => a.key.localeCompare(b.key)))
    }
  })
})

describe('formatFlagsFile with rules and segments', () => {
  const rules = [
    { id: 'dutch-pro', clauses: [{ attribute: 'country', operator: 'in' as const, values: ['NL', '12', 'a, b'], negate: false }], serve: { enabled: true } },
    { id: 'half', description: '', clauses: [], serve: { percentage: 50, stickiness: 'userId' as const } },
  ]
  const flags = [liveFlag({ key: 'pricing', rules })]
  const segments = [
    liveSegment({ key: 'zeta', users: ['u2', 'u1', 'u2'] }),
    liveSegment({ key: 'beta', clauses: [{ attribute: 'plan', operator: 'in', values: ['pro'] }] }),
  ]

  it('writes a clause a line, defaults left out of rules, segments sorted with sorted members; none without segments', () => {
    const text = formatFlagsFile(flags, 'yaml', segments)
    expect(text).toContain(
      [
        '    rules:',
        '      - id: dutch-pro',
        '        clauses:',
        '          - {attribute: country, operator: in, values: [NL, "12", "a, b"]}',
        '        serve: {enabled: true}',
        '      - id: half',
        '        clauses: []',
        '        serve: {percentage: 50}',
        'segments:',
        '  - key: beta',
      ].join('\n'),
    )
    const file = parse(text) as FlagsFile
    expect(file.segments!.map((s) => s.key)).toEqual(['beta', 'zeta'])
    expect(file.segments![1]).toEqual({ key: 'zeta', description: '', clauses: [], excludedUsers: [], excludedTenants: [], users: ['u1', 'u2'], tenants: [] })
    expect(formatFlagsFile(flags, 'yaml')).not.toContain('segments')
  })

  it('parses back to the same flags and segments, in YAML and JSON', () => {
    for (const format of ['yaml', 'json'] as const) {
      const file = parseFlagsFile(formatFlagsFile(flags, format, segments), `x.${format}`)
      expect(file.flags.map(fullSpec)).toEqual(flags.map(fullSpec))
      expect(file.segments!.map(fullSegmentSpec)).toEqual(segments.map(fullSegmentSpec).reverse())
    }
  })
})

describe('computePlan', () => {
  const file = (flags: FlagsFile['flags']): FlagsFile => ({ version: 1, flags })

  it('creates what is missing, updates only the fields that differ, and leaves unmanaged flags unless pruning', () => {
    const live = [
      liveFlag({ key: 'kept', state: 'enabled' }),
      liveFlag({ key: 'changed', percentage: 10, state: 'percentage', betaUsers: ['a', 'b'] }),
      liveFlag({ key: 'extra' }),
    ]
    const desired = file([
      { key: 'kept', state: 'enabled' },
      { key: 'changed', state: 'percentage', percentage: 20, betaUsers: ['b', 'c'] },
      { key: 'added', tags: ['t'] },
    ])

    const plan = computePlan(live, desired, false)
    expect(plan.unmanaged).toEqual(['extra'])
    expect(plan.steps).toEqual([
      { action: 'create', key: 'added', flag: { ...fullSpec({ key: 'added' }), tags: ['t'] } },
      {
        action: 'update',
        key: 'changed',
        version: 3,
        patch: { percentage: 20, betaUsers: ['b', 'c'] },
        changes: { percentage: { before: 10, after: 20 }, betaUsers: { added: ['c'], removed: ['a'] } },
      },
    ])
    expect(computePlan(live, desired, true).steps.map((s) => `${s.action} ${s.key}`)).toEqual(['create added', 'update changed', 'delete extra'])
  })

  it('plans no change for a file without rules or segments against flags with `rules: []` and `model: 1`, and needs no segments for it', async () => {
    const example = await readFlagsFile(EXAMPLE)
    const live = example.flags.map(({ rules: _rules, ...f }) => liveFlag(f))
    expect(live.every((f) => f.model === 1 && f.rules!.length === 0)).toBe(true)
    expect(needsSegments(example)).toBe(false)
    expect(computePlan(live, example, true)).toEqual({ steps: [], unmanaged: [], guarded: [], segments: { managed: false, steps: [], unmanaged: [] } })
    // A flag stored before rules existed has neither field: the same.
    const old = live.map(({ rules: _r, model: _m, ...flag }) => flag)
    expect(computePlan(old, example, false).steps).toEqual([])
  })

  it('treats a field left out as its default, and id lists as sets', () => {
    const live = [liveFlag({ key: 'a', state: 'enabled', percentage: 30, betaUsers: ['y', 'x'] })]
    expect(computePlan(live, file([{ key: 'a', state: 'enabled', percentage: 30, betaUsers: ['x', 'y', 'x'] }]), false).steps).toEqual([])
    expect(computePlan(live, file([{ key: 'a', state: 'enabled' }]), false).steps).toMatchObject([
      { action: 'update', patch: { percentage: 0, betaUsers: [] } },
    ])
  })
})

describe('variants in the flags file', () => {
  const COLOUR = liveFlag({
    key: 'checkout_colour',
    state: 'percentage',
    percentage: 20,
    // Declared order is the order of the split's ranges: never sorted.
    variants: [
      { key: 'grey', value: 'grey', weight: 0 },
      { key: 'blue', value: 'blue', weight: 50, description: 'control' },
      { key: 'green', value: 'green', weight: 50, description: '' },
    ],
    offVariant: 'grey',
    rules: [
      { id: 'nl', clauses: [{ attribute: 'country', operator: 'in', values: ['NL'] }], serve: { enabled: true, variant: 'green' } },
      {
        id: 'pro',
        clauses: [],
        serve: {
          percentage: 40,
          split: [
            { variant: 'green', weight: 70 },
            { variant: 'blue', weight: 30 },
          ],
        },
      },
    ],
    model: 3,
  })
  const CONFIG = liveFlag({
    key: 'limits',
    state: 'enabled',
    variants: [
      { key: 'small', value: { limit: 10, regions: ['eu'] }, weight: 100 },
      { key: 'big', value: { limit: 1000, regions: ['eu', 'us'] } },
    ],
    offVariant: 'small',
    model: 3,
  })
  const variantFile = (flag: string) => `version: 1\nflags:\n  - key: f\n${flag}`
  const variantFileData = (flag: Record<string, unknown>) => ({ version: 1, flags: [flag] })

  it('writes variants a line each in declared order, without weight 0 or empty descriptions, then offVariant; a flag without variants has neither', () => {
    const text = formatFlagsFile([COLOUR, CONFIG, liveFlag({ key: 'plain' })], 'yaml')
    expect(text).toContain(
      [
        '    stickiness: userId',
        '    variants:',
        '      - {key: grey, value: grey}',
        '      - {key: blue, value: blue, weight: 50, description: control}',
        '      - {key: green, value: green, weight: 50}',
        '    offVariant: grey',
        '    rules:',
        '      - id: nl',
        '        clauses:',
        '          - {attribute: country, operator: in, values: [NL]}',
        '        serve: {enabled: true, variant: green}',
        '      - id: pro',
        '        clauses: []',
        '        serve: {percentage: 40, split: [{variant: green, weight: 70}, {variant: blue, weight: 30}]}',
      ].join('\n'),
    )
    expect(text).toContain('      - {key: small, value: {limit: 10, regions: [eu]}, weight: 100}')
    // schema/flags.schema.json says so to any validator, with a variant's rules (no null, no unknown field) too.
    const validate = stockValidator(JSON.parse(readFileSync(FLAGS_SCHEMA_FILE, 'utf8')))
    expect(validate(parse(text)), JSON.stringify(validate.errors)).toBe(true)
    expect(validate(variantFileData({ key: 'f', variants: [{ key: 'a', value: 1, colour: 'red' }] }))).toBe(false)
    expect(validate(variantFileData({ key: 'f', variants: [{ key: 'a b', value: 1 }] }))).toBe(false)
    expect(validate(variantFileData({ key: 'f', rules: [{ clauses: [], serve: { enabled: true, split: [{ variant: 'a' }] } }] }))).toBe(false)
    const plain = (parse(text) as FlagsFile).flags.find((f) => f.key === 'plain')!
    expect(Object.keys(plain)).not.toContain('variants')
    expect(Object.keys(plain)).not.toContain('offVariant')
  })

  it('parses back to the same flags in YAML and JSON, values of every JSON type kept as they were (a string "12" stays a string)', () => {
    const typed = [
      liveFlag({
        key: 'numbers',
        variants: [
          { key: 'a', value: 12, weight: 100 },
          { key: 'b', value: 0.5 },
        ],
        offVariant: 'b',
        model: 3,
      }),
      liveFlag({
        key: 'texts',
        variants: [
          { key: 'a', value: '12', weight: 100 },
          { key: 'b', value: 'true' },
          { key: 'c', value: 'null' },
        ],
        offVariant: 'c',
      }),
      liveFlag({
        key: 'switches',
        variants: [
          { key: 'on', value: true, weight: 100 },
          { key: 'off', value: false },
        ],
        offVariant: 'off',
        model: 3,
      }),
      liveFlag({
        key: 'lists',
        variants: [
          { key: 'a', value: ['x', 1], weight: 100 },
          { key: 'b', value: [] },
        ],
        offVariant: 'b',
        model: 3,
      }),
    ]
    const flags = [COLOUR, CONFIG, ...typed]
    for (const format of ['yaml', 'json'] as const) {
      const file = parseFlagsFile(formatFlagsFile(flags, format), `x.${format}`)
      expect(file.flags.map(fullSpec)).toEqual(flags.map(fullSpec).sort((a, b) => a.key.localeCompare(b.key)))
    }
    expect(fullSpec(typed[1]!).variants!.map((v) => v.value)).toEqual(['12', 'true', 'null'])
  })

  it('holds one normal form: weight 0 as absent, `variants: []` as none, a split keeping a stickiness of userId (its default is the flag\u2019s)', () => {
    const spelled = {
      key: 'f',
      variants: [
        { key: 'a', value: 1, weight: 100 },
        { key: 'b', value: 2, weight: 0, description: '' },
      ],
      offVariant: 'b',
    }
    expect(fullSpec(spelled)).toEqual(
      fullSpec({
        ...spelled,
        variants: [
          { key: 'a', value: 1, weight: 100 },
          { key: 'b', value: 2 },
        ],
      }),
    )
    expect(fullSpec(spelled).variants).toEqual([
      { key: 'a', value: 1, weight: 100 },
      { key: 'b', value: 2 },
    ])
    expect(fullSpec({ key: 'f', variants: [] })).toEqual(fullSpec({ key: 'f' }))
    const rule = (serve: Record<string, unknown>) => fullSpec({ key: 'f', rules: [{ clauses: [], serve } as never] }).rules[0]!.serve
    expect(rule({ percentage: 5, stickiness: 'userId' })).toEqual({ percentage: 5 })
    expect(rule({ enabled: true, stickiness: 'userId', split: [{ variant: 'a', weight: 100 }] })).toEqual({
      enabled: true,
      stickiness: 'userId',
      split: [{ variant: 'a', weight: 100 }],
    })
  })

  it('plans no change for an exported variant flag, and a change when only the order of its variants differs', () => {
    const exported = parseFlagsFile(formatFlagsFile([COLOUR, CONFIG], 'yaml'), 'x.yaml')
    expect(computePlan([COLOUR, CONFIG], exported, false).steps).toEqual([])
    const reordered = { ...exported.flags[1]!, variants: [...exported.flags[1]!.variants!].reverse() }
    expect(computePlan([COLOUR, CONFIG], { version: 1, flags: [exported.flags[0]!, reordered] }, false).steps).toMatchObject([
      { action: 'update', key: 'limits', patch: { variants: reordered.variants } },
    ])
  })

  it('reports what the model refuses in variants (flags/model.ts) at the line it is on', () => {
    const problems = (flag: string) => problemsOf(variantFile(flag))
    expect(problems('    variants:\n      - {key: a, value: x, weight: 60}\n      - {key: b, value: y, weight: 30}\n    offVariant: a\n')).toEqual([
      'flags.yaml:5:7: flags[0].variants weights sum to 90: they must sum to 100 (a variant without a weight counts 0)',
    ])
    expect(problems('    variants:\n      - {key: a, value: x, weight: 100}\n      - {key: b, value: 2}\n    offVariant: a\n')).toEqual([
      'flags.yaml:6:25: flags[0].variants[1].value is a number, but variants[0].value is a string: every variant of a flag holds one type',
    ])
    expect(problems('    variants:\n      - {key: a, value: x, weight: 100}\n      - {key: b, value: null}\n    offVariant: a\n')).toEqual([
      'flags.yaml:6:25: flags[0].variants[1].value must be a string, number, boolean, object or array (not null)',
    ])
    expect(problems('    variants: [{key: a, value: x, weight: 100}]\n    offVariant: nope\n')).toEqual([
      "flags.yaml:5:17: flags[0].offVariant 'nope' is not a variant the flag declares",
    ])
    expect(problems('    variants: [{key: a, value: x, weight: 100}]\n')).toEqual([
      'flags.yaml:3:5: flags[0].offVariant is required when the flag declares variants: the variant served when it is off',
    ])
    expect(problems('    offVariant: a\n')).toEqual(['flags.yaml:4:17: flags[0].offVariant needs variants: the flag declares none'])
    expect(problems(`    variants: [{key: a, value: "${'x'.repeat(8200)}", weight: 100}]\n    offVariant: a\n`)).toEqual([
      'flags.yaml:4:32: flags[0].variants[0].value is 8202 bytes of JSON: at most 8192',
    ])
  })

  it('reports a rule that names a variant the flag does not declare, in a variant or a split, and variants on a rule of a flag without them', () => {
    const declared = '    variants:\n      - {key: a, value: x, weight: 100}\n      - {key: b, value: y}\n    offVariant: b\n'
    const ruleServing = (serve: string) => `    rules:\n      - clauses: []\n        serve: ${serve}\n`
    expect(problemsOf(variantFile(declared + ruleServing('{enabled: true, variant: c}')))).toEqual([
      "flags.yaml:10:41: flags[0].rules[0].serve.variant 'c' is not a variant the flag declares",
    ])
    expect(problemsOf(variantFile(declared + ruleServing('{enabled: true, split: [{variant: a, weight: 50}, {variant: c, weight: 50}]}')))).toEqual([
      "flags.yaml:10:76: flags[0].rules[0].serve.split[1].variant 'c' is not a variant the flag declares",
    ])
    expect(problemsOf(variantFile(declared + ruleServing('{enabled: true, split: [{variant: a, weight: 50}]}')))).toEqual([
      'flags.yaml:10:39: flags[0].rules[0].serve.split weights sum to 50: they must sum to 100',
    ])
    expect(problemsOf(variantFile(ruleServing('{enabled: true, variant: a}')))).toEqual([
      'flags.yaml:6:41: flags[0].rules[0].serve.variant needs variants: the flag declares none',
    ])
    expect(problemsOf(variantFile(declared + ruleServing('{enabled: false, variant: a}')))).toEqual([
      'flags.yaml:10:42: flags[0].rules[0].serve.variant applies only to what a rule serves on: enabled true, or a percentage',
    ])
    // A problem of the rule and one of its variants: both, each at its line.
    expect(
      problemsOf(
        variantFile(
          declared + '    rules:\n      - {id: r, clauses: [], serve: {enabled: true, variant: c}}\n      - {id: r, clauses: [], serve: {enabled: true}}\n',
        ),
      ),
    ).toEqual([
      "flags.yaml:9:62: flags[0].rules[0].serve.variant 'c' is not a variant the flag declares",
      "flags.yaml:10:14: flags[0].rules[1].id 'r' is already the id of rules[0]",
    ])
  })
})
