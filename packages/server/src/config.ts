// The service configuration: one schema for the environment, and the only reader of process.env.
import { GUARD_SOURCE_PATTERN } from '@switchyard/core/flags/schedule'
import { MAX_SEGMENT_MEMBERS, SEGMENT_INLINE_MAX_DEFAULT } from '@switchyard/core/segments/schema'
import { readFileSync } from 'node:fs'
import { Type, type Static } from 'typebox'
import { Ajv } from 'ajv'
import { parseHostPorts, type RedisTarget } from './store/redis-connection.js'

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

const EnvSchema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
  HOST: Type.String({ minLength: 1, default: '0.0.0.0' }),
  LOG_LEVEL: Type.Enum(LOG_LEVELS, { default: 'info' }),
  LOG_FORMAT: Type.Enum(['auto', 'json', 'pretty'], { default: 'auto' }),
  DATA_DIR: Type.String({ minLength: 1, default: './data' }),
  DATA_DIR_FORCE_UNLOCK: Type.Enum(['0', '1', 'false', 'true'], { default: '0' }),
  ADMIN_TOKEN: Type.Optional(Type.String({ minLength: 16, maxLength: 512, pattern: '^[\\x21-\\x7e]+$' })),
  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://' })),
  REDIS_SENTINELS: Type.Optional(Type.String({ minLength: 1 })),
  REDIS_SENTINEL_NAME: Type.Optional(Type.String({ minLength: 1, maxLength: 200, pattern: '^[^\\s]+$' })),
  REDIS_CLUSTER_NODES: Type.Optional(Type.String({ minLength: 1 })),
  REDIS_USERNAME: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  REDIS_PASSWORD: Type.Optional(Type.String({ minLength: 1, maxLength: 1000 })),
  REDIS_SENTINEL_PASSWORD: Type.Optional(Type.String({ minLength: 1, maxLength: 1000 })),
  REDIS_TLS: Type.Enum(['0', '1', 'false', 'true'], { default: '0' }),
  REDIS_WAIT_REPLICAS: Type.Integer({ minimum: 0, maximum: 100, default: 0 }),
  // Below the change-counter check's second, so a write WAIT confirms is never first found by that check.
  REDIS_WAIT_MS: Type.Integer({ minimum: 10, maximum: 900, default: 500 }),
  REDIS_PREFIX: Type.String({ minLength: 1, maxLength: 100, default: 'switchyard:' }),
  TOKENS_MAX: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 10_000 }),
  WRITE_DEADLINE_MS: Type.Integer({ minimum: 100, maximum: 600_000, default: 10_000 }),
  MIN_REVISION_WAIT_MS: Type.Integer({ minimum: 0, maximum: 60_000, default: 500 }),
  STALE_AFTER_MS: Type.Integer({ minimum: 2000, maximum: 3_600_000, default: 5000 }),
  AUDIT_MAX_EVENTS: Type.Integer({ minimum: 100, maximum: 10_000_000, default: 10_000 }),
  AUDIT_MAX_BYTES: Type.Integer({ minimum: 1024 * 1024, maximum: 16 * 1024 * 1024 * 1024, default: 64 * 1024 * 1024 }),
  BODY_LIMIT: Type.Integer({ minimum: 1024, maximum: 64 * 1024 * 1024, default: 8 * 1024 * 1024 }),
  EVALUATE_BODY_LIMIT: Type.Integer({ minimum: 1024, maximum: 64 * 1024 * 1024, default: 256 * 1024 }),
  JSON_MAX_DEPTH: Type.Integer({ minimum: 4, maximum: 1000, default: 32 }),
  REQUEST_TIMEOUT_MS: Type.Integer({ minimum: 1000, maximum: 600_000, default: 30_000 }),
  FLAGS_BOOTSTRAP_FILE: Type.Optional(Type.String({ minLength: 1 })),
  STREAM_HEARTBEAT_MS: Type.Integer({ minimum: 1000, maximum: 300_000, default: 15_000 }),
  SEGMENT_INLINE_MAX: Type.Integer({ minimum: 0, maximum: MAX_SEGMENT_MEMBERS, default: SEGMENT_INLINE_MAX_DEFAULT }),
  STREAM_MAX_BUFFER: Type.Integer({ minimum: 65_536, maximum: 1024 * 1024 * 1024, default: 16 * 1024 * 1024 }),
  STREAM_MAX_TOTAL: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
  STREAM_MAX_PER_TOKEN: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
  STREAM_MAX_PER_ADDRESS: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
  // Exact browser origins (scheme://host[:port]), comma-separated; '*' is refused on purpose.
  CORS_ORIGINS: Type.Optional(Type.String({ pattern: '^https?://[^\\s,/*]+(\\s*,\\s*https?://[^\\s,/*]+)*$' })),
  // Metric sources guards may read: set by the operator, never by a flag's editor. Either may hold credentials.
  GUARD_PROMETHEUS_URL: Type.Optional(Type.String({ pattern: '^https?://' })),
  GUARD_HTTP_SOURCES: Type.Optional(Type.String({ minLength: 1 })),
  AUTH_FAILURE_LIMIT: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 20 }),
  AUTH_FAILURE_WINDOW_SECONDS: Type.Integer({ minimum: 1, maximum: 86_400, default: 60 }),
  // 'true', or comma-separated proxy addresses/CIDRs whose X-Forwarded-For is believed.
  TRUST_PROXY: Type.String({ pattern: '^(true|false|[0-9A-Fa-f.:/]+(\\s*,\\s*[0-9A-Fa-f.:/]+)*)$', default: 'false' }),
})

