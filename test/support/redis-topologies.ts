// Redis topologies beyond one server, started by the tests on free ports: a Sentinel set (a master,
// its replica and three sentinels, all `redis-server`) and a Cluster of three masters.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { onTestFinished } from 'vitest'
import { Redis } from 'ioredis'
import type { RedisTarget } from '../../packages/server/src/store/redis-connection.js'
import { eventually } from './helpers.js'
import { startRedisServer, type RedisServer } from './redis-helpers.js'

const run = promisify(execFile)

export interface SentinelSet {
  name: string
  /** The servers as started: [0] the first master, [1] its replica. */
  servers: RedisServer[]
  sentinels: RedisServer[]
  target: RedisTarget
  /** The port of the master the sentinels name now. */
  masterPort(): Promise<number>
  /** A connection to whichever server is master now, closed when the test finishes. */
  master(): Promise<Redis>
  /** SENTINEL FAILOVER: the sentinels promote the replica (the answer comes before it is done). */
  failover(): Promise<void>
}

const connections: Redis[] = []
function connection(port: number, password?: string): Redis {
  const client = new Redis({ host: '127.0.0.1', port, password, maxRetriesPerRequest: 1, retryStrategy: () => null })
  client.on('error', () => undefined)
  connections.push(client)
  return client
}

/**
 * A master, one replica and three sentinels (quorum 2, a master down after 1 s), stopped when the
 * test finishes. Resolves once every sentinel knows the replica and the two other sentinels, so a
 * failover can start at once.
 */
export async function startSentinelSet(name = 'switchyard'): Promise<SentinelSet> {
  const master = await startRedisServer()
  const replica = await startRedisServer({ args: ['--replicaof', '127.0.0.1', String(master.port)] })
  const servers = [master, replica]
  onTestFinished(async () => {
    for (const client of connections.splice(0)) client.disconnect()
    await Promise.all([...sentinels, ...servers].map((s) => s.stop()))
  })
  const sentinels: RedisServer[] = []
  for (let i = 0; i < 3; i++) sentinels.push(await startRedisServer({ sentinelOf: { name, masterPort: master.port } }))
  const replicaClient = connection(replica.port)
  await eventually(async () => /master_link_status:up/.test(await replicaClient.info('replication')), 10_000, 'the replica to sync from the master')
  for (const sentinel of sentinels) {
    const client = connection(sentinel.port)
    await eventually(
      async () => {
        const fields = (await client.call('SENTINEL', 'MASTER', name)) as string[]
        const info = Object.fromEntries(fields.flatMap((v, i) => (i % 2 ? [] : [[v, fields[i + 1]]])))
        return info['num-slaves'] === '1' && info['num-other-sentinels'] === '2'
      },
      15_000,
      'each sentinel to know the replica and the other two sentinels',
    )
  }
  const sentinelClient = connection(sentinels[0]!.port)
  const masterPort = async () => Number(((await sentinelClient.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name)) as string[])[1])
  return {
    name,
    servers,
    sentinels,
    target: { kind: 'sentinel', name, sentinels: sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })), auth: { tls: false } },
    masterPort,
    async master() {
      return connection(await masterPort())
    },
    async failover() {
      await sentinelClient.call('SENTINEL', 'FAILOVER', name)
    },
  }
}

export const REDIS_CLI_MISSING = 'redis-cli not found: install it (apt-get install redis-tools, which redis-server brings)'

const CLUSTER_NODE = ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000']

async function redisCli(args: string[], password?: string): Promise<void> {
  // REDISCLI_AUTH rather than -a: the password stays out of the process list.
  const env = password === undefined ? process.env : { ...process.env, REDISCLI_AUTH: password }
  try {
    await run('redis-cli', args, { env })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(REDIS_CLI_MISSING)
    throw err
  }
}

export interface RedisCluster {
  nodes: RedisServer[]
  target: RedisTarget
  /** Adds a replica of the master that owns `key`'s slot; resolves once it has synced. */
  addReplicaFor(key: string): Promise<RedisServer>
}

/**
 * Three cluster masters on free ports (and their bus ports, +10000), the slots spread by `redis-cli
 * --cluster create`; with `password`, every node requires it (requirepass, masterauth).
 */
export async function startCluster(opts: { password?: string } = {}): Promise<RedisCluster> {
  const auth = opts.password === undefined ? [] : ['--requirepass', opts.password, '--masterauth', opts.password]
  const args = [...CLUSTER_NODE, ...auth]
  const nodes = await Promise.all([0, 1, 2].map(() => startRedisServer({ args, clusterBus: true })))
  onTestFinished(async () => {
    for (const client of connections.splice(0)) client.disconnect()
    await Promise.all(nodes.map((n) => n.stop()))
  })
  await redisCli(['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-yes'], opts.password)
  for (const node of nodes) {
    const client = connection(node.port, opts.password)
    await eventually(async () => /cluster_state:ok/.test((await client.call('CLUSTER', 'INFO')) as string), 15_000, 'the cluster to be ok on every node')
  }
  const first = connection(nodes[0]!.port, opts.password)
  return {
    nodes,
    target: { kind: 'cluster', nodes: nodes.map((n) => ({ host: '127.0.0.1', port: n.port })), auth: { password: opts.password, tls: false } },
    async addReplicaFor(key) {
      const slot = Number(await first.cluster('KEYSLOT', key))
      const shards = (await first.cluster('SLOTS')) as unknown as [number, number, [string, number, string]][]
      const [, , [, masterPort, masterId]] = shards.find(([from, to]) => from <= slot && slot <= to)!
      const replica = await startRedisServer({ args, clusterBus: true })
      nodes.push(replica)
      await redisCli(
        ['--cluster', 'add-node', `127.0.0.1:${replica.port}`, `127.0.0.1:${masterPort}`, '--cluster-slave', '--cluster-master-id', masterId],
        opts.password,
      )
      const client = connection(replica.port, opts.password)
      await eventually(async () => /master_link_status:up/.test(await client.info('replication')), 15_000, 'the cluster replica to sync')
      // WAIT counts only the replicas its master holds online.
      const master = connection(Number(masterPort), opts.password)
      await eventually(async () => /slave0:.*state=online/.test(await master.info('replication')), 15_000, 'the master to count the replica online')
      return replica
    },
  }
}
