// CLI test helpers: compile flagctl once per source change, run it as a real process, and serve
// the real API on 127.0.0.1 for it to talk to.
import { execFile, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdir, readdir, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { buildApp, type AppDeps } from '../../packages/server/src/app.js'
import { defaultConfig, type Config } from '../../packages/server/src/config.js'
import { MemoryStore } from '../../packages/server/src/store/memory.js'
import { ADMIN, REPO_ROOT } from './helpers.js'

// Compiled output lives under node_modules/.cache, keyed by a hash of everything that goes into
// it: `tsc` runs only when a source changed (a few seconds), and each run then costs what the
// installed bin costs. flagctl and @switchyard/core compile together, and a package.json plus a
// node_modules link in the output make `@switchyard/core/…` resolve to that compiled copy.
const CACHE = join(REPO_ROOT, 'node_modules', '.cache', 'flagctl-test')
const PACKAGES = ['core', 'flagctl']
const INPUTS = ['package.json', 'tsconfig.json', 'tsconfig.base.json', 'test/support/cli-helpers.ts', ...PACKAGES.map((p) => `packages/${p}/package.json`)]
const STALE_MS = 60 * 60 * 1000

async function sourceHash(): Promise<string> {
  const sources = await Promise.all(
    PACKAGES.map(async (p) => (await readdir(join(REPO_ROOT, 'packages', p, 'src'), { recursive: true })).map((f) => join('packages', p, 'src', f))),
  )
  const files = [...INPUTS, ...sources.flat()].sort()
  const hash = createHash('sha256')
  for (const file of files) {
    if (!(await stat(join(REPO_ROOT, file))).isFile()) continue
    hash
      .update(file)
      .update('\0')
      .update(await readFile(join(REPO_ROOT, file)))
      .update('\0')
  }
  return hash.digest('hex').slice(0, 16)
}

let built: Promise<string> | undefined

/** The path of flagctl compiled from the current sources, as `npm run build` compiles it. */
export function flagctlBin(): Promise<string> {
  built ??= (async () => {
    const dir = join(CACHE, await sourceHash())
    const bin = join(dir, 'packages', 'flagctl', 'src', 'flagctl.js')
    if (await stat(bin).catch(() => null)) return bin
    await mkdir(CACHE, { recursive: true })
    const tmp = `${dir}.${process.pid}.tmp`
    const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
    // Every core file is named: tsc does not emit files it reaches through node_modules.
    const core = (await readdir(join(REPO_ROOT, 'packages', 'core', 'src'), { recursive: true })).filter((f) => f.endsWith('.ts'))
    // --noCheck: `npm run typecheck` is where types are checked; here only the emit matters.
    await promisify(execFile)(
      process.execPath,
      [
        tsc,
        ...['--module', 'nodenext', '--target', 'es2022', '--customConditions', 'source', '--esModuleInterop', '--skipLibCheck', '--resolveJsonModule'],
        ...['--rootDir', '.', '--outDir', tmp, '--noCheck', 'packages/flagctl/src/flagctl.ts', ...core.map((f) => join('packages', 'core', 'src', f))],
      ],
      { cwd: REPO_ROOT },
    )
    const corePackage = JSON.parse(await readFile(join(REPO_ROOT, 'packages', 'core', 'package.json'), 'utf8')) as Record<string, unknown>
    await writeFile(join(tmp, 'packages', 'core', 'package.json'), JSON.stringify({ ...corePackage, exports: { './*': './src/*.js' } }))
    await writeFile(join(tmp, 'packages', 'flagctl', 'package.json'), JSON.stringify({ type: 'module' }))
    await mkdir(join(tmp, 'node_modules', '@switchyard'), { recursive: true })
    await symlink(join('..', '..', 'packages', 'core'), join(tmp, 'node_modules', '@switchyard', 'core'))
    // Another test file may have finished the same build first; either copy will do.
    await rename(tmp, dir).catch(() => rm(tmp, { recursive: true, force: true }))
    // Builds of older sources go once nobody can still be running them.
    for (const entry of await readdir(CACHE)) {
      const path = join(CACHE, entry)
      const age = Date.now() - ((await stat(path).catch(() => null))?.mtimeMs ?? Date.now())
      if (path !== dir && age > STALE_MS) await rm(path, { recursive: true, force: true })
    }
    return bin
  })()
  return built
}

export interface Run {
  code: number | null
  stdout: string
  stderr: string
}

/**
 * Runs flagctl with only SWITCHYARD_URL/SWITCHYARD_TOKEN (plus PATH) in its environment. Asynchronous
 * on purpose: the service it talks to lives in this process. stdin is a pipe, never a terminal.
 */
export async function flagctl(
  args: string[],
  options: { url?: string; token?: string | null; env?: Record<string, string>; input?: string } = {},
): Promise<Run> {
  const bin = await flagctlBin()
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', ...(options.url ? { SWITCHYARD_URL: options.url } : {}), ...options.env }
  if (options.token !== null) env.SWITCHYARD_TOKEN = options.token ?? ADMIN
  const child = spawn(process.execPath, [bin, ...args], { cwd: REPO_ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  child.stdin.end(options.input ?? '')
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', resolve)
  })
  return { code, stdout, stderr }
}

export interface Service {
  app: FastifyInstance
  url: string
  /**
   * Runs `hook` once, when the next request matching `method path` has been answered but
   * before the answer is sent: a deterministic way to change state between a client's read and
   * its write.
   */
  afterRead(method: string, path: string, hook: () => Promise<void>): void
  /** Every request answered, with the X-Switchyard-Min-Revision it asked for. */
  readonly requests: { method: string; path: string; minRevision?: string }[]
  close(): Promise<void>
}

/** The real API on a memory store, listening on 127.0.0.1 on a free port; `deps.clock` moves the service's time (schedules). */
export async function serve(overrides: Partial<Config> = {}, deps: Pick<AppDeps, 'clock'> = {}): Promise<Service> {
  const app = await buildApp(defaultConfig({ logLevel: 'silent', adminToken: ADMIN, ...overrides }), { store: new MemoryStore(), ...deps })
  const pending: { matches(request: FastifyRequest): boolean; hook: () => Promise<void> }[] = []
  const requests: Service['requests'] = []
  app.addHook('onSend', async (request, _reply, payload) => {
    const minRevision = request.headers['x-switchyard-min-revision']
    requests.push({ method: request.method, path: request.url.split('?')[0]!, minRevision: typeof minRevision === 'string' ? minRevision : undefined })
    const i = pending.findIndex((p) => p.matches(request))
    if (i >= 0) await pending.splice(i, 1)[0]!.hook()
    return payload
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  await app.switchyard.sync.start()
  const { port } = app.server.address() as { port: number }
  return {
    app,
    url: `http://127.0.0.1:${port}`,
    requests,
    afterRead(method, path, hook) {
      pending.push({ matches: (r) => r.method === method && r.url.split('?')[0] === path, hook })
    },
    close: () => app.close(),
  }
}

/** A write made behind the CLI's back, as another operator would make it. */
export async function concurrentEdit(app: FastifyInstance, key: string, patch: Record<string, unknown>): Promise<void> {
  await app.switchyard.flags.update(key, patch, undefined, { id: 'tok_other_operator', name: 'other-operator', requestId: 'concurrent', log: app.log })
}
