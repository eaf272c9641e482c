// The change stream's fan-out: one registry listener feeding every open SSE connection. Each
// event is encoded once into a Buffer every consumer shares; a change travels as a change patch
// (src/replica/change-patch.ts), so a state toggle on a flag with a 1 MB list sends a few hundred
// bytes. Also: a bounded replay ring for Last-Event-ID, heartbeats, a bound on how far a consumer
// may lag, limits on open streams, and streams that end with their token. Evaluation streams also
// hear the answers a schedule's transition changes, from one timer on the store's clock.
import type { ServerResponse } from 'node:http'
import type { FastifyBaseLogger } from 'fastify'
import { AppError } from '../errors.js'
import { answer, type Context } from '@switchyard/core/evaluation/engine'
import type { FlagEvent, FlagRegistry } from '../flags/registry.js'
import type { SegmentEvent, SegmentRegistry } from '../segments/registry.js'
import { diffRecord } from '@switchyard/core/replica/change-patch'
import { phaseAt } from '@switchyard/core/evaluation/schedule'
import { StoreClock } from '../replica/clock.js'

interface ChangeStreamOptions {
  heartbeatMs: number
  /** Bytes a consumer may have queued, beyond its catch-up payload, before it is dropped. */
  maxBufferBytes: number
  /** Open streams in all, and per token, past which a new one is refused with 429. */
  maxStreams: number
  maxStreamsPerToken: number
  /**
   * Evaluation streams (POST /stream/evaluations) per client address: their token is shared by
   * every browser of an app by design, so the per-token limit would let one address crowd out all.
   */
  maxStreamsPerAddress: number
  /** Recent change events kept for Last-Event-ID resumption, by count and by size. */
  replayEvents?: number
  replayBytes?: number
  /** How often open streams' tokens are checked for revocation and expiry. */
  tokenCheckMs?: number
  /**
   * The store epoch the state comes from (StoreSync.epoch), sent in every event: seqs of two
   * epochs do not compare, so a consumer that sees another one reloads the whole state.
   */
  epoch?: () => string | undefined
  /** Segments with more members than this are sent as their head alone, unless a stream asks for all (SEGMENT_INLINE_MAX). */
  segmentInlineMax?: number
  /** The store's clock, which schedules run on, and the timer evaluation streams are pushed a transition's answers by. */
  clock?: StoreClock
}

/**
 * What each consumer is sent per change. `patch` (GET /stream?format=patch, what the SDK asks for):
 * `{seq, epoch, key, from, patch}`, the patch to apply to version `from` (0: the flag did not exist).
 * `flag` (the default, for consumers written before patches): `{seq, epoch, key, flag}` with the flag whole.
 * `evaluations` (POST /stream/evaluations): answers for one context, never a flag's definition.
 */
type StreamFormat = 'patch' | 'flag' | 'evaluations'

/** What an evaluation stream answers for: one context, and every flag or only some. */
interface EvaluationSubscription {
  context: Context
  /** Only these flags; undefined: every flag. */
  keys?: ReadonlySet<string>
}

/** Whether the token a stream was opened with still admits it; the reason it ended when not. */
type TokenCheck = (tokenId: string) => 'ok' | 'revoked' | 'expired'

interface Connection {
  readonly res: ServerResponse
  readonly tokenId: string
  /** What its limit is counted by: `token:<id>`, or `address:<ip>` for an evaluation stream. */
  readonly limitKey: string
  readonly format: StreamFormat
  /** Sent every segment's members, however large (GET /stream?segments=all). */
  readonly allSegments: boolean
  /** Set for format `evaluations`. */
  readonly subscription?: EvaluationSubscription
  /** Size of the last state or replay written: a large catch-up is not mistaken for lag. */
  slack: number
}

