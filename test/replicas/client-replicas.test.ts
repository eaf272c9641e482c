import { describe, expect, it, onTestFinished } from 'vitest'
import { createClient, type FlagChange } from '../../packages/sdk/src/index.js'
import { ADMIN, call, createFlag, eventually, updateFlag } from '../support/helpers.js'
import { startReplica, testPrefix, useSharedRedis } from '../support/redis-helpers.js'

const redis = useSharedRedis()

describe('the SDK on a fleet sharing Redis', () => {
  it('sees changes made on another replica than the one it streams from', async () => {
    const prefix = testPrefix(redis.url())
    const writer = await startReplica(redis.url(), prefix)
    const reader = await startReplica(redis.url(), prefix)
    const url = await reader.listen({ port: 0, host: '127.0.0.1' })
    await createFlag(writer, { key: 'fleet_flag', state: 'disabled' })
    await eventually(() => reader.switchyard.flags.get('fleet_flag') !== undefined, 10_000, 'the reader replica to apply the create')

    const changes: FlagChange[] = []
    const flags = await createClient({ url, token: ADMIN, onChange: (c) => changes.push(c) })
    onTestFinished(() => flags.close())
    expect(flags.isEnabled('fleet_flag')).toBe(false)

    await updateFlag(writer, 'fleet_flag', { state: 'enabled' })
    await eventually(() => flags.isEnabled('fleet_flag'), 10_000, 'the SDK to see the update made on the writer')
    await createFlag(writer, { key: 'fleet_new', state: 'enabled' })
    await eventually(() => flags.isEnabled('fleet_new'), 10_000, 'the SDK to see a create made on the writer')
    await call(writer, 'DELETE', '/flags/fleet_flag', { expected: 204 })
    await eventually(() => flags.flag('fleet_flag') === undefined, 10_000, 'the SDK to see a delete made on the writer')

    expect(changes.map((c) => c.keys[0])).toEqual(['fleet_flag', 'fleet_new', 'fleet_flag'])
    // Ids are the store's own sequence, the same on every replica.
    const seqs = changes.map((c) => c.seq)
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b))
    expect(flags.flag('fleet_new')!.version).toBe(1)
  })
})
