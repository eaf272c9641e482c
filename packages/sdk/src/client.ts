// The SDK: every flag held in memory, kept current by GET /stream, and evaluated locally with
// the server's own engine, so isEnabled is a synchronous map lookup and a switch.
import { request as httpRequest, type ClientRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { answer, compileFlag as compileWith, Decisions, EMPTY_CONTEXT, evaluate, stickyValue } from '@switchyard/core/evaluation/engine'
import type { CompiledFlag, Decision } from '@switchyard/core/evaluation/engine'
import { explain } from '@switchyard/core/evaluation/explain'
import { HeldSegments, type SegmentEvent, type SegmentRecord } from './segments.js'
import { applyPatch, type RecordPatch } from '@switchyard/core/replica/change-patch'
import { VersionedMap } from '@switchyard/core/replica/versioned-map'
import { SseParser, type SseEvent } from './sse.js'
import { ReplicaClock } from './clock.js'
import { readBootstrap, readSaved, StateSaver, type BootstrapSnapshot, type HeldState, type SnapshotError } from './snapshot.js'

import type { Context, EvaluationResult, Flag, Reason } from './types.js'
export type { Context, EvaluationResult, Flag } from './types.js'

/** One evaluation the app made, for its exposure log: never the whole context. */
export interface EvaluationEvent {
  flag: string
  /** The variant the app was given; absent for a flag without variants, and when it got its fallback. */
  variant?: string
  reason: Reason
  /** The value the flag's stickiness names (its userId, or tenantId), when the context has it. */
  contextKey?: string
}

/**
 * Why a typed getter answered the caller's fallback: the flag does not exist, serves another type
 * (a flag without variants serves booleans), needs a newer model than this SDK evaluates, or names
 * a segment the SDK does not hold.
 */
export type FallbackError = 'flag_not_found' | 'type_mismatch' | 'unsupported_model' | 'segment_not_local'

/** A typed getter's answer with how it was reached. */
export interface ValueDetails<T> {
  /** The variant's value (frozen: shared by every answer), whether a flag without variants is on for getBoolean, or the fallback. */
  value: T
  /** The variant served; absent on a flag without variants, and with `error`. */
  variant?: string
  /** The engine's reason; flag_not_found for an unknown flag. */
  reason: Reason
  /** With reason rule_match (or missing_context from a rule's percentage): the rule that decided. */
  ruleId?: string
  /** Present exactly when `value` is the caller's fallback: why. */
  error?: FallbackError
}

/** Flags whose definition changed (created, updated or deleted), and the stream position after them. */
export interface FlagChange {
  keys: string[]
  seq: number
}
export type ChangeListener = (change: FlagChange) => void

export interface ClientOptions {
  /** Base URL of a Switchyard replica (or the load balancer in front of them). */
  url: string
  /** A token with scope evaluate (or admin). */
  token: string
  /** Called after every change applied once the client is ready. */
  onChange?: ChangeListener
  /** Connection problems, for your logs; the client keeps serving its last state and retries. */
  onError?: (error: Error) => void
  /** How long createClient waits for the first state before it fails; default 10 s. */
  timeoutMs?: number
  /** Reconnection backoff, doubled per failed attempt with jitter; default 250 ms up to 30 s. */
  reconnect?: { minDelayMs?: number; maxDelayMs?: number }
  /**
   * What to answer from until the stream connects, so an app can start while Switchyard is out of
   * reach: an object shaped like a flags file (`{flags: [{key, state, …}]}`), or the path of a JSON
   * one (`flagctl export -o flags.json`). With it, createClient resolves as soon as the first
   * connection fails (or at `timeoutMs`) instead of rejecting; a refused token still rejects.
   */
  bootstrap?: BootstrapSnapshot | string
  /**
   * A file where the client saves every state it receives, and answers from at its next start
   * until the stream connects (in preference to `bootstrap`, which is older).
   */
  persistTo?: string
  /**
   * Hold every segment whole, however large (GET /stream?segments=all): rules naming a segment
   * past the server's SEGMENT_INLINE_MAX then answer locally instead of `segment_not_local` (and the
   * caller's fallback). Memory: about 100 bytes per member (a 1,000,000-member segment of 36-character ids: ~100 MB).
   */
  largeSegments?: boolean
  /**
   * Called after every evaluation the app makes (isEnabled, evaluate, the typed getters, the
   * OpenFeature provider's), so it can log exposures to its own analytics. Synchronous: keep it
   * cheap, or queue the event. A hook that throws is reported to `onError`; the answer stands.
   */
  onEvaluation?: (event: EvaluationEvent) => void
  /**
   * This process's clock, ms since the epoch (default Date.now). Scheduled flags switch at the
   * store's instant, not this clock's: the client measures its offset from the replica's heartbeats.
   */
  clock?: () => number
  /**
   * How long evaluations of scheduled flags reuse one reading of the clock (default 10 ms): reading
   * it can cost as much as an evaluation. 0 reads it at every evaluation (exact, and slower).
   */
  clockResolutionMs?: number
}

/** Where the answers come from: the live stream, the state saved by `persistTo`, or `bootstrap`. */
export type StateSource = 'stream' | 'saved' | 'bootstrap'

export interface SwitchyardClient {
  /** Whether the flag is on for the context; `fallback` (default false) for an unknown flag. Synchronous, allocation-free. */
  isEnabled(key: string, context?: Context, fallback?: boolean): boolean
  /** The answer POST /evaluate would give: `{flag, enabled, reason, version}` (and `ruleId` when a rule decided). */
  evaluate(key: string, context?: Context): EvaluationResult
  /**
   * A flag's value of one type: a string, number or object variant's value, or a boolean one's
   * (getBoolean also answers whether a flag without variants is on); `fallback` when the flag is
   * unknown, serves another type (a flag without variants serves booleans), needs a newer model or
   * a segment this SDK does not hold. An off answer serves the flag's offVariant, not the fallback.
   */
  getString(key: string, context: Context | undefined, fallback: string): string
  getNumber(key: string, context: Context | undefined, fallback: number): number
  getBoolean(key: string, context: Context | undefined, fallback: boolean): boolean
  /** A JSON object or array variant's value, frozen (shared by every answer: copy it to change it). */
  getObject<T extends object>(key: string, context: Context | undefined, fallback: T): T
  /** The value whatever its type: the variant's, or whether a flag without variants is on. */
  getValue(key: string, context: Context | undefined, fallback: unknown): unknown
  /** The getters with how the value was reached: `{value, variant, reason, ruleId, error}`. */
  getStringDetails(key: string, context: Context | undefined, fallback: string): ValueDetails<string>
  getNumberDetails(key: string, context: Context | undefined, fallback: number): ValueDetails<number>
  getBooleanDetails(key: string, context: Context | undefined, fallback: boolean): ValueDetails<boolean>
  getObjectDetails<T extends object>(key: string, context: Context | undefined, fallback: T): ValueDetails<T>
  getValueDetails(key: string, context: Context | undefined, fallback: unknown): ValueDetails<unknown>
  /** evaluate() with the decision trace: each step the engine took (POST /evaluate's `explain`). */
  explain(key: string, context?: Context): EvaluationResult
  /** The flag as last received, or undefined. */
  flag(key: string): Flag | undefined
  /** Adds a change listener; returns the function that removes it. */
  onChange(listener: ChangeListener): () => void
  /** True while the stream is open; false while reconnecting (answers then come from the last state). */
  readonly connected: boolean
  /** The store epoch of the state held: it changes when an operator recovers a store that lost data, and the client reloads then. */
  readonly epoch: string | undefined
  /** Where the answers come from now; `stream` from the first state the server sent. */
  readonly source: StateSource
  /**
   * The replica's clock minus this process's, measured from its heartbeats (0 until the first):
   * scheduled flags switch at this process's time plus it, the same instant as on every replica.
   */
  readonly clockOffsetMs: number
  /** Closes the stream and stops retrying; resolves once nothing is left running. */
  close(): Promise<void>
}

/** The server refused the stream or it could not be read; `status` is the HTTP status, if any. */
export class SwitchyardClientError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options)
    this.name = 'SwitchyardClientError'
  }
}