/** One change, encoded at most once per format however many consumers receive it. */
class Encoded {
  private flagFormat?: Buffer
  readonly patchFormat: Buffer
  constructor(
    private readonly event: Extract<FlagEvent, { type: 'change' }>,
    private readonly epoch: string | undefined,
  ) {
    const { seq, key, flag, previous } = event
    const data = JSON.stringify({ seq, epoch, key, from: previous?.version ?? 0, patch: diffRecord(previous, flag) })
    this.patchFormat = sse(seq, 'patch', data)
  }
  get(format: 'patch' | 'flag'): Buffer {
    if (format === 'patch') return this.patchFormat
    const { seq, key, flag } = this.event
    return (this.flagFormat ??= sse(seq, 'change', JSON.stringify({ seq, epoch: this.epoch, key, flag })))
  }
}

interface Remembered {
  readonly id: number
  readonly event: Buffer
  /** For a segment change whose members a stream of segments=all is sent and others are not. */
  readonly eventAll?: Buffer
}

function sse(id: number, event: string, data: string): Buffer {
  return Buffer.from(`id: ${id}\nevent: ${event}\ndata: ${data}\n\n`)
}

/** `: heartbeat <ms>`: a comment, which EventSource ignores, carrying the server's time (ms since the epoch). */
const heartbeat = (now: number) => Buffer.from(`: heartbeat ${Math.round(now)}\n\n`)
/** Evaluation streams sent their full answers per turn of the event loop after a resync. */
const ANSWER_BATCH = 25
const NONE = -1
/**
 * Evaluation streams are brought up to date with schedules at most this often: a ramp that moves
 * every few milliseconds is pushed once a second, the answers it changed meanwhile together.
 */
const SCHEDULE_PUSH_MIN_MS = 1000

export class ChangeStream {
  private readonly connections = new Set<Connection>()
  /** Open streams by limit key (see Connection.limitKey). */
  private readonly counts = new Map<string, number>()
  private readonly unsubscribe: () => void
  private readonly replayEvents: number
  private readonly replayBytes: number
  // Patch events in arrival order; `base` is the id of the position just before the first,
  // or NONE when nothing before the first can be resumed from.
  private ring: Remembered[] = []
  private ringBytes = 0
  private base = NONE
  private seq = 0
  private state: Buffer | null = null
  private heartbeat: NodeJS.Timeout | null = null
  private tokenTimer: NodeJS.Timeout | null = null
  private closed = false
  /** Counts resyncs, so an older one's batches of answers stop when a newer one starts. */
  private refreshes = 0

  private stateAll: Buffer | null = null
  private readonly inlineMax: number
  private readonly clock: StoreClock
  /** Open evaluation streams: the schedule timer runs only while there are some. */
  private answering = 0
  /** The instant evaluation streams' answers were last brought up to date with schedules. */
  private scheduleCheckedAt = 0
  /** When the schedule timer last pushed: the next push waits SCHEDULE_PUSH_MIN_MS after it. */
  private schedulePushedAt = -Infinity
  private scheduleTimer: { at: number; cancel: () => void } | null = null

  constructor(
    private readonly flags: FlagRegistry,
    private readonly options: ChangeStreamOptions,
    private readonly log: FastifyBaseLogger,
    private readonly checkToken: TokenCheck = () => 'ok',
    private readonly segments?: SegmentRegistry,
  ) {
    this.replayEvents = options.replayEvents ?? 1024
    this.replayBytes = options.replayBytes ?? 8 * 1024 * 1024
    this.inlineMax = options.segmentInlineMax ?? Infinity
    this.clock = options.clock ?? new StoreClock()
    // A failure to stream a change must not fail the write that made it (it is committed): logged.
    const guarded =
      <E>(handle: (event: E) => void) =>
      (event: E) => {
        try {
          handle(event)
        } catch (err) {
          this.log.error({ err }, 'stream.event_failed')
        }
      }
    const offFlags = flags.onChange(guarded((event: FlagEvent) => this.onFlagEvent(event)))
    const offSegments = segments?.onChange(guarded((event: SegmentEvent) => this.onSegmentEvent(event)))
    this.unsubscribe = () => {
      offFlags()
      offSegments?.()
    }
  }

