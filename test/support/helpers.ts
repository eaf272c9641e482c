// Test helpers: build an app on a memory store, name the API actions tests perform, capture
// log lines, and run the real server as a child process.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { expect } from 'vitest'
import { listeningPorts } from './process.js'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { buildApp, type AppDeps } from '../../packages/server/src/app.js'
import { defaultConfig, type Config } from '../../packages/server/src/config.js'
import type { Scope } from '../../packages/core/src/auth/schema.js'
import type { FileStore } from '../../packages/server/src/store/file.js'
import type { StoreEvent } from '../../packages/server/src/store/store.js'
import { MemoryStore } from '../../packages/server/src/store/memory.js'

export const ADMIN = 'test-admin-token-0123456789'

/** A memory store whose notifications the test sends, as another replica's commits would arrive. */
export class NotifyingStore extends MemoryStore {
  private listener?: (event: StoreEvent) => void
  override subscribe(listener: (event: StoreEvent) => void): void {
    this.listener = listener
  }
  notify(event: StoreEvent): void {
    this.listener!(event)
  }
}
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url))

export interface TestApp {
  app: FastifyInstance
  close(): Promise<void>
}

/** An app with its state loaded; `load: false` leaves it still loading (not ready). */
export async function startApp(overrides: Partial<Config> = {}, deps: AppDeps & { load?: boolean } = {}): Promise<FastifyInstance> {
  // The auth-failure limit would turn the 401s that suites provoke on purpose into 429s; the
  // suites about it (auth-abuse) turn it back on.
  const config = defaultConfig({ logLevel: 'silent', adminToken: ADMIN, authFailureLimit: 0, ...overrides })
  const app = await buildApp(config, { store: deps.store ?? new MemoryStore(), ...deps })
  await app.ready()
  if (deps.load !== false) await app.switchyard.sync.start()
  return app
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

type Body = Record<string, unknown> | unknown[] | string
type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE'

export async function call(
  app: FastifyInstance,
  method: Method,
  url: string,
  opts: { token?: string | null; body?: Body; headers?: Record<string, string>; expected?: number } = {},
): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = { ...(opts.token === null ? {} : bearer(opts.token ?? ADMIN)), ...opts.headers }
  const res = await app.inject({
    method,
    url,
    headers,
    ...(opts.body === undefined
      ? {}
      : typeof opts.body === 'string'
        ? { payload: opts.body, headers: { 'content-type': 'application/json', ...headers } }
        : { payload: opts.body as object }),
  })
  if (opts.expected !== undefined) expect(res.statusCode, res.body).toBe(opts.expected)
  return res
}

const query = (params: Record<string, string | number | undefined>) => {
  const defined = Object.entries(params).filter((e): e is [string, string | number] => e[1] !== undefined)
  return defined.length ? `?${new URLSearchParams(defined.map(([k, v]) => [k, String(v)]))}` : ''
}

export async function createFlag(app: FastifyInstance, body: Record<string, unknown>, expected = 201, token?: string) {
  return (await call(app, 'POST', '/flags', { body, expected, token })).json()
}

export async function updateFlag(app: FastifyInstance, key: string, body: Record<string, unknown>, expected = 200, headers?: Record<string, string>) {
  return (await call(app, 'PATCH', `/flags/${key}`, { body, expected, headers })).json()
}

export async function deleteFlag(app: FastifyInstance, key: string, expected = 204, headers?: Record<string, string>) {
  return call(app, 'DELETE', `/flags/${key}`, { expected, headers })
}

export async function getFlag(app: FastifyInstance, key: string, expected = 200) {
  return (await call(app, 'GET', `/flags/${key}`, { expected })).json()
}

export async function listFlags(
  app: FastifyInstance,
  params: { tag?: string; state?: string; cursor?: string; limit?: number } = {},
  expected = 200,
  token?: string,
) {
  return (await call(app, 'GET', `/flags${query(params)}`, { expected, token })).json()
}

export async function evaluateFlag(app: FastifyInstance, flag: string, context: Record<string, unknown> = {}, expected = 200, token?: string) {
  return (await call(app, 'POST', '/evaluate', { body: { flag, context }, expected, token })).json()
}

/** A batch evaluation: `flags` omitted evaluates every flag. */
export async function evaluateFlags(app: FastifyInstance, flags: string[] | undefined, context: Record<string, unknown> = {}, expected = 200, token?: string) {
  return (await call(app, 'POST', '/evaluate', { body: { ...(flags ? { flags } : {}), context }, expected, token })).json()
}

/** `expiresAt` goes into the body; `token` is the caller's (the admin token by default). */
export async function createToken(
  app: FastifyInstance,
  name: string,
  scope: Scope,
  expected = 201,
  opts: { expiresAt?: string; token?: string } = {},
): Promise<{ id: string; token: string; expiresAt?: string }> {
  const body = { name, scope, ...(opts.expiresAt === undefined ? {} : { expiresAt: opts.expiresAt }) }
  return (await call(app, 'POST', '/tokens', { body, expected, token: opts.token })).json()
}

