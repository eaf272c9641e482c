// The Redis store: flags, tokens, segments and the audit trail shared by a fleet of replicas. A
// commit is one Lua script; a subscriber connection turns other replicas' commits into changes, and
// a full resync follows every gap (reconnect, or the change counter moving without a message). A
// segment's members live in two Redis sets and travel as what changed, never whole (but in a load).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import type { Redis } from 'ioredis'
import { ConflictError, LeaseLostError, StoreDivergedError, StoreUnavailableError } from './errors.js'
import { type AuditDraft, type AuditEvent, type AuditPage, type AuditQuery } from '@switchyard/core/audit/schema'
import type { TokenRecord } from '@switchyard/core/auth/schema'
import type { Flag } from '@switchyard/core/flags/schema'
import type { Segment } from '@switchyard/core/segments/schema'
import {
  AuditPageBuilder,
  BEAT_TTL_MS,
  changeOf,
  MAX_TOMBSTONES,
  type Change,
  type Members,
  type MembersChange,
  type SegmentHead,
  type SegmentWrite,
  type StoreFleet,
  type RecoverableStore,
  type ClockedStore,
  type ReplicaBeat,
  type Snapshot,
  type Store,
  type StoreEvent,
  type StoreHealth,
  type Write,
} from './store.js'
import {
  COMMIT_SCRIPT,
  FLEET_SCRIPT,
  HEARTBEAT_SCRIPT,
  LEASE_SCRIPT,
  leaseKey,
  leaseNotesKey,
  NOTE_SCRIPT,
  RELEASE_LEASE_SCRIPT,
  parseMessage,
  parseRecord,
  redisKeys,
  RESEED_SCRIPT,
  SEGMENT_NOTE_MAX_BYTES,
  segmentMemberKeys,
  type ChangeNote,
  type RedisKeys,
  type StoredRecord,
} from './redis-scripts.js'
import { SeqSet } from '@switchyard/core/replica/seq-set'
import { connect, connectionFor, describeTarget, keyPrefix, type RedisTarget } from './redis-connection.js'

/**
 * Replicas beat every second and reconnect within 2 s, so after a restart that lost Redis's data
 * their heartbeats are back within about 3 s: a replica starting on a store with no epoch waits
 * that long before it takes the store as new and writes one.
 */
export const FIRST_EPOCH_WAIT_MS = 3000

export interface RedisStoreOptions {
  target: RedisTarget
  prefix: string
  /**
   * Redis replicas that must hold a commit before it is acknowledged (WAIT); the notification goes
   * out only then, so no replica applies a write a failover could still lose. Default 0.
   */
  waitReplicas?: number
  /** How long a commit waits for them (default 500 ms); past it the write answers 503. */
  waitMs?: number
  auditMaxEvents: number
  /** Bytes of JSON the audit trail may hold (default 64 MiB). */
  auditMaxBytes?: number
  /** Tombstones of deleted flags kept (default MAX_TOMBSTONES). */
  maxTombstones?: number
  /** A command that takes longer fails; a write then answers 503 instead of hanging. */
  commandTimeoutMs?: number
  /** Interval of the change-counter check that catches missed notifications; 0 turns it off. */
  resyncCheckMs?: number
  /** How long a first load that finds no epoch waits, once, for running replicas' heartbeats (default FIRST_EPOCH_WAIT_MS). */
  firstEpochWaitMs?: number
  /** Delay before reconnection attempt `attempt` (1, 2, …) after Redis is lost. */
  retryDelayMs?: (attempt: number) => number
  /** Bytes of a segment change past which its note is a hint (default SEGMENT_NOTE_MAX_BYTES). */
  segmentNoteMaxBytes?: number
}

/** Member ids one SSCAN asks for: a few milliseconds of Redis's time each, whatever the set's size. */
const SCAN_COUNT = 10_000
/**
 * Reads of a segment's members by SSCAN that a change to it may spoil before a reader takes them in
 * one atomic step instead (SMEMBERS in MULTI: about 0.5 s of Redis's time for a million ids).
 */
const SCAN_ATTEMPTS = 3

type SegmentChange = Extract<Change, { kind: 'segment' }>
/** The version of a segment (null: deleted) and the seq of the change that made it. */
interface HeldSegment {
  version: number | null
  seq: number
}

type CommitResult = [number, string | null, number?]
type CommandConnection = Redis & {
  switchyardCommit(...args: (string | number)[]): Promise<CommitResult>
  /** The same script with a segment's two member sets as keys 9 and 10; takes its arguments as one array. */
  switchyardCommitSegment(args: (string | number)[]): Promise<CommitResult>
  /** The same script with a flag write's lease as key 9 and its `<token> <holder>` last. */
  switchyardCommitFenced(...args: (string | number)[]): Promise<CommitResult>
  /** The holder's fencing token, or 0 when another holds the lease. */
  switchyardLease(...args: (string | number)[]): Promise<number>
  switchyardReleaseLease(...args: (string | number)[]): Promise<number>
  /** Lua nil comes back as null: the record (or null), the counter, the epoch, the audit entry's fields. */
  switchyardNote(...args: (string | number)[]): Promise<[string | null, string | null, string | null, string[]]>
  switchyardBeat(...args: (string | number)[]): Promise<string | null>
  /** The beats as a flat hash, the counter, the epoch, the epoch parents. */
  switchyardFleet(...args: (string | number)[]): Promise<[string[], string | null, string | null, string[]]>
  /** The key count first, then the keys and arguments as one array. */
  switchyardReseed(keyCount: number, args: (string | number)[]): Promise<[number, (string | null)?]>
}

export class RedisStore implements Store, RecoverableStore, ClockedStore {
  readonly kind = 'redis' as const
  /** Names this replica's connections in CLIENT LIST: switchyard-cmd-<id>, switchyard-sub-<id>. */
  readonly instanceId = randomBytes(8).toString('hex')
  private readonly keys: RedisKeys
  /** What every key starts with (redisKeys), for a segment's member sets. */
  private readonly keyPrefix: string
  private readonly cmd: CommandConnection
  private readonly sub: Redis
  /** How commits announce themselves, once known (publishCommand). */
  private publishing?: Promise<'PUBLISH' | 'SPUBLISH'>
  private readonly listeners = new Set<(event: StoreEvent) => void>()
  private readonly firstConnect: Promise<void>
  // Rejections for commands in flight, fired when the connection drops: without them a write
  // would wait for the command timeout although Redis can no longer answer.
  private readonly inflight = new Set<(err: Error) => void>()
  private readonly timer?: NodeJS.Timeout
  private lastError?: string
  /** Redis's clock minus this one's, so a commit can carry a deadline Redis can check. */
  private clockOffsetMs = 0
  /** Highest seq this replica has seen in a notification or a snapshot. */
  private seenSeq = 0
  /**
   * The seqs whose changes the store confirmed to this replica (its own commits, checked
   * notifications, snapshots): one missing for a whole counter check is caught up by a resync.
   */
  private readonly confirmed = new SeqSet()
  /** The change counter as read by the previous check. */
  private counterAtLastCheck = 0
  /** The epoch of the store this replica synced from, once known (redisKeys: epoch). */
  private epoch?: string
  /** The key of the notifications' MAC (redisKeys: noteKey), once read. */
  private noteKey?: Buffer
  private identifying?: Promise<string>
  /** Why the store is no longer the one this replica synced from; writes are refused from then on. */
  private diverged?: string
  /** Moves with each epoch this replica adopts: a load begun before reads again. */
  private generation = 0
  /** A first load found no epoch and waited for running replicas' heartbeats once (FIRST_EPOCH_WAIT_MS). */
  private waitedForBeats = false
  private beatsWait?: Promise<void>
  private resyncing?: Promise<void>
  private resyncAgain = false
  private resyncPending = false
  private checking = false
  private closed = false
  /**
   * The segments this store last handed out (in a snapshot, a commit's change or an event), by key.
   * A segment's change is applied as a delta on the members held, so it must follow the last one
   * handed out: a change whose members are `edit` or `same` goes out only if its head's version
   * is the held one + 1; otherwise its members are read whole from Redis (a `replace`).
   */
  private readonly segmentsHeld = new Map<string, HeldSegment>()
  /** The seq of the last snapshot handed out: a segment change at or below it is in it. */
  private segmentsFloor = 0
  private segmentsEpoch?: string
  /** Per segment key, the read of its members whole under way (onMessage): the next one waits for it. */
  private readonly segmentReads = new Map<string, Promise<void>>()

