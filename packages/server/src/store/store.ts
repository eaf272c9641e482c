// The store boundary: durable state behind the in-memory registries. Write-through and
// change notifications are part of the contract so one node (file) and a fleet (Redis)
// fit the same shape.
import { Type, type Static } from 'typebox'
import type { Flag } from '@switchyard/core/flags/schema'
import type { Segment } from '@switchyard/core/segments/schema'
import { IdTable } from '@switchyard/core/segments/id-table'
import { AUDIT_PAGE_MAX_BYTES, type AuditDraft, type AuditEvent, type AuditQuery, type AuditPage } from '@switchyard/core/audit/schema'
import type { TokenRecord } from '@switchyard/core/auth/schema'
import { StringEnum } from '@switchyard/core/schema'
import { STORE_STATUSES, type ReplicaBeat } from '@switchyard/core/replica/fleet'

export interface Snapshot {
  flags: Flag[]
  tokens: TokenRecord[]
  /** Every segment with its members (absent from stores written before segments: none). */
  segments: Segment[]
  /** The store's global change counter when the snapshot was taken. */
  seq: number
  /**
   * The store's identity, written when it was first initialized and replaced by a reseed: seqs of
   * one epoch never compare with another's.
   */
  epoch: string
}

/**
 * One atomic write: the record change, its audit event and its notification commit together
 * or not at all. `expectedVersion` is the version the caller based the change on (0 = must
 * not exist yet); the store refuses with ConflictError when it holds another.
 *
 * Versions are never reused under a key: deleting a flag leaves a tombstone with its last version,
 * and a create must carry that version + 1 (1 for a key never used), else ConflictError with
 * `lastVersion`. So an ETag of a deleted flag never matches the flag re-created in its place.
 * At most `maxTombstones` (MAX_TOMBSTONES) are kept: past that the lowest version is dropped and
 * raises a floor that every key without a tombstone continues from instead of 0.
 */
export type Write =
  | { kind: 'flag'; key: string; expectedVersion: number; next: Flag | null; audit: AuditDraft; fence?: Fence }
  | { kind: 'token'; id: string; next: TokenRecord | null; audit: AuditDraft }
  | SegmentWrite

/** A segment without its member lists, which may hold a million ids and never travel whole. */
export type SegmentHead = Omit<Segment, 'users' | 'tenants'>

/** Member ids by list. */
export interface Members {
  users: string[]
  tenants: string[]
}

/**
 * How a segment write changes its members: not at all, replaced whole (a create, a PATCH of `users`
 * or `tenants`: at most 10,000 ids a list; a list left out of a replace stays as it is), or by ids added and removed (POST /segments/:key/targets),
 * relative to the members at `expectedVersion`. Ids are in NFC; an added id is not yet a member and a
 * removed one is, so applying an edit twice is detectable but never needed.
 */
export type MembersChange = { op: 'same' } | ({ op: 'replace' } & Partial<Members>) | { op: 'edit'; add: Members; remove: Members }

/**
 * A segment created, changed or deleted (`head` null). Versions and tombstones follow the flags' rule
 * (a deleted key's version continues), under their own keys: a segment and a flag may share a key.
 */
export interface SegmentWrite {
  kind: 'segment'
  key: string
  expectedVersion: number
  head: SegmentHead | null
  members: MembersChange
  audit: AuditDraft
}

/**
 * A lease and the fencing token its holder got (Store.holdLease): a write that carries it commits
 * only while the lease is still held with that token, else LeaseLostError. A holder that stalled
 * past its lease and woke up can then change nothing.
 */
export interface Fence {
  lease: string
  token: number
}

/** A committed change, as the registries apply it (locally after a commit, or from another replica). */
export type Change =
  | { kind: 'flag'; key: string; seq: number; flag: Flag | null }
  | { kind: 'token'; id: string; seq: number; token: TokenRecord | null }
  | { kind: 'segment'; key: string; seq: number; head: SegmentHead | null; members: MembersChange }

/**
 * What a store tells the sync: a change another replica committed, a whole new snapshot, a
 * notification it refused because the store does not hold what it claims (forged or replayed),
 * or that the store lost or replaced its data under this replica (health() says so from then on).
 */
export type StoreEvent =
  /** `confirms`: the seq whose change the store confirmed this is; `committedAtMs`: when it committed, on this replica's clock. */
  | { type: 'change'; change: Change; confirms?: number; committedAtMs?: number }
  | { type: 'resync'; snapshot: Snapshot }
  | { type: 'rejected'; detail: string }
  | { type: 'diverged'; detail: string }

/** Tombstones a store keeps by default (a key and a number each; see Write). */
export const MAX_TOMBSTONES = 10_000

/** A deleted flag's key and the last version it had. */
export interface Tombstone {
  key: string
  version: number
}

/** What /healthz and /readyz report of the store. */
export const StoreHealth = Type.Object({
  kind: StringEnum(['memory', 'file', 'redis']),
  // degraded: writes are durable and answered, but upkeep (such as folding a journal) is failing;
  // diverged: the store lost or replaced its data under this replica, which refuses writes.
  status: StringEnum(STORE_STATUSES),
  detail: Type.Optional(Type.String()),
})
export type StoreHealth = Static<typeof StoreHealth>

export type { ReplicaBeat }

/** The live replicas, as the store knows them, with its own counter and epoch. */
export interface StoreFleet {
  counter: number
  epoch: string | null
  /** Epochs a reseed replaced with `epoch`: replicas still on one of them adopt it. */
  parents: string[]
  beats: (ReplicaBeat & { lastBeatAt: string })[]
}

/** How long a replica's heartbeat counts as live. */
export const BEAT_TTL_MS = 5000

