// flagctl's imperative commands, run as real processes against a real listening service.
import { spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Flag } from '../../packages/core/src/flags/schema.js'
import type { Segment, SegmentSummary } from '../../packages/core/src/segments/schema.js'
import { ADMIN, call, createFlag, getFlag, listAudit, tempDir } from '../support/helpers.js'
import { freePort } from '../support/process.js'
import { concurrentEdit, flagctl, flagctlBin, serve, type Run, type Service } from '../support/cli-helpers.js'

let service: Service
const run = (args: string[], options: Parameters<typeof flagctl>[1] = {}) => flagctl(args, { url: service.url, ...options })
const json = <T = Record<string, unknown>>(result: Run): T => {
  expect(result.code, result.stderr).toBe(0)
  return JSON.parse(result.stdout) as T
}

// Compiling flagctl (only after a source changed) can take a while on a busy machine.
beforeAll(async () => {
  ;[service] = await Promise.all([serve(), flagctlBin()])
}, 120_000)
afterAll(() => service.close())

describe('flagctl --help', () => {
  it('lists every command with the environment and exit codes, and each command has its own help', async () => {
    const [root, rollout] = await Promise.all([run(['--help']), run(['rollout', '--help'])])
    expect(root.code).toBe(0)
    for (const command of [
      'list',
      'get',
      'create',
      'enable',
      'disable',
      'rollout',
      'beta',
      'delete',
      'evaluate',
      'audit',
      'tokens',
      'export',
      'plan',
      'apply',
      'fleet',
      'reseed',
      'accept-store',
      'segments',
      'variants',
      'schedule',
    ]) {
      expect(root.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'))
    }
    expect(root.stdout).toContain('SWITCHYARD_TOKEN')
    expect(root.stdout).toContain('10 plan found changes')
    expect(rollout.code).toBe(0)
    expect(rollout.stdout).toMatch(/Usage: flagctl rollout \[options\] <key> \[percent\]/)
    expect(rollout.stdout).toContain('--stickiness <field>')
    expect(rollout.stdout).toContain('--ramp <from..to>')
    expect(rollout.stdout).toContain('flagctl rollout copilot_v2 --steps 1,5,25,50,100 --every 1d')
  })
})

describe('usage errors', () => {
  it('exit 1 with a message, before anything reaches the API', async () => {
    const results = await Promise.all([
      run(['frobnicate']),
      run(['rollout', 'usage_flag', 'half']),
      run(['rollout', 'usage_flag', '5', '--stickiness', 'deviceId']),
      run(['beta', 'usage_flag', 'add']),
      run(['list'], { token: null }),
      run(['list', '--url', 'ftp://example.com']),
    ])
    expect(results.map((r) => r.code)).toEqual([1, 1, 1, 1, 1, 1])
    expect(results[0]!.stderr).toContain("unknown command 'frobnicate'")
    expect(results[1]!.stderr).toContain('must be a number from 0 to 100')
    expect(results[2]!.stderr).toContain('Allowed choices are userId, tenantId')
    expect(results[3]!.stderr).toContain('at least one --user or --tenant')
    expect(results[4]!.stderr).toContain('set SWITCHYARD_TOKEN')
    expect(results[5]!.stderr).toContain('http:// or https://')
    expect((await listAudit(service.app)).events).toEqual([])
  })
})

describe('flags', () => {
  it('creates, reads and lists flags, as tables and as JSON; the API refusing exits 2 with its message', async () => {
    const created = json<Flag>(await run(['create', 'cli_created', '--description', 'made by flagctl', '--tag', 'ai', '--tag', 'beta', '--json']))
    expect(created).toMatchObject({ key: 'cli_created', state: 'disabled', description: 'made by flagctl', tags: ['ai', 'beta'], version: 1 })

    const [again, got, table, listed, missing] = await Promise.all([
      run(['create', 'cli_created']),
      run(['get', 'cli_created', '--json']),
      run(['list']),
      run(['list', '--json', '--state', 'disabled', '--tag', 'beta']),
      run(['get', 'no_such_flag']),
    ])
    expect(again.code).toBe(2)
    expect(again.stderr).toContain("409 FLAG_EXISTS): flag 'cli_created' already exists")
    expect(json(got)).toEqual(created)
    expect(table.code).toBe(0)
    expect(table.stdout).toMatch(/^KEY +STATE +ROLLOUT +BETA +VERSION +TAGS$/m)
    expect(table.stdout).toMatch(/^cli_created +disabled +- +0 users, 0 tenants +1 +ai,beta$/m)
    expect(json<{ flags: Flag[] }>(listed).flags.map((f) => f.key)).toEqual(['cli_created'])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain("flag 'no_such_flag' does not exist")
  })

  it('enables, disables and rolls out, each write based on the version it read, and edits beta ids in one atomic step', async () => {
    await createFlag(service.app, { key: 'cli_toggle', betaUsers: ['keep'] })
    expect(json<Flag>(await run(['enable', 'cli_toggle', '--json']))).toMatchObject({ state: 'enabled', version: 2 })
    expect(json<Flag>(await run(['disable', 'cli_toggle', '--json']))).toMatchObject({ state: 'disabled', version: 3 })
    expect(json<Flag>(await run(['rollout', 'cli_toggle', '25%', '--stickiness', 'tenantId', '--json']))).toMatchObject({
      state: 'percentage',
      percentage: 25,
      stickiness: 'tenantId',
    })
    expect(json<Flag>(await run(['beta', 'cli_toggle', 'add', '--user', 'alice', '--user', 'keep', '--tenant', 'acme', '--json']))).toMatchObject({
      betaUsers: ['keep', 'alice'],
      betaTenants: ['acme'],
    })
    expect(json<Flag>(await run(['beta', 'cli_toggle', 'remove', '--user', 'keep', '--json']))).toMatchObject({ betaUsers: ['alice'], betaTenants: ['acme'] })

    const tooFar = await run(['rollout', 'cli_toggle', '150'])
    expect(tooFar.code).toBe(2)
    expect(tooFar.stderr).toContain('body.percentage must be <= 100')
    expect(await getFlag(service.app, 'cli_toggle')).toMatchObject({ percentage: 25, version: 6 })
  })

  it('reports a change made between its read and its write instead of overwriting it', async () => {
    await createFlag(service.app, { key: 'cli_raced' })
    service.afterRead('GET', '/flags/cli_raced', () => concurrentEdit(service.app, 'cli_raced', { state: 'beta_users', betaUsers: ['someone'] }))
    const raced = await run(['enable', 'cli_raced'])
    expect(raced.code).toBe(2)
    expect(raced.stderr).toContain('412 VERSION_MISMATCH')
    expect(await getFlag(service.app, 'cli_raced')).toMatchObject({ state: 'beta_users', betaUsers: ['someone'], version: 2 })
  })

  it('evaluates a flag for a user and a tenant', async () => {
    await createFlag(service.app, { key: 'cli_eval', state: 'beta_users', betaTenants: ['acme'] })
    const [asJson, asText, unknown] = await Promise.all([
      run(['evaluate', 'cli_eval', '--user', 'u1', '--tenant', 'acme', '--json']),
      run(['evaluate', 'cli_eval', '--user', 'u1']),
      run(['evaluate', 'nope_flag', '--user', 'u1']),
    ])
    expect(json(asJson)).toEqual({ flag: 'cli_eval', enabled: true, reason: 'beta_tenant', version: 1 })
    expect(asText.stdout).toBe('cli_eval is off (reason: not_targeted, version 1)\n')
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('404 FLAG_NOT_FOUND')
  })

  it('deletes a flag at the version it read; deleting it again is refused', async () => {
    await createFlag(service.app, { key: 'cli_doomed' })
    expect(json(await run(['delete', 'cli_doomed', '--json']))).toEqual({ deleted: 'cli_doomed', version: 1 })
    const again = await run(['delete', 'cli_doomed'])
    expect(again.code).toBe(2)
    expect(again.stderr).toContain("flag 'cli_doomed' does not exist")
  })

  // On a terminal (util-linux `script` gives flagctl one), a delete asks first.
  it('asks before deleting on a terminal: anything but yes keeps the flag; --yes skips the question', async () => {
    await createFlag(service.app, { key: 'cli_asked' })
    const bin = await flagctlBin()
    const onTerminal = (args: string, answer: string) =>
      new Promise<{ code: number | null; output: string }>((resolve, reject) => {
        const child = spawn('script', ['-qec', `${process.execPath} ${bin} ${args}`, '/dev/null'], {
          env: { PATH: process.env.PATH ?? '', SWITCHYARD_URL: service.url, SWITCHYARD_TOKEN: ADMIN },
          stdio: ['pipe', 'pipe', 'pipe'],
        })
        let output = ''
        for (const stream of [child.stdout, child.stderr]) stream.on('data', (chunk: Buffer) => (output += chunk.toString()))
        // The answer once the question is on the screen.
        child.stdout.on('data', () => output.includes('[y/N]') && child.stdin.end(answer))
        child.on('error', (err) => reject(new Error(`script (util-linux) is needed to give flagctl a terminal: ${err.message}`)))
        // Readline's line editing on a terminal: cursor moves and attributes, not text.
        // eslint-disable-next-line no-control-regex
        child.on('close', (code) => resolve({ code, output: output.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '') }))
      })
    const kept = await onTerminal('delete cli_asked', 'n\n')
    expect(kept.output).toMatch(/Delete cli_asked \(version 1\) from http:\/\/127\.0\.0\.1:\d+\/?\? \[y\/N\]/)
    expect(kept.output).toContain('not deleted: cancelled')
    expect(kept.code).toBe(1)
    await getFlag(service.app, 'cli_asked')
    const deleted = await onTerminal('delete cli_asked --yes', '')
    expect(deleted.output).not.toContain('[y/N]')
    expect(deleted.code).toBe(0)
    await getFlag(service.app, 'cli_asked', 404)
  })
})

