// The memory store: the whole contract held in process. Tests use it directly; the file store
// extends it with durability.
import { randomBytes } from 'node:crypto'
import { ConflictError, LeaseLostError } from './errors.js'
import type { AuditEvent, AuditPage, AuditQuery } from '@switchyard/core/audit/schema'
import type { Flag } from '@switchyard/core/flags/schema'
import type { TokenRecord } from '@switchyard/core/auth/schema'
import type { Segment } from '@switchyard/core/segments/schema'
import { IdTable } from '@switchyard/core/segments/id-table'
import {
  AuditPageBuilder,
  applyMembers,
  changeOf,
  type SegmentHead,
  MAX_TOMBSTONES,
  BEAT_TTL_MS,
  type Change,
  type StoreFleet,
  type ReplicaBeat,
  type Snapshot,
  type Store,
  type StoreEvent,
  type StoreHealth,
  type Tombstone,
  type Write,
} from './store.js'

export interface StoredState {
  seq: number
  /** The store's identity (Snapshot.epoch); absent in files written before issue 15. */
  epoch?: string
  flags: Flag[]
  tokens: TokenRecord[]
  /** Absent in files written before segments: none. */
  segments?: Segment[]
  audit: AuditEvent[]
  /** Deleted flags' last versions, and the floor dropped ones raised (absent in older files: none). */
  tombstones?: Tombstone[]
  versionFloor?: number
}

export interface AuditLimits {
  /** Events kept; the oldest are dropped first. */
  auditMaxEvents?: number
  /** Bytes of JSON the kept events may add up to; the oldest are dropped first (the newest is always kept). */
  auditMaxBytes?: number
}

export interface TombstoneLimits {
  /** Tombstones of deleted flags kept (default MAX_TOMBSTONES); past that the lowest version is dropped. */
  maxTombstones?: number
}

export class MemoryStore implements Store {
  readonly kind: StoreHealth['kind'] = 'memory'
  readonly instanceId = randomBytes(8).toString('hex')
  protected seq = 0
  protected epoch = randomBytes(12).toString('base64url')
  protected flags = new Map<string, Flag>()
  protected tokens = new Map<string, TokenRecord>()
  protected segments = new Map<string, HeldSegment>()
  /** Deleted flag key → its last version: a re-created flag continues from it (store.ts, Write). */
  protected tombstones = new Map<string, number>()
  /** The highest version among dropped tombstones: a key without one continues from it. */
  protected versionFloor = 0
  private readonly maxTombstones: number
  /** The audit trail oldest first, each event beside the bytes of its JSON. */
  protected audit: AuditEvent[] = []
  private auditSizes: number[] = []
  private auditBytes = 0
  protected readonly auditMaxEvents: number
  private readonly auditMaxBytes: number
  // Commits run one at a time so the version check and the write see the same state.
  private queue: Promise<unknown> = Promise.resolve()

  constructor(limits: AuditLimits & TombstoneLimits = {}) {
    this.auditMaxEvents = limits.auditMaxEvents ?? 10_000
    this.auditMaxBytes = limits.auditMaxBytes ?? 64 * 1024 * 1024
    this.maxTombstones = limits.maxTombstones ?? MAX_TOMBSTONES
  }

  async load(): Promise<Snapshot> {
    return { seq: this.seq, epoch: this.epoch, flags: [...this.flags.values()], tokens: [...this.tokens.values()], segments: this.segmentList() }
  }

  async readFlag(key: string): Promise<Flag | null> {
    return this.flags.get(key) ?? null
  }

  async readSegment(key: string): Promise<SegmentHead | null> {
    return this.segments.get(key)?.head ?? null
  }

  protected segmentList(): Segment[] {
    return [...this.segments.values()].map(({ head, users, tenants }) => ({ ...head, users: [...users], tenants: [...tenants] }))
  }

  commit(write: Write): Promise<Change> {
    return this.serialized(() => this.commitNow(write))
  }