  private get commandTimeoutMs(): number {
    return this.options.commandTimeoutMs ?? 2000
  }

  constructor(private readonly options: RedisStoreOptions) {
    this.keyPrefix = keyPrefix(options.target, options.prefix)
    this.keys = redisKeys(this.keyPrefix)
    const common = {
      commandTimeout: this.commandTimeoutMs,
      retryStrategy: options.retryDelayMs ?? ((attempt: number) => Math.min(attempt * 100, 2000)),
    }
    this.cmd = connect(options.target, { ...common, connectionName: `switchyard-cmd-${this.instanceId}` }) as CommandConnection
    this.cmd.defineCommand('switchyardCommit', { numberOfKeys: 8, lua: COMMIT_SCRIPT })
    this.cmd.defineCommand('switchyardCommitSegment', { numberOfKeys: 10, lua: COMMIT_SCRIPT })
    this.cmd.defineCommand('switchyardCommitFenced', { numberOfKeys: 9, lua: COMMIT_SCRIPT })
    this.cmd.defineCommand('switchyardLease', { numberOfKeys: 2, lua: LEASE_SCRIPT })
    this.cmd.defineCommand('switchyardReleaseLease', { numberOfKeys: 1, lua: RELEASE_LEASE_SCRIPT })
    this.cmd.defineCommand('switchyardNote', { numberOfKeys: 4, lua: NOTE_SCRIPT })
    this.cmd.defineCommand('switchyardBeat', { numberOfKeys: 3, lua: HEARTBEAT_SCRIPT })
    this.cmd.defineCommand('switchyardFleet', { numberOfKeys: 5, lua: FLEET_SCRIPT })
    this.cmd.defineCommand('switchyardReseed', { lua: RESEED_SCRIPT })
    this.sub = connect(options.target, { ...common, connectionName: `switchyard-sub-${this.instanceId}`, sharded: options.target.kind === 'cluster' })

    for (const connection of [this.cmd, this.sub]) {
      connection.on('error', (err: Error) => (this.lastError = err.message))
      // ioredis 5.11 gives a Sentinel connection up for good ('end') when a failover is announced while
      // it is asking the sentinels for the master (test/process/redis-sentinel, the lagged failover): start it again.
      connection.on('end', () => {
        if (!this.closed) setTimeout(() => void connection.connect().catch(() => undefined), 1000)
      })
    }
    let clockMeasured = Promise.resolve()
    this.cmd.on('ready', () => {
      this.lastError = undefined
      clockMeasured = this.measureClock()
    })
    // Startup waits for the first attempt to connect rather than failing while it is under way.
    this.firstConnect = new Promise((resolve) => {
      this.cmd.once('ready', () => void clockMeasured.then(resolve))
      this.cmd.once('close', resolve)
    })
    this.cmd.on('close', () => {
      for (const abort of this.inflight) abort(new Error('the connection to Redis was lost before it answered'))
    })
    // Pub/sub is at-most-once: whatever was published while the subscriber was away is caught
    // up by a full resync, taken only once the subscription is active again.
    this.sub.on('ready', () => void this.subscribeChanges())
    for (const event of ['message', 'smessage']) this.sub.on(event, (_channel: string, message: string) => this.onMessage(message))

    const every = options.resyncCheckMs ?? 1000
    if (every > 0) {
      this.timer = setInterval(() => void this.checkCounter(), every)
      this.timer.unref()
    }
  }

  async load(): Promise<Snapshot> {
    let scans = 0
    let whole: string[] | undefined
    for (;;) {
      const attempt = await this.loadOnce(whole)
      if (attempt === undefined) continue
      if ('snapshot' in attempt) return attempt.snapshot
      // A segment changed while its members were scanned: scan again, or read them in the MULTI.
      if (++scans >= SCAN_ATTEMPTS) whole = attempt.segmentKeys
    }
  }

  /**
   * One attempt at a load; undefined when this replica adopted a new epoch while it was under way
   * (a recovery run here), so what it read belongs to the old one and the caller reads again.
   * Segments' members are scanned after the rest is read, unless `whole` names the segments whose
   * members to read in the same MULTI; the keys of the segments read come back when a scan found a
   * segment changed, or a segment not in `whole`.
   */
  private async loadOnce(whole?: string[]): Promise<{ snapshot: Snapshot } | { segmentKeys: string[] } | undefined> {
    let generation = this.generation
    const moved = () => generation !== this.generation
    // Read before asking: a commit answered meanwhile may carry a seq above what the reply holds.
    const seen = this.seenSeq
    // Before the state on a first load, so no beat can name a seq the counter read after it lacks.
    const beats = this.epoch === undefined ? (await this.fleet()).beats : undefined
    const replies = await this.run('loading the state', (redis) => {
      const multi = redis
        .multi()
        .get(this.keys.seq)
        .get(this.keys.epoch)
        .smembers(this.keys.epochParents)
        .hvals(this.keys.flags)
        .hvals(this.keys.tokens)
        .get(this.keys.noteKey)
        .hvals(this.keys.segments)
      for (const key of whole ?? []) {
        const sets = segmentMemberKeys(this.keyPrefix, key)
        multi.smembers(sets.users).smembers(sets.tenants)
      }
      return multi.exec()
    })
    if (!replies) throw new StoreUnavailableError('Redis aborted the transaction that reads the state')
    const failed = replies.find(([err]) => err)
    if (failed) throw new StoreUnavailableError(`Redis refused to read the state: ${failed[0]!.message}`)
    if (moved()) return undefined
    const [[, seq], [, epoch], [, parents], [, flags], [, tokens], [, noteKey], [, segmentTexts]] = replies as [
      [null, string | null],
      [null, string | null],
      [null, string[]],
      [null, string[]],
      [null, string[]],
      [null, string | null],
      [null, string[]],
    ]
    const counter = Number(seq ?? 0)
    if (this.epoch === undefined) {
      // The first load learns (or, on a store never used before, writes) the epoch, unless live
      // replicas show that this store lost what they synced from.
      this.checkFleet(beats!, epoch, counter, parents)
      if (epoch === null && !this.waitedForBeats) {
        // A store with no epoch is new, or lost its data a moment ago under replicas that have not
        // reconnected and beaten into it yet: give them the time to, once, before writing an epoch.
        // Every load under way (startup's, a resync's) waits for the same moment, then reads again.
        this.beatsWait ??= new Promise<void>((resolve) => setTimeout(resolve, this.options.firstEpochWaitMs ?? FIRST_EPOCH_WAIT_MS)).then(
          () => void (this.waitedForBeats = true),
        )
        await this.beatsWait
        return undefined
      }
      this.diverged = undefined
      const identified = epoch ?? (await this.identify())
      if (moved()) return undefined
      this.epoch = identified
    } else if (epoch !== null && epoch !== this.epoch && parents.includes(this.epoch)) {
      // An operator reseeded the store, or accepted its loss, from the epoch this replica knew:
      // its state is the store's now, numbered from the new counter. A change applied while this
      // load ran is lost by the exact reset that follows; a second, plain load brings it back.
      this.adopt(epoch)
      generation = this.generation
      this.resyncAgain = true
    } else this.checkIdentity(epoch, counter, seen, parents)
    if (this.diverged) throw new StoreDivergedError(this.diverged)
    // Written once the store is known to be the one the fleet synced from, never into one that lost data.
    const key = noteKey ?? (await this.writeNoteKey())
    if (moved()) return undefined
    this.noteKey = Buffer.from(key)
    const heads = segmentTexts.map((text) => parseRecord<SegmentHead>(text))
    const segmentKeys = heads.map((record) => record.doc.key)
    let members: Members[] | undefined
    if (whole === undefined) members = await this.scanMembers(heads.map((record) => ({ key: record.doc.key, seq: record.seq })))
    else if (segmentKeys.every((segment) => whole.includes(segment))) {
      const lists = replies.slice(7).map(([, list]) => list as string[])
      members = segmentKeys.map((segment) => {
        const at = whole.indexOf(segment) * 2
        return { users: lists[at]!, tenants: lists[at + 1]! }
      })
    }
    if (moved()) return undefined
    if (members === undefined) return { segmentKeys }
    const snapshot: Snapshot = {
      seq: counter,
      epoch: this.epoch!,
      flags: flags.map((text) => parseRecord<Flag>(text).doc),
      tokens: tokens.map((text) => parseRecord<TokenRecord>(text).doc),
      segments: heads.map((record, i) => ({ ...record.doc, ...members[i]! })),
    }
    this.seenSeq = Math.max(this.seenSeq, snapshot.seq)
    this.confirmed.addThrough(snapshot.seq)
    this.holdSegments(snapshot, heads)
    return { snapshot }
  }