describe('segments', () => {
  const dir = tempDir('flagctl-segments-')
  afterAll(() => dir.remove())
  const targets = () => service.requests.filter((r) => r.method === 'POST' && r.path === '/segments/cli-beta/targets').length

  it('creates, lists, gets, adds and removes members, ids from flags and files in requests of at most 10,000', async () => {
    const ids = join(dir.path, 'ids.txt')
    await writeFile(ids, Array.from({ length: 12_000 }, (_, i) => `u${i}`).join('\n') + '\n\n')
    const created = json<SegmentSummary>(
      await run([
        'segments',
        'create',
        'cli-beta',
        '--description',
        'Early access',
        '--users',
        'alice,bob',
        '--users-file',
        ids,
        '--tenants',
        'acme',
        '--json',
      ]),
    )
    expect(created).toMatchObject({ key: 'cli-beta', description: 'Early access', userCount: 12_002, tenantCount: 1 })
    // The create carried 10,000 ids, one addition the rest.
    expect(targets()).toBe(1)

    const [listed, got, text] = await Promise.all([
      run(['segments', 'list', '--json']),
      run(['segments', 'get', 'cli-beta', '--json']),
      run(['segments', 'list']),
    ])
    expect(json<{ segments: SegmentSummary[] }>(listed).segments.map((s) => [s.key, s.userCount])).toEqual([['cli-beta', 12_002]])
    expect(json<Segment>(got).users).toHaveLength(12_002)
    expect(text.stdout).toMatch(/^cli-beta +12,002 users, 1 tenant +- +- +\d+ +Early access$/m)

    const removed = json<SegmentSummary>(await run(['segments', 'remove', 'cli-beta', '--users-file', ids, '--json']))
    expect(removed).toMatchObject({ userCount: 2, tenantCount: 1 })
    expect(targets()).toBe(3)
    expect(json<SegmentSummary>(await run(['segments', 'add', 'cli-beta', '--users', 'carol', '--json']))).toMatchObject({ userCount: 3 })
    expect((await run(['segments', 'get', 'cli-beta'])).stdout).toMatch(/^users: +3 ids: alice, bob, carol$/m)
  })

  it('refuses to delete a segment a flag names (the API says which), and deletes it once none does', async () => {
    await call(service.app, 'POST', '/segments', { body: { key: 'cli-doomed' }, expected: 201 })
    await createFlag(service.app, {
      key: 'cli_uses_segment',
      rules: [{ clauses: [{ operator: 'in_segment', values: ['cli-doomed'] }], serve: { enabled: true } }],
    })
    const refused = await run(['segments', 'delete', 'cli-doomed', '--yes'])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain('409 SEGMENT_IN_USE')
    expect(refused.stderr).toContain('cli_uses_segment')
    await call(service.app, 'DELETE', '/flags/cli_uses_segment', { expected: 204 })
    expect(json(await run(['segments', 'delete', 'cli-doomed', '--json']))).toMatchObject({ deleted: 'cli-doomed' })
  })
})

