// Which Redis the store talks to — one server, a Sentinel-managed master, or a Cluster — and the
// ioredis connections for it. Everything topology-specific lives here; redis.ts sees one kind of
// connection whatever the topology.
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis'

export interface HostPort {
  host: string
  port: number
}

/** Credentials and TLS for Sentinel and Cluster (a single server takes them in its URL). */
export interface RedisAuth {
  username?: string
  password?: string
  /** Sentinels' own password, when they require one (REDIS_SENTINEL_PASSWORD). */
  sentinelPassword?: string
  tls: boolean
}

export type RedisTarget =
  | { kind: 'single'; url: string }
  | { kind: 'sentinel'; sentinels: HostPort[]; name: string; auth: RedisAuth }
  | { kind: 'cluster'; nodes: HostPort[]; auth: RedisAuth }

/** `host:port,host:port` as REDIS_SENTINELS and REDIS_CLUSTER_NODES write it; undefined if any part is not one. */
export function parseHostPorts(text: string): HostPort[] | undefined {
  const out: HostPort[] = []
  for (const part of text.split(',')) {
    const m = /^\s*(\[[0-9a-fA-F:.]+\]|[^\s:,[\]]+):(\d{1,5})\s*$/.exec(part)
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) return undefined
    out.push({ host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) })
  }
  return out
}

/** The target as a message may show it: addresses, never a credential (a URL's user, password and query are dropped). */
export function describeTarget(target: RedisTarget): string {
  const list = (nodes: HostPort[]) => nodes.map((n) => `${n.host}:${n.port}`).join(',')
  switch (target.kind) {
    case 'single':
      return `Redis at ${safeUrl(target.url)}`
    case 'sentinel':
      return `Redis master '${target.name}' of the sentinels ${list(target.sentinels)}`
    case 'cluster':
      return `Redis Cluster at ${list(target.nodes)}`
  }
}

/** `redis://host:port/db`: ioredis also reads a password from the query string, so that goes too. */
function safeUrl(url: string): string {
  try {
    const u = new URL(url)
    return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`
  } catch {
    return '(an unparsable URL)'
  }
}

/**
 * Key names in Cluster mode carry the prefix as a hash tag (`{switchyard:}flags`), so every key of
 * one store shares a slot and the commit script stays atomic; single servers and Sentinel keep the
 * plain names, so existing deployments find their data where it was.
 */
export function keyPrefix(target: RedisTarget, prefix: string): string {
  return target.kind === 'cluster' ? `{${prefix}}` : prefix
}

/** The options every connection shares, whatever the topology (RedisStore sets them). */
export interface ConnectionOptions {
  /** Names the connection in CLIENT LIST. */
  connectionName: string
  commandTimeout: number
  retryStrategy: (attempt: number) => number | null
  /** Cluster only: subscribe with SSUBSCRIBE, each channel on the shard that owns its slot. */
  sharded?: boolean
}

/** One connection (or, for a Cluster, one client over all its nodes) with what redis.ts needs of it. */
export function connect(target: RedisTarget, options: ConnectionOptions): Redis {
  const common: RedisOptions = {
    // Fail fast while disconnected: writes answer 503 at once, reads never touch Redis.
    enableOfflineQueue: false,
    // A command lost with its connection may or may not have run; resending it later could
    // apply a write that was already answered with 503.
    autoResendUnfulfilledCommands: false,
    autoResubscribe: false,
    commandTimeout: options.commandTimeout,
    connectionName: options.connectionName,
  }
  if (target.kind === 'single') return new Redis(target.url, { ...common, retryStrategy: options.retryStrategy })
  const auth: RedisOptions = {
    username: target.auth.username,
    password: target.auth.password,
    ...(target.auth.tls ? { tls: {} } : {}),
  }
  if (target.kind === 'sentinel') {
    return new Redis({
      ...common,
      ...auth,
      sentinels: target.sentinels,
      name: target.name,
      sentinelPassword: target.auth.sentinelPassword,
      ...(target.auth.tls ? { enableTLSForSentinelMode: true, sentinelTLS: {} } : {}),
      failoverDetector: true,
      sentinelRetryStrategy: options.retryStrategy,
      retryStrategy: options.retryStrategy,
      // A master demoted under a live connection answers writes with READONLY: find the new one.
      reconnectOnError: (err) => err.message.startsWith('READONLY'),
    })
  }
  const clusterOptions: ClusterOptions = {
    enableOfflineQueue: false,
    clusterRetryStrategy: options.retryStrategy,
    redisOptions: { ...common, ...auth },
    shardedSubscribers: options.sharded ?? false,
    // Every command of this store goes to the master of its one slot.
    scaleReads: 'master',
  }
  // A Cluster client speaks the same commands; redis.ts treats it as one connection.
  return new Cluster(target.nodes, clusterOptions) as unknown as Redis
}

const slots = new WeakMap<Redis, Map<string, number>>()

/** The connection a Cluster client uses for `key`'s slot (WAIT must follow a write on its own connection). */
export async function connectionFor(client: Redis, target: RedisTarget, key: string): Promise<Redis> {
  if (target.kind !== 'cluster') return client
  const cluster = client as unknown as Cluster
  let known = slots.get(client)
  if (!known) slots.set(client, (known = new Map()))
  let slot = known.get(key)
  if (slot === undefined) known.set(key, (slot = Number(await cluster.cluster('KEYSLOT', key))))
  // The slot's owner moves with a failover or a resharding: looked up each time.
  const owner = cluster.slots[slot]?.[0]
  const node = cluster.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === owner)
  if (!node) throw new Error(`no connection to the master of slot ${slot} (${owner ?? 'unknown'})`)
  return node
}
