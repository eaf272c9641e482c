// The change stream's fan-out: one registry listener feeding every open SSE connection, a
// bounded replay ring for Last-Event-ID, heartbeats, and a bound on how far a consumer may lag.
import type { ServerResponse } from 'node:http'
import type { FastifyBaseLogger } from 'fastify'
import type { FlagEvent, FlagRegistry } from '../flags/registry.js'

export interface ChangeStreamOptions {
  heartbeatMs: number
  /** Bytes a consumer may have queued, beyond its catch-up payload, before it is dropped. */
  maxBufferBytes: number
  /** Recent change events kept for Last-Event-ID resumption, by count and by size. */
  replayEvents?: number
  replayBytes?: number
}

interface Connection {
  readonly res: ServerResponse
  /** Size of the last state or replay written: a large catch-up is not mistaken for lag. */
  slack: number
}

interface Remembered {
  readonly id: number
  readonly text: string
}

function formatEvent(id: number, event: string, data: string): string {
  return `id: ${id}\nevent: ${event}\ndata: ${data}\n\n`
}

const HEARTBEAT = ': heartbeat\n\n'
const NONE = -1

export class ChangeStream {
  private readonly connections = new Set<Connection>()
  private readonly unsubscribe: () => void
  private readonly replayEvents: number
  private readonly replayBytes: number
  // Change events in arrival order; `base` is the id of the position just before the first,
  // or NONE when nothing before the first can be resumed from.
  private ring: Remembered[] = []
  private ringBytes = 0
  private base = NONE
  private seq = 0
  private state: { text: string; bytes: number } | null = null
  private heartbeat: NodeJS.Timeout | null = null
  private closed = false

  constructor(
    private readonly flags: FlagRegistry,
    private readonly options: ChangeStreamOptions,
    private readonly log: FastifyBaseLogger,
  ) {
    this.replayEvents = options.replayEvents ?? 1024
    this.replayBytes = options.replayBytes ?? 8 * 1024 * 1024
    this.unsubscribe = flags.onChange((event) => this.onFlagEvent(event))
  }

  /** Open connections. */
  get size(): number {
    return this.connections.size
  }

  /**
   * Starts streaming to a response whose headers are written. With a Last-Event-ID still in
   * the ring the missed changes are replayed; otherwise the full state is sent.
   */
  open(res: ServerResponse, lastEventId: number | undefined): void {
    if (this.closed) {
      res.end()
      return
    }
    const connection: Connection = { res, slack: 0 }
    this.connections.add(connection)
    res.on('close', () => this.forget(connection))
    const missed = lastEventId === undefined ? undefined : this.replayAfter(lastEventId)
    if (missed === undefined) this.sendState(connection)
    else {
      let bytes = 0
      for (const event of missed) bytes += Buffer.byteLength(event.text)
      connection.slack = bytes
      for (const event of missed) this.write(connection, event.text)
    }
    this.heartbeat ??= setInterval(() => {
      for (const c of this.connections) this.write(c, HEARTBEAT)
    }, this.options.heartbeatMs).unref()
  }

  /** Ends every stream (server shutdown); a consumer still behind is cut off rather than awaited. */
  close(): void {
    this.closed = true
    this.unsubscribe()
    for (const c of [...this.connections]) {
      this.forget(c)
      if (c.res.writableLength > 0) c.res.destroy()
      else c.res.end()
    }
  }

  private onFlagEvent(event: FlagEvent): void {
    this.seq = Math.max(this.seq, event.seq)
    this.state = null
    if (event.type === 'reset') {
      // A resync may hold changes this replica never saw one by one, so a consumer at any
      // earlier id, even the current seq, may lack them: only a full state bridges it.
      this.ring = []
      this.ringBytes = 0
      this.base = NONE
      for (const c of [...this.connections]) this.sendState(c)
      return
    }
    const text = formatEvent(event.seq, 'change', JSON.stringify({ seq: event.seq, key: event.key, flag: event.flag }))
    this.remember(event.seq, text)
    for (const c of [...this.connections]) this.write(c, text)
  }

  private remember(id: number, text: string): void {
    this.ring.push({ id, text })
    this.ringBytes += text.length
    while (this.ring.length > this.replayEvents || (this.ringBytes > this.replayBytes && this.ring.length > 0)) {
      const dropped = this.ring.shift()!
      this.ringBytes -= dropped.text.length
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
    if (!this.state) {
      const flags = []
      for (const compiled of this.flags.all()) flags.push(compiled.flag)
      const text = formatEvent(this.seq, 'state', JSON.stringify({ seq: this.seq, heartbeatMs: this.options.heartbeatMs, flags }))
      this.state = { text, bytes: Buffer.byteLength(text) }
    }
    if (!this.write(c, this.state.text)) return
    c.slack = this.state.bytes
  }

  private write(c: Connection, text: string): boolean {
    if (c.res.writableLength > this.options.maxBufferBytes + c.slack) {
      this.log.warn({ buffered: c.res.writableLength, limit: this.options.maxBufferBytes }, 'stream.consumer_dropped')
      this.forget(c)
      c.res.destroy()
      return false
    }
    c.res.write(text)
    return true
  }

  private forget(c: Connection): void {
    if (!this.connections.delete(c)) return
    if (this.connections.size === 0 && this.heartbeat) {
      clearInterval(this.heartbeat)
      this.heartbeat = null
    }
  }
}
