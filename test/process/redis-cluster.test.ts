// Redis Cluster, on three masters this suite starts: every key of one prefix shares a hash tag, so
// the commit script stays atomic on one shard; notifications travel by sharded pub/sub; two
// Switchyard replicas converge, and If-Match races behave as on one server.
import { describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { Cluster } from 'ioredis'
import { call, createFlag, createToken, deleteFlag, eventually, listAudit, revokeToken, updateFlag } from '../support/helpers.js'
import { raceIfMatch, startReplica } from '../support/redis-helpers.js'
import { startCluster } from '../support/redis-topologies.js'
import { redisKeys } from '../../packages/server/src/store/redis-scripts.js'
import { keyPrefix } from '../../packages/server/src/store/redis-connection.js'

const held = (app: FastifyInstance, key: string) => app.switchyard.flags.get(key)?.flag
const PREFIX = 'switchyard-cluster:'
const PASSWORD = 'cluster-password-0123'

/** Two replicas on a cluster whose nodes require PASSWORD (REDIS_PASSWORD applies to every node). */
async function twoReplicasOnACluster() {
  const { nodes, target } = await startCluster({ password: PASSWORD })
  const url = nodes[0]!.url
  // No change-counter check: every change must arrive by sharded pub/sub, or not at all.
  const [a, b] = await Promise.all([startReplica(url, PREFIX, { target, resyncCheckMs: 0 }), startReplica(url, PREFIX, { target, resyncCheckMs: 0 })])
  const client = new Cluster(target.kind === 'cluster' ? target.nodes : [], { redisOptions: { password: PASSWORD } })
  client.on('error', () => undefined)
  return { a, b, client, close: () => client.disconnect() }
}

describe('Redis Cluster', () => {
  it('keeps every key of the store in one slot, notifies by sharded pub/sub, and both replicas converge on flags and tokens', async () => {
    const { a, b, client, close } = await twoReplicasOnACluster()
    try {
      const keys = Object.values(redisKeys(keyPrefix({ kind: 'cluster', nodes: [], auth: { tls: false } }, PREFIX)))
      expect(keys.every((key) => key.startsWith(`{${PREFIX}}`))).toBe(true)
      const slots = new Set(await Promise.all(keys.map(async (key) => Number(await client.cluster('KEYSLOT', key)))))
      expect(slots.size).toBe(1)

      await createFlag(a, { key: 'sharded', state: 'disabled' })
      await eventually(() => held(b, 'sharded') !== undefined, 10_000, 'B to hold the flag created on A')
      await updateFlag(b, 'sharded', { state: 'enabled' })
      await eventually(() => held(a, 'sharded')?.state === 'enabled', 10_000, 'A to hold the change made on B')
      const { token, id } = await createToken(a, 'sdk', 'evaluate')
      await eventually(
        async () => (await call(b, 'POST', '/evaluate', { token, body: { flag: 'sharded' } })).statusCode === 200,
        10_000,
        'B to accept the token',
      )
      await revokeToken(b, id)
      await eventually(async () => (await call(a, 'POST', '/evaluate', { token, body: { flag: 'sharded' } })).statusCode === 401, 10_000, 'A to refuse it')
      await deleteFlag(a, 'sharded')
      await eventually(() => held(b, 'sharded') === undefined, 10_000, 'B to drop the deleted flag')

      // The record and the audit trail live on the shard that owns the tag, and both replicas listen there.
      const stored = await client.hgetall(`{${PREFIX}}flags`)
      expect(stored).toEqual({})
      expect((await listAudit(b, { limit: 10 })).events.map((e: { action: string }) => e.action)).toEqual([
        'flag.deleted',
        'token.revoked',
        'token.created',
        'flag.updated',
        'flag.created',
      ])
      const owner = client.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === client.slots[[...slots][0]!]![0])!
      const [, subscribers] = (await owner.call('PUBSUB', 'SHARDNUMSUB', `{${PREFIX}}changes`)) as [string, number]
      expect(subscribers).toBe(2)
    } finally {
      close()
    }
  })

  it('If-Match races through both replicas: one success per version, contiguous; without If-Match every write applies', async () => {
    const { a, b, close } = await twoReplicasOnACluster()
    try {
      await createFlag(a, { key: 'contended' })
      await eventually(() => held(b, 'contended') !== undefined, 10_000, 'B to hold the flag')
      const { won, refused } = await raceIfMatch(a, b, 'contended', 50)
      const versions = [...won].sort((x, y) => x - y)
      expect(versions.length).toBeGreaterThan(1)
      expect(versions).toEqual(Array.from({ length: versions.length }, (_, i) => i + 2))
      expect(refused).toBeGreaterThan(0)

      const first = versions.length + 1
      const patch = (app: FastifyInstance, i: number) => updateFlag(app, 'contended', { description: `write ${i}` }).then((flag) => flag.version as number)
      const blind = await Promise.all(Array.from({ length: 20 }, (_, i) => [patch(a, i), patch(b, 100 + i)]).flat())
      expect(blind.sort((x, y) => x - y)).toEqual(Array.from({ length: 40 }, (_, i) => first + 1 + i))
      const last = first + 40
      await eventually(() => held(a, 'contended')?.version === last && held(b, 'contended')?.version === last, 10_000, 'both replicas at the last version')
      expect(held(a, 'contended')).toEqual(held(b, 'contended'))
    } finally {
      close()
    }
  })

  it('with REDIS_WAIT_REPLICAS=1, a write is acknowledged once the replica of its shard holds it, and refused while the shard has none', async () => {
    const cluster = await startCluster()
    // 1 s: a replica on this busy machine may take a few hundred ms to acknowledge.
    const options = { target: cluster.target, waitReplicas: 1, waitMs: 1000 }
    const alone = await startReplica(cluster.nodes[0]!.url, PREFIX, options)
    const refused = await call(alone, 'POST', '/flags', { body: { key: 'unreplicated' }, expected: 503 })
    expect(refused.json()).toMatchObject({
      code: 'STORE_UNAVAILABLE',
      message: expect.stringContaining('0 of the 1 Redis replicas (REDIS_WAIT_REPLICAS) confirmed'),
    })
    expect(held(alone, 'unreplicated')).toBeUndefined()

    const replica = await cluster.addReplicaFor(`{${PREFIX}}flags`)
    await call(alone, 'POST', '/flags', { body: { key: 'replicated', state: 'enabled' }, expected: 201 })
    const onReplica = replica.client()
    await onReplica.call('READONLY')
    expect(JSON.parse((await onReplica.hget(`{${PREFIX}}flags`, 'replicated'))!)).toMatchObject({ doc: { key: 'replicated', state: 'enabled' } })
  })
})