  /**
   * A snapshot handed out: the segments held are the ones it holds, but for changes newer than it
   * already handed out (a registry keeps those over an older snapshot's) unless its epoch is another.
   */
  private holdSegments(snapshot: Snapshot, heads: { seq: number; doc: SegmentHead }[]): void {
    const exact = this.segmentsEpoch !== snapshot.epoch
    const newer = exact ? [] : [...this.segmentsHeld].filter(([, held]) => held.seq > snapshot.seq)
    this.segmentsEpoch = snapshot.epoch
    this.segmentsFloor = exact ? snapshot.seq : Math.max(this.segmentsFloor, snapshot.seq)
    this.segmentsHeld.clear()
    for (const record of heads) this.segmentsHeld.set(record.doc.key, { version: record.doc.version, seq: record.seq })
    for (const [key, held] of newer) if ((this.segmentsHeld.get(key)?.seq ?? 0) < held.seq) this.segmentsHeld.set(key, held)
  }

  /**
   * The members of segments as their records were read at one moment (`seq` of each), by SSCAN, which
   * never holds Redis for more than a few milliseconds, whatever the set's size; then each record is
   * read again. Undefined when one of them moved meanwhile: its members belong to no one moment.
   */
  private async scanMembers(segments: { key: string; seq: number }[]): Promise<Members[] | undefined> {
    if (segments.length === 0) return []
    const sets = segments.map(({ key }) => segmentMemberKeys(this.keyPrefix, key))
    const scanned = await Promise.all(sets.map(async ({ users, tenants }) => Promise.all([this.scanSet(users), this.scanSet(tenants)])))
    const after = await this.run('reading segments again', (redis) => {
      const multi = redis.multi()
      for (const [i, { key }] of segments.entries()) multi.hget(this.keys.segments, key).scard(sets[i]!.users).scard(sets[i]!.tenants)
      return multi.exec()
    })
    if (!after || after.some(([err]) => err)) throw new StoreUnavailableError('Redis refused to read the segments again')
    const out: Members[] = []
    for (const [i, { seq }] of segments.entries()) {
      const [[, text], [, users], [, tenants]] = after.slice(i * 3, i * 3 + 3) as [[null, string | null], [null, number], [null, number]]
      if (text === null || recordSeq(text) !== seq) return undefined
      // SSCAN may return an id twice (the set was rehashed meanwhile), never miss one of a set that did not change.
      const [u, t] = scanned[i]!
      if (u.length < users || t.length < tenants) return undefined
      out.push({ users: u.length === users ? u : [...new Set(u)], tenants: t.length === tenants ? t : [...new Set(t)] })
    }
    return out
  }

  private scanSet(key: string): Promise<string[]> {
    return this.run('reading segment members', async (redis) => {
      const ids: string[] = []
      let cursor = '0'
      do {
        const [next, batch] = await redis.sscan(key, cursor, 'COUNT', SCAN_COUNT)
        for (const id of batch) ids.push(id)
        cursor = next
      } while (cursor !== '0')
      return ids
    })
  }

  /**
   * A segment as Redis holds it now, its members read whole (null: it holds none): by SSCAN, or
   * after SCAN_ATTEMPTS scans spoiled by changes to it, in one MULTI.
   */
  private async readSegmentWhole(key: string): Promise<{ seq: number; doc: Segment } | null> {
    const sets = segmentMemberKeys(this.keyPrefix, key)
    for (let attempt = 1; attempt < SCAN_ATTEMPTS; attempt++) {
      const text = await this.run('reading a segment', (redis) => redis.hget(this.keys.segments, key))
      if (text === null) return null
      const record = parseRecord<SegmentHead>(text)
      const members = await this.scanMembers([{ key, seq: record.seq }])
      if (members !== undefined) return { seq: record.seq, doc: { ...record.doc, ...members[0]! } }
    }
    const replies = await this.run('reading a segment', (redis) =>
      redis.multi().hget(this.keys.segments, key).smembers(sets.users).smembers(sets.tenants).exec(),
    )
    if (!replies || replies.some(([err]) => err)) throw new StoreUnavailableError('Redis refused to read a segment')
    const [[, text], [, users], [, tenants]] = replies as [[null, string | null], [null, string[]], [null, string[]]]
    if (text === null) return null
    const record = parseRecord<SegmentHead>(text)
    return { seq: record.seq, doc: { ...record.doc, users, tenants } }
  }

  /**
   * On a first load: whether live replicas show that this store is not the one they synced from.
   * A replica of an epoch that is neither this store's nor one it replaced, or of this epoch but
   * past its counter (Redis restored from an older copy), or one that found it diverged, holds
   * what this store lost; this replica then serves nothing until an operator recovers.
   */
  private checkFleet(beats: ReplicaBeat[], epoch: string | null, counter: number, parents: string[]): void {
    const evidence = beats.filter(
      (b) => b.id !== this.instanceId && b.epoch !== null && !parents.includes(b.epoch) && (b.epoch !== epoch || b.newest > counter || b.status === 'diverged'),
    )
    if (evidence.length === 0) return
    const list = evidence.map((b) => `${b.id} (epoch ${b.epoch}, revision ${b.revision}, ${b.status})`).join(', ')
    const holds = epoch === null ? 'Redis holds no epoch: it lost its data' : `Redis holds epoch ${epoch} at counter ${counter}`
    const already = this.diverged !== undefined
    this.diverged =
      `Redis does not hold the store the running replicas synced from: ${list} (${holds}). This replica serves nothing until an operator ` +
      'recovers: POST /admin/reseed on the replica whose state to keep (GET /admin/fleet compares them), ' +
      'or POST /admin/accept-store to go on with what Redis holds.'
    // Startup retries every second: the event (and its log line) once.
    if (!already) this.emit({ type: 'diverged', detail: this.diverged })
    throw new StoreDivergedError(this.diverged)
  }

