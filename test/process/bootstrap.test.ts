import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { loadConfig } from '../../packages/server/src/config.js'
import { BOOTSTRAP_ACTOR } from '../../packages/server/src/flags/bootstrap.js'
import type { Flag } from '../../packages/core/src/flags/schema.js'
import { FileStore } from '../../packages/server/src/store/file.js'
import { MemoryStore } from '../../packages/server/src/store/memory.js'
import { ADMIN, createFlag, deleteFlag, getFlag, listAudit, listFlags, spawnServer, startApp, tempDir } from '../support/helpers.js'

const EXAMPLE = 'examples/flags.yaml'
const EXAMPLE_KEYS = ['advanced_code_review', 'ai_response_caching', 'copilot_v2', 'distributed_tracing']
const BAD = 'version: 1\nflags:\n  - key: fine\n  - key: too_far\n    percentage: 150\n'

const apps: FastifyInstance[] = []
const dirs: { remove(): void }[] = []
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()))
  for (const dir of dirs.splice(0)) dir.remove()
})

async function start(flagsBootstrapFile: string | undefined, store = new MemoryStore()) {
  const app = await startApp({ flagsBootstrapFile }, { store })
  apps.push(app)
  return app
}

function dir() {
  const d = tempDir('bootstrap-')
  dirs.push(d)
  return d.path
}

const keys = async (app: FastifyInstance) => (await listFlags(app)).flags.map((f: Flag) => f.key)

describe('FLAGS_BOOTSTRAP_FILE', () => {
  it('creates the segments of the file before the flags whose rules name them', async () => {
    const path = join(dir(), 'targeted.yaml')
    writeFileSync(
      path,
      [
        'version: 1',
        'segments:',
        '  - key: staff',
        '    users: [carol]',
        '    clauses: [{ attribute: email, operator: ends_with, values: ["@example.com"] }]',
        'flags:',
        '  - key: internal_tools',
        '    state: beta_users',
        '    rules: [{ id: staff, clauses: [{ operator: in_segment, values: [staff] }], serve: { enabled: true } }]',
        '',
      ].join('\n'),
    )
    const app = await start(path)
    expect((await app.inject({ method: 'GET', url: '/segments/staff', headers: { authorization: `Bearer ${ADMIN}` } })).json()).toMatchObject({
      users: ['carol'],
      updatedBy: BOOTSTRAP_ACTOR,
    })
    const evaluate = (context: Record<string, unknown>) =>
      app.inject({ method: 'POST', url: '/evaluate', headers: { authorization: `Bearer ${ADMIN}` }, payload: { flag: 'internal_tools', context } })
    expect((await evaluate({ attributes: { email: 'dave@example.com' } })).json()).toMatchObject({ enabled: true, reason: 'rule_match', ruleId: 'staff' })
    expect((await evaluate({ userId: 'carol' })).json()).toMatchObject({ enabled: true })
    expect((await evaluate({ userId: 'erin' })).json()).toMatchObject({ enabled: false, reason: 'not_targeted' })
  })

  it('is read from the environment', () => {
    expect(loadConfig({ FLAGS_BOOTSTRAP_FILE: EXAMPLE }).flagsBootstrapFile).toBe(EXAMPLE)
    expect(loadConfig({}).flagsBootstrapFile).toBeUndefined()
  })

  it('loads examples/flags.yaml into an empty store before the service reports ready', async () => {
    const app = await startApp({ flagsBootstrapFile: EXAMPLE }, { load: false })
    apps.push(app)
    const readyWhenCreated: boolean[] = []
    app.switchyard.flags.onChange(() => readyWhenCreated.push(app.switchyard.sync.ready))
    await app.switchyard.sync.start()
    expect(readyWhenCreated).toEqual([false, false, false, false, false])
    expect(await keys(app)).toEqual(EXAMPLE_KEYS)
    expect(await getFlag(app, 'copilot_v2')).toMatchObject({
      state: 'percentage',
      percentage: 50,
      betaUsers: ['tenant-admin'],
      version: 1,
      updatedBy: BOOTSTRAP_ACTOR,
    })
    const { events } = await listAudit(app)
    expect(events.map((e: { action: string; actor: string; actorId: string }) => `${e.action} ${e.actor} ${e.actorId}`)).toEqual(
      EXAMPLE_KEYS.map(() => `flag.created ${BOOTSTRAP_ACTOR} ${BOOTSTRAP_ACTOR}`),
    )
  })

  it('never loads over existing state', async () => {
    const data = dir()
    const first = await start(undefined, new FileStore(data))
    await createFlag(first, { key: 'mine', state: 'enabled' })
    await first.close()

    const second = await start(EXAMPLE, new FileStore(data))
    expect(await keys(second)).toEqual(['mine'])
  })

  it('loads only once: flags deleted afterwards stay deleted across restarts', async () => {
    const data = dir()
    const first = await start(EXAMPLE, new FileStore(data))
    for (const key of EXAMPLE_KEYS) await deleteFlag(first, key)
    await first.close()

    const second = await start(EXAMPLE, new FileStore(data))
    expect(await keys(second)).toEqual([])
  })

  it('creates each flag once when two replicas bootstrap the same empty store together', async () => {
    const store = new MemoryStore()
    await Promise.all([start(EXAMPLE, store), start(EXAMPLE, store)])
    const snapshot = await store.load()
    expect(snapshot.flags.map((f) => `${f.key}@${f.version}`).sort()).toEqual(EXAMPLE_KEYS.map((k) => `${k}@1`))
  })

  it('refuses to start on an invalid file, naming the line and the entry, and creates nothing', async () => {
    const bad = join(dir(), 'bad.yaml')
    writeFileSync(bad, BAD)
    const store = new MemoryStore()
    const app = await startApp({ flagsBootstrapFile: bad }, { store, load: false })
    apps.push(app)
    await expect(app.switchyard.sync.start()).rejects.toThrow(
      `FLAGS_BOOTSTRAP_FILE is not a valid flags file:\n${bad}:5:17: flags[1].percentage must be <= 100`,
    )
    expect(app.switchyard.sync.ready).toBe(false)
    expect((await store.load()).flags).toEqual([])

    // Also when the store already holds state: a broken file is found now, not the day it is needed.
    const holding = new MemoryStore()
    await createFlag(await start(undefined, holding), { key: 'mine' })
    const missing = await startApp({ flagsBootstrapFile: join(dir(), 'missing.yaml') }, { store: holding, load: false })
    apps.push(missing)
    await expect(missing.switchyard.sync.start()).rejects.toThrow(/missing\.yaml: cannot read it \(ENOENT\)/)
  })

  it('stops the real server with exit code 1 and the problem on stderr', async () => {
    const data = dir()
    const bad = join(data, 'bad.yaml')
    writeFileSync(bad, BAD)
    const server = await spawnServer({ FLAGS_BOOTSTRAP_FILE: bad, DATA_DIR: data, ADMIN_TOKEN: ADMIN, LOG_LEVEL: 'fatal' })
    expect(await server.exited).toBe(1)
    expect(server.stderr()).toContain(`${bad}:5:17: flags[1].percentage must be <= 100`)
  })
})