/** Connects, waits for the full state (or, failing that, takes the saved or bootstrap one), and returns a client that stays current. */
export async function createClient(options: ClientOptions): Promise<SwitchyardClient> {
  const client = new StreamingClient(options, await fallbackState(options))
  try {
    await client.ready
  } catch (err) {
    await client.close()
    throw err
  }
  return client
}

/** The state saved by `persistTo` if there is one (a damaged file is reported, not used), else `bootstrap`'s. */
async function fallbackState(options: ClientOptions): Promise<Fallback> {
  let save = options.persistTo !== undefined
  if (options.persistTo !== undefined) {
    try {
      const saved = await readSaved(options.persistTo)
      if (saved) return { state: saved, source: 'saved', save }
    } catch (err) {
      if ((err as SnapshotError).foreign) save = false
      options.onError?.(err as Error)
    }
  }
  // A bootstrap the app names but that cannot be read is a mistake to fix now: it throws.
  if (options.bootstrap !== undefined) return { state: await readBootstrap(options.bootstrap), source: 'bootstrap', save }
  return { save }
}

/** What a client starts from before its stream connects, and whether it may save to `persistTo`. */
type Fallback = { state?: HeldState; source?: StateSource; save: boolean }

// Statuses that retrying cannot fix before the first state: a wrong token, scope or URL.
const FATAL_AT_START = new Set([401, 403, 404])