describe('rules (targeting v2)', () => {
  it('evaluates with attributes, naming the rule that decided, and explains the steps', async () => {
    await createFlag(service.app, {
      key: 'cli_rules',
      state: 'beta_users',
      rules: [
        {
          id: 'dutch-pro',
          clauses: [
            { attribute: 'country', operator: 'in', values: ['NL'] },
            { attribute: 'seats', operator: 'gte', values: [10] },
          ],
          serve: { enabled: true },
        },
      ],
    })
    const [matched, explained] = await Promise.all([
      run(['evaluate', 'cli_rules', '--user', 'u1', '--attr', 'country=NL', '--attr', 'seats=12']),
      run(['evaluate', 'cli_rules', '--user', 'u1', '--attr', 'country=DE', '--explain']),
    ])
    expect(matched.stdout).toBe('cli_rules is on (reason: rule_match, rule dutch-pro, version 1)\n')
    expect(explained.stdout).toMatch(/^cli_rules is off \(reason: not_targeted, version 1\)\n {2}state beta_users \(model 2\)\n {2}beta users: u1 not listed\n/)
    expect(explained.stdout).toMatch(/^ {2}rule dutch-pro: no match at clause 1 \(country in\): not_matched: .+$/m)
  })
})

describe('audit', () => {
  it('shows the trail of one flag, newest first, with each change', async () => {
    await createFlag(service.app, { key: 'cli_audited' })
    await run(['rollout', 'cli_audited', '10'])
    const [asJson, asTable] = await Promise.all([run(['audit', 'cli_audited', '--json']), run(['audit', 'cli_audited', '--limit', '1'])])
    const { events } = json<{ events: { action: string; actor: string; flag: string }[] }>(asJson)
    expect(events.map((e) => e.action)).toEqual(['flag.updated', 'flag.created'])
    expect(events.every((e) => e.flag === 'cli_audited' && e.actor === 'bootstrap')).toBe(true)
    expect(asTable.stdout).toMatch(/flag\.updated +cli_audited +2 +state: "disabled" → "percentage"; percentage: 0 → 10$/m)
    expect(asTable.stdout).not.toContain('flag.created')
  })
})

