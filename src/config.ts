// The service configuration: one schema for the environment, and the only reader of process.env.
import { Type, type Static } from 'typebox'
import { Ajv } from 'ajv'

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

const EnvSchema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
  HOST: Type.String({ minLength: 1, default: '0.0.0.0' }),
  LOG_LEVEL: Type.Enum(LOG_LEVELS, { default: 'info' }),
  DATA_DIR: Type.String({ minLength: 1, default: './data' }),
  DATA_DIR_FORCE_UNLOCK: Type.Enum(['0', '1', 'false', 'true'], { default: '0' }),
  ADMIN_TOKEN: Type.Optional(Type.String({ minLength: 16, maxLength: 512, pattern: '^[\\x21-\\x7e]+$' })),
  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://' })),
  REDIS_PREFIX: Type.String({ minLength: 1, maxLength: 100, default: 'switchyard:' }),
  AUDIT_MAX_EVENTS: Type.Integer({ minimum: 100, maximum: 10_000_000, default: 10_000 }),
  AUDIT_MAX_BYTES: Type.Integer({ minimum: 1024 * 1024, maximum: 16 * 1024 * 1024 * 1024, default: 64 * 1024 * 1024 }),
  BODY_LIMIT: Type.Integer({ minimum: 1024, maximum: 64 * 1024 * 1024, default: 8 * 1024 * 1024 }),
  FLAGS_BOOTSTRAP_FILE: Type.Optional(Type.String({ minLength: 1 })),
  STREAM_HEARTBEAT_MS: Type.Integer({ minimum: 1000, maximum: 300_000, default: 15_000 }),
  STREAM_MAX_BUFFER: Type.Integer({ minimum: 65_536, maximum: 1024 * 1024 * 1024, default: 16 * 1024 * 1024 }),
  // Exact browser origins (scheme://host[:port]), comma-separated; '*' is refused on purpose.
  CORS_ORIGINS: Type.Optional(Type.String({ pattern: '^https?://[^\\s,/*]+(\\s*,\\s*https?://[^\\s,/*]+)*$' })),
  AUTH_FAILURE_LIMIT: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 20 }),
  AUTH_FAILURE_WINDOW_SECONDS: Type.Integer({ minimum: 1, maximum: 86_400, default: 60 }),
  // 'true', or comma-separated proxy addresses/CIDRs whose X-Forwarded-For is believed.
  TRUST_PROXY: Type.String({ pattern: '^(true|false|[0-9A-Fa-f.:/]+(\\s*,\\s*[0-9A-Fa-f.:/]+)*)$', default: 'false' }),
})

type Env = Static<typeof EnvSchema>

export interface Config {
  port: number
  host: string
  logLevel: string
  dataDir: string
  /** Take over a data directory whose lock names another host (that host is known to be gone). */
  dataDirForceUnlock: boolean
  adminToken?: string
  redisUrl?: string
  redisPrefix: string
  auditMaxEvents: number
  /** Bytes of JSON the audit trail may hold; the oldest events are dropped first. */
  auditMaxBytes: number
  bodyLimit: number
  /** A flags file (YAML or JSON) whose flags seed a store that has never been written. */
  flagsBootstrapFile?: string
  /** Interval of the comment lines that keep idle GET /stream connections open through proxies. */
  streamHeartbeatMs: number
  /** Bytes a GET /stream consumer may fall behind (beyond its catch-up payload) before it is dropped. */
  streamMaxBuffer: number
  /** Browser origins allowed by CORS; empty: CORS off. */
  corsOrigins: string[]
  /** Failed authentications per client address and window before 429; 0: no limit. */
  authFailureLimit: number
  authFailureWindowSeconds: number
  /** Fastify's trustProxy: which proxies' X-Forwarded-For decides the client address. */
  trustProxy: boolean | string
}

export class ConfigError extends Error {
  override name = 'ConfigError'
}

const ajv = new Ajv({ coerceTypes: true, useDefaults: true, allErrors: true })
const validateEnv = ajv.compile<Env>(EnvSchema)

/** Reads and validates the environment; throws ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const input: Record<string, unknown> = {}
  for (const name of Object.keys(EnvSchema.properties)) {
    const value = env[name]
    if (value !== undefined && value !== '') input[name] = value
  }
  // Ajv's coercion would read "0x50" or "1e3" as numbers: integers here are written in digits.
  const problems: string[] = []
  for (const [name, schema] of Object.entries(EnvSchema.properties)) {
    if ((schema as { type?: string }).type === 'integer' && input[name] !== undefined && !/^-?\d+$/.test(String(input[name]))) {
      problems.push(`${name}=${JSON.stringify(input[name])} must be integer`)
      delete input[name]
    }
  }
  if (!validateEnv(input) || problems.length) {
    for (const e of validateEnv.errors ?? []) {
      const name = e.instancePath.replace(/^\//, '')
      // Both may carry credentials (REDIS_URL can hold a password).
      const shown = name === 'ADMIN_TOKEN' || name === 'REDIS_URL' ? '(hidden)' : JSON.stringify((input as Record<string, unknown>)[name])
      const rule = e.keyword === 'enum' ? `must be one of: ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}` : e.message
      problems.push(`${name}=${shown} ${rule}`)
    }
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`)
  }
  const e = input as Env
  return {
    port: e.PORT,
    host: e.HOST,
    logLevel: e.LOG_LEVEL as string,
    dataDir: e.DATA_DIR,
    dataDirForceUnlock: e.DATA_DIR_FORCE_UNLOCK === '1' || e.DATA_DIR_FORCE_UNLOCK === 'true',
    adminToken: e.ADMIN_TOKEN,
    redisUrl: e.REDIS_URL,
    redisPrefix: e.REDIS_PREFIX,
    auditMaxEvents: e.AUDIT_MAX_EVENTS,
    auditMaxBytes: e.AUDIT_MAX_BYTES,
    bodyLimit: e.BODY_LIMIT,
    flagsBootstrapFile: e.FLAGS_BOOTSTRAP_FILE,
    streamHeartbeatMs: e.STREAM_HEARTBEAT_MS,
    streamMaxBuffer: e.STREAM_MAX_BUFFER,
    corsOrigins: (e.CORS_ORIGINS ?? '').split(',').map((o) => o.trim()).filter(Boolean),
    authFailureLimit: e.AUTH_FAILURE_LIMIT,
    authFailureWindowSeconds: e.AUTH_FAILURE_WINDOW_SECONDS,
    trustProxy: e.TRUST_PROXY === 'true' ? true : e.TRUST_PROXY === 'false' ? false : e.TRUST_PROXY,
  }
}

/** Defaults for tests and embedding: everything loadConfig would produce from an empty environment. */
export function defaultConfig(overrides: Partial<Config> = {}): Config {
  return { ...loadConfig({}), ...overrides }
}
