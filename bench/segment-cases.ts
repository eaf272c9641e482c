// Segments on Redis (BENCH_ONLY=segments): a 1,000,000-member segment of 36-character ids, built by
// 100 edits of 10,000 ids through replica A (this process). Then BENCH_SEGMENT_EDITS timed edits,
// each adding 10,000 ids in one commit: how long A's commit takes, and how long until replica B (a
// process of its own, holding the members as the registry does) has applied the change, from the
// moment the commit began and from A's answer (the acknowledged write), on the machine's monotonic clock. After each, an untimed edit removes those 10,000
// again, so every timed edit starts from 1,000,000 members. Last, the memory of holding the segment:
// a third process (C) loads it and keeps it as the registry does, RSS and heap after a full GC, before and after.
import { segmentHead } from '../test/support/segments.js'
import { randomBytes, randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import type { AuditDraft } from '../packages/core/src/audit/schema.js'
import { RedisStore } from '../packages/server/src/store/redis.js'
import { segmentMemberKeys } from '../packages/server/src/store/redis-scripts.js'
import type { SegmentHead, Write } from '../packages/server/src/store/store.js'
import { percentiles } from './redis-cases.js'
import { benchRedis } from './redis.js'
import { startChild, type ChildServer } from './servers.js'

type Row = { case: string; figure: string; ratio?: string; target?: string }

const EDITS = Number(process.env.BENCH_SEGMENT_EDITS ?? 20)
const BATCH = 10_000
const fmt = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits
const mb = (bytes: number) => fmt(bytes / 2 ** 20)
const KEY = 'bench-huge'

const head = (version: number): SegmentHead => segmentHead(KEY, version, 'bench', 'bench')
// The registry's audit event of an edit names at most 1,000 ids a side (core's audit diff).
const audit = (added: string[], removed: string[]): AuditDraft => ({
  id: randomUUID(),
  type: 'audit',
  action: 'flag.updated',
  actor: 'bench',
  requestId: 'bench',
  timestamp: new Date().toISOString(),
  changes: { users: { added: added.slice(0, 1000), removed: removed.slice(0, 1000), addedCount: added.length, removedCount: removed.length } },
})
const edit = (from: number, add: string[], remove: string[] = []): Write => ({
  kind: 'segment',
  key: KEY,
  expectedVersion: from,
  head: head(from + 1),
  members: { op: 'edit', add: { users: add, tenants: [] }, remove: { users: remove, tenants: [] } },
  audit: audit(add, remove),
})
const uuids = (n: number) => Array.from({ length: n }, () => randomUUID())

/** p50, p90, max and how many samples exceed 100 ms (the target). */
function spread(samples: number[]): { p50: number; p90: number; max: number; over100: number } {
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (q: number) => fmt(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!)
  return { p50: at(0.5), p90: at(0.9), max: fmt(sorted.at(-1)!), over100: sorted.filter((x) => x > 100).length }
}

/** The next message of `type` from a child, or an error after `timeoutMs`. */
function next(child: ChildServer, type: string, timeoutMs = 120_000): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${type}' from the child within ${timeoutMs} ms`)), timeoutMs)
    let done = false
    child.on(type, (msg) => {
      if (done) return
      done = true
      clearTimeout(timer)
      resolve(msg)
    })
  })
}

