// A replica's share of the segments bench, in a process of its own: a RedisStore that holds each
// segment's members as the registry does (core's IdTable), applies every segment change with applyMembers, and stamps the moment
// each one is in force with the machine's monotonic clock (which the parent reads too). Started
// with SEG_URL and SEG_PREFIX; reports its memory on request, after a full GC.
import { tuneHeap } from '../packages/server/src/heap-tuning.js'
import { RedisStore } from '../packages/server/src/store/redis.js'
import { applyMembers, type Snapshot } from '../packages/server/src/store/store.js'
import { IdTable } from '../packages/core/src/segments/id-table.js'

// As src/server.ts does, so the memory is that of the service's heap settings.
tuneHeap()
const gc = () => {
  globalThis.gc?.()
  globalThis.gc?.()
}
gc()
const started = process.memoryUsage()
const store = new RedisStore({
  target: { kind: 'single', url: process.env.SEG_URL! },
  prefix: process.env.SEG_PREFIX!,
  auditMaxEvents: 10_000,
  firstEpochWaitMs: 0,
  commandTimeoutMs: 10_000,
})
const held = new Map<string, { users: IdTable; tenants: IdTable }>()
let peak = started

/** A snapshot taken whole: the tables a registry would hold, the arrays left to the GC. */
function hold(snapshot: Snapshot): void {
  held.clear()
  for (const segment of snapshot.segments) held.set(segment.key, { users: IdTable.from(segment.users), tenants: IdTable.from(segment.tenants) })
  const now = process.memoryUsage()
  if (now.rss > peak.rss) peak = now
}

store.subscribe((event) => {
  if (event.type === 'resync') {
    hold(event.snapshot)
    process.send?.({ type: 'resynced', seq: event.snapshot.seq, members: [...held.values()].reduce((n, s) => n + s.users.size + s.tenants.size, 0) })
  }
  if (event.type !== 'change' || event.change.kind !== 'segment') return
  const { key, head, members, seq } = event.change
  if (head === null) held.delete(key)
  else {
    const segment = held.get(key) ?? { users: new IdTable(), tenants: new IdTable() }
    applyMembers(segment, members)
    held.set(key, segment)
  }
  const at = process.hrtime.bigint()
  process.send?.({ type: 'applied', seq, at: String(at), op: members.op, users: held.get(key)?.users.size ?? 0 })
})

process.on('message', (msg: { type: string }) => {
  if (msg.type === 'memory') {
    gc()
    const now = process.memoryUsage()
    process.send?.({ type: 'memory', started, peak, now, gcExposed: typeof globalThis.gc === 'function' })
  }
  if (msg.type === 'load') {
    const began = performance.now()
    void store.load().then((snapshot) => {
      const loadMs = performance.now() - began
      hold(snapshot)
      process.send?.({ type: 'load', loadMs })
    })
  }
  if (msg.type === 'stop') void store.close().then(() => process.exit(0))
})
process.send?.({ type: 'ready', port: 0 })