class StreamingClient implements SwitchyardClient {
  readonly ready: Promise<void>
  connected = false
  epoch: string | undefined
  source: StateSource = 'stream'
  private flags = new VersionedMap<CompiledFlag>()
  private readonly segments = new HeldSegments()
  private readonly compileFlag = (flag: Flag): CompiledFlag => compileWith(flag, this.segments.lookup)
  private readonly clock: ReplicaClock
  /** The seq of the state held, for the saved copy. */
  private seq = 0
  private readonly saver?: StateSaver
  /** Answering from a saved or bootstrap state, createClient having resolved without the stream. */
  private serving = false
  private readonly listeners = new Set<ChangeListener>()
  private readonly streamUrl: string
  private readonly minDelayMs: number
  private readonly maxDelayMs: number
  private lastEventId: string | undefined
  private heartbeatMs = 15_000
  private isReady = false
  private closed = false
  private attempt = 0
  private request: ClientRequest | null = null
  /** Set when this connection's remaining events must be dropped (see apply). */
  private discarding = false
  private wake: (() => void) | null = null
  private readonly loop: Promise<void>
  private settle!: { resolve(): void; reject(err: Error): void }

  constructor(
    private readonly options: ClientOptions,
    private readonly fallback: Fallback = { save: false },
  ) {
    // Changes as patches: a toggle of a flag with a long list is a few hundred bytes.
    this.streamUrl = `${options.url.replace(/\/+$/, '')}/stream?format=patch${options.largeSegments ? '&segments=all' : ''}`
    this.minDelayMs = options.reconnect?.minDelayMs ?? 250
    this.maxDelayMs = Math.max(this.minDelayMs, options.reconnect?.maxDelayMs ?? 30_000)
    const resolution = options.clockResolutionMs
    if (resolution !== undefined && !(Number.isFinite(resolution) && resolution >= 0))
      throw new SwitchyardClientError(`clockResolutionMs must be a number of milliseconds, 0 or more (got ${String(resolution)})`)
    this.clock = new ReplicaClock(options.clock, resolution)
    if (options.onChange) this.listeners.add(options.onChange)
    if (options.persistTo !== undefined && fallback.save) this.saver = new StateSaver(options.persistTo, (err) => this.report(err))
    this.ready = new Promise<void>((resolve, reject) => (this.settle = { resolve, reject }))
    if (fallback.state) {
      this.segments.reset(fallback.state.segments, fallback.state.seq)
      this.flags.reset(
        fallback.state.flags.map((flag) => [flag.key, this.compileFlag(flag)]),
        fallback.state.seq,
      )
      this.seq = fallback.state.seq
      this.epoch = fallback.state.epoch
      this.source = fallback.source!
    }
    const timeout = setTimeout(() => {
      const late = new SwitchyardClientError(`no state from ${this.streamUrl} within ${options.timeoutMs ?? 10_000} ms`)
      if (this.fallback.state) this.serveFallback(late)
      else this.settle.reject(late)
    }, options.timeoutMs ?? 10_000)
    void this.ready.then(
      () => clearTimeout(timeout),
      () => clearTimeout(timeout),
    )
    this.loop = this.run()
  }