  /** Open connections. */
  get size(): number {
    return this.connections.size
  }

  /**
   * The key a new stream's limit is counted by, after throwing 429 when it would go past a limit;
   * call before answering. Evaluation streams count by client address, the rest by token.
   */
  admit(tokenId: string, address?: string): string {
    const { maxStreams, maxStreamsPerToken, maxStreamsPerAddress } = this.options
    if (this.connections.size >= maxStreams) {
      throw new AppError(
        'TOO_MANY_STREAMS',
        `this replica holds ${this.connections.size} open streams, its limit (STREAM_MAX_TOTAL); retry later or on another replica`,
      )
    }
    const key = address === undefined ? `token:${tokenId}` : `address:${address}`
    const mine = this.counts.get(key) ?? 0
    if (address === undefined && mine >= maxStreamsPerToken) {
      throw new AppError('TOO_MANY_STREAMS', `this token has ${mine} open streams on this replica, its limit (STREAM_MAX_PER_TOKEN); close one first`)
    }
    if (address !== undefined && mine >= maxStreamsPerAddress) {
      throw new AppError(
        'TOO_MANY_STREAMS',
        `this address has ${mine} open evaluation streams on this replica, its limit (STREAM_MAX_PER_ADDRESS); close one first`,
      )
    }
    return key
  }

  /**
   * Starts streaming to a response whose headers are written. With a Last-Event-ID still in
   * the ring (patch format) the missed changes are replayed; otherwise the full state is sent.
   */
  open(
    res: ServerResponse,
    lastEventId: number | undefined,
    stream: { tokenId: string; limitKey: string; format: StreamFormat; subscription?: EvaluationSubscription; allSegments?: boolean },
  ): void {
    if (this.closed) {
      res.end()
      return
    }
    const { tokenId, limitKey, format, subscription } = stream
    const connection: Connection = { res, tokenId, limitKey, format, allSegments: stream.allSegments === true, subscription, slack: 0 }
    this.connections.add(connection)
    this.counts.set(limitKey, (this.counts.get(limitKey) ?? 0) + 1)
    res.on('close', () => this.forget(connection))
    if (format === 'evaluations' && this.answering++ === 0) {
      // The first one answers as of now: transitions before it are in its first answers.
      this.scheduleCheckedAt = this.clock.now()
      this.armSchedule()
    }
    // Written before anything else, as soon as the headers: a consumer reads the time half a round trip after it was taken.
    this.write(connection, heartbeat(this.clock.now()))
    // The ring holds patch events: any other consumer resumes from a state (or its answers).
    const missed = lastEventId === undefined || format !== 'patch' ? undefined : this.replayAfter(lastEventId)
    if (missed === undefined) this.sendState(connection)
    else {
      const chosen = missed.map((event) => (connection.allSegments ? (event.eventAll ?? event.event) : event.event))
      let bytes = 0
      for (const event of chosen) bytes += event.length
      connection.slack = bytes
      for (const event of chosen) this.write(connection, event)
    }
    this.heartbeat ??= setInterval(() => {
      const beat = heartbeat(this.clock.now())
      for (const c of this.connections) this.write(c, beat)
    }, this.options.heartbeatMs).unref()
    this.tokenTimer ??= setInterval(() => this.checkTokens(), this.options.tokenCheckMs ?? 250).unref()
  }

  /** Ends every stream (server shutdown); a consumer still behind is cut off rather than awaited. */
  close(): void {
    this.closed = true
    this.unsubscribe()
    this.scheduleTimer?.cancel()
    this.scheduleTimer = null
    for (const c of [...this.connections]) this.end(c, false)
  }

