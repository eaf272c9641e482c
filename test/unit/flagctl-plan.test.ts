// flagctl's plan and apply with rules and segments, without a server: what the plan holds and
// shows, and the requests apply makes (an Api stand-in records them).
import { describe, expect, it } from 'vitest'
import type { FlagsFile } from '../../packages/core/src/flags/flags-file.js'
import type { Flag, Rule } from '../../packages/core/src/flags/schema.js'
import { SEGMENT_DEFAULTS, summarize, type Segment } from '../../packages/core/src/segments/schema.js'
import { applyPlan, operationName } from '../../packages/flagctl/src/apply.js'
import type { Api } from '../../packages/flagctl/src/client.js'
import { ApiError, CliError } from '../../packages/flagctl/src/errors.js'
import { targetEdits } from '../../packages/flagctl/src/members.js'
import { splitMoved } from '../../packages/flagctl/src/variants.js'
import { computePlan, planJson, renderPlan, sortedDiff, type LiveSegments } from '../../packages/flagctl/src/plan.js'

const MANAGED = { createdAt: '2024-01-01T00:00:00.000Z', updatedAt: '2024-01-01T00:00:00.000Z', updatedBy: 'someone' }

function liveFlag(fields: Partial<Flag> & { key: string }): Flag {
  const flag: Flag = {
    ...{ description: '', tags: [], state: 'disabled', percentage: 0, betaUsers: [], betaTenants: [], stickiness: 'userId', rules: [] },
    version: 4,
    ...MANAGED,
    ...fields,
  }
  return { ...flag, model: flag.rules!.length > 0 ? 2 : 1 }
}

function liveSegment(fields: Partial<Segment> & { key: string }): Segment {
  return { ...SEGMENT_DEFAULTS, users: [], tenants: [], excludedUsers: [], excludedTenants: [], clauses: [], version: 2, ...MANAGED, ...fields }
}

const live = (...segments: Segment[]): LiveSegments => ({ summaries: segments.map(summarize), full: new Map(segments.map((s) => [s.key, s])) })

const ids = (prefix: string, from: number, to: number) => Array.from({ length: to - from }, (_, i) => `${prefix}${String(from + i).padStart(5, '0')}`)

const DUTCH_PRO: Rule = {
  id: 'dutch-pro',
  clauses: [
    { attribute: 'country', operator: 'in', values: ['NL'] },
    { attribute: 'plan', operator: 'in', values: ['pro'] },
  ],
  serve: { enabled: true },
}
const HALF: Rule = { id: 'half', clauses: [], serve: { percentage: 50 } }
const PRICING = liveFlag({ key: 'pricing', rules: [DUTCH_PRO, HALF] })
const file = (flags: FlagsFile['flags'], segments?: FlagsFile['segments']): FlagsFile => ({ version: 1, flags, ...(segments ? { segments } : {}) })
const withoutIds = (rules: Rule[]) => rules.map(({ id: _id, ...rule }) => rule)

