// Flags as code with the real flagctl against real services: export, plan, apply.
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import type { Flag } from '../../packages/core/src/flags/schema.js'
import { call, createFlag, getFlag, listAudit, listFlags, tempDir, updateFlag } from '../support/helpers.js'
import { concurrentEdit, flagctl, flagctlBin, serve, type Service } from '../support/cli-helpers.js'

const dir = tempDir('flagctl-')
const services: Service[] = []
afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.close()))
})
afterAll(() => dir.remove())
// Compiling flagctl (only after a source changed) can take a while on a busy machine.
beforeAll(() => flagctlBin(), 120_000)

async function service(flags: Record<string, unknown>[] = []): Promise<Service> {
  const s = await serve()
  services.push(s)
  for (const flag of flags) await createFlag(s.app, flag)
  return s
}

async function file(name: string, text: string): Promise<string> {
  const path = join(dir.path, name)
  await writeFile(path, text)
  return path
}

const mutable = ({ version: _v, createdAt: _c, updatedAt: _u, updatedBy: _b, ...rest }: Flag) => rest

const SEED = [
  { key: 'zeta_search', state: 'enabled', tags: ['search'] },
  { key: 'copilot_v2', state: 'percentage', percentage: 50, betaUsers: ['tenant-admin', 'alice'], description: 'New copilot' },
  { key: 'beta_billing', state: 'beta_users', betaTenants: ['acme', '42'], stickiness: 'tenantId' },
]

describe('flagctl export', () => {
  it('writes a sorted, stable file that plans clean (exit 0)', async () => {
    const s = await service(SEED)
    const path = join(dir.path, 'export.yaml')
    const [written, stdout, asJson] = await Promise.all([
      flagctl(['export', '-o', path], { url: s.url }),
      flagctl(['export'], { url: s.url }),
      flagctl(['export', '--json'], { url: s.url }),
    ])
    expect(written.code, written.stderr).toBe(0)
    const text = await readFile(path, 'utf8')
    expect(stdout.stdout).toBe(text)
    const exported = parse(text) as { version: number; flags: Record<string, unknown>[] }
    expect(exported.flags.map((f) => f.key)).toEqual(['beta_billing', 'copilot_v2', 'zeta_search'])
    expect(exported.flags[1]).toEqual({
      key: 'copilot_v2',
      description: 'New copilot',
      tags: [],
      state: 'percentage',
      percentage: 50,
      betaUsers: ['alice', 'tenant-admin'],
      betaTenants: [],
      stickiness: 'userId',
      rules: [],
    })
    expect(JSON.parse(asJson.stdout)).toEqual(exported)

    const plan = await flagctl(['plan', path], { url: s.url })
    expect(plan.code, plan.stderr).toBe(0)
    expect(plan.stdout).toContain(`No changes: ${s.url}/ matches ${path}.`)
  })
})

describe('flagctl plan', () => {
  it('exits 10 after a manual change and shows the field, in text and in JSON', async () => {
    const s = await service(SEED)
    const path = join(dir.path, 'drift.yaml')
    expect((await flagctl(['export', '-o', path], { url: s.url })).code).toBe(0)
    await updateFlag(s.app, 'copilot_v2', { percentage: 75, betaUsers: ['alice', 'bob'] })

    const [text, asJson] = await Promise.all([flagctl(['plan', path], { url: s.url }), flagctl(['plan', path, '--json'], { url: s.url })])
    expect(text.code).toBe(10)
    expect(text.stdout).toMatch(/^~ +copilot_v2 +update +version 2: percentage: 75 → 50; betaUsers: \+tenant-admin -bob$/m)
    expect(text.stdout).toContain('Plan: 0 to create, 1 to update, 0 to delete.')
    expect(asJson.code).toBe(10)
    expect(JSON.parse(asJson.stdout)).toMatchObject({
      changed: true,
      summary: { create: 0, update: 1, delete: 0 },
      steps: [{ action: 'update', key: 'copilot_v2', version: 2, changes: { percentage: { before: 75, after: 50 } } }],
      unmanaged: [],
    })
  })
})

