// Helpers for the Redis suites: private redis-server processes on free ports (killable and
// restartable for fault tests), and replicas — app instances sharing one Redis under a prefix.
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, writeFileSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { afterAll, beforeAll, expect, onTestFinished } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { RedisStore, type RedisStoreOptions } from '../../packages/server/src/store/redis.js'
import type { Config } from '../../packages/server/src/config.js'
import type { StoreClock } from '../../packages/server/src/replica/clock.js'
import { call, eventually, startApp, tempDir } from './helpers.js'
import { freePort } from './process.js'

export const REDIS_SERVER_MISSING = 'redis-server not found: install it (apt-get install redis-server)'

export function redisServerBinary(): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, 'redis-server')
    if (dir && existsSync(candidate)) return candidate
  }
  throw new Error(REDIS_SERVER_MISSING)
}

export interface RedisServer {
  url: string
  port: number
  /** SIGKILL, as in a crash: only what persistence already wrote survives. */
  kill(): Promise<void>
  /** Starts it again on the same port and data directory. */
  restart(): Promise<void>
  /** SIGSTOP/SIGCONT: frozen, it answers nothing and replicates nothing, then goes on where it was. */
  pause(): void
  resume(): void
  /** Stops it for good and removes its data. */
  stop(): Promise<void>
  /** One plain connection for a test's own commands; closed by stop(). */
  client(): Redis
}

/**
 * A private redis-server on 127.0.0.1 and a free port. `persistent` turns on the append-only
 * file with an fsync per write, as production runs it, so a killed server restarts with every
 * committed change; otherwise nothing touches the disk. `debugCommand` allows DEBUG (off by default
 * since Redis 7), for tests that stall the server with DEBUG SLEEP.
 */
export interface RedisServerOptions {
  persistent?: boolean
  debugCommand?: boolean
  /** More arguments for redis-server (a replica's --replicaof, a cluster node's --cluster-enabled). */
  args?: string[]
  /** A sentinel (`redis-server <conf> --sentinel`) watching this master under this name, quorum 2. */
  sentinelOf?: { name: string; masterPort: number }
  /** Cluster nodes also listen on port + 10000 (the cluster bus): their port stays below 55536. */
  clusterBus?: boolean
}

export async function startRedisServer(opts: RedisServerOptions = {}): Promise<RedisServer> {
  const binary = redisServerBinary()
  const dir = tempDir('switchyard-redis-')
  const persistence = opts.persistent ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']
  const debug = opts.debugCommand ? ['--enable-debug-command', 'yes'] : []
  let client: Redis | undefined
  let port = 0
  let child: ChildProcess | undefined

  const launch = async (): Promise<void> => {
    let args = [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir.path,
      '--save',
      '',
      ...persistence,
      ...debug,
      '--loglevel',
      'notice',
      ...(opts.args ?? []),
    ]
    let ready = 'Ready to accept connections'
    if (opts.sentinelOf) {
      // A sentinel rewrites its configuration file as it learns the topology: one of its own.
      const conf = join(dir.path, 'sentinel.conf')
      const { name, masterPort } = opts.sentinelOf
      const lines = [
        `sentinel monitor ${name} 127.0.0.1 ${masterPort} 2`,
        `sentinel down-after-milliseconds ${name} 1000`,
        `sentinel failover-timeout ${name} 5000`,
      ]
      writeFileSync(conf, `${lines.join('\n')}\n`)
      args = [conf, '--sentinel', '--port', String(port), '--bind', '127.0.0.1', '--dir', dir.path, '--loglevel', 'notice']
      ready = `+monitor master ${name}`
    }
    const proc = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    child = proc
    let output = ''
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString()
        if (output.includes(ready)) resolve()
      }
      proc.stdout!.on('data', onData)
      proc.stderr!.on('data', onData)
      proc.once('exit', (code) => reject(new Error(`redis-server exited (${code}) before it was ready:\n${output}`)))
      proc.once('error', reject)
    })
  }
  const exit = async (signal: NodeJS.Signals): Promise<void> => {
    const proc = child
    child = undefined
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return
    const exited = new Promise((resolve) => proc.once('exit', resolve))
    proc.kill(signal)
    await exited
  }

  // Another process may take the port between the probe and the bind: try a few.
  for (let attempt = 1; ; attempt++) {
    do port = await freePort()
    while (opts.clusterBus && port > 55535)
    try {
      await launch()
      break
    } catch (err) {
      await exit('SIGKILL')
      if (attempt >= 5) {
        dir.remove()
        throw err
      }
    }
  }

  const url = `redis://127.0.0.1:${port}`
  return {
    url,
    port,
    kill: () => exit('SIGKILL'),
    restart: launch,
    pause: () => void child?.kill('SIGSTOP'),
    resume: () => void child?.kill('SIGCONT'),
    async stop() {
      client?.disconnect()
      await exit('SIGKILL')
      dir.remove()
    },
    client() {
      if (!client) {
        client = new Redis(url, { maxRetriesPerRequest: 1 })
        client.on('error', () => undefined)
      }
      return client
    },
  }
}

/**
 * The Redis a suite without fault tests uses: REDIS_URL when set, otherwise one private
 * server for the file, started before its tests and stopped after them.
 */
/** A private redis-server for one test, stopped (its data removed) when the test finishes. */
export async function privateRedis(opts: Parameters<typeof startRedisServer>[0] = {}): Promise<RedisServer> {
  const server = await startRedisServer(opts)
  onTestFinished(() => server.stop())
  return server
}