describe('plan: rules', () => {
  it('plans no change for rules without ids that match the live ones position by position', () => {
    expect(computePlan([PRICING], file([{ key: 'pricing', rules: withoutIds([DUTCH_PRO, HALF]) }]), false).steps).toEqual([])
    expect(computePlan([PRICING], file([{ key: 'pricing', rules: [DUTCH_PRO, HALF] }]), false).steps).toEqual([])
    // Defaults spelled out (stickiness userId, negate false, an empty description) are no change either.
    const spelled = [
      { ...DUTCH_PRO, description: '', clauses: DUTCH_PRO.clauses.map((c) => ({ ...c, negate: false })) },
      { ...HALF, serve: { percentage: 50, stickiness: 'userId' as const } },
    ]
    expect(computePlan([PRICING], file([{ key: 'pricing', rules: spelled }]), false).steps).toEqual([])
  })

  it('keeps the id of a rule edited in place, and shows each rule added, removed or changed on one line', () => {
    const edited = { clauses: [{ attribute: 'country', operator: 'in' as const, values: ['NL', 'BE'] }, DUTCH_PRO.clauses[1]!], serve: { enabled: true } }
    const beta = {
      id: 'beta',
      clauses: [{ operator: 'in_segment' as const, values: ['beta-testers'] }],
      serve: { percentage: 10, stickiness: 'tenantId' as const },
    }
    const plan = computePlan(
      [PRICING],
      file([{ key: 'pricing', rules: [edited, beta, { clauses: [], serve: { enabled: false } }] }]),
      false,
      live(liveSegment({ key: 'beta-testers' })),
    )
    expect(plan.steps).toMatchObject([
      {
        action: 'update',
        key: 'pricing',
        version: 4,
        patch: { rules: [{ id: 'dutch-pro', ...edited }, beta, { clauses: [], serve: { enabled: false } }] },
        changes: { rules: { before: [DUTCH_PRO, HALF] } },
      },
    ])
    const text = renderPlan(plan, 'http://svc/', 'flags.yaml')
    expect(text).toContain(
      [
        '~  pricing  update  version 4: rules: 2 added, 1 removed, 1 changed',
        '     - rule half: everyone → 50% by userId',
        '     ~ rule dutch-pro: country in [NL, BE], plan in [pro] → on (was: country in [NL], plan in [pro] → on)',
        '     + rule beta: in_segment [beta-testers] → 10% by tenantId',
        '     + rule #3 (new): everyone → off',
      ].join('\n'),
    )
  })

  it('shows rules moved, a created flag with its rules, and a flag whose only change is not a rule as before', () => {
    const moved = computePlan([PRICING], file([{ key: 'pricing', rules: [HALF, DUTCH_PRO] }]), false)
    expect(renderPlan(moved, 'http://svc/', 'f.yaml')).toContain('     ~ rules reordered: half, dutch-pro (was: dutch-pro, half)')
    const created = computePlan([], file([{ key: 'fresh', state: 'enabled', rules: [DUTCH_PRO] }]), false)
    expect(renderPlan(created, 'http://svc/', 'f.yaml')).toContain(
      '+  fresh  create  state="enabled" rules=1\n     + rule dutch-pro: country in [NL], plan in [pro] → on',
    )
    const plain = computePlan([PRICING], file([{ key: 'pricing', state: 'enabled', rules: [DUTCH_PRO, HALF] }]), false)
    expect(plain.steps).toEqual([
      { action: 'update', key: 'pricing', version: 4, patch: { state: 'enabled' }, changes: { state: { before: 'disabled', after: 'enabled' } } },
    ])
  })

  it('refuses a rule naming a segment that neither the file nor the service holds, or that --prune would delete', () => {
    const naming = (segment: string) =>
      file([{ key: 'pricing', rules: [{ clauses: [{ operator: 'in_segment', values: [segment] }], serve: { enabled: true } }] }], [])
    expect(() => computePlan([], naming('ghost'), false, live())).toThrow(
      "flags[0] (pricing) names segment 'ghost', which neither the file nor the service holds",
    )
    expect(() => computePlan([], naming('old'), true, live(liveSegment({ key: 'old' })))).toThrow("names segment 'old', which --prune would delete")
    expect(computePlan([], naming('old'), false, live(liveSegment({ key: 'old' }))).segments.unmanaged).toEqual(['old'])
  })
})