describe('tokens', () => {
  it('creates a token whose secret works, lists it without the secret, and revokes it', async () => {
    const created = json<{ id: string; token: string; scope: string }>(await run(['tokens', 'create', 'ci-reader', '--json']))
    expect(created.scope).toBe('evaluate')
    expect((await fetch(`${service.url}/flags`, { headers: { authorization: `Bearer ${created.token}` } })).status).toBe(200)

    const listed = await run(['tokens', 'list', '--json'])
    expect(json<{ tokens: { id: string }[] }>(listed).tokens.map((t) => t.id)).toContain(created.id)
    expect(listed.stdout).not.toContain(created.token)

    expect(json(await run(['tokens', 'revoke', created.id, '--json']))).toEqual({ revoked: created.id })
    expect((await fetch(`${service.url}/flags`, { headers: { authorization: `Bearer ${created.token}` } })).status).toBe(401)
    const [again, withRevoked] = await Promise.all([run(['tokens', 'revoke', created.id]), run(['list'], { token: created.token })])
    expect(again.code).toBe(2)
    expect(again.stderr).toContain('404 TOKEN_NOT_FOUND')
    expect(withRevoked.code).toBe(2)
    expect(withRevoked.stderr).toContain('401 UNAUTHORIZED')
  })
})

describe('the fleet (issue 15)', () => {
  it('shows the live replicas, and refuses to recover a store that lost nothing', async () => {
    const fleet = json<{ consistent: boolean; replicas: { self: boolean }[] }>(await run(['fleet', '--json']))
    expect(fleet.consistent).toBe(true)
    expect(fleet.replicas.filter((r) => r.self)).toHaveLength(1)
    expect((await run(['fleet'])).stdout).toMatch(/^REPLICA +EPOCH +REVISION +LAG +STATE HASH/m)
    const reseed = await run(['reseed'])
    expect(reseed.code).toBe(2)
    expect(reseed.stderr).toContain('409 STORE_NOT_DIVERGED')
    const unconfirmed = await run(['accept-store'])
    expect(unconfirmed.code).toBe(1)
    expect(unconfirmed.stderr).toContain('pass --yes')
  })
})

describe('connection failures', () => {
  it('exits 3 when the API cannot be reached and 2 when it refuses the token, never printing the token', async () => {
    const closedPort = await freePort()
    const secret = 'never-print-this-secret-value'
    const [unreachable, refused] = await Promise.all([
      run(['list'], { url: `http://127.0.0.1:${closedPort}`, token: secret }),
      run(['enable', 'cli_created'], { token: secret }),
    ])
    expect(unreachable.code).toBe(3)
    expect(unreachable.stderr).toContain(`cannot reach the API (GET http://127.0.0.1:${closedPort}/flags): ECONNREFUSED`)
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain('401 UNAUTHORIZED')
    for (const output of [unreachable.stdout, unreachable.stderr, refused.stdout, refused.stderr]) {
      expect(output).not.toContain(secret)
      expect(output).not.toContain(ADMIN)
    }
  })
})