  async readFlag(key: string): Promise<Flag | null> {
    const text = await this.run('reading the flag', (redis) => redis.hget(this.keys.flags, key))
    return text === null ? null : parseRecord<Flag>(text).doc
  }

  async readSegment(key: string): Promise<SegmentHead | null> {
    const text = await this.run('reading the segment', (redis) => redis.hget(this.keys.segments, key))
    return text === null ? null : parseRecord<SegmentHead>(text).doc
  }

  async commit(write: Write): Promise<Change> {
    if (this.diverged) throw new StoreDivergedError(this.diverged)
    const epoch = this.epoch ?? (await this.identify())
    // With replicas to wait for, the script leaves the notification to this replica, sent once they hold the write.
    const publish = this.waitReplicas > 0 ? '' : await this.publishCommand()
    const common = (audit: Write['audit']) => [
      JSON.stringify(audit),
      audit.flag ?? '',
      audit.actor,
      this.options.auditMaxEvents,
      this.keys.changes,
      // Half the timeout: a reply still has the other half to arrive before the replica gives up.
      Math.floor(Date.now() + this.clockOffsetMs + this.commandTimeoutMs / 2),
      this.instanceId,
      this.options.auditMaxBytes ?? 64 * 1024 * 1024,
      this.options.maxTombstones ?? MAX_TOMBSTONES,
      epoch,
      this.seenSeq,
      publish,
    ]
    // A segment's members, read whole in the same transaction when the write's members change is
    // relative to a version this store did not hand out last (commitSegment).
    let whole: Members | undefined
    const [seq, current, lastVersion] = await this.run('committing the change', async (redis) => {
      let reply: CommitResult
      if (write.kind === 'segment') {
        const committed = await this.commitSegment(redis, write, common(write.audit))
        reply = committed.reply
        whole = committed.whole
      } else {
        const isFlag = write.kind === 'flag'
        const fence = isFlag && write.fence
        const fenceArgs = fence ? [`${fence.token} ${this.instanceId}`] : []
        reply = await (fence ? redis.switchyardCommitFenced : redis.switchyardCommit).call(
          redis,
          this.keys.seq,
          isFlag ? this.keys.flags : this.keys.tokens,
          this.keys.audit,
          this.keys.auditBytes,
          this.keys.flagTombstones,
          this.keys.flagVersionFloor,
          this.keys.epoch,
          this.keys.noteKey,
          ...(fence ? [leaseKey(this.keyPrefix, fence.lease)] : []),
          write.kind,
          isFlag ? write.key : write.id,
          isFlag ? String(write.expectedVersion) : '',
          isFlag && write.next ? String(write.next.version) : '',
          write.next === null ? '' : JSON.stringify(write.next),
          ...common(write.audit),
          ...fenceArgs,
        )
      }
      if (reply[0] > 0 && publish === '') await this.replicate(redis, reply[1]!)
      return reply
    })
    if (seq === -3) {
      // The counter is below a seq this replica has seen: Redis lost writes (an older copy restored).
      this.checkIdentity(this.epoch ?? null, Number(current), this.seenSeq)
      throw new StoreDivergedError(this.diverged ?? 'Redis lost writes')
    }
    if (seq === -2) {
      this.checkIdentity(current, this.seenSeq)
      if (this.diverged) throw new StoreDivergedError(this.diverged)
      throw new StoreUnavailableError('the store was reseeded under this replica, which is taking its state over; nothing was changed, retry')
    }
    if (seq === -4 && write.kind === 'flag' && write.fence) throw new LeaseLostError(write.fence.lease, write.fence.token)
    if (seq === -1) throw new StoreUnavailableError(`Redis did not start the write within ${this.commandTimeoutMs / 2} ms; nothing was changed`)
    if (seq === 0) {
      if (write.kind === 'segment') throw new ConflictError<SegmentHead>(current === null ? null : parseRecord<SegmentHead>(current).doc, lastVersion ?? 0)
      throw new ConflictError(current === null ? null : parseRecord<Flag>(current).doc, lastVersion ?? 0)
    }
    this.seenSeq = Math.max(this.seenSeq, seq)
    this.confirmed.add(seq)
    if (write.kind !== 'segment') return changeOf(write, seq)
    const change: SegmentChange = { kind: 'segment', key: write.key, seq, head: write.head, members: whole ? { op: 'replace', ...whole } : write.members }
    this.holdSegment(change)
    return change
  }

  /**
   * A segment write through the commit script (its member sets as keys 9 and 10). Its members
   * change travels in the note unless too large (then the note is a hint). A change whose members
   * are relative to a version other than the one this store handed out last (the caller drafted
   * it from a head read from Redis, not from the members it holds) could not be applied to what
   * the caller holds: the members are then read whole in the same MULTI (SMEMBERS, which holds
   * Redis for about 0.5 s per million ids), and the change becomes a `replace`.
   */
  private async commitSegment(redis: CommandConnection, write: SegmentWrite, common: (string | number)[]): Promise<{ reply: CommitResult; whole?: Members }> {
    const m = write.members
    const deleted = write.head === null
    const lists: string[][] =
      deleted || m.op === 'same'
        ? [[], [], [], []]
        : m.op === 'replace'
          ? [[], [], m.users ?? [], m.tenants ?? []]
          : [m.remove.users, m.remove.tenants, m.add.users, m.add.tenants]
    const head = deleted ? '' : JSON.stringify(write.head)
    let note = JSON.stringify(m)
    if (Buffer.byteLength(head) + Buffer.byteLength(note) > (this.options.segmentNoteMaxBytes ?? SEGMENT_NOTE_MAX_BYTES)) note = ''
    const sets = segmentMemberKeys(this.keyPrefix, write.key)
    const args: (string | number)[] = [
      this.keys.seq,
      this.keys.segments,
      this.keys.audit,
      this.keys.auditBytes,
      this.keys.segmentTombstones,
      this.keys.segmentVersionFloor,
      this.keys.epoch,
      this.keys.noteKey,
      sets.users,
      sets.tenants,
      'segment',
      write.key,
      String(write.expectedVersion),
      deleted ? '' : String(write.head!.version),
      head,
      ...common,
      // A replace of one list keeps the other: the script empties only the lists replaced.
      m.op === 'replace' && !deleted && (m.users === undefined || m.tenants === undefined)
        ? m.users === undefined
          ? 'replace-tenants'
          : 'replace-users'
        : m.op,
      note,
      ...lists.map((list) => list.length),
    ]
    for (const list of lists) for (const id of list) args.push(id)
    const relative = !deleted && !(m.op === 'replace' && m.users !== undefined && m.tenants !== undefined)
    if (!relative || (this.segmentsHeld.get(write.key)?.version ?? 0) === write.expectedVersion) return { reply: await redis.switchyardCommitSegment(args) }
    const multi = redis.multi() as unknown as { switchyardCommitSegment(args: (string | number)[]): ReturnType<Redis['multi']> }
    const replies = await multi.switchyardCommitSegment(args).smembers(sets.users).smembers(sets.tenants).exec()
    if (!replies) throw new Error('Redis aborted the transaction of the commit')
    const failed = replies.find(([err]) => err)
    if (failed) throw failed[0]!
    const [[, reply], [, users], [, tenants]] = replies as [[null, CommitResult], [null, string[]], [null, string[]]]
    return { reply, whole: { users, tenants } }
  }