describe('flagctl apply', () => {
  const DESIRED = `version: 1
flags:
  - key: copilot_v2
    state: percentage
    percentage: 60
    betaUsers: [tenant-admin]
  - key: new_flag
    description: from git
    state: enabled
  - key: zeta_search
    state: enabled
    tags: [search]
`

  it('converges: creates and updates, leaves flags the file omits unless --prune, and plans clean after', async () => {
    const s = await service(SEED)
    const path = await file('desired.yaml', DESIRED)

    const applied = await flagctl(['apply', path, '--yes'], { url: s.url })
    expect(applied.code, applied.stderr).toBe(0)
    expect(applied.stdout).toMatch(/^\+ +new_flag +create +description="from git" state="enabled"$/m)
    expect(applied.stdout).toContain('Applied: 1 created, 1 updated, 0 deleted.')
    expect(applied.stdout).toContain('left alone (--prune deletes them): beta_billing')
    expect(await getFlag(s.app, 'copilot_v2')).toMatchObject({ percentage: 60, betaUsers: ['tenant-admin'], description: '' })
    expect(await getFlag(s.app, 'new_flag')).toMatchObject({ state: 'enabled', description: 'from git' })

    expect((await flagctl(['plan', path], { url: s.url })).code).toBe(0)
    const pruned = await flagctl(['apply', path, '--prune', '--yes', '--json'], { url: s.url })
    expect(JSON.parse(pruned.stdout)).toMatchObject({
      applied: true,
      summary: { create: 0, update: 0, delete: 1 },
      steps: [{ action: 'delete', key: 'beta_billing' }],
    })
    expect((await listFlags(s.app)).flags.map((f: Flag) => f.key)).toEqual(['copilot_v2', 'new_flag', 'zeta_search'])
    expect((await flagctl(['plan', path, '--prune'], { url: s.url })).code).toBe(0)
  })

  it('refuses to apply without --yes when no terminal can confirm, and changes nothing', async () => {
    const s = await service(SEED)
    const result = await flagctl(['apply', await file('unconfirmed.yaml', DESIRED)], { url: s.url })
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('pass --yes')
    expect((await listAudit(s.app)).events).toHaveLength(SEED.length)
  })

  it('stops at a flag someone changed after the plan read it, applying nothing after it', async () => {
    const s = await service(SEED)
    // Steps run in key order: copilot_v2 (update), new_flag (create), zeta_search (update).
    const path = await file('conflict.yaml', DESIRED.replace('tags: [search]', 'tags: [search, v2]'))
    s.afterRead('GET', '/flags', () => concurrentEdit(s.app, 'copilot_v2', { percentage: 5 }))

    const result = await flagctl(['apply', path, '--yes'], { url: s.url })
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('stopped at update copilot_v2: the flag changed on the server after the plan read it (at version 1)')
    expect(result.stderr).toContain('0 of 3 change(s) were applied')
    expect(await getFlag(s.app, 'copilot_v2')).toMatchObject({ percentage: 5, version: 2 })
    expect(await getFlag(s.app, 'new_flag', 404)).toMatchObject({ code: 'FLAG_NOT_FOUND' })
    expect(await getFlag(s.app, 'zeta_search')).toMatchObject({ tags: ['search'] })
  })

  it('export → apply on an empty service reproduces the same flags (round trip)', async () => {
    const [source, target] = await Promise.all([service(SEED), service()])
    await updateFlag(source.app, 'copilot_v2', { tags: ['ai', 'copilot'] })
    const exported = await flagctl(['export'], { url: source.url })
    const path = await file('roundtrip.yaml', exported.stdout)

    expect((await flagctl(['apply', path, '--yes'], { url: target.url })).code).toBe(0)
    const [before, after] = await Promise.all([listFlags(source.app), listFlags(target.app)])
    expect(after.flags.map(mutable)).toEqual(
      before.flags.map((f: Flag) => ({ ...mutable(f), betaUsers: [...f.betaUsers].sort(), betaTenants: [...f.betaTenants].sort() })),
    )
    expect((await flagctl(['export'], { url: target.url })).stdout).toBe(exported.stdout)
  })

  it('refuses invalid files with the path and line of each problem, before touching the service', async () => {
    const s = await service(SEED)
    const yamlPath = await file('bad.yaml', 'version: 1\nflags:\n  - key: fine\n  - key: too_far\n    percentage: 150\n')
    const jsonPath = await file('bad.json', JSON.stringify({ version: 1, flags: [{ key: 'a', betaUsers: [42] }] }))
    const [yaml, json] = await Promise.all([flagctl(['apply', yamlPath, '--yes'], { url: s.url }), flagctl(['plan', jsonPath], { url: s.url })])
    expect(yaml.code).toBe(1)
    expect(yaml.stderr).toContain(`${yamlPath}:5:17: flags[1].percentage must be <= 100`)
    expect(json.code).toBe(1)
    expect(json.stderr).toContain(`${jsonPath}:1:47: flags[0].betaUsers[0] must be string`)
    expect((await listAudit(s.app)).events).toHaveLength(SEED.length)
  })
})