type Env = Static<typeof EnvSchema>

export interface Config {
  /** What the environment sets that this configuration does not use: said once at startup. */
  notices: string[]
  port: number
  host: string
  logLevel: string
  /** `auto`: readable lines when stdout is a terminal, JSON otherwise; `json` or `pretty` forces one. */
  logFormat: 'auto' | 'json' | 'pretty'
  dataDir: string
  /** Take over a data directory whose lock names another host (that host is known to be gone). */
  dataDirForceUnlock: boolean
  adminToken?: string
  /** The Redis store's server(s): REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES; unset: the embedded store. */
  redis?: RedisTarget
  redisPrefix: string
  /** Redis replicas that must hold a write before it is acknowledged (WAIT); 0: acknowledged once the master has it. */
  redisWaitReplicas: number
  /** How long a write waits for those replicas before it answers 503 (the change may have been applied). */
  redisWaitMs: number
  /** Named tokens the store may hold (expired ones included); creating one more is refused. */
  tokensMax: number
  /** How long a write may keep losing races to other replicas before it answers 503 WRITE_CONTENDED. */
  writeDeadlineMs: number
  /** How long a read with X-Switchyard-Min-Revision may wait for this replica to catch up before 503 STALE_REPLICA. */
  minRevisionWaitMs: number
  /** A replica that has heard nothing from the store for this long reports itself stale (/healthz, OFREP metadata). */
  staleAfterMs: number
  auditMaxEvents: number
  /** Bytes of JSON the audit trail may hold; the oldest events are dropped first. */
  auditMaxBytes: number
  bodyLimit: number
  /** Largest body of POST /evaluate and the OFREP routes; admin routes keep bodyLimit. */
  evaluateBodyLimit: number
  /** Arrays and objects a JSON body may nest; deeper is refused before it is parsed. */
  jsonMaxDepth: number
  /** A request (headers and body) must have arrived within this, else 408. */
  requestTimeoutMs: number
  /** A flags file (YAML or JSON) whose flags seed a store that has never been written. */
  flagsBootstrapFile?: string
  /** Interval of the comment lines that keep idle GET /stream connections open through proxies. */
  streamHeartbeatMs: number
  /** Segments with more members are sent to SDKs without them, unless a stream asks for all. */
  segmentInlineMax: number
  /** Bytes a GET /stream consumer may fall behind (beyond its catch-up payload) before it is dropped. */
  streamMaxBuffer: number
  /** Open streams on this replica, in all and per token, past which a new one gets 429; unset: from the open-files limit. */
  streamMaxTotal?: number
  streamMaxPerToken?: number
  /** Open evaluation streams (POST /stream/evaluations) per client address; unset: from the open-files limit. */
  streamMaxPerAddress?: number
  /** Browser origins allowed by CORS; empty: CORS off. */
  corsOrigins: string[]
  /** Failed authentications per client address and window before 429; 0: no limit. */
  authFailureLimit: number
  authFailureWindowSeconds: number
  /** Fastify's trustProxy: which proxies' X-Forwarded-For decides the client address. */
  trustProxy: boolean | string
  /** The metric sources a guard may name: `prometheus` (GUARD_PROMETHEUS_URL) and GUARD_HTTP_SOURCES's names. */
  guardSources: GuardSourceConfig[]
}