  /** Ends the streams of a token that no longer admits them, with a last `revoked` event saying why. */
  private checkTokens(): void {
    const verdicts = new Map<string, ReturnType<TokenCheck>>()
    for (const c of [...this.connections]) {
      let verdict = verdicts.get(c.tokenId)
      if (verdict === undefined) verdicts.set(c.tokenId, (verdict = this.checkToken(c.tokenId)))
      if (verdict === 'ok') continue
      this.log.info({ tokenId: c.tokenId, reason: verdict }, 'stream.revoked')
      this.write(c, sse(this.seq, 'revoked', JSON.stringify({ reason: verdict, message: `the token was ${verdict}` })))
      this.end(c, true)
    }
  }

  private onFlagEvent(event: FlagEvent): void {
    this.seq = Math.max(this.seq, event.seq)
    this.state = null
    this.stateAll = null
    // A change may set, move or end a schedule: the earliest next transition is another.
    if (this.answering > 0) this.armSchedule()
    if (event.type === 'reset') {
      // A resync may hold changes this replica never saw one by one, so a consumer at any
      // earlier id, even the current seq, may lack them: only a full state bridges it.
      this.ring = []
      this.ringBytes = 0
      this.base = NONE
      const answering: Connection[] = []
      for (const c of [...this.connections]) {
        if (c.format === 'evaluations') answering.push(c)
        else this.sendState(c)
      }
      this.refreshAnswers(answering)
      return
    }
    const encoded = new Encoded(event, this.options.epoch?.())
    this.remember(event.seq, encoded.patchFormat)
    // One instant for every stream's answer to this change.
    const now = this.clock.now()
    for (const c of [...this.connections]) {
      if (c.format !== 'evaluations') this.write(c, encoded.get(c.format))
      else if (c.subscription!.keys?.has(event.key) !== false) this.write(c, this.evaluation(event.seq, event.key, c.subscription!.context, now))
    }
  }

  /**
   * A segment change: its head and how its members changed (`segment` events, in every format but
   * evaluations). A segment past SEGMENT_INLINE_MAX travels without members (`local: false`) to
   * streams that did not ask for all; one that shrinks below it is sent whole to them. Evaluation
   * streams get the answers of the flags that name the segment again.
   */
  private onSegmentEvent(event: SegmentEvent): void {
    this.seq = Math.max(this.seq, event.seq)
    this.state = null
    this.stateAll = null
    const answering = [...this.connections].filter((c) => c.format === 'evaluations')
    if (event.type === 'reset') {
      this.ring = []
      this.ringBytes = 0
      this.base = NONE
      for (const c of [...this.connections]) if (c.format !== 'evaluations') this.sendState(c)
      this.refreshAnswers(answering)
      return
    }
    const { seq, key, head, members, from, size, previousSize } = event
    const epoch = this.options.epoch?.()
    const counts = head === null ? { userCount: 0, tenantCount: 0 } : this.memberCounts(key)
    const data = (m: unknown, local: boolean) => JSON.stringify({ seq, epoch, key, from, head, members: m, local, ...counts })
    const all = sse(seq, 'segment', data(members, true))
    const large = size > this.inlineMax
    let inline = all
    if (large) inline = sse(seq, 'segment', data({ op: 'same' }, false))
    else if (head !== null && previousSize > this.inlineMax && !(members.op === 'replace' && members.users && members.tenants)) {
      const full = this.segments!.full(key)!
      inline = sse(seq, 'segment', data({ op: 'replace', users: full.users, tenants: full.tenants }, true))
    }
    this.ring.push({ id: seq, event: inline, ...(inline === all ? {} : { eventAll: all }) })
    this.ringBytes += inline.length + (inline === all ? 0 : all.length)
    this.trimRing()
    // Evaluation streams hear again only the answers of flags whose rules name the segment.
    const using = answering.length > 0 ? this.flags.usingSegment(key) : []
    const now = this.clock.now()
    for (const c of [...this.connections]) {
      if (c.format !== 'evaluations') this.write(c, c.allSegments ? all : inline)
      else for (const flag of using) if (c.subscription!.keys?.has(flag) !== false) this.write(c, this.evaluation(seq, flag, c.subscription!.context, now))
    }
  }