describe('flags as code with rules and segments (targeting v2)', () => {
  const TARGETED = `version: 1
flags:
  - key: copilot_v2
    state: percentage
    percentage: 50
    betaUsers: [tenant-admin, alice]
    description: New copilot
    rules:
      - id: dutch-pro
        clauses:
          - {attribute: country, operator: in, values: [NL]}
          - {attribute: plan, operator: in, values: [pro]}
        serve: {enabled: true}
      - clauses: [{operator: in_segment, values: [staff]}]
        serve: {percentage: 25}
segments:
  - key: staff
    clauses: [{attribute: email, operator: ends_with, values: ["@example.com"]}]
    users: [carol, dave]
`
  const segmentWrites = (s: Service) => s.requests.filter((r) => r.path.startsWith('/segments') && r.method !== 'GET')

  it('plans a file without rules or segments as before: no change, and no segment read', async () => {
    const s = await service(SEED)
    const path = await file(
      'plain.yaml',
      `version: 1
flags:
  - {key: zeta_search, state: enabled, tags: [search]}
  - {key: copilot_v2, state: percentage, percentage: 50, betaUsers: [tenant-admin, alice], description: New copilot}
  - {key: beta_billing, state: beta_users, betaTenants: [acme, '42'], stickiness: tenantId}
`,
    )
    const plan = await flagctl(['plan', path, '--prune'], { url: s.url })
    expect(plan.code, plan.stdout + plan.stderr).toBe(0)
    expect(plan.stdout).toContain('No changes')
    expect(s.requests.filter((r) => r.path.startsWith('/segments'))).toEqual([])
  })

  it('creates segments before the flags that name them, plans clean after, and exports rules and members', async () => {
    const s = await service(SEED)
    const seeded = s.requests.length
    const path = await file('targeted.yaml', TARGETED)
    const applied = await flagctl(['apply', path, '--yes'], { url: s.url })
    expect(applied.code, applied.stderr).toBe(0)
    expect(applied.stdout).toMatch(/^\+ +segment staff +create +clauses: email ends_with \[@example\.com\]; users=\[carol, dave\]$/m)
    expect(applied.stdout).toContain(
      ['     + rule dutch-pro: country in [NL], plan in [pro] → on', '     + rule #2 (new): in_segment [staff] → 25% by userId'].join('\n'),
    )
    expect(applied.stdout).toContain('Applied: 0 created, 1 updated, 0 deleted; segments: 1 created, 0 updated, 0 deleted.')
    const writes = s.requests
      .slice(seeded)
      .filter((r) => r.method !== 'GET')
      .map((r) => `${r.method} ${r.path}`)
    expect(writes).toEqual(['POST /segments', 'PATCH /flags/copilot_v2'])
    expect(await getFlag(s.app, 'copilot_v2')).toMatchObject({ model: 2, rules: [{ id: 'dutch-pro' }, { serve: { percentage: 25 } }] })

    // The second rule got an id from the service; the file, which has none for it, still plans clean.
    expect((await flagctl(['plan', path], { url: s.url })).code).toBe(0)
    const exported = parse((await flagctl(['export'], { url: s.url })).stdout) as { flags: Flag[]; segments: Record<string, unknown>[] }
    expect(exported.segments).toEqual([
      {
        key: 'staff',
        description: '',
        clauses: [{ attribute: 'email', operator: 'ends_with', values: ['@example.com'] }],
        excludedUsers: [],
        excludedTenants: [],
        users: ['carol', 'dave'],
        tenants: [],
      },
    ])
    expect(exported.flags.find((f) => f.key === 'copilot_v2')!.rules!.map((r) => r.id)).toEqual(['dutch-pro', expect.any(String)])
  })

  it('changes a large segment by ids added and removed, at most 10,000 a request, and deletes a segment after the flags stop naming it', async () => {
    const s = await service(SEED)
    const ids = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `u${from + i}`)
    await call(s.app, 'POST', '/segments', { body: { key: 'big', users: ids(0, 10_000) }, expected: 201 })
    await call(s.app, 'POST', '/segments', { body: { key: 'staff', description: 'old' }, expected: 201 })
    await updateFlag(s.app, 'copilot_v2', { rules: [{ id: 'staff-only', clauses: [{ operator: 'in_segment', values: ['staff'] }], serve: { enabled: true } }] })
    const before = segmentWrites(s).length
    // 4,000 removed and 8,000 added: two requests, and no PATCH (nothing else changed).
    const path = await file('big.json', JSON.stringify({ version: 1, flags: [{ key: 'copilot_v2' }], segments: [{ key: 'big', users: ids(4_000, 18_000) }] }))
    const applied = await flagctl(['apply', path, '--yes', '--prune'], { url: s.url })
    expect(applied.code, applied.stderr).toBe(0)
    expect(applied.stdout).toMatch(/segment big +update +version 1: users: 8,000 added \(\+u10000 .*\), 4,000 removed \(-u0 .*\)$/m)
    const writes = segmentWrites(s)
      .slice(before)
      .map((r) => `${r.method} ${r.path}`)
    expect(writes).toEqual(['POST /segments/big/targets', 'POST /segments/big/targets', 'DELETE /segments/staff'])
    // The flag stopped naming staff before staff was deleted.
    const order = s.requests.map((r) => `${r.method} ${r.path}`)
    expect(order.indexOf('PATCH /flags/copilot_v2')).toBeLessThan(order.indexOf('DELETE /segments/staff'))
    expect((await call(s.app, 'GET', '/segments/big', { expected: 200 })).json().users).toHaveLength(14_000)
    expect((await flagctl(['plan', path, '--prune'], { url: s.url })).code).toBe(0)
  })

  it('refuses a rule naming a segment that neither the file nor the service holds, before writing anything', async () => {
    const s = await service(SEED)
    const seeded = s.requests.length
    const path = await file('ghost.yaml', TARGETED.replace('values: [staff]', 'values: [ghost]'))
    const result = await flagctl(['apply', path, '--yes'], { url: s.url })
    expect(result.code).toBe(1)
    expect(result.stderr).toContain("flags[0] (copilot_v2) names segment 'ghost', which neither the file nor the service holds")
    expect(s.requests.slice(seeded).filter((r) => r.method !== 'GET')).toEqual([])
  })
})