export function useSharedRedis(): { url(): string } {
  let server: RedisServer | undefined
  let url = process.env.REDIS_URL
  beforeAll(async () => {
    if (url) return
    server = await startRedisServer()
    url = server.url
  })
  afterAll(async () => server?.stop())
  return {
    url: () => {
      if (!url) throw new Error('useSharedRedis: the Redis server has not started')
      return url
    },
  }
}

/** A plain connection for a test's own commands, closed when the test finishes. */
export function redisClient(url: string): Redis {
  const client = new Redis(url, { maxRetriesPerRequest: 1 })
  client.on('error', () => undefined)
  onTestFinished(() => void client.disconnect())
  return client
}

/** A prefix no other test uses; its keys (every one: the epoch, heartbeats and segments' member sets too) are deleted when the test finishes. */
export function testPrefix(url: string): string {
  const prefix = `switchyard-test:${randomBytes(6).toString('hex')}:`
  onTestFinished(async () => {
    const client = new Redis(url, { maxRetriesPerRequest: 0, retryStrategy: () => null })
    client.on('error', () => undefined)
    try {
      let cursor = '0'
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
        if (keys.length > 0) await client.unlink(...keys)
        cursor = next
      } while (cursor !== '0')
    } catch {
      // A fault test may have stopped its server already: nothing is left to clean.
    } finally {
      client.disconnect()
    }
  })
  return prefix
}

/** `clock`: the replica's store clock, over an injected local clock (a skewed one, say). */
export type ReplicaOptions = Partial<Omit<RedisStoreOptions, 'prefix'>> & { load?: boolean; config?: Partial<Config>; clock?: StoreClock }

/**
 * One replica: an app on its own RedisStore, closed when the test finishes. `load: false`
 * leaves it loading in the background (as server.ts does) instead of waiting for the state.
 * `url` is the server the replica subscribes on; `target` (default: that server) another topology.
 */
export async function startReplica(url: string, prefix: string, options: ReplicaOptions = {}): Promise<FastifyInstance> {
  const { load, config, clock, target = { kind: 'single', url }, ...storeOptions } = options
  // Each test starts on a prefix no replica ever used, so the wait for running replicas' heartbeats
  // on a store with no epoch (FIRST_EPOCH_WAIT_MS) would only slow it; the tests of that race set it.
  const store = new RedisStore({ target, prefix, auditMaxEvents: 10_000, firstEpochWaitMs: 0, ...storeOptions })
  const app = await startApp({ redis: target, redisPrefix: prefix, ...config }, { store, load: false, clock })
  onTestFinished(() => app.close())
  const loading = app.switchyard.sync.start(50)
  if (load === false) {
    loading.catch(() => undefined)
    return app
  }
  await loading
  // From the moment its subscription is active a replica misses nothing; tests start there. (A
  // Cluster's sharded subscribers carry names of ioredis's own: the resync after they subscribe covers it.)
  if (target.kind === 'cluster') return app
  const client = redisClient(url)
  await eventually(async () => (await connectionInfo(client, app, 'sub'))?.includes(' sub=1 ') ?? false, 10_000, 'the replica to subscribe')
  return app
}

export const redisStoreOf = (app: FastifyInstance) => app.switchyard.store as RedisStore

/** The CLIENT LIST line of one of a replica's connections, if it is connected. */
export async function connectionInfo(server: Redis, app: FastifyInstance, which: 'cmd' | 'sub'): Promise<string | undefined> {
  const name = `switchyard-${which}-${redisStoreOf(app).instanceId}`
  const list = (await server.client('LIST')) as string
  return list.split('\n').find((line) => line.includes(` name=${name} `))
}

/** Closes one connection of a replica from the server side, as a network blip would. */
export async function killConnection(server: Redis, app: FastifyInstance, which: 'cmd' | 'sub'): Promise<void> {
  const line = await connectionInfo(server, app, which)
  if (!line) throw new Error(`replica has no ${which} connection to kill`)
  await server.client('KILL', 'ID', /\bid=(\d+)/.exec(line)![1]!)
}

/**
 * `perReplica` writers through each of A and B, each reading the version its replica holds and
 * PATCHing `key` with If-Match on it; a 412 sends it back for a fresh read, five times at most.
 * Resolves with the versions won (each checked to follow the one its writer read) and the 412s.
 */
export async function raceIfMatch(a: FastifyInstance, b: FastifyInstance, key: string, perReplica: number): Promise<{ won: number[]; refused: number }> {
  const won: number[] = []
  let refused = 0
  const writer = async (app: FastifyInstance, name: string) => {
    for (let attempt = 0; attempt < 5; attempt++) {
      const etag = (await call(app, 'GET', `/flags/${key}`, { expected: 200 })).headers.etag as string
      const res = await call(app, 'PATCH', `/flags/${key}`, { body: { description: name }, headers: { 'if-match': etag } })
      if (res.statusCode === 200) {
        const flag = res.json() as { description: string; version: number }
        expect(flag.description).toBe(name)
        expect(`"${flag.version - 1}"`).toBe(etag)
        won.push(flag.version)
        return
      }
      expect(res.statusCode, res.body).toBe(412)
      refused++
    }
  }
  await Promise.all(Array.from({ length: perReplica }, (_, i) => [writer(a, `a${i}`), writer(b, `b${i}`)]).flat())
  return { won, refused }
}