/**
 * The operator's way out when a shared store lost data (redis.ts): write this replica's state back
 * under a new epoch, or take the store as it is now under a new epoch. Only a store several
 * replicas share can lose data under a running replica, so only such a store implements it; the
 * route answers 409 STORE_NOT_DIVERGED for any store that did not diverge.
 */
export interface RecoverableStore {
  /** Writes `state` (flags, tokens) with a new epoch; resolves with it and the recovery's seq. */
  reseed(state: { flags: Flag[]; tokens: TokenRecord[]; segments: Segment[] }, audit: AuditDraft): Promise<{ epoch: string; seq: number }>
  /** Keeps what the store holds, under a new epoch; resolves with it and the recovery's seq. */
  acceptLoss(audit: AuditDraft): Promise<{ epoch: string; seq: number }>
}

export function isRecoverableStore(store: Store): store is Store & RecoverableStore {
  return typeof (store as Partial<RecoverableStore>).reseed === 'function'
}

/**
 * A store with a clock of its own, which schedules switch by (replica/clock.ts): every replica
 * sharing it reads the same instant. Only a shared store has one; for any other (memory, embedded)
 * the process's clock decides, with no offset to measure.
 */
export interface ClockedStore {
  /** The store's time now, in ms since the epoch (fractions kept). */
  time(): Promise<number>
}

export function isClockedStore(store: Store): store is Store & ClockedStore {
  return typeof (store as Partial<ClockedStore>).time === 'function'
}

/** A store that folds a log of writes into a snapshot (the embedded store) says how that is going. */
export interface FoldingStore {
  foldStats(): { failures: number; journalBytes: number }
}

export function isFoldingStore(store: Store): store is Store & FoldingStore {
  return typeof (store as Partial<FoldingStore>).foldStats === 'function'
}

export interface Store {
  readonly kind: StoreHealth['kind']
  /** Names this replica in the fleet (GET /admin/fleet) and, for Redis, its connections. */
  readonly instanceId: string
  load(): Promise<Snapshot>
  /** The committed flag, bypassing the registry; for a replica that may be behind. */
  readFlag(key: string): Promise<Flag | null>
  /** The committed segment without its members, bypassing the registry. */
  readSegment(key: string): Promise<SegmentHead | null>
  /** Commits a write; resolves with the change to apply. Rejects with ConflictError or StoreUnavailableError. */
  commit(write: Write): Promise<Change>
  readAudit(query: AuditQuery): Promise<AuditPage>
  /** Changes committed elsewhere, and full resyncs after a gap; a single-node store never emits. */
  subscribe(listener: (event: StoreEvent) => void): void
  /** Records this replica's heartbeat for BEAT_TTL_MS; resolves with the store's change counter. */
  beat(beat: ReplicaBeat): Promise<number>
  /** The replicas whose heartbeats are live. */
  fleet(): Promise<StoreFleet>
  /**
   * Takes lease `name` for `ttlMs` when no one holds it, or renews it when this replica does;
   * resolves with the fencing token (higher for every new holder) or null when another replica holds it.
   */
  holdLease(name: string, ttlMs: number): Promise<number | null>
  /** Gives lease `name` up when it is still held with `token`, so another replica need not wait for it to expire. */
  releaseLease(name: string, token: number): Promise<void>
  /** Notes a lease's holder keeps for whoever holds it next (the guards' last healthy samples): field → value. */
  leaseNotes(name: string): Promise<Record<string, string>>
  /** Sets (or with null, removes) one note of lease `name`. */
  noteLease(name: string, field: string, value: string | null): Promise<void>
  health(): StoreHealth
  close(): Promise<void>
}

export function changeOf(write: Write, seq: number): Change {
  if (write.kind === 'segment') return { kind: 'segment', key: write.key, seq, head: write.head, members: write.members }
  return write.kind === 'flag' ? { kind: 'flag', key: write.key, seq, flag: write.next } : { kind: 'token', id: write.id, seq, token: write.next }
}

/** The members a segment has after `change`, from the ones it had (mutated in place: a million ids are not copied). */
export function applyMembers(held: { users: IdTable; tenants: IdTable }, change: MembersChange): void {
  if (change.op === 'same') return
  if (change.op === 'replace') {
    if (change.users) held.users = IdTable.from(change.users)
    if (change.tenants) held.tenants = IdTable.from(change.tenants)
    return
  }
  for (const id of change.remove.users) held.users.delete(id)
  for (const id of change.remove.tenants) held.tenants.delete(id)
  for (const id of change.add.users) held.users.add(id)
  for (const id of change.add.tenants) held.tenants.add(id)
}

/**
 * One newest-first page of the audit trail, by the rule every store shares: the query's filters,
 * its limit, and at most AUDIT_PAGE_MAX_BYTES (always one event at least); a cursor only when
 * another matching event follows.
 */
export class AuditPageBuilder {
  private readonly events: AuditEvent[] = []
  private bytes = 0
  private more = false

  constructor(private readonly query: AuditQuery) {}

  /**
   * Offers the next older event: its seq, flag and actor, the bytes of its JSON, and how to build
   * it (called only when it is taken). False once the page is full: offer nothing more.
   */
  offer(seq: number, flag: string | undefined, actor: string, bytes: number, event: () => AuditEvent): boolean {
    const { before, limit } = this.query
    if ((before !== undefined && seq >= before) || (this.query.flag !== undefined && flag !== this.query.flag)) return true
    if (this.query.actor !== undefined && actor !== this.query.actor) return true
    if (this.events.length === limit || this.bytes >= AUDIT_PAGE_MAX_BYTES) {
      this.more = true
      return false
    }
    this.events.push(event())
    this.bytes += bytes
    return true
  }

  page(): AuditPage {
    return { events: this.events, nextCursor: this.more ? String(this.events[this.events.length - 1]!.seq) : undefined }
  }
}