export interface GuardSourceConfig {
  name: string
  kind: 'prometheus' | 'http'
  url: string
}

export class ConfigError extends Error {
  override name = 'ConfigError'
}

/** Variables that carry credentials: never shown in a message, and each may be read from a file named by <NAME>_FILE. */
const SECRETS = ['ADMIN_TOKEN', 'REDIS_URL', 'REDIS_PASSWORD', 'REDIS_SENTINEL_PASSWORD', 'GUARD_PROMETHEUS_URL', 'GUARD_HTTP_SOURCES'] as const

/**
 * Takes each secret given as <NAME>_FILE from its file (less one trailing newline) into `input`.
 * A problem names the variable and the path, never the content.
 */
function readSecretFiles(env: NodeJS.ProcessEnv, input: Record<string, unknown>, problems: string[]): Map<string, string> {
  const fromFile = new Map<string, string>()
  for (const name of SECRETS) {
    const path = env[`${name}_FILE`]
    if (path === undefined || path === '') continue
    if (input[name] !== undefined) {
      problems.push(`${name} and ${name}_FILE are both set: set one of them`)
      continue
    }
    let text: string
    try {
      text = readFileSync(path, 'utf8')
    } catch (err) {
      problems.push(`${name}_FILE=${JSON.stringify(path)} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
      continue
    }
    const value = text.replace(/\r?\n$/, '')
    if (value === '') problems.push(`${name}_FILE=${JSON.stringify(path)} is empty`)
    else {
      input[name] = value
      fromFile.set(name, path)
    }
  }
  return fromFile
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
  const problems: string[] = []
  const fromFile = readSecretFiles(env, input, problems)
  // Ajv's coercion would read "0x50" or "1e3" as numbers: integers here are written in digits.
  for (const [name, schema] of Object.entries(EnvSchema.properties)) {
    if ((schema as { type?: string }).type === 'integer' && input[name] !== undefined && !/^-?\d+$/.test(String(input[name]))) {
      problems.push(`${name}=${JSON.stringify(input[name])} must be integer`)
      delete input[name]
    }
  }
  if (!validateEnv(input) || problems.length) {
    for (const e of validateEnv.errors ?? []) {
      const name = e.instancePath.replace(/^\//, '')
      // Secrets are never shown (REDIS_URL can hold a password), only the file they came from.
      const file = fromFile.get(name)
      const shown = (SECRETS as readonly string[]).includes(name)
        ? `(hidden${file === undefined ? '' : `, from ${name}_FILE=${JSON.stringify(file)}`})`
        : JSON.stringify((input as Record<string, unknown>)[name])
      const rule = e.keyword === 'enum' ? `must be one of: ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}` : e.message
      problems.push(`${name}=${shown} ${rule}`)
    }
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`)
  }
  const e = input as Env
  const notices: string[] = []
  const redis = redisTarget(e, notices)
  const guardSources = guardSourcesOf(e)
  return {
    notices,
    port: e.PORT,
    host: e.HOST,
    logLevel: e.LOG_LEVEL as string,
    logFormat: e.LOG_FORMAT as Config['logFormat'],
    dataDir: e.DATA_DIR,
    dataDirForceUnlock: e.DATA_DIR_FORCE_UNLOCK === '1' || e.DATA_DIR_FORCE_UNLOCK === 'true',
    adminToken: e.ADMIN_TOKEN,
    redis,
    redisPrefix: e.REDIS_PREFIX,
    redisWaitReplicas: e.REDIS_WAIT_REPLICAS,
    redisWaitMs: e.REDIS_WAIT_MS,
    tokensMax: e.TOKENS_MAX,
    writeDeadlineMs: e.WRITE_DEADLINE_MS,
    minRevisionWaitMs: e.MIN_REVISION_WAIT_MS,
    staleAfterMs: e.STALE_AFTER_MS,
    auditMaxEvents: e.AUDIT_MAX_EVENTS,
    auditMaxBytes: e.AUDIT_MAX_BYTES,
    bodyLimit: e.BODY_LIMIT,
    evaluateBodyLimit: e.EVALUATE_BODY_LIMIT,
    jsonMaxDepth: e.JSON_MAX_DEPTH,
    requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
    flagsBootstrapFile: e.FLAGS_BOOTSTRAP_FILE,
    streamHeartbeatMs: e.STREAM_HEARTBEAT_MS,
    segmentInlineMax: e.SEGMENT_INLINE_MAX,
    streamMaxBuffer: e.STREAM_MAX_BUFFER,
    streamMaxTotal: e.STREAM_MAX_TOTAL,
    streamMaxPerToken: e.STREAM_MAX_PER_TOKEN,
    streamMaxPerAddress: e.STREAM_MAX_PER_ADDRESS,
    corsOrigins: (e.CORS_ORIGINS ?? '')
      .split(',')
      .map((o) => o.trim())
      .filter(Boolean),
    authFailureLimit: e.AUTH_FAILURE_LIMIT,
    authFailureWindowSeconds: e.AUTH_FAILURE_WINDOW_SECONDS,
    trustProxy: e.TRUST_PROXY === 'true' ? true : e.TRUST_PROXY === 'false' ? false : e.TRUST_PROXY,
    guardSources,
  }
}