  /** A segment change handed out: held from now on, unless a newer one of it already was. */
  private holdSegment(change: SegmentChange): void {
    const held = this.segmentsHeld.get(change.key)
    if (held !== undefined && held.seq >= change.seq) return
    this.segmentsHeld.set(change.key, { version: change.head?.version ?? null, seq: change.seq })
  }

  private get waitReplicas(): number {
    return this.options.waitReplicas ?? 0
  }

  private get waitMs(): number {
    return this.options.waitMs ?? 500
  }

  /**
   * Acknowledged means replicated: WAIT, on the connection that ran the commit, until
   * `waitReplicas` Redis replicas hold it, and only then the notification. A write they do not
   * confirm in time is neither announced nor applied here: it answers 503, and should it survive,
   * every replica's change-counter check finds it within two seconds.
   */
  private async replicate(redis: CommandConnection, note: string): Promise<void> {
    const connection = await connectionFor(redis, this.options.target, this.keys.seq)
    const held = Number(await connection.wait(this.waitReplicas, this.waitMs))
    if (held < this.waitReplicas) {
      throw new Error(`${held} of the ${this.waitReplicas} Redis replicas (REDIS_WAIT_REPLICAS) confirmed the write within ${this.waitMs} ms (REDIS_WAIT_MS)`)
    }
    // Lost, the notification is caught up by the counter check: the write stays acknowledged.
    const publish = await this.publishCommand()
    await (publish === 'SPUBLISH' ? redis.spublish(this.keys.changes, note) : redis.publish(this.keys.changes, note)).catch(() => undefined)
  }