describe('read-your-writes (issue 15)', () => {
  it('each request after a write asks for the revision that write returned, and --min-revision asks for one by hand', async () => {
    const s = await service([])
    const path = await file('two.yaml', 'version: 1\nflags:\n  - key: first_one\n  - key: second_one\n')
    expect((await flagctl(['apply', path, '--yes'], { url: s.url })).code).toBe(0)
    const writes = s.requests.filter((r) => r.method === 'POST' && r.path === '/flags')
    expect(writes).toHaveLength(2)
    expect(writes[0]!.minRevision).toBeUndefined()
    // The second create asks for the revision the first returned: the one before the last.
    const revision = Number((await s.app.inject({ method: 'GET', url: '/healthz' })).headers['x-switchyard-revision'])
    expect(Number(writes[1]!.minRevision)).toBe(revision - 1)

    const ahead = await flagctl(['get', 'first_one', '--min-revision', String(revision + 1000)], { url: s.url })
    expect(ahead.code).toBe(2)
    expect(ahead.stderr).toContain('503 STALE_REPLICA')
    expect(s.requests.at(-1)).toMatchObject({ method: 'GET', path: '/flags/first_one', minRevision: String(revision + 1000) })
    const invalid = await flagctl(['get', 'first_one', '--min-revision', 'latest'], { url: s.url })
    expect(invalid.code).toBe(1)
    expect(invalid.stderr).toContain('must be a revision')
  })
})