  get clockOffsetMs(): number {
    return this.clock.offsetMs
  }

  /** The instant a scheduled flag is read at; undefined for any other, which never reads it. */
  private nowFor(compiled: CompiledFlag | undefined): number | undefined {
    return compiled === undefined || compiled.schedule === null ? undefined : this.clock.now()
  }

  isEnabled(key: string, context: Context = EMPTY_CONTEXT, fallback = false): boolean {
    const compiled = this.flags.get(key)
    if (compiled === undefined) {
      if (this.options.onEvaluation) this.expose(key, undefined, context, Decisions.notFound.reason)
      return fallback
    }
    const decision = evaluate(compiled, context, this.nowFor(compiled))
    if (this.options.onEvaluation) this.expose(key, compiled, context, decision.reason, decision.variant)
    // A flag this build cannot evaluate, or whose segment it does not hold, answers the caller's fallback.
    // segment_not_local that is on: a flag in the enabled state whose variant a rule needs a segment to choose.
    return decision.reason === 'unsupported_model' || (decision.reason === 'segment_not_local' && !decision.enabled) ? fallback : decision.enabled
  }

  evaluate(key: string, context: Context = EMPTY_CONTEXT): EvaluationResult {
    const compiled = this.flags.get(key)
    const result = answer(key, compiled, context, this.nowFor(compiled))
    if (this.options.onEvaluation) this.expose(key, compiled, context, result.reason, result.variant)
    return result
  }

  getString(key: string, context: Context | undefined, fallback: string): string {
    return this.resolve(key, context, fallback, 'string').value
  }

  getNumber(key: string, context: Context | undefined, fallback: number): number {
    return this.resolve(key, context, fallback, 'number').value
  }

  getBoolean(key: string, context: Context | undefined, fallback: boolean): boolean {
    return this.resolve(key, context, fallback, 'boolean').value
  }

  getObject<T extends object>(key: string, context: Context | undefined, fallback: T): T {
    return this.resolve(key, context, fallback, 'object').value
  }

  getValue(key: string, context: Context | undefined, fallback: unknown): unknown {
    return this.resolve(key, context, fallback, 'any').value
  }

  getStringDetails(key: string, context: Context | undefined, fallback: string): ValueDetails<string> {
    return this.resolve(key, context, fallback, 'string')
  }

  getNumberDetails(key: string, context: Context | undefined, fallback: number): ValueDetails<number> {
    return this.resolve(key, context, fallback, 'number')
  }

  getBooleanDetails(key: string, context: Context | undefined, fallback: boolean): ValueDetails<boolean> {
    return this.resolve(key, context, fallback, 'boolean')
  }

  getObjectDetails<T extends object>(key: string, context: Context | undefined, fallback: T): ValueDetails<T> {
    return this.resolve(key, context, fallback, 'object')
  }

  getValueDetails(key: string, context: Context | undefined, fallback: unknown): ValueDetails<unknown> {
    return this.resolve(key, context, fallback, 'any')
  }

  /** The typed getters' one path: evaluate, check the value's type, tell onEvaluation what the app was given. */
  private resolve<T>(key: string, context: Context = EMPTY_CONTEXT, fallback: T, type: ValueType): ValueDetails<T> {
    const compiled = this.flags.get(key)
    const details = detailsOf<T>(compiled === undefined ? Decisions.notFound : evaluate(compiled, context, this.nowFor(compiled)), fallback, type)
    if (this.options.onEvaluation) this.expose(key, compiled, context, details.reason, details.variant)
    return details
  }

  /** Tells onEvaluation, keeping its failures away from the answer. */
  private expose(flag: string, compiled: CompiledFlag | undefined, context: Context, reason: Reason, variant?: string): void {
    const contextKey = stickyValue(compiled?.stickiness ?? 'userId', context)
    const event: EvaluationEvent = { flag, reason }
    if (variant !== undefined) event.variant = variant
    if (contextKey !== undefined) event.contextKey = contextKey
    try {
      this.options.onEvaluation!(event)
    } catch (err) {
      this.report(new SwitchyardClientError(`the onEvaluation hook threw: ${(err as Error).message}`, undefined, { cause: err }))
    }
  }