  /**
   * Subscribes the notification connection, then resyncs. Asking which pub/sub the servers speak goes
   * through the command connection, which may not be up yet: retried every second while the
   * subscriber is. A subscriber that drops meanwhile retries from its next 'ready'.
   */
  private async subscribeChanges(): Promise<void> {
    while (!this.closed && this.sub.status === 'ready') {
      try {
        const publish = await this.publishCommand()
        await (publish === 'SPUBLISH' ? this.sub.ssubscribe(this.keys.changes) : this.sub.subscribe(this.keys.changes))
        await this.resync()
        return
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 1000))
      }
    }
  }

  /**
   * SPUBLISH in a Cluster whose servers have it (Redis 7): only the shard that owns the store's
   * slot carries the notifications, instead of every node. PUBLISH otherwise.
   */
  private publishCommand(): Promise<'PUBLISH' | 'SPUBLISH'> {
    if (this.options.target.kind !== 'cluster') return Promise.resolve('PUBLISH')
    // Asked of the shard that owns the store's slot: the one that runs the commit script.
    this.publishing ??= this.run('asking Redis for sharded pub/sub', async (redis) =>
      (await connectionFor(redis, this.options.target, this.keys.seq)).command('INFO', 'SPUBLISH'),
    ).then(
      (info) => ((info as unknown[])[0] ? 'SPUBLISH' : 'PUBLISH'),
      (err: unknown) => {
        this.publishing = undefined
        throw err
      },
    )
    return this.publishing
  }

  async readAudit(query: AuditQuery): Promise<AuditPage> {
    const filtered = query.flag !== undefined || query.actor !== undefined
    const batch = filtered ? Math.max(query.limit + 1, 1000) : query.limit + 1
    const page = new AuditPageBuilder(query)
    // Entry ids are `<seq>-0`, so the cursor (a seq, exclusive) maps straight onto the range end.
    let below = query.before ?? Infinity
    scan: while (below > 1) {
      const end = below === Infinity ? '+' : String(below - 1)
      const entries = await this.run('reading the audit trail', (redis) => redis.xrevrange(this.keys.audit, end, '-', 'COUNT', batch))
      for (const [id, fields] of entries) {
        const seq = Number(id.slice(0, id.indexOf('-')))
        below = seq
        const field = fieldsOf(fields)
        const text = field.event ?? '{}'
        const taken = page.offer(seq, field.flag, field.actor ?? '', Buffer.byteLength(text), () => ({ ...(JSON.parse(text) as Omit<AuditEvent, 'seq'>), seq }))
        if (!taken) break scan
      }
      if (entries.length < batch) break
    }
    return page.page()
  }

  subscribe(listener: (event: StoreEvent) => void): void {
    this.listeners.add(listener)
  }

  /** Redis's TIME, which every replica sharing it reads schedules by (replica/clock.ts). */
  async time(): Promise<number> {
    const [seconds, micros] = await this.run('reading the time', (redis) => redis.time())
    return Number(seconds) * 1000 + Number(micros) / 1000
  }

  async beat(beat: ReplicaBeat): Promise<number> {
    const counter = await this.run('sending the heartbeat', (redis) =>
      redis.switchyardBeat(this.keys.replicas, this.keys.replicaBeats, this.keys.seq, beat.id, JSON.stringify(beat), BEAT_TTL_MS),
    )
    return Number(counter ?? 0)
  }

  async holdLease(name: string, ttlMs: number): Promise<number | null> {
    const token = await this.run('holding the lease', (redis) =>
      redis.switchyardLease(leaseKey(this.keyPrefix, name), this.keys.leaseTokens, this.instanceId, Math.ceil(ttlMs)),
    )
    return Number(token) > 0 ? Number(token) : null
  }

  async releaseLease(name: string, token: number): Promise<void> {
    await this.run('releasing the lease', (redis) => redis.switchyardReleaseLease(leaseKey(this.keyPrefix, name), `${token} ${this.instanceId}`))
  }

  async leaseNotes(name: string): Promise<Record<string, string>> {
    return this.run('reading the lease notes', (redis) => redis.hgetall(leaseNotesKey(this.keyPrefix, name)))
  }

  async noteLease(name: string, field: string, value: string | null): Promise<void> {
    const key = leaseNotesKey(this.keyPrefix, name)
    await this.run('writing a lease note', (redis) => (value === null ? redis.hdel(key, field) : redis.hset(key, field, value)))
  }

  async fleet(): Promise<StoreFleet> {
    const [flat, counter, epoch, parents] = await this.run('reading the fleet', (redis) =>
      redis.switchyardFleet(this.keys.replicas, this.keys.replicaBeats, this.keys.seq, this.keys.epoch, this.keys.epochParents),
    )
    const beats: StoreFleet['beats'] = []
    for (const text of Object.values(fieldsOf(flat))) {
      const space = text.indexOf(' ')
      try {
        const at = Number(text.slice(0, space))
        beats.push({ ...(JSON.parse(text.slice(space + 1)) as ReplicaBeat), lastBeatAt: new Date(at - this.clockOffsetMs).toISOString() })
      } catch {
        // Not a heartbeat this code wrote: left out of the fleet.
      }
    }
    return { counter: Number(counter ?? 0), epoch, parents, beats }
  }

  /**
   * Writes this replica's state back under a new epoch, whose parents are every epoch a live replica
   * or Redis holds: each of those replicas adopts it (load). The counter goes past every seq any of
   * them has applied, so no seq an SDK or a stream consumer holds is issued again.
   */
  async reseed(state: { flags: Flag[]; tokens: TokenRecord[]; segments: Segment[] }, audit: AuditDraft): Promise<{ epoch: string; seq: number }> {
    const records: (string | number)[] = [state.flags.length]
    for (const flag of state.flags) records.push(flag.key, flag.version, JSON.stringify(flag))
    records.push(state.tokens.length)
    for (const token of state.tokens) records.push(token.id, JSON.stringify(token))
    // The segments written: each head, then its members, all in the one script (SADD in batches):
    // a million ids hold Redis for about a second, while the replicas refuse writes anyway.
    // (A caller from before segments passes none: the store then holds none.)
    const written = state.segments ?? []
    const segments: (string | number)[] = [written.length]
    const segmentSets: string[] = []
    for (const { users, tenants, ...head } of written) {
      segments.push(head.key, head.version, JSON.stringify(head), users.length, tenants.length)
      for (const id of users) segments.push(id)
      for (const id of tenants) segments.push(id)
      const sets = segmentMemberKeys(this.keyPrefix, head.key)
      segmentSets.push(sets.users, sets.tenants)
    }
    // The member sets of the segments Redis holds go too; the script refuses if it holds one not named here.
    for (let attempt = 1; ; attempt++) {
      const held = await this.run('reading the segments', (redis) => redis.hkeys(this.keys.segments))
      const heldSets = held.flatMap((key) => Object.values(segmentMemberKeys(this.keyPrefix, key)))
      const done = await this.newEpoch('reseed', audit, [...heldSets, ...segmentSets], [...records, held.length, ...held, ...segments])
      if (done !== undefined) return done
      if (attempt === 3) throw new StoreUnavailableError('segments kept being created while the store was reseeded; nothing was changed, retry')
    }
  }

  async acceptLoss(audit: AuditDraft): Promise<{ epoch: string; seq: number }> {
    return (await this.newEpoch('accept', audit, [], [0, 0, 0, 0]))!
  }

  /** Undefined when a segment was created between the caller's look at them and the script (reseed). */
  private async newEpoch(
    mode: 'reseed' | 'accept',
    audit: AuditDraft,
    segmentSets: string[],
    records: (string | number)[],
  ): Promise<{ epoch: string; seq: number } | undefined> {
    const fleet = await this.fleet()
    const parents = new Set<string>()
    for (const beat of fleet.beats) if (beat.epoch !== null) parents.add(beat.epoch)
    if (this.epoch !== undefined) parents.add(this.epoch)
    if (fleet.epoch !== null) parents.add(fleet.epoch)
    const lowest = Math.max(this.seenSeq, fleet.counter, ...fleet.beats.map((b) => b.newest))
    const epoch = randomBytes(12).toString('base64url')
    const event = JSON.stringify({ ...audit, changes: { ...audit.changes, epoch: { before: fleet.epoch ?? undefined, after: epoch } } })
    const keys = [
      this.keys.seq,
      this.keys.flags,
      this.keys.tokens,
      this.keys.audit,
      this.keys.auditBytes,
      this.keys.epoch,
      this.keys.epochParents,
      this.keys.segments,
      ...segmentSets,
    ]
    const args = [...keys, fleet.epoch ?? '', epoch, lowest, mode, event, audit.actor, parents.size, ...parents]
    for (const value of records) args.push(value)
    const [seq, held] = await this.run(`${mode === 'reseed' ? 'reseeding' : 'accepting'} the store`, (redis) => redis.switchyardReseed(keys.length, args))
    if (seq === -2) throw new StoreUnavailableError(`the store's epoch changed to ${held ?? '(none)'} while it was being recovered; nothing was changed, retry`)
    if (seq === -4) return undefined
    this.adopt(epoch)
    // The second load is plain: it brings back a change applied here while the first one ran.
    this.resyncAgain = true
    await this.resync()
    if (this.diverged) throw new StoreDivergedError(this.diverged)
    return { epoch, seq }
  }

  /** Takes a new epoch the store was given from this replica's own (a reseed): its seqs start afresh. */
  private adopt(epoch: string): void {
    this.generation++
    this.epoch = epoch
    this.identifying = undefined
    this.diverged = undefined
    this.seenSeq = 0
    this.counterAtLastCheck = 0
    this.confirmed.restart(0)
    // Versions of the old epoch say nothing of the new one's members: until a load hands them out, a
    // segment's delta is read whole.
    this.segmentsHeld.clear()
    this.segmentsFloor = 0
  }

  health(): StoreHealth {
    const down = (detail: string): StoreHealth => ({ kind: this.kind, status: 'down', detail })
    if (this.closed) return down('closed')
    if (this.diverged) return { kind: this.kind, status: 'diverged', detail: this.diverged }
    if (this.cmd.status !== 'ready') {
      const lost = `${describeTarget(this.options.target)} is unreachable (${this.lastError ?? 'connection lost'})`
      return down(`${lost}; writes answer 503, reads are served from memory; reconnecting`)
    }
    if (this.sub.status !== 'ready')
      return down('the change-notification connection to Redis is reconnecting; changes from other replicas arrive after it resyncs')
    return { kind: this.kind, status: 'up' }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    clearInterval(this.timer)
    this.sub.disconnect()
    // A replica that stops leaves the fleet at once rather than when its heartbeat expires.
    if (this.cmd.status === 'ready') {
      await this.cmd
        .multi()
        .zrem(this.keys.replicas, this.instanceId)
        .hdel(this.keys.replicaBeats, this.instanceId)
        .exec()
        .catch(() => undefined)
    }
    // QUIT lets replies already on their way arrive; disconnect stops reconnecting if it cannot be sent.
    if (this.cmd.status === 'ready') await this.cmd.quit().catch(() => undefined)
    this.cmd.disconnect()
  }

  /** The notifications' MAC key, written now if the store has none (a store from before it, or one recovered after a loss). */
  private writeNoteKey(): Promise<string> {
    return this.run('writing the notification key', async (redis) => {
      await redis.set(this.keys.noteKey, randomBytes(32).toString('base64url'), 'NX')
      const key = await redis.get(this.keys.noteKey)
      if (key === null) throw new StoreUnavailableError('Redis lost the notification key as it was written')
      return key
    })
  }

  /** The store's epoch, written now if it has none (first use, or a store from before epochs). */
  private identify(): Promise<string> {
    this.identifying ??= this.run('reading the store epoch', async (redis) => {
      await redis.set(this.keys.epoch, randomBytes(12).toString('base64url'), 'NX')
      await redis.set(this.keys.noteKey, randomBytes(32).toString('base64url'), 'NX')
      const epoch = await redis.get(this.keys.epoch)
      if (epoch === null) throw new StoreUnavailableError('Redis lost the store epoch as it was written')
      return epoch
    }).then(
      (epoch) => (this.epoch ??= epoch),
      (err: unknown) => {
        this.identifying = undefined
        throw err
      },
    )
    return this.identifying
  }

  /**
   * Whether the store is no longer the one this replica synced from: its epoch gone or another,
   * or its change counter below a seq this replica has seen. The first reason found is kept, and
   * from then on writes are refused.
   */
  private checkIdentity(epoch: string | null, counter: number, seen = this.seenSeq, parents?: string[]): boolean {
    if (this.diverged) return true
    // Before the first load there is nothing to compare with: that load learns the epoch.
    if (this.epoch === undefined) return false
    // Another epoch may be a reseed of this one, which a load adopts; only a load reads the parents.
    if (epoch !== null && epoch !== this.epoch && parents === undefined) {
      void this.resync()
      return true
    }
    const recover =
      'Writes are refused and evaluations answered from what this replica holds. To write it back: POST /admin/reseed (flagctl reseed) on the ' +
      'replica whose state to keep (GET /admin/fleet compares them); or, to go on with what Redis holds, POST /admin/accept-store, then restore ' +
      'the flags with `flagctl apply` from an export.'
    if (epoch === null)
      this.diverged = `Redis no longer holds the data this replica synced from: its epoch key is gone (FLUSHALL, or a restart without persistence). ${recover}`
    else if (epoch !== this.epoch) this.diverged = `Redis holds another store now (epoch ${epoch}; this replica synced from ${this.epoch}). ${recover}`
    else if (counter < seen) {
      this.diverged =
        `Redis's change counter went back from ${seen} to ${counter}: it lost writes (restored from an older copy, or failed over to a replica ` +
        `that lagged). ${recover}`
    }
    if (!this.diverged) return false
    this.emit({ type: 'diverged', detail: this.diverged })
    return true
  }

  /** Runs a command, turning every way it can fail to commit into StoreUnavailableError. */
  private async run<T>(what: string, command: (redis: CommandConnection) => Promise<T>): Promise<T> {
    await this.firstConnect
    if (this.cmd.status !== 'ready') {
      throw new StoreUnavailableError(
        `${what} failed: ${describeTarget(this.options.target)} is unreachable (${this.lastError ?? 'connection lost'}); nothing was changed`,
      )
    }
    let abort!: (err: Error) => void
    const lost = new Promise<never>((_, reject) => (abort = reject))
    this.inflight.add(abort)
    try {
      return await Promise.race([command(this.cmd), lost])
    } catch (err) {
      const message = (err as Error).message === 'Command timed out' ? `Redis did not answer within ${this.commandTimeoutMs} ms` : (err as Error).message
      // min-replicas-to-write: the master refuses a script at its first write, so nothing of it ran.
      if ((err as Error).message.startsWith('NOREPLICAS')) {
        throw new StoreUnavailableError(`${what} failed: Redis has fewer replicas in sync than its min-replicas-to-write; nothing was changed`, { cause: err })
      }
      // Sent but unanswered: Redis may have run it (the deadline only covers a late start).
      const outcome = what === 'committing the change' ? '; the change may have been applied: read it back before retrying' : ''
      throw new StoreUnavailableError(`${what} failed: ${message}${outcome}`, { cause: err })
    } finally {
      this.inflight.delete(abort)
    }
  }

  /**
   * Measured against the moment TIME was sent, not the round trip's midpoint: Redis read its
   * clock after that moment, so the offset can only come out too large, and a deadline too
   * late — never so early that a busy replica refuses its own timely writes.
   */
  private async measureClock(): Promise<void> {
    try {
      const sent = Date.now()
      const [seconds, micros] = await this.cmd.time()
      this.clockOffsetMs = Number(seconds) * 1000 + Number(micros) / 1000 - sent
    } catch {
      // Unreachable again: the next connection measures it.
    }
  }

  private emit(event: StoreEvent): void {
    for (const listener of this.listeners) listener(event)
  }

  /**
   * A notification is a hint: the record it names is read from the store, with the change
   * counter, the epoch and the audit entry at its seq in one atomic script (NOTE_SCRIPT), and only
   * what the store holds is applied. A note naming a seq the store never issued, a record older
   * than the note says, or an absent record with no change of it at that seq, is refused: a forged
   * or replayed PUBLISH changes nothing.
   */
  private onMessage(message: string): void {
    const note = parseMessage(message)
    // This replica's own commit is applied when commit() resolves; should its reply be lost, the
    // change counter check finds the seq unseen and resyncs.
    if (!note || this.closed || note.origin === this.instanceId) return
    if (note.kind === 'segment' ? this.applySegmentNote(note) : this.applyAuthenticated(note)) return
    const hash = note.kind === 'flag' ? this.keys.flags : note.kind === 'segment' ? this.keys.segments : this.keys.tokens
    const seen = this.seenSeq
    this.run('re-reading a changed record', (redis) => redis.switchyardNote(hash, this.keys.seq, this.keys.epoch, this.keys.audit, note.id, note.seq)).then(
      ([text, counter, epoch, auditFields]) => {
        if (this.diverged || this.checkIdentity(epoch, Number(counter ?? 0), seen)) return
        const record = text === null ? null : parseRecord<Flag | TokenRecord | SegmentHead>(text)
        // What the store backs: the record written at the note's seq, or one written after it; or,
        // for a record it no longer holds, an audit event of a change to it at that seq.
        const backed =
          (note.epoch === undefined || note.epoch === epoch) &&
          note.seq <= Number(counter ?? 0) &&
          (record !== null ? record.seq >= note.seq : changedAt(note, auditFields.length > 0 ? auditFields : undefined))
        if (!backed) {
          const detail =
            `${note.kind} '${note.id}' at seq ${note.seq} of epoch ${note.epoch ?? '(none)'}: the store's counter is ${counter ?? 0}, ` +
            `its record's seq ${record?.seq ?? 'none'}, and no change of it at that seq`
          return this.emit({ type: 'rejected', detail })
        }
        // Only a seq the store confirmed counts as heard of, so a replayed note cannot hide a lost one:
        // the record written then, or (the record moved on or went) the audit entry of a change to it then.
        const confirmed = record?.seq === note.seq || changedAt(note, auditFields.length > 0 ? auditFields : undefined)
        if (confirmed) {
          this.seenSeq = Math.max(this.seenSeq, note.seq)
          this.confirmed.add(note.seq)
        }
        if (note.kind === 'segment') this.segmentFromStore(note, record as StoredRecord<SegmentHead> | null, confirmed ? note.seq : undefined)
        else this.emitChange(note, record as StoredRecord<Flag | TokenRecord> | null, confirmed ? note.seq : undefined)
      },
      () => {
        // The change is known but not its content: catch up with a full resync when Redis answers.
        this.resyncPending = true
      },
    )
  }

  /**
   * The fast path, without a round trip to Redis: a flag's note whose MAC holds (only a script
   * that could read the note key wrote it), of this replica's epoch, past every seq this replica has
   * seen, carries the record exactly as committed at that seq. Anything else (a replay, a note that
   * arrived after a later commit's reply, a token) goes the slow way, checked against Redis, which
   * also catches a counter that went back.
   */
  private applyAuthenticated(note: ChangeNote): boolean {
    if (note.mac === undefined || note.kind !== 'flag' || this.noteKey === undefined || this.diverged) return false
    if (note.epoch !== this.epoch || note.seq <= this.seenSeq) return false
    const expected = createHmac('sha1', this.noteKey).update(note.signed!).digest()
    if (!timingSafeEqual(expected, Buffer.from(note.mac, 'hex'))) return false
    const record = note.record === '' ? null : parseRecord<Flag>(note.record!)
    if (record !== null && record.seq !== note.seq) return false
    this.seenSeq = note.seq
    this.confirmed.add(note.seq)
    this.emitChange(note, record, note.seq)
    return true
  }

  /**
   * A segment's note applied as sent, without reading Redis: its MAC holds, it is of this replica's
   * epoch, it carries its members change (it is not a hint), and it follows the last change of that
   * segment this store handed out (segmentOrder), or is older than it (a registry then skips it, as
   * it skips a flag's older change). Its seq need not be past every seq seen, as a flag's must: a
   * change of another record committed here since does not make it stale, and a replay can only
   * hand out a change that was committed, which a registry then holds or skips.
   */
  private applySegmentNote(note: ChangeNote): boolean {
    if (note.mac === undefined || this.noteKey === undefined || this.diverged || note.epoch !== this.epoch || !note.members) return false
    const expected = createHmac('sha1', this.noteKey).update(note.signed!).digest()
    if (!timingSafeEqual(expected, Buffer.from(note.mac, 'hex'))) return false
    let record: StoredRecord<SegmentHead> | null
    let members: MembersChange
    try {
      record = note.record === '' ? null : parseRecord<SegmentHead>(note.record!)
      members = JSON.parse(note.members) as MembersChange
    } catch {
      return false
    }
    if (record !== null && record.seq !== note.seq) return false
    const change: SegmentChange = { kind: 'segment', key: note.id, seq: note.seq, head: record?.doc ?? null, members }
    if (this.segmentOrder(change) === 'gap') return false
    this.seenSeq = Math.max(this.seenSeq, note.seq)
    this.confirmed.add(note.seq)
    this.emitSegment(change, note.seq, note)
    return true
  }

  /**
   * Where a segment's change stands against the last one of it handed out: `old` (at or below it, or
   * in the last snapshot: a registry holds it or a newer one), `next` (newer, and applicable: a
   * deletion, both member lists replaced whole, or a delta (or one list replaced) on exactly the version held), or `gap` (newer, but
   * a delta on a version this store did not hand out: its members must be read whole).
   */
  private segmentOrder(change: SegmentChange): 'old' | 'next' | 'gap' {
    const held = this.segmentsHeld.get(change.key)
    if (change.seq <= Math.max(held?.seq ?? 0, this.segmentsFloor)) return 'old'
    const whole = change.members.op === 'replace' && change.members.users !== undefined && change.members.tenants !== undefined
    if (change.head === null || whole) return 'next'
    return (held?.version ?? 0) === change.head.version - 1 ? 'next' : 'gap'
  }

  private emitSegment(change: SegmentChange, confirms: number | undefined, note: ChangeNote): void {
    this.holdSegment(change)
    const committedAtMs = note.committedAtMs === undefined ? undefined : note.committedAtMs - this.clockOffsetMs
    this.emit({ type: 'change', change, confirms, committedAtMs })
  }

  /**
   * A segment's note the store backs (NOTE_SCRIPT) but that could not be applied as sent: `record` is
   * its head as Redis holds it now. A deletion, or a head this store already handed out, needs no
   * members; anything newer is read whole (readSegmentWhole) and handed out as a `replace`. Reads of
   * one segment queue: a note that waited behind another's read usually finds it handed out.
   */
  private segmentFromStore(note: ChangeNote, record: StoredRecord<SegmentHead> | null, confirms: number | undefined): void {
    if (record === null) {
      this.emitSegment({ kind: 'segment', key: note.id, seq: note.seq, head: null, members: { op: 'replace', users: [], tenants: [] } }, confirms, note)
      return
    }
    const key = note.id
    const read = (this.segmentReads.get(key) ?? Promise.resolve()).then(async () => {
      const current: SegmentChange = { kind: 'segment', key, seq: record.seq, head: record.doc, members: { op: 'same' } }
      if (this.segmentOrder(current) === 'old') return this.emitSegment(current, confirms, note)
      const segment = await this.readSegmentWhole(key)
      if (this.closed) return
      if (segment === null) {
        // Deleted since the note's check: at a later seq, whose own note follows.
        return this.emitSegment({ ...current, head: null, members: { op: 'replace', users: [], tenants: [] } }, confirms, note)
      }
      const { users, tenants, ...head } = segment.doc
      this.emitSegment({ kind: 'segment', key, seq: segment.seq, head, members: { op: 'replace', users, tenants } }, confirms, note)
    })
    const settled = read.catch(() => {
      // The change is known but not its content: catch up with a full resync when Redis answers.
      this.resyncPending = true
    })
    this.segmentReads.set(key, settled)
    void settled.then(() => {
      if (this.segmentReads.get(key) === settled) this.segmentReads.delete(key)
    })
  }

  /** The record as the store holds it (null: absent, so deleted at the note's seq or later). */
  private emitChange(note: ChangeNote, record: StoredRecord<Flag | TokenRecord> | null, confirms: number | undefined): void {
    const seq = record?.seq ?? note.seq
    const change: Change =
      note.kind === 'flag'
        ? { kind: 'flag', key: note.id, seq, flag: (record?.doc as Flag | undefined) ?? null }
        : { kind: 'token', id: note.id, seq, token: (record?.doc as TokenRecord | undefined) ?? null }
    const committedAtMs = note.committedAtMs === undefined ? undefined : note.committedAtMs - this.clockOffsetMs
    this.emit({ type: 'change', change, confirms, committedAtMs })
  }

  /** Loads everything and hands it over; concurrent requests share one load and rerun once. */
  private resync(): Promise<void> {
    if (this.resyncing) {
      this.resyncAgain = true
      return this.resyncing
    }
    this.resyncing = (async () => {
      do {
        this.resyncAgain = false
        try {
          const snapshot = await this.load()
          this.resyncPending = false
          if (!this.closed) this.emit({ type: 'resync', snapshot })
        } catch (err) {
          // A diverged store is not reloaded: the replica keeps serving what it holds.
          this.resyncPending = !(err instanceof StoreDivergedError)
          return
        }
      } while (this.resyncAgain)
    })().finally(() => (this.resyncing = undefined))
    return this.resyncing
  }

  /**
   * The backstop for lost notifications: a seq that Redis held one interval ago and that no
   * notification has announced since was missed. Comparing with the previous reading rather
   * than the current one leaves in-flight notifications time to arrive.
   */
  private async checkCounter(): Promise<void> {
    if (this.checking || this.closed) return
    this.checking = true
    try {
      // A diverged replica looks for the operator's recovery: a new epoch that names its own as a parent.
      if (this.diverged) {
        const [epoch, isParent] = await this.run('reading the store epoch', (redis) =>
          redis
            .multi()
            .get(this.keys.epoch)
            .sismember(this.keys.epochParents, this.epoch ?? '')
            .exec(),
        ).then((replies) => [replies?.[0]?.[1] as string | null, replies?.[1]?.[1] === 1] as const)
        if (epoch !== null && epoch !== this.epoch && isParent) await this.resync()
        return
      }
      if (this.resyncPending) return await this.resync()
      // Read before asking: a notification arriving meanwhile may carry a seq above the reply.
      const seen = this.seenSeq
      const replies = await this.run('reading the change counter', (redis) => redis.multi().get(this.keys.seq).get(this.keys.epoch).exec())
      const [[, counterText], [, epoch]] = replies as [[unknown, string | null], [unknown, string | null]]
      const counter = Number(counterText ?? 0)
      if (this.epoch !== undefined && this.checkIdentity(epoch, counter, seen)) return
      const missed = this.counterAtLastCheck > this.confirmed.contiguous
      this.counterAtLastCheck = counter
      if (missed) await this.resync()
      await this.measureClock()
    } catch {
      // Unreachable: health() says so, and the subscriber's reconnection resyncs.
    } finally {
      this.checking = false
    }
  }
}

/**
 * Whether the audit stream entry at the note's seq is a change of the record the note names: with
 * the record gone from the store, it was deleted (or revoked) then or since.
 */
function changedAt(note: ChangeNote, fields: string[] | undefined): boolean {
  if (fields === undefined) return false
  const field = fieldsOf(fields)
  if (note.kind === 'flag') return field.flag === note.id
  if (note.kind === 'segment') return field.segment === note.id
  try {
    return (JSON.parse(field.event ?? '{}') as { tokenId?: string }).tokenId === note.id
  } catch {
    return false
  }
}

function fieldsOf(flat: string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!
  return out
}

/** The seq of a stored record (`{"seq":7,…}`), without parsing the rest of it. */
function recordSeq(text: string): number {
  return Number(/^\{"seq":(\d+)/.exec(text)?.[1] ?? -1)
}