  /**
   * Sends evaluation streams their full answers again, a batch per turn of the event loop: each one
   * evaluates every flag for its own context, and 1,000 streams by 2,000 flags in one go held the
   * loop for about a second. A newer resync supersedes the batches still to come.
   */
  private refreshAnswers(connections: Connection[]): void {
    const generation = ++this.refreshes
    const next = (from: number) => {
      if (generation !== this.refreshes || this.closed) return
      for (const c of connections.slice(from, from + ANSWER_BATCH)) if (this.connections.has(c)) this.sendState(c)
      if (from + ANSWER_BATCH < connections.length) setImmediate(next, from + ANSWER_BATCH)
    }
    next(0)
  }

  /** The answer for one changed flag at `now`, as POST /evaluate gives it: only this flag is evaluated again. */
  private evaluation(seq: number, key: string, context: Context, now: number): Buffer {
    return sse(seq, 'evaluation', JSON.stringify({ seq, epoch: this.options.epoch?.(), ...answer(key, this.flags.get(key), context, now) }))
  }

  /** Every answer a stream subscribes to, in key order. */
  private evaluations(c: Connection): Buffer {
    const { context, keys } = c.subscription!
    const results = []
    const now = this.clock.now()
    for (const key of keys ? [...keys].sort() : this.flags.keys()) results.push(answer(key, this.flags.get(key), context, now))
    return sse(this.seq, 'evaluations', JSON.stringify({ seq: this.seq, epoch: this.options.epoch?.(), heartbeatMs: this.options.heartbeatMs, results }))
  }

  /**
   * Sets the one schedule timer for the earliest next transition of any flag, but no sooner than
   * SCHEDULE_PUSH_MIN_MS after the last push; none while no evaluation stream is open.
   */
  private armSchedule(): void {
    const next = this.answering > 0 && !this.closed ? this.flags.nextTransition(this.clock.now()) : undefined
    const due = next === undefined ? undefined : Math.max(next, this.schedulePushedAt + SCHEDULE_PUSH_MIN_MS)
    if (this.scheduleTimer?.at === due) return
    this.scheduleTimer?.cancel()
    this.scheduleTimer = due === undefined ? null : { at: due, cancel: this.clock.at(due, () => this.guardedScheduleTimer(due)) }
  }

  /** A timer's failure must not end the process: logged, and the next transition is waited for as before. */
  private guardedScheduleTimer(due: number): void {
    try {
      this.onScheduleTimer(due)
    } catch (err) {
      this.log.error({ err }, 'stream.schedule_failed')
      this.scheduleTimer = null
      this.schedulePushedAt = this.clock.now()
      this.armSchedule()
    }
  }

  /**
   * Pushes evaluation streams the answers that schedules changed since they were last brought up
   * to date: for each flag whose phase moved, each stream's answer then and now, sent when they differ
   * (a stream opened in between may hear an answer it already holds, never miss one a ramp changed).
   */
  private onScheduleTimer(due: number): void {
    this.scheduleTimer = null
    const now = this.clock.now()
    // Early: a long wait taken in turns, or an offset measured meanwhile.
    if (now < due) return this.armSchedule()
    const from = this.scheduleCheckedAt
    this.scheduleCheckedAt = now
    this.schedulePushedAt = now
    const answering = [...this.connections].filter((c) => c.format === 'evaluations')
    for (const compiled of this.flags.all()) {
      const schedule = compiled.schedule
      if (schedule === null) continue
      const before = phaseAt(schedule.timeline, from)
      const after = phaseAt(schedule.timeline, now)
      if (before.state === after.state && before.threshold === after.threshold) continue
      const key = compiled.flag.key
      const covering = answering.filter((c) => c.subscription!.keys?.has(key) !== false)
      // All answers at `from`, then all at `now`: the flag's cached phase changes twice, not per stream.
      const then = covering.map((c) => JSON.stringify(answer(key, compiled, c.subscription!.context, from)))
      covering.forEach((c, i) => {
        const result = answer(key, compiled, c.subscription!.context, now)
        const text = JSON.stringify(result)
        if (text !== then[i]) this.write(c, sse(this.seq, 'evaluation', JSON.stringify({ seq: this.seq, epoch: this.options.epoch?.(), ...result })))
      })
    }
    this.armSchedule()
  }