describe('plan: segments', () => {
  const betaTesters = liveSegment({ key: 'beta-testers', users: ['a', 'b', 'c'] })
  const big = liveSegment({ key: 'big', version: 7, users: ids('u', 0, 12_000) })
  const old = liveSegment({ key: 'old', version: 5 })
  const desired = file(
    [{ key: 'pricing', state: 'enabled', rules: [DUTCH_PRO, HALF] }],
    [
      { key: 'beta-testers', description: 'Early access', users: ['d', 'c', 'b'], clauses: [{ attribute: 'plan', operator: 'in', values: ['pro'] }] },
      { key: 'big', users: ids('u', 4_000, 20_000) },
      { key: 'new-seg', users: ids('n', 0, 25_000), tenants: ['acme'] },
    ],
  )
  const plan = computePlan([PRICING], desired, true, live(betaTesters, big, old))

  it('patches only the fields that changed and never the members, which change as ids added and removed', () => {
    const [beta, bigStep, created, deleted] = plan.segments.steps
    expect(beta).toEqual({
      action: 'update',
      key: 'beta-testers',
      version: 2,
      patch: { description: 'Early access', clauses: [{ attribute: 'plan', operator: 'in', values: ['pro'] }] },
      members: { add: { users: ['d'], tenants: [] }, remove: { users: ['a'], tenants: [] } },
      changes: {
        description: { before: '', after: 'Early access' },
        clauses: { before: [], after: [{ attribute: 'plan', operator: 'in', values: ['pro'] }] },
        users: { added: ['d'], removed: ['a'] },
      },
    })
    expect(bigStep).toMatchObject({ action: 'update', key: 'big', version: 7, patch: {} })
    if (bigStep?.action !== 'update' || created?.action !== 'create') throw new Error('expected an update of big and a create of new-seg')
    expect([bigStep.members.add.users.length, bigStep.members.remove.users.length]).toEqual([8_000, 4_000])
    // The audit rule: 1,000 ids a side, then the count.
    expect(bigStep.changes.users).toMatchObject({ addedCount: 8_000, removedCount: 4_000 })
    expect(bigStep.changes.users!.added).toHaveLength(1_000)
    expect(created).toMatchObject({ action: 'create', key: 'new-seg', segment: { key: 'new-seg', description: '', clauses: [] } })
    expect(created.members.users).toHaveLength(25_000)
    expect(deleted).toEqual({ action: 'delete', key: 'old', version: 5 })
  })

  it('keeps member lists out of --json, which names ids by the audit rule', () => {
    const json = planJson(plan)
    expect(json).toMatchObject({
      changed: true,
      summary: { create: 0, update: 1, delete: 0 },
      segments: { managed: true, summary: { create: 1, update: 2, delete: 1 } },
    })
    expect(json.segments.steps.every((s) => !('members' in s))).toBe(true)
    expect(JSON.stringify(json).length).toBeLessThan(100_000)
  })

  it('shows segments created and changed first, then flags, then segments deleted, as apply takes them', () => {
    const text = renderPlan(plan, 'http://svc/', 'flags.yaml')
    const rows = text.split('\n').filter((line) => /^[+~-] /.test(line))
    expect(rows.map((r) => r.split(/ {2,}/).slice(0, 3).join(' | '))).toEqual([
      '~ | segment beta-testers | update',
      '~ | segment big | update',
      '+ | segment new-seg | create',
      '~ | pricing | update',
      '- | segment old | delete',
    ])
    expect(text).toMatch(
      /segment beta-testers +update +version 2: description: "" → "Early access"; clauses: plan in \[pro\] \(was: \(none\)\); users: \+d -a$/m,
    )
    // Many ids are counted, with the first few named.
    expect(text).toMatch(
      /segment big +update +version 7: users: 8,000 added \(\+u12000 \+u12001 \+u12002 \+u12003 \+u12004 …\), 4,000 removed \(-u00000 .* …\)$/m,
    )
    expect(text).toMatch(/segment new-seg +create +users=25,000 \(n00000 n00001 n00002 n00003 n00004 …\); tenants=\[acme\]$/m)
    expect(text).toContain('Plan: 0 to create, 1 to update, 0 to delete; segments: 1 to create, 2 to update, 1 to delete.')
  })

  it('leaves segments alone, even with --prune, when the file has no segments list; lists unmanaged ones when it has one', () => {
    expect(computePlan([PRICING], file([{ key: 'pricing', rules: [DUTCH_PRO, HALF] }]), true, live(old)).segments).toEqual({
      managed: false,
      steps: [],
      unmanaged: [],
    })
    const listed = computePlan([PRICING], file([{ key: 'pricing', rules: [DUTCH_PRO, HALF] }], []), false, live(old))
    expect(listed.segments).toEqual({ managed: true, steps: [], unmanaged: ['old'] })
    expect(renderPlan(listed, 'http://svc/', 'f.yaml')).toBe(
      'No changes: http://svc/ matches f.yaml.\nSegments not in f.yaml, left alone (--prune deletes them): old',
    )
  })
})

describe('sortedDiff', () => {
  it('finds what one sorted set adds to and removes from another, as sets would, whatever the characters', () => {
    const sets = [['a', 'B', 'é', 'z', '😀', 'ｚ'], ['B', 'b', 'z', '😀', '\u{10000}'], [], ['a']].map((l) => [...new Set(l)].sort())
    for (const before of sets) {
      for (const after of sets) {
        expect(sortedDiff(before, after)).toEqual({ added: after.filter((x) => !before.includes(x)), removed: before.filter((x) => !after.includes(x)) })
      }
    }
  })
})