  /** Runs `task` after every commit before it, and before any after it. */
  protected serialized<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task)
    this.queue = run.catch(() => undefined)
    return run
  }

  private async commitNow(write: Write): Promise<Change> {
    if (write.kind === 'flag' && write.fence && !this.leaseHeld(write.fence.lease, write.fence.token)) {
      throw new LeaseLostError(write.fence.lease, write.fence.token)
    }
    if (write.kind === 'flag') {
      const current = this.flags.get(write.key) ?? null
      const last = current ? 0 : (this.tombstones.get(write.key) ?? this.versionFloor)
      if ((current?.version ?? 0) !== write.expectedVersion) throw new ConflictError(current, last)
      // A create continues the key's sequence, so no version (and no ETag) is ever used twice.
      if (!current && write.next && write.next.version !== last + 1) throw new ConflictError(null, last)
    } else if (write.kind === 'segment') {
      const current = this.segments.get(write.key)?.head ?? null
      const last = current ? 0 : (this.tombstones.get(segmentTombstone(write.key)) ?? this.versionFloor)
      if ((current?.version ?? 0) !== write.expectedVersion) throw new ConflictError(current, last)
      if (!current && write.head && write.head.version !== last + 1) throw new ConflictError(null, last)
    }
    const seq = this.seq + 1
    const change = changeOf(write, seq)
    const event: AuditEvent = { ...write.audit, seq }
    const eventJson = JSON.stringify(event)
    await this.persist(change, event, eventJson)
    this.applyCommitted(change, event, Buffer.byteLength(eventJson))
    return change
  }

  /**
   * Durability hook, run before a commit takes effect: the memory store keeps nothing. Throwing
   * leaves the state untouched. `eventJson` is the event already encoded.
   */
  protected async persist(_change: Change, _event: AuditEvent, _eventJson: string): Promise<void> {}

  /** Takes a committed change into the state: after persist, or replayed from a durable log. */
  protected applyCommitted(change: Change, event: AuditEvent, eventBytes: number): void {
    this.seq = change.seq
    if (change.kind === 'flag') {
      this.keepTombstone(change.key, this.flags.get(change.key)?.version, change.flag)
      setOrDelete(this.flags, change.key, change.flag)
    } else if (change.kind === 'segment') {
      const held = this.segments.get(change.key)
      this.keepTombstone(segmentTombstone(change.key), held?.head.version, change.head)
      if (change.head === null) this.segments.delete(change.key)
      else {
        const next: HeldSegment = held ?? { head: change.head, users: new IdTable(), tenants: new IdTable() }
        next.head = change.head
        applyMembers(next, change.members)
        this.segments.set(change.key, next)
      }
    } else setOrDelete(this.tokens, change.id, change.token)
    this.remember(event, eventBytes)
  }

  /** A deletion leaves the record's last version behind; a (re-)creation takes it away. */
  private keepTombstone(key: string, previousVersion: number | undefined, next: object | null): void {
    this.tombstones.delete(key)
    if (next === null && previousVersion !== undefined) this.tombstones.set(key, previousVersion)
    this.trimTombstones()
  }

  /** Over the cap, drops the lowest version (ties: the first key), as Redis's ZPOPMIN does, and raises the floor to it. */
  private trimTombstones(): void {
    while (this.tombstones.size > this.maxTombstones) {
      let lowest: [string, number] | undefined
      for (const entry of this.tombstones) {
        if (!lowest || entry[1] < lowest[1] || (entry[1] === lowest[1] && entry[0] < lowest[0])) lowest = entry
      }
      const [key, version] = lowest!
      this.tombstones.delete(key)
      this.versionFloor = Math.max(this.versionFloor, version)
    }
  }

  private remember(event: AuditEvent, bytes: number): void {
    this.audit.push(event)
    this.auditSizes.push(bytes)
    this.auditBytes += bytes
    // shift(), not splice(0, 1): V8 drops an array's head in place, where splice copies the
    // whole array (36 µs per write at the default 10,000 events, against under 0.5 µs).
    while (this.audit.length > this.auditMaxEvents || (this.auditBytes > this.auditMaxBytes && this.audit.length > 1)) {
      this.audit.shift()
      this.auditBytes -= this.auditSizes.shift()!
    }
  }

  /** The whole state, as a durable store saves it: copies of the lists, sharing the (immutable) records. */
  protected state(): StoredState {
    const tombstones = [...this.tombstones].map(([key, version]) => ({ key, version }))
    const records = { flags: [...this.flags.values()], tokens: [...this.tokens.values()], segments: this.segmentList(), audit: [...this.audit] }
    return { seq: this.seq, epoch: this.epoch, ...records, tombstones, versionFloor: this.versionFloor }
  }

  protected restore(state: StoredState): void {
    this.seq = state.seq
    // A file from before epochs adopts the one this process drew; it is saved with the next fold.
    if (state.epoch !== undefined) this.epoch = state.epoch
    this.flags = new Map(state.flags.map((f) => [f.key, f]))
    this.tokens = new Map(state.tokens.map((t) => [t.id, t]))
    this.segments = new Map(
      (state.segments ?? []).map(({ users, tenants, ...head }) => [head.key, { head, users: IdTable.from(users), tenants: IdTable.from(tenants) }]),
    )
    this.tombstones = new Map((state.tombstones ?? []).map((t) => [t.key, t.version]))
    this.versionFloor = state.versionFloor ?? 0
    this.trimTombstones()
    this.audit = []
    this.auditSizes = []
    this.auditBytes = 0
    for (const event of state.audit) this.remember(event, Buffer.byteLength(JSON.stringify(event)))
  }

  async readAudit(query: AuditQuery): Promise<AuditPage> {
    return pageAudit(this.audit, query, this.auditSizes)
  }

  subscribe(_listener: (event: StoreEvent) => void): void {}

  // Heartbeats of the one process: kept like Redis keeps them, so GET /admin/fleet is the same everywhere.
  private readonly beats = new Map<string, { beat: ReplicaBeat; at: number }>()

  async beat(beat: ReplicaBeat): Promise<number> {
    this.beats.set(beat.id, { beat, at: Date.now() })
    return this.seq
  }

  async fleet(): Promise<StoreFleet> {
    const now = Date.now()
    const beats = []
    for (const [id, { beat, at }] of this.beats) {
      if (now - at >= BEAT_TTL_MS) this.beats.delete(id)
      else beats.push({ ...beat, lastBeatAt: new Date(at).toISOString() })
    }
    return { counter: this.seq, epoch: this.epoch, parents: [], beats }
  }

  // Leases of the one process (the embedded store has one process by its lock), kept as Redis
  // keeps them: a holder, a token, an expiry.
  private readonly leases = new Map<string, { holder: string; token: number; expiresAt: number }>()
  private leaseTokens = 0

  async holdLease(name: string, ttlMs: number): Promise<number | null> {
    const holder = this.instanceId
    const now = Date.now()
    const held = this.leases.get(name)
    if (held && held.expiresAt > now && held.holder !== holder) return null
    const token = held && held.expiresAt > now ? held.token : ++this.leaseTokens
    this.leases.set(name, { holder, token, expiresAt: now + ttlMs })
    return token
  }

  async releaseLease(name: string, token: number): Promise<void> {
    if (this.leases.get(name)?.token === token) this.leases.delete(name)
  }

  private readonly notes = new Map<string, Map<string, string>>()

  async leaseNotes(name: string): Promise<Record<string, string>> {
    return Object.fromEntries(this.notes.get(name) ?? [])
  }

  async noteLease(name: string, field: string, value: string | null): Promise<void> {
    const notes = this.notes.get(name) ?? new Map<string, string>()
    this.notes.set(name, notes)
    if (value === null) notes.delete(field)
    else notes.set(field, value)
  }

  private leaseHeld(name: string, token: number): boolean {
    const held = this.leases.get(name)
    return held !== undefined && held.token === token && held.expiresAt > Date.now()
  }

  health(): StoreHealth {
    return { kind: this.kind, status: 'up' }
  }

  async close(): Promise<void> {
    await this.queue
  }
}

/** A segment as a store holds it: members as id tables, so an edit of a million-member segment copies nothing. */
export interface HeldSegment {
  head: SegmentHead
  users: IdTable
  tenants: IdTable
}

/**
 * Segments keep their tombstones beside the flags', under a key no flag can have (flag keys hold no
 * colon): one cap, one floor, no new field in the data file.
 */
export const segmentTombstone = (key: string) => `segment:${key}`

function setOrDelete<V>(map: Map<string, V>, key: string, value: V | null): void {
  if (value === null) map.delete(key)
  else map.set(key, value)
}

/**
 * Newest-first page over events held oldest-first, beside the bytes of each one's JSON. A page
 * ends early, with a cursor, once it holds AUDIT_PAGE_MAX_BYTES (always at least one event).
 */
function pageAudit(events: readonly AuditEvent[], query: AuditQuery, sizes: readonly number[]): AuditPage {
  const page = new AuditPageBuilder(query)
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i]!
    if (!page.offer(e.seq, e.flag, e.actor, sizes[i]!, () => e)) break
  }
  return page.page()
}