  private remember(id: number, event: Buffer): void {
    this.ring.push({ id, event })
    this.ringBytes += event.length
    this.trimRing()
  }

  private trimRing(): void {
    while (this.ring.length > this.replayEvents || (this.ringBytes > this.replayBytes && this.ring.length > 0)) {
      const dropped = this.ring.shift()!
      this.ringBytes -= dropped.event.length + (dropped.eventAll?.length ?? 0)
      this.base = dropped.id
    }
  }

  /** The events that arrived after `id`, or undefined when the ring no longer reaches back to it. */
  private replayAfter(id: number): Remembered[] | undefined {
    if (id === this.base) return this.ring.slice()
    for (let i = this.ring.length - 1; i >= 0; i--) if (this.ring[i]!.id === id) return this.ring.slice(i + 1)
    return undefined
  }

  private sendState(c: Connection): void {
    if (c.format === 'evaluations') {
      const answers = this.evaluations(c)
      if (this.write(c, answers)) c.slack = answers.length
      return
    }
    const state = c.allSegments ? (this.stateAll ??= this.encodeState(true)) : (this.state ??= this.encodeState(false))
    if (!this.write(c, state)) return
    c.slack = state.length
  }

  /** The whole state: every flag, and every segment (past SEGMENT_INLINE_MAX without members, `local: false`, unless `all`). */
  private encodeState(all: boolean): Buffer {
    const flags = []
    for (const compiled of this.flags.all()) flags.push(compiled.flag)
    const segments = (this.segments?.heads() ?? []).map((head) => {
      const local = all || this.segments!.sizeOf(head.key) <= this.inlineMax
      const full = local ? this.segments!.full(head.key)! : { ...head, users: [], tenants: [] }
      return { ...full, local, ...this.memberCounts(head.key) }
    })
    return sse(this.seq, 'state', JSON.stringify({ seq: this.seq, epoch: this.options.epoch?.(), heartbeatMs: this.options.heartbeatMs, flags, segments }))
  }

  private memberCounts(key: string): { userCount: number; tenantCount: number } {
    const { userCount, tenantCount } = this.segments!.summary(key)!
    return { userCount, tenantCount }
  }

  private write(c: Connection, data: Buffer): boolean {
    if (c.res.writableLength > this.options.maxBufferBytes + c.slack) {
      this.log.warn({ buffered: c.res.writableLength, limit: this.options.maxBufferBytes }, 'stream.consumer_dropped')
      this.forget(c)
      c.res.destroy()
      return false
    }
    c.res.write(data)
    return true
  }

  /** Ends a stream; `flush` lets what is queued (a last event) reach the consumer first, for a while. */
  private end(c: Connection, flush: boolean): void {
    this.forget(c)
    if (!flush && c.res.writableLength > 0) return void c.res.destroy()
    c.res.end()
    if (c.res.writableLength > 0) setTimeout(() => c.res.destroy(), 5000).unref()
  }

  private forget(c: Connection): void {
    if (!this.connections.delete(c)) return
    if (c.format === 'evaluations' && --this.answering === 0) this.armSchedule()
    const left = (this.counts.get(c.limitKey) ?? 1) - 1
    if (left > 0) this.counts.set(c.limitKey, left)
    else this.counts.delete(c.limitKey)
    if (this.connections.size === 0) {
      if (this.heartbeat) clearInterval(this.heartbeat)
      if (this.tokenTimer) clearInterval(this.tokenTimer)
      this.heartbeat = null
      this.tokenTimer = null
    }
  }
}