/**
 * GUARD_PROMETHEUS_URL as the source `prometheus`, and GUARD_HTTP_SOURCES (`name=url,…`). A problem
 * names the entry by its position and name, never its URL (which may hold credentials).
 */
function guardSourcesOf(e: Env): GuardSourceConfig[] {
  const sources: GuardSourceConfig[] = []
  if (e.GUARD_PROMETHEUS_URL !== undefined) sources.push({ name: 'prometheus', kind: 'prometheus', url: e.GUARD_PROMETHEUS_URL })
  const problems: string[] = []
  // An entry starts at a comma followed by `name=http(s)://`: a comma inside a URL stays in it.
  const entries = e.GUARD_HTTP_SOURCES === undefined ? [] : e.GUARD_HTTP_SOURCES.split(/,(?=\s*[^,=\s]+\s*=\s*https?:\/\/)/)
  const validName = new RegExp(GUARD_SOURCE_PATTERN)
  for (const [i, entry] of entries.entries()) {
    const at = entry.indexOf('=')
    const name = entry.slice(0, Math.max(at, 0)).trim()
    const url = entry.slice(at + 1).trim()
    // Only a valid name is quoted: anything else may be a piece of a URL.
    const which = `GUARD_HTTP_SOURCES entry ${i + 1}${validName.test(name) ? ` (${JSON.stringify(name)})` : ''}`
    if (at < 0 || !validName.test(name)) problems.push(`${which} must be name=url with a name of a-z, 0-9, _ and - starting with a letter`)
    else if (!/^https?:\/\/\S+$/.test(url) || !URL.canParse(url)) problems.push(`${which} must have an http:// or https:// URL`)
    else if (sources.some((s) => s.name === name)) {
      problems.push(`${which} is named twice${name === 'prometheus' ? ' (prometheus is GUARD_PROMETHEUS_URL)' : ''}`)
    } else sources.push({ name, kind: 'http', url })
  }
  if (problems.length) throw new ConfigError(`invalid configuration: ${problems.join('; ')}`)
  return sources
}

