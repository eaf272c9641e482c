// The service configuration: one schema for the environment, and the only reader of process.env.
import { Type, type Static } from 'typebox'
import { Ajv } from 'ajv'

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

const EnvSchema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
  HOST: Type.String({ minLength: 1, default: '0.0.0.0' }),
  LOG_LEVEL: Type.Enum(LOG_LEVELS, { default: 'info' }),
  DATA_DIR: Type.String({ minLength: 1, default: './data' }),
  ADMIN_TOKEN: Type.Optional(Type.String({ minLength: 16, maxLength: 512, pattern: '^[\\x21-\\x7e]+$' })),
  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://' })),
  REDIS_PREFIX: Type.String({ minLength: 1, maxLength: 100, default: 'switchyard:' }),
  AUDIT_MAX_EVENTS: Type.Integer({ minimum: 100, maximum: 10_000_000, default: 10_000 }),
  BODY_LIMIT: Type.Integer({ minimum: 1024, maximum: 64 * 1024 * 1024, default: 8 * 1024 * 1024 }),
})

type Env = Static<typeof EnvSchema>

export interface Config {
  port: number
  host: string
  logLevel: string
  dataDir: string
  adminToken?: string
  redisUrl?: string
  redisPrefix: string
  auditMaxEvents: number
  bodyLimit: number
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
  if (!validateEnv(input)) {
    const problems = (validateEnv.errors ?? []).map((e) => {
      const name = e.instancePath.replace(/^\//, '')
      const shown = name === 'ADMIN_TOKEN' ? '(hidden)' : JSON.stringify(input[name])
      return `${name}=${shown} ${e.message}`
    })
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`)
  }
  const e = input as Env
  return {
    port: e.PORT,
    host: e.HOST,
    logLevel: e.LOG_LEVEL as string,
    dataDir: e.DATA_DIR,
    adminToken: e.ADMIN_TOKEN,
    redisUrl: e.REDIS_URL,
    redisPrefix: e.REDIS_PREFIX,
    auditMaxEvents: e.AUDIT_MAX_EVENTS,
    bodyLimit: e.BODY_LIMIT,
  }
}

/** Defaults for tests and embedding: everything loadConfig would produce from an empty environment. */
export function defaultConfig(overrides: Partial<Config> = {}): Config {
  return { ...loadConfig({}), ...overrides }
}
