// Test helpers: build an app on a memory store and name the API actions tests perform.
import { expect } from 'vitest'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { buildApp, type AppDeps } from '../src/app.js'
import { defaultConfig, type Config } from '../src/config.js'
import { MemoryStore } from '../src/store/memory.js'

export const ADMIN = 'test-admin-token-0123456789'

export interface TestApp {
  app: FastifyInstance
  close(): Promise<void>
}

export async function startApp(overrides: Partial<Config> = {}, deps: AppDeps = {}): Promise<FastifyInstance> {
  const config = defaultConfig({ logLevel: 'silent', adminToken: ADMIN, ...overrides })
  const app = await buildApp(config, { store: deps.store ?? new MemoryStore(), ...deps })
  await app.ready()
  await app.switchyard.sync.start()
  return app
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

type Body = Record<string, unknown> | unknown[] | string

export async function call(
  app: FastifyInstance,
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  url: string,
  opts: { token?: string | null; body?: Body; headers?: Record<string, string>; expected?: number } = {},
): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = { ...(opts.token === null ? {} : bearer(opts.token ?? ADMIN)), ...opts.headers }
  const res = await app.inject({
    method,
    url,
    headers,
    ...(opts.body === undefined ? {} : typeof opts.body === 'string' ? { payload: opts.body, headers: { 'content-type': 'application/json', ...headers } } : { payload: opts.body as object }),
  })
  if (opts.expected !== undefined) expect(res.statusCode, res.body).toBe(opts.expected)
  return res
}

export async function createFlag(app: FastifyInstance, body: Record<string, unknown>, expected = 201, token?: string) {
  return (await call(app, 'POST', '/flags', { body, expected, token })).json()
}

export async function updateFlag(app: FastifyInstance, key: string, body: Record<string, unknown>, expected = 200, headers?: Record<string, string>) {
  return (await call(app, 'PATCH', `/flags/${key}`, { body, expected, headers })).json()
}

export async function getFlag(app: FastifyInstance, key: string, expected = 200) {
  return (await call(app, 'GET', `/flags/${key}`, { expected })).json()
}

export async function evaluateFlag(app: FastifyInstance, flag: string, context: Record<string, unknown> = {}, expected = 200, token?: string) {
  return (await call(app, 'POST', '/evaluate', { body: { flag, context }, expected, token })).json()
}

export async function createToken(app: FastifyInstance, name: string, scope: 'admin' | 'evaluate', expected = 201): Promise<{ id: string; token: string }> {
  return (await call(app, 'POST', '/tokens', { body: { name, scope }, expected })).json()
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