/**
 * The Redis the variables select: exactly one of REDIS_URL, REDIS_SENTINELS (with
 * REDIS_SENTINEL_NAME) and REDIS_CLUSTER_NODES, or none (the embedded store). The options of
 * one topology set beside another are refused rather than silently ignored.
 */
function redisTarget(e: Env, notices: string[]): RedisTarget | undefined {
  const problems: string[] = []
  const chosen = (['REDIS_URL', 'REDIS_SENTINELS', 'REDIS_CLUSTER_NODES'] as const).filter((name) => e[name] !== undefined)
  if (chosen.length > 1) problems.push(`${chosen.join(' and ')} are ${chosen.length === 2 ? 'both' : 'all'} set: set exactly one of them (the Redis to use)`)
  const nodesOf = (name: 'REDIS_SENTINELS' | 'REDIS_CLUSTER_NODES') => {
    const nodes = parseHostPorts(e[name]!)
    // A value with an @ may hold a password (someone wrote a URL): not shown.
    const shown = e[name]!.includes('@') ? '(hidden: it holds an @, as a URL with credentials would)' : JSON.stringify(e[name])
    if (!nodes) problems.push(`${name}=${shown} must be host:port, comma-separated (credentials go in REDIS_USERNAME and REDIS_PASSWORD)`)
    return nodes ?? []
  }
  const auth = {
    username: e.REDIS_USERNAME,
    password: e.REDIS_PASSWORD,
    sentinelPassword: e.REDIS_SENTINEL_PASSWORD,
    tls: e.REDIS_TLS === '1' || e.REDIS_TLS === 'true',
  }
  let target: RedisTarget | undefined
  if (chosen.length === 1) {
    if (e.REDIS_URL !== undefined) target = { kind: 'single', url: e.REDIS_URL }
    else if (e.REDIS_SENTINELS !== undefined) {
      if (e.REDIS_SENTINEL_NAME === undefined)
        problems.push('REDIS_SENTINELS is set without REDIS_SENTINEL_NAME: set the name the sentinels monitor the master under')
      target = { kind: 'sentinel', sentinels: nodesOf('REDIS_SENTINELS'), name: e.REDIS_SENTINEL_NAME ?? '', auth }
    } else {
      if (/[{}]/.test(e.REDIS_PREFIX))
        problems.push(`REDIS_PREFIX=${JSON.stringify(e.REDIS_PREFIX)} must not hold { or } with REDIS_CLUSTER_NODES: the prefix becomes the keys' hash tag`)
      target = { kind: 'cluster', nodes: nodesOf('REDIS_CLUSTER_NODES'), auth }
    }
  }
  // Options that do nothing here are said at startup (a notice), not refused: an env file shared
  // with a Redis container (REDIS_PASSWORD) or kept from another topology must not stop the service.
  const unused = (name: string, why: string) => notices.push(`${name} is set but not used: ${why}`)
  if (target?.kind !== 'sentinel') {
    for (const name of ['REDIS_SENTINEL_NAME', 'REDIS_SENTINEL_PASSWORD'] as const) if (e[name] !== undefined) unused(name, 'it applies to REDIS_SENTINELS')
  }
  if (target === undefined || target.kind === 'single') {
    const why = target ? 'with REDIS_URL, credentials go in the URL (and TLS is rediss://)' : 'no Redis is configured'
    for (const name of ['REDIS_USERNAME', 'REDIS_PASSWORD'] as const) if (e[name] !== undefined) unused(name, why)
    if (e.REDIS_TLS !== '0' && e.REDIS_TLS !== 'false') unused('REDIS_TLS', why)
  }
  if (target === undefined && e.REDIS_WAIT_REPLICAS > 0) unused('REDIS_WAIT_REPLICAS', 'no Redis is configured')
  if (problems.length) throw new ConfigError(`invalid configuration: ${problems.join('; ')}`)
  return target
}

/** Defaults for tests and embedding: everything loadConfig would produce from an empty environment. */
export function defaultConfig(overrides: Partial<Config> = {}): Config {
  return { ...loadConfig({}), ...overrides }
}