  explain(key: string, context: Context = EMPTY_CONTEXT): EvaluationResult {
    return explain(key, this.flags.get(key), context, this.clock.now())
  }

  flag(key: string): Flag | undefined {
    return this.flags.get(key)?.flag
  }

  onChange(listener: ChangeListener): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true
      this.settle.reject(new SwitchyardClientError('the client was closed before it was ready'))
      this.request?.destroy()
      this.wake?.()
    }
    await this.loop
    this.clock.stop()
    await this.saver?.flush()
  }

  private serveFallback(why: Error): void {
    if (this.serving || this.closed) return
    this.serving = true
    this.report(new SwitchyardClientError(`answering from the ${this.source} state until the stream connects (${why.message})`, undefined, { cause: why }))
    this.settle.resolve()
  }

  private save(): void {
    this.saver?.save(() => ({
      flags: [...this.flags.valuesIterator()].map((c) => c.flag),
      segments: this.segments.records(),
      seq: this.seq,
      epoch: this.epoch,
    }))
  }

  private async run(): Promise<void> {
    while (!this.closed) {
      try {
        await this.stream()
        if (!this.closed) this.report(new SwitchyardClientError('the stream ended'))
      } catch (err) {
        if (this.closed) break
        const error =
          err instanceof SwitchyardClientError ? err : new SwitchyardClientError(`stream failed: ${(err as Error).message}`, undefined, { cause: err })
        // Fatal only while createClient waits: a client already answering from a saved or bootstrap
        // state keeps retrying (a 404 from an ingress mid-deploy must not leave it on that state for good).
        if (!this.isReady && !this.serving && error.status !== undefined && FATAL_AT_START.has(error.status)) {
          this.settle.reject(error)
          this.report(error)
          break
        }
        this.report(error)
        // Out of reach at startup: answer from the saved or bootstrap state while retrying.
        if (!this.isReady && this.fallback.state) this.serveFallback(error)
      }
      this.connected = false
      if (!this.closed) await this.sleep(this.backoff())
    }
    this.connected = false
  }

  /**
   * One connection, from request to end of stream. node:http rather than fetch: a connection of
   * its own (no pool that outlives close()), and ended the moment close() asks.
   */
  private stream(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const url = new URL(this.streamUrl)
      const headers: Record<string, string> = { authorization: `Bearer ${this.options.token}`, accept: 'text/event-stream' }
      if (this.lastEventId !== undefined) headers['last-event-id'] = this.lastEventId
      const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, { headers, agent: false })
      this.request = req
      // The round trip, for the heartbeats' clock: from the moment the request can leave (its own
      // socket connected, TLS included) to the response's headers, which the server sends at once.
      let sentAt = this.clock.local()
      req.on('socket', (socket) => {
        if (socket.connecting) socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', () => (sentAt = this.clock.local()))
      })
      // A connection that goes quiet for several heartbeats is dead even if no error says so.
      const idle = setTimeout(() => req.destroy(new SwitchyardClientError('the stream went quiet')), this.idleLimit())
      let settled = false
      const finish = (err?: Error) => {
        if (settled) return
        settled = true
        clearTimeout(idle)
        this.request = null
        if (err) reject(err)
        else resolve()
      }
      req.on('error', finish)
      req.on('close', () => finish())
      req.on('response', (res) => {
        res.on('error', finish)
        if (res.statusCode !== 200) {
          // Switchyard answers 404 to a valid token only for a route it does not have: not its API.
          const why = res.statusCode === 404 ? ': no Switchyard API at this URL (check the url option)' : ''
          finish(new SwitchyardClientError(`GET ${this.streamUrl} answered ${res.statusCode}${why}`, res.statusCode))
          req.destroy()
          return
        }
        this.connected = true
        this.discarding = false
        this.attempt = 0
        this.clock.connected(this.clock.local() - sentAt)
        idle.refresh()
        const parser = new SseParser(
          (event) => this.apply(event),
          (text) => this.clock.comment(text),
        )
        res.setEncoding('utf8')
        res.on('data', (text: string) => {
          idle.refresh()
          try {
            parser.push(text)
          } catch (err) {
            req.destroy(new SwitchyardClientError(`unreadable event: ${(err as Error).message}`, undefined, { cause: err }))
          }
        })
        res.on('end', () => finish())
      })
      req.end()
    })
  }

  private apply(event: SseEvent): void {
    // After a gap or a revocation the rest of this connection is ignored: the next event in the
    // same chunk must not set lastEventId again, or the reconnection would resume, not reload.
    if (this.discarding) return
    if (event.event === 'state') this.applyState(JSON.parse(event.data) as StreamState)
    else if (event.event === 'change') {
      const change = JSON.parse(event.data) as { seq: number; epoch?: string; key: string; flag: Flag | null }
      if (!this.sameEpoch(change.epoch)) return
      this.applyChange(change)
    } else if (event.event === 'patch') {
      const change = JSON.parse(event.data) as { seq: number; epoch?: string; key: string; from: number; patch: RecordPatch }
      if (!this.sameEpoch(change.epoch) || !this.applyPatchEvent(change)) return
    } else if (event.event === 'segment') {
      const change = JSON.parse(event.data) as SegmentEvent & { epoch?: string }
      if (!this.sameEpoch(change.epoch) || !this.applySegmentEvent(change)) return
    } else if (event.event === 'revoked') return this.revoked(JSON.parse(event.data) as { message?: string })
    this.lastEventId = event.id
  }

  /**
   * A change of another epoch than the state held comes from a store an operator recovered (or a
   * replica resumed across the recovery): its seqs do not compare with the ones held, so the client
   * drops the connection and reloads the whole state. Servers before epochs send none.
   */
  private sameEpoch(epoch: string | undefined): boolean {
    if (epoch === undefined || this.epoch === undefined || epoch === this.epoch) return true
    this.reload(`the store's epoch changed from ${this.epoch} to ${epoch}; reloading the state`)
    return false
  }

  /** Ends this connection without resuming it: the next one starts from a full state. */
  private reload(reason: string): void {
    this.lastEventId = undefined
    this.discarding = true
    this.request?.destroy(new SwitchyardClientError(reason))
  }

  /**
   * Applies a change patch to the version it was made from. A patch for a version this client does
   * not hold means it missed something: it drops the connection and reloads the whole state.
   */
  private applyPatchEvent(change: { seq: number; key: string; from: number; patch: RecordPatch }): boolean {
    if (!this.flags.isNewer(change.key, change.seq)) return true
    const held = this.flags.get(change.key)?.flag ?? null
    if ((held?.version ?? 0) !== change.from) {
      this.reload(`a change to '${change.key}' was made from version ${change.from}, this client holds ${held?.version ?? 'none'}; reloading the state`)
      return false
    }
    this.applyChange({ seq: change.seq, key: change.key, flag: applyPatch(held, change.patch) })
    return true
  }

  /**
   * Applies a segment's change; one made from a version this client does not hold means it missed
   * something, and it reloads. Flags whose rules name the segment are reported as changed.
   */
  private applySegmentEvent(change: SegmentEvent): boolean {
    const outcome = this.segments.apply(change)
    if (outcome === 'gap') {
      this.reload(`a change to segment '${change.key}' was made from version ${change.from}, which this client does not hold; reloading the state`)
      return false
    }
    if (outcome === 'applied' && this.isReady) {
      this.seq = Math.max(this.seq, change.seq)
      this.save()
      const keys = [...this.flags.valuesIterator()].filter((c) => namesSegment(c.flag, change.key)).map((c) => c.flag.key)
      if (keys.length > 0) this.emit({ keys, seq: change.seq })
    }
    return true
  }

  /** The token was revoked or expired: retrying cannot help, so the client stops and says why. */
  private revoked(event: { message?: string }): void {
    this.discarding = true
    this.report(
      new SwitchyardClientError(`the stream ended: ${event.message ?? 'the token was revoked'}; the client serves its last state and no longer updates`, 401),
    )
    this.closed = true
    this.settle.reject(new SwitchyardClientError('the token was revoked before the client was ready', 401))
    this.request?.destroy()
    this.wake?.()
  }

  /**
   * Replaces everything. A state older than what is held still wins: it may come from a new
   * store whose sequence restarted, and a lagging replica catches up through later changes.
   */
  private applyState(state: StreamState): void {
    if (state.heartbeatMs !== undefined) this.heartbeatMs = state.heartbeatMs
    this.epoch = state.epoch
    // Segments are replaced first, and flags keep their compiled form: rules look segments up by key.
    this.segments.reset(state.segments, state.seq)
    const previous = this.flags
    const next = new VersionedMap<CompiledFlag>()
    const changed: string[] = []
    const entries: [string, CompiledFlag][] = []
    for (const flag of state.flags) {
      const held = previous.get(flag.key)
      const same = held !== undefined && held.flag.version === flag.version && held.flag.updatedAt === flag.updatedAt
      entries.push([flag.key, same ? held : this.compileFlag(flag)])
      if (!same) changed.push(flag.key)
    }
    next.reset(entries, state.seq)
    for (const held of previous.valuesIterator()) if (next.get(held.flag.key) === undefined) changed.push(held.flag.key)
    this.flags = next
    this.seq = state.seq
    this.source = 'stream'
    this.save()
    // An app that was answering from a saved or bootstrap state hears what the live one changed.
    const listening = this.isReady || this.serving
    if (!this.isReady) {
      this.isReady = true
      this.settle.resolve()
    }
    if (listening && changed.length > 0) this.emit({ keys: changed, seq: state.seq })
  }

  private applyChange(change: { seq: number; key: string; flag: Flag | null }): void {
    if (this.flags.apply(change.key, change.seq, change.flag ? this.compileFlag(change.flag) : null) && this.isReady) {
      this.seq = Math.max(this.seq, change.seq)
      this.save()
      this.emit({ keys: [change.key], seq: change.seq })
    }
  }

  private emit(change: FlagChange): void {
    for (const listener of this.listeners) {
      try {
        listener(change)
      } catch (err) {
        this.report(new SwitchyardClientError(`an onChange listener threw: ${(err as Error).message}`, undefined, { cause: err }))
      }
    }
  }

  private report(error: Error): void {
    this.options.onError?.(error)
  }

  private idleLimit(): number {
    return this.heartbeatMs * 3 + 2000
  }

  /** Exponential backoff with jitter, so a fleet of clients does not reconnect in lockstep. */
  private backoff(): number {
    const ceiling = Math.min(this.maxDelayMs, this.minDelayMs * 2 ** Math.min(this.attempt, 30))
    this.attempt++
    return ceiling / 2 + Math.random() * (ceiling / 2)
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms)
      function done() {
        clearTimeout(timer)
        resolve()
      }
      this.wake = () => {
        this.wake = null
        done()
      }
    })
  }
}