describe('targetEdits', () => {
  it('cuts a change into requests of at most 10,000 ids in all, removals first', () => {
    const edits = targetEdits({ add: { users: ids('u', 0, 25_000), tenants: ['t1', 't2'] }, remove: { users: ['gone'], tenants: [] } })
    const size = (e: (typeof edits)[number]) => [e.add?.users, e.add?.tenants, e.remove?.users, e.remove?.tenants].reduce((n, l) => n + (l?.length ?? 0), 0)
    expect(edits.map(size)).toEqual([10_000, 10_000, 5_003])
    expect(edits[0]!.remove).toEqual({ users: ['gone'] })
    expect(edits.flatMap((e) => e.add?.users ?? [])).toEqual(ids('u', 0, 25_000))
    expect(edits[2]!.add!.tenants).toEqual(['t1', 't2'])
    expect(targetEdits({ add: { users: [], tenants: [] } })).toEqual([])
  })
})

/** An Api that records each call; `fail` throws for the call it matches. */
function recordingApi(fail?: (call: string) => Error | undefined): { api: Api; calls: string[] } {
  const calls: string[] = []
  const record =
    (name: string) =>
    async (...args: unknown[]) => {
      const [key, body, version] = args as [string | { key: string }, unknown, number | undefined]
      const subject = typeof key === 'string' ? key : key.key
      let detail = ''
      if (name === 'createSegment') detail = ` users=${(key as unknown as { users: string[] }).users.length}`
      if (name === 'editSegmentTargets') {
        const edit = body as { add?: { users?: string[] }; remove?: { users?: string[] } }
        detail = ` +${edit.add?.users?.length ?? 0} -${edit.remove?.users?.length ?? 0}`
      }
      if (name === 'updateSegment' || name === 'updateFlag') detail = ` ${Object.keys(body as object).join(',')} if-match ${version}`
      if (name === 'deleteSegment' || name === 'deleteFlag') detail = ` if-match ${body}`
      const call = `${name} ${subject}${detail}`
      const error = fail?.(call)
      if (error) throw error
      calls.push(call)
      return {}
    }
  const api = Object.fromEntries(
    ['createFlag', 'updateFlag', 'deleteFlag', 'createSegment', 'updateSegment', 'editSegmentTargets', 'deleteSegment'].map((n) => [n, record(n)]),
  )
  return { api: api as unknown as Api, calls }
}

describe('applyPlan with segments', () => {
  const betaTesters = liveSegment({ key: 'beta-testers', users: ['a'] })
  const big = liveSegment({ key: 'big', version: 7, users: ids('u', 0, 12_000) })
  const desired = file(
    [{ key: 'pricing', rules: [{ ...DUTCH_PRO, clauses: [{ operator: 'in_segment', values: ['new-seg'] }] }] }],
    [
      { key: 'beta-testers', description: 'changed', users: ['a'] },
      { key: 'big', users: ids('u', 4_000, 20_000) },
      { key: 'new-seg', users: ids('n', 0, 25_000) },
    ],
  )
  const plan = computePlan([PRICING], desired, true, live(betaTesters, big, liveSegment({ key: 'old', version: 5 })))

  it('creates segments before the flags that use them, deletes them after, and sends members in requests of at most 10,000', async () => {
    const { api, calls } = recordingApi()
    const applied: string[] = []
    await applyPlan(api, plan, (op) => applied.push(`${op.step.action}d ${operationName(op)}`))
    expect(calls).toEqual([
      'updateSegment beta-testers description if-match 2',
      'editSegmentTargets big +6000 -4000',
      'editSegmentTargets big +2000 -0',
      'createSegment new-seg users=10000',
      'editSegmentTargets new-seg +10000 -0',
      'editSegmentTargets new-seg +5000 -0',
      'updateFlag pricing rules if-match 4',
      'deleteSegment old if-match 5',
    ])
    expect(applied).toEqual(['updated segment beta-testers', 'updated segment big', 'created segment new-seg', 'updated pricing', 'deleted segment old'])
  })

  it('stops at a segment changed since the plan read it, and says how far a segment got when a later request fails', async () => {
    const conflict = recordingApi((call) => (call.startsWith('updateSegment') ? new ApiError(412, 'VERSION_MISMATCH', 'version is 3') : undefined))
    const err = await applyPlan(conflict.api, plan, () => {}).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CliError)
    expect((err as CliError).message).toContain(
      'stopped at update segment beta-testers: the segment changed on the server after the plan read it (at version 2): version is 3.\n' +
        '0 of 5 change(s) were applied before it',
    )
    expect(conflict.calls).toEqual([])

    const partly = recordingApi((call) => (call === 'editSegmentTargets big +2000 -0' ? new ApiError(503, 'STORE_UNAVAILABLE', 'try again') : undefined))
    const failed = (await applyPlan(partly.api, plan, () => {}).catch((e: unknown) => e)) as CliError
    expect(failed.message).toBe(
      'stopped at update segment big: try again\n1 of 5 change(s) were applied before it, none after. Of segment big itself, 1 request(s) went through. ' +
        'Run plan again to see where things stand.',
    )
    expect(failed.exitCode).toBe(2)
  })
})

