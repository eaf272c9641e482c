// A Server-Sent Events parser (the WHATWG event-stream format) for text that arrives in
// arbitrary chunks: Node has no EventSource, and this one needs no dependency.

export interface SseEvent {
  /** The `event:` field; "message" when the event has none. */
  readonly event: string
  readonly data: string
  /** The last `id:` seen on the stream so far, as EventSource's lastEventId. */
  readonly id: string | undefined
}

export class SseParser {
  private buffer = ''
  // Where the search for the next line end resumes, so a long line is not rescanned per chunk.
  private scanned = 0
  private started = false
  private data: string[] = []
  private event = ''
  private lastId: string | undefined

  /** `onComment`: each comment line's text after the colon (Switchyard's heartbeats carry the server's time in one). */
  constructor(
    private readonly onEvent: (event: SseEvent) => void,
    private readonly onComment?: (text: string) => void,
  ) {}

  /** Feeds decoded text; complete events are dispatched before it returns. */
  push(text: string): void {
    if (!this.started && text.length > 0) {
      this.started = true
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1)
    }
    const buffer = this.buffer + text
    let start = 0
    let i = this.scanned
    while (i < buffer.length) {
      const c = buffer.charCodeAt(i)
      if (c !== 10 && c !== 13) {
        i++
        continue
      }
      // A CR at the very end may be the first half of a CRLF still in flight.
      if (c === 13 && i === buffer.length - 1) break
      this.line(buffer.slice(start, i))
      i += c === 13 && buffer.charCodeAt(i + 1) === 10 ? 2 : 1
      start = i
    }
    this.buffer = buffer.slice(start)
    this.scanned = i - start
  }

  private line(line: string): void {
    if (line === '') return this.dispatch()
    // ":" starts a comment (heartbeats)
    if (line.charCodeAt(0) === 58) return this.onComment?.(line.slice(1))
    const colon = line.indexOf(':')
    const field = colon < 0 ? line : line.slice(0, colon)
    let value = colon < 0 ? '' : line.slice(colon + 1)
    if (value.charCodeAt(0) === 32) value = value.slice(1)
    switch (field) {
      case 'data':
        this.data.push(value)
        break
      case 'event':
        this.event = value
        break
      case 'id':
        if (!value.includes('\0')) this.lastId = value
        break
      // `retry` and unknown fields are ignored: reconnection timing is the client's own.
    }
  }

  private dispatch(): void {
    const data = this.data
    const event = this.event
    this.data = []
    this.event = ''
    if (data.length === 0) return
    this.onEvent({ event: event || 'message', data: data.join('\n'), id: this.lastId })
  }
}