async function cleanup(url: string, prefix: string): Promise<void> {
  const client = new Redis(url)
  let cursor = '0'
  do {
    const [nextCursor, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
    if (keys.length > 0) await client.unlink(...keys)
    cursor = nextCursor
  } while (cursor !== '0')
  client.disconnect()
}

export async function segmentCases(ctx: { rows: Row[]; results: Record<string, unknown> }): Promise<void> {
  const redis = await benchRedis()
  const prefix = `switchyard-bench-seg:${randomBytes(4).toString('hex')}:`
  const env = { SEG_URL: redis.url, SEG_PREFIX: prefix }
  const a = new RedisStore({ target: { kind: 'single', url: redis.url }, prefix, auditMaxEvents: 10_000, firstEpochWaitMs: 0, commandTimeoutMs: 10_000 })
  const b = await startChild('child-segments.ts', env)
  let c: ChildServer | undefined
  try {
    const applied = new Map<number, { at: bigint; users: number; op: string }>()
    let arrived: (() => void) | undefined
    b.on('applied', (msg) => {
      applied.set(msg.seq as number, { at: BigInt(msg.at as string), users: msg.users as number, op: msg.op as string })
      arrived?.()
    })
    const onB = async (seq: number, timeoutMs = 10_000) => {
      const deadline = performance.now() + timeoutMs
      while (!applied.has(seq)) {
        if (performance.now() > deadline) throw new Error(`replica B did not apply seq ${seq} within ${timeoutMs} ms`)
        await new Promise<void>((resolve) => {
          arrived = resolve
          setTimeout(resolve, 50)
        })
      }
      return applied.get(seq)!
    }
    await Promise.race([next(b, 'resynced', 30_000), new Promise((resolve) => setTimeout(resolve, 30_000))])
    await a.load()

    // The build: a million ids in 100 edits of 10,000.
    const buildBegan = performance.now()
    let version = 0
    await a.commit({ kind: 'segment', key: KEY, expectedVersion: 0, head: head(1), members: { op: 'replace', users: [], tenants: [] }, audit: audit([], []) })
    version = 1
    let last = 0
    for (let i = 0; i < 100; i++) last = (await a.commit(edit(version++, uuids(BATCH)))).seq
    await onB(last, 60_000)
    const buildMs = performance.now() - buildBegan
    const client = new Redis(redis.url)
    const redisBytes = Number(await client.memory('USAGE', segmentMemberKeys(prefix, KEY).users, 'SAMPLES', '0'))
    const members = await client.scard(segmentMemberKeys(prefix, KEY).users)
    client.disconnect()
    if (members !== 1_000_000) throw new Error(`the segment holds ${members} members, not 1,000,000`)

    // The timed edits.
    const commitMs: number[] = []
    const inForceMs: number[] = []
    const afterAnswerMs: number[] = []
    for (let i = 0; i < EDITS; i++) {
      const add = uuids(BATCH)
      const t0 = process.hrtime.bigint()
      const change = await a.commit(edit(version++, add))
      const t1 = process.hrtime.bigint()
      const onReplica = await onB(change.seq)
      if (onReplica.op !== 'edit' || onReplica.users !== 1_010_000) throw new Error(`B applied ${onReplica.op} to ${onReplica.users} members`)
      commitMs.push(Number(t1 - t0) / 1e6)
      inForceMs.push(Number(onReplica.at - t0) / 1e6)
      afterAnswerMs.push(Number(onReplica.at - t1) / 1e6)
      const back = await a.commit(edit(version++, [], add))
      await onB(back.seq)
    }

    // The memory of holding it: a fresh process loads the segment (its subscription's resync), then once more, timed.
    c = await startChild('child-segments.ts', env)
    const resynced = await next(c, 'resynced')
    c.send({ type: 'load' })
    const loaded = await next(c, 'load')
    c.send({ type: 'memory' })
    const memory = (await next(c, 'memory')) as unknown as Record<'started' | 'peak' | 'now', NodeJS.MemoryUsage> & { gcExposed: boolean }
    b.send({ type: 'memory' })
    const bMemory = (await next(b, 'memory')) as unknown as Record<'started' | 'peak' | 'now', NodeJS.MemoryUsage>

    const commit = percentiles(commitMs)
    const inForce = spread(inForceMs)
    const afterAnswer = spread(afterAnswerMs)
    const figures = {
      members,
      editsTimed: EDITS,
      buildMs: fmt(buildMs, 0),
      commitMs: commit,
      inForceOnBMs: inForce,
      inForceOnBAfterAnswerMs: afterAnswer,
      commitSamples: commitMs.map((x) => fmt(x, 2)),
      inForceSamples: inForceMs.map((x) => fmt(x, 2)),
      afterAnswerSamples: afterAnswerMs.map((x) => fmt(x, 2)),
      redisSetBytes: redisBytes,
      loadMs: fmt(loaded.loadMs as number, 0),
      resyncedMembers: resynced.members,
      holdingC: {
        rssStartedMB: mb(memory.started.rss),
        rssHoldingMB: mb(memory.now.rss),
        rssGrowthMB: mb(memory.now.rss - memory.started.rss),
        heapGrowthMB: mb(memory.now.heapUsed - memory.started.heapUsed),
        rssPeakMB: mb(memory.peak.rss),
      },
      replicaB: { rssMB: mb(bMemory.now.rss), heapUsedMB: mb(bMemory.now.heapUsed) },
      gcExposed: memory.gcExposed,
    }
    ctx.results.segments = figures
    ctx.rows.push({
      case: `10. a segment of 1,000,000 ids (36 chars): add ${BATCH.toLocaleString('en')} in one commit (${EDITS} edits), answered on A`,
      figure: `p50 ${commit.p50} ms, max ${commit.max} ms`,
      target: '< 1 s',
    })
    ctx.rows.push({
      case: "10. the same edits in force on replica B (its own process, members as id tables, applyMembers), from the commit start; from A's answer",
      figure:
        `p50 ${inForce.p50} ms, p90 ${inForce.p90} ms, max ${inForce.max} ms, ${inForce.over100} over 100 ms; ` +
        `after the answer p50 ${afterAnswer.p50} ms, p90 ${afterAnswer.p90} ms, max ${afterAnswer.max} ms, ${afterAnswer.over100} over 100 ms`,
      target: '< 100 ms',
    })
    ctx.rows.push({
      case: '10. holding the 1,000,000 ids as id tables in one process (C: loaded, after a full GC)',
      figure:
        `RSS +${figures.holdingC.rssGrowthMB} MB (heap +${figures.holdingC.heapGrowthMB} MB, peak RSS while loading ${figures.holdingC.rssPeakMB} MB); ` +
        `load() ${figures.loadMs} ms; Redis set ${mb(redisBytes)} MB; built by 100 edits in ${fmt(buildMs / 1000)} s`,
    })
  } finally {
    await c?.stop()
    await b.stop()
    await a.close()
    await cleanup(redis.url, prefix)
    await redis.stop()
  }
}