describe('plan and apply: variants', () => {
  const VARIANTS = [
    { key: 'grey', value: 'grey' },
    { key: 'blue', value: 'blue', weight: 50 },
    { key: 'green', value: 'green', weight: 50 },
  ]
  const NL: Rule = { id: 'nl', clauses: [{ attribute: 'country', operator: 'in', values: ['NL'] }], serve: { enabled: true, variant: 'green' } }
  const COLOUR = { ...liveFlag({ key: 'colour', state: 'enabled', variants: VARIANTS, offVariant: 'grey', rules: [NL] }), model: 3 }
  const declared = { key: 'colour', state: 'enabled' as const, variants: VARIANTS, offVariant: 'grey', rules: [NL] }

  /** An Api that records each flag write with its body and If-Match. */
  function bodies(): { api: Api; calls: { name: string; key: string; body: unknown; version?: number }[] } {
    const calls: { name: string; key: string; body: unknown; version?: number }[] = []
    const api = {
      createFlag: async (body: { key: string }) => void calls.push({ name: 'createFlag', key: body.key, body }),
      updateFlag: async (key: string, body: unknown, version: number) => void calls.push({ name: 'updateFlag', key, body, version }),
    }
    return { api: api as unknown as Api, calls }
  }

  it('plans no change for the same variants, weight 0 spelled out or not', () => {
    const spelled = { ...declared, variants: [{ ...VARIANTS[0]!, weight: 0 }, VARIANTS[1]!, VARIANTS[2]!] }
    expect(computePlan([COLOUR], file([spelled]), false).steps).toEqual([])
  })

  it('shows each variant added, removed and changed, weights with the share of the split that moves, offVariant, and what rules serve', () => {
    const variants = [
      { key: 'blue', value: 'navy', weight: 60 },
      { key: 'green', value: 'green', weight: 40, description: 'treatment' },
      { key: 'off', value: 'white' },
    ]
    const rules: Rule[] = [
      { ...NL, serve: { enabled: true, variant: 'blue' } },
      {
        id: 'pro',
        clauses: [],
        serve: {
          percentage: 20,
          stickiness: 'tenantId',
          split: [
            { variant: 'blue', weight: 30 },
            { variant: 'green', weight: 70 },
          ],
        },
      },
    ]
    const plan = computePlan([COLOUR], file([{ ...declared, variants, offVariant: 'off', rules }]), false)
    expect(plan.steps).toEqual([
      {
        action: 'update',
        key: 'colour',
        version: 4,
        patch: { offVariant: 'off', variants, rules },
        changes: { offVariant: { before: 'grey', after: 'off' }, variants: { before: VARIANTS, after: variants }, rules: { before: [NL], after: rules } },
        variants: [
          { change: 'removed', variant: VARIANTS[0] },
          { change: 'changed', variant: variants[0], before: VARIANTS[1] },
          { change: 'changed', variant: variants[1], before: VARIANTS[2] },
          { change: 'added', variant: variants[2] },
        ],
        splitMoved: 10,
        rules: [
          { change: 'changed', position: 1, rule: rules[0], before: NL },
          { change: 'added', position: 2, rule: rules[1] },
        ],
      },
    ])
    expect(renderPlan(plan, 'http://svc/', 'flags.yaml')).toContain(
      [
        '~  colour  update  version 4: offVariant: "grey" → "off"; variants: 1 added, 1 removed, 2 changed (10% of the default split moves to another ' +
          'variant); rules: 1 added, 1 changed',
        '     - variant grey = "grey"',
        '     ~ variant blue: value "blue" → "navy"; weight 50 → 60',
        '     ~ variant green: weight 50 → 40; description: "" → "treatment"',
        '     + variant off = "white"',
        '     ~ rule nl: country in [NL] → on: blue (was: country in [NL] → on: green)',
        '     + rule pro: everyone → 20% by tenantId: split by tenantId [blue 30%, green 70%]',
      ].join('\n'),
    )
  })

  it('shows variants reordered as a change that moves users, since the order lays out the split', () => {
    const plan = computePlan([COLOUR], file([{ ...declared, variants: [VARIANTS[0]!, VARIANTS[2]!, VARIANTS[1]!] }]), false)
    expect(plan.steps[0]).toMatchObject({ patch: { variants: [VARIANTS[0], VARIANTS[2], VARIANTS[1]] }, splitMoved: 100 })
    expect(renderPlan(plan, 'http://svc/', 'f.yaml')).toContain(
      'variants: reordered (100% of the default split moves to another variant)\n     ~ variants reordered: grey, green, blue (was: grey, blue, green)',
    )
  })

  it('makes a flag boolean again with `variants: []` alone (the service drops offVariant with them), and gives a boolean flag variants', () => {
    const cleared = computePlan([COLOUR], file([{ key: 'colour', state: 'enabled' }]), false)
    expect(cleared.steps).toMatchObject([{ patch: { variants: [], rules: [] } }])
    expect(Object.keys((cleared.steps[0] as { patch: object }).patch)).toEqual(['variants', 'rules'])
    expect(renderPlan(cleared, 'http://svc/', 'f.yaml')).toContain(
      'version 4: offVariant: "grey" → (none); variants: all 3 removed, the flag answers on or off; rules: 1 removed',
    )

    const plain = liveFlag({ key: 'colour', state: 'enabled' })
    const given = computePlan([plain], file([declared]), false)
    expect(given.steps).toMatchObject([{ patch: { offVariant: 'grey', variants: VARIANTS, rules: [NL] } }])
    expect(given.steps[0]).not.toHaveProperty('splitMoved')
    expect(renderPlan(given, 'http://svc/', 'f.yaml')).toContain('offVariant: "grey"; variants: 3 added; rules: 1 added\n     + variant grey = "grey"')
  })

  it('shows a created flag with its variants, and apply sends them: the create whole, an update as a patch against the version read', async () => {
    const created = computePlan([], file([{ ...declared, key: 'fresh' }]), false)
    expect(renderPlan(created, 'http://svc/', 'f.yaml')).toContain(
      [
        '+  fresh  create  state="enabled" offVariant="grey" variants=3 rules=1',
        '     + variant grey = "grey"',
        '     + variant blue = "blue" (50%)',
        '     + variant green = "green" (50%)',
        '     + rule nl: country in [NL] → on: green',
      ].join('\n'),
    )
    const weights = [VARIANTS[0]!, { ...VARIANTS[1]!, weight: 60 }, { ...VARIANTS[2]!, weight: 40 }]
    const plan = computePlan(
      [COLOUR],
      file([
        { ...declared, key: 'fresh' },
        { ...declared, variants: weights },
      ]),
      false,
    )
    const { api, calls } = bodies()
    await applyPlan(api, plan, () => {})
    expect(calls).toEqual([
      { name: 'updateFlag', key: 'colour', body: { variants: weights }, version: 4 },
      { name: 'createFlag', key: 'fresh', body: expect.objectContaining({ variants: VARIANTS, offVariant: 'grey', rules: [NL] }) },
    ])
    expect(renderPlan(plan, 'http://svc/', 'f.yaml')).toContain('variants: 2 changed (10% of the default split moves to another variant)')
  })
})

describe('splitMoved', () => {
  const split = (...weights: [string, number][]) => weights.map(([key, weight]) => ({ key, value: key, weight }))
  it('is the share of the default split another variant serves after a change: the overlap of the ranges, in declared order', () => {
    expect(splitMoved(split(['a', 50], ['b', 50]), split(['a', 60], ['b', 40]))).toBe(10)
    expect(splitMoved(split(['a', 50], ['b', 50]), split(['b', 50], ['a', 50]))).toBe(100)
    expect(splitMoved(split(['a', 33.333], ['b', 33.333], ['c', 33.334]), split(['a', 50], ['b', 0], ['c', 50]))).toBe(33.333)
    expect(splitMoved(split(['a', 100]), split(['a', 100], ['b', 0]))).toBe(0)
    expect(splitMoved(split(['a', 50], ['b', 50]), split(['a', 50], ['c', 50]))).toBe(50)
    expect(splitMoved([], split(['a', 100]))).toBeUndefined()
  })
})