export async function listTokens(app: FastifyInstance, params: { cursor?: string; limit?: number } = {}, expected = 200) {
  return (await call(app, 'GET', `/tokens${query(params)}`, { expected })).json()
}

export async function revokeToken(app: FastifyInstance, id: string, expected = 204) {
  return call(app, 'DELETE', `/tokens/${id}`, { expected })
}

export async function listAudit(app: FastifyInstance, params: { flag?: string; actor?: string; cursor?: string; limit?: number } = {}, expected = 200) {
  return (await call(app, 'GET', `/audit${query(params)}`, { expected })).json()
}

/** Polls `check` until it returns true, failing after `timeoutMs`: no fixed sleeps. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check()) return
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

/** A pino destination that keeps every line: pass `stream` as buildApp's deps.logStream. */
export function captureLogs() {
  const lines: string[] = []
  return {
    stream: { write: (line: string) => void lines.push(line) },
    text: () => lines.join(''),
    records: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
  }
}

/** Everything the embedded store holds on disk: its data file and its journal ('' for one that is absent). */
export function embeddedStoreText(store: FileStore): string {
  return [store.path, store.journalPath].map((path) => (existsSync(path) ? readFileSync(path, 'utf8') : '')).join('\n')
}

/** A fresh temporary directory, removed by the returned function. */
export function tempDir(prefix = 'switchyard-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix))
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) }
}

export interface ServerProcess {
  /** Once the server listens (it starts on port 0 unless PORT is given); throws before. */
  readonly url: string
  child: ChildProcess
  stdout(): string
  stderr(): string
  /** Resolves with the exit code once the process has ended. */
  exited: Promise<number | null>
  /** Sends `signal` and waits for the exit; SIGKILLs and fails if it does not come in time. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>
}

/**
 * Runs `packages/server/src/server.ts` (under tsx) on 127.0.0.1 with only the given environment (plus PATH
 * and HOME), so the developer's own variables cannot leak in. Does not wait for readiness.
 */
/**
 * Where spawned servers run unless told otherwise: an empty directory, so a developer's .env in the
 * repository (which the server reads from its working directory) never reaches a test.
 */
const SERVER_CWD = mkdtempSync(join(tmpdir(), 'switchyard-cwd-'))
const TSX_LOADER = pathToFileURL(join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href

export async function spawnServer(env: Record<string, string>, args: string[] = [], opts: { cwd?: string; nodeArgs?: string[] } = {}): Promise<ServerProcess> {
  let port = env.PORT === undefined ? undefined : Number(env.PORT)
  const node = ['--conditions=source', '--import', TSX_LOADER, ...(opts.nodeArgs ?? [])]
  const child = spawn(process.execPath, [...node, join(REPO_ROOT, 'packages', 'server', 'src', 'server.ts'), ...args], {
    cwd: opts.cwd ?? SERVER_CWD,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', HOST: '127.0.0.1', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  let done = false
  void exited.then(() => (done = true))
  return {
    get url() {
      port ??= child.pid === undefined ? undefined : listeningPorts(child.pid)[0]
      if (port === undefined) throw new Error('the server does not listen yet')
      return `http://127.0.0.1:${port}`
    },
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    async stop(signal = 'SIGTERM', timeoutMs = 15_000) {
      if (done) return exited
      child.kill(signal)
      let forced = false
      const timer = setTimeout(() => (forced = child.kill('SIGKILL')), timeoutMs)
      const code = await exited
      clearTimeout(timer)
      if (forced) throw new Error(`server ignored ${signal} for ${timeoutMs} ms and was killed`)
      return code
    },
  }
}

/** Polls /readyz until the state is loaded; fails if the process exits first. */
export async function waitReady(server: ServerProcess, timeoutMs = 20_000): Promise<void> {
  let exitedEarly = false
  void server.exited.then(() => (exitedEarly = true))
  const listening = () => {
    try {
      return server.url
    } catch {
      return undefined
    }
  }
  await eventually(
    async () => {
      if (exitedEarly) throw new Error(`server exited before it was ready:\n${server.stderr()}\n${server.stdout()}`)
      const url = listening()
      return url !== undefined && (await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200
    },
    timeoutMs,
    'the server to listen and answer /readyz',
  )
}

/** spawnServer, then waitReady. */
export async function startServer(env: Record<string, string>, timeoutMs = 20_000): Promise<ServerProcess> {
  const server = await spawnServer(env)
  try {
    await waitReady(server, timeoutMs)
  } catch (err) {
    await server.stop('SIGKILL')
    throw err
  }
  return server
}

/** One flag in each state, as the OpenFeature suites compare them: on, off, beta, rollout (by user) and by_tenant. */
export async function createFlagPerState(app: FastifyInstance): Promise<void> {
  await createFlag(app, { key: 'on', state: 'enabled' })
  await createFlag(app, { key: 'off', state: 'disabled' })
  await createFlag(app, { key: 'beta', state: 'beta_users', betaUsers: ['alice'], betaTenants: ['acme'] })
  await createFlag(app, { key: 'rollout', state: 'percentage', percentage: 50 })
  await createFlag(app, { key: 'by_tenant', state: 'percentage', percentage: 50, stickiness: 'tenantId' })
}
