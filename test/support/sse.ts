// Reads a Server-Sent Events response as a consumer would, parsed with the SDK's own parser.
import { SseParser, type SseEvent } from '../../packages/sdk/src/sse.js'

export interface EventStream {
  status: number
  headers: Headers
  res: Response
  events: SseEvent[]
  raw(): string
  ended(): boolean
  /** Aborts the request and waits for the reader to stop. */
  close(): Promise<void>
}

/** fetch(url, init) with a streaming body reader; nothing is read when the status is not 200. */
export async function fetchEvents(url: string, init: RequestInit = {}): Promise<EventStream> {
  const abort = new AbortController()
  const res = await fetch(url, { ...init, signal: abort.signal })
  const events: SseEvent[] = []
  let raw = ''
  let ended = res.status !== 200
  const parser = new SseParser((e) => events.push(e))
  const reading = (async () => {
    if (res.status !== 200 || !res.body) return
    const reader = res.body.getReader()
    const decoder = new TextDecoder()
    try {
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        const text = decoder.decode(value, { stream: true })
        raw += text
        parser.push(text)
      }
    } catch {
      // aborted by close()
    } finally {
      ended = true
    }
  })()
  return {
    status: res.status,
    headers: res.headers,
    res,
    events,
    raw: () => raw,
    ended: () => ended,
    close: async () => {
      abort.abort()
      await reading
    },
  }
}

/** An event's data, parsed. */
export const data = (e: SseEvent) => JSON.parse(e.data)