/** Reasons whose answer is the caller's fallback: the flag cannot be evaluated here. */
const FALLBACK_REASONS: ReadonlySet<Reason> = new Set(['flag_not_found', 'unsupported_model', 'segment_not_local'])

/** The type a typed getter asks for; `object` takes JSON arrays too, `any` every value. */
type ValueType = 'string' | 'number' | 'boolean' | 'object' | 'any'

function ofType(value: unknown, type: ValueType): boolean {
  if (type === 'any') return true
  if (type === 'object') return typeof value === 'object' && value !== null
  return typeof value === type
}

/** A decision as a typed getter answers it. */
function detailsOf<T>(decision: Decision, fallback: T, type: ValueType): ValueDetails<T> {
  const { reason, ruleId } = decision
  const details: ValueDetails<T> = { value: fallback, reason }
  if (ruleId !== undefined) details.ruleId = ruleId
  if (FALLBACK_REASONS.has(reason)) details.error = reason as FallbackError
  else {
    // A flag without variants serves whether it is on.
    const value = decision.variant === undefined ? decision.enabled : decision.value
    if (!ofType(value, type)) details.error = 'type_mismatch'
    else {
      details.value = value as T
      if (decision.variant !== undefined) details.variant = decision.variant
    }
  }
  return details
}

/** The stream's `state` event. */
interface StreamState {
  seq: number
  epoch?: string
  heartbeatMs?: number
  flags: Flag[]
  /** Absent from servers before segments. */
  segments?: SegmentRecord[]
}

const namesSegment = (flag: Flag, key: string) =>
  (flag.rules ?? []).some((rule) => rule.clauses.some((clause) => clause.operator === 'in_segment' && clause.values.includes(key)))
