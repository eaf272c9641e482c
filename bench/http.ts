// A keep-alive HTTP client for the fleet cases (bench/redis-cases.ts): like test/support/http.ts,
// but it also answers the response's headers (X-Switchyard-Revision) and how long the request
// took, from the call to the body's end, on this process's monotonic clock.
import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http'

export interface TimedAnswer {
  status: number
  body: string
  headers: IncomingHttpHeaders
  /** performance.now() when the request was handed to the agent, and when its body had arrived. */
  start: number
  end: number
  ms: number
}

export class TimedClient {
  private readonly agent: Agent
  constructor(
    readonly base: string,
    private readonly token: string,
    options: { maxSockets?: number } = {},
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets: options.maxSockets ?? 1, maxFreeSockets: options.maxSockets ?? 1 })
  }

  send(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<TimedAnswer> {
    const payload = body === undefined ? undefined : JSON.stringify(body)
    return new Promise((resolve, reject) => {
      const start = performance.now()
      const req = httpRequest(
        `${this.base}${path}`,
        {
          method,
          agent: this.agent,
          headers: {
            authorization: `Bearer ${this.token}`,
            ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
            ...headers,
          },
          timeout: 30_000,
        },
        (res) => {
          let text = ''
          res.setEncoding('utf8')
          res.on('data', (chunk: string) => (text += chunk))
          res.on('end', () => {
            const end = performance.now()
            resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers, start, end, ms: end - start })
          })
          res.on('error', reject)
        },
      )
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within 30 s`)))
      req.on('error', reject)
      req.end(payload)
    })
  }

  /** Sockets this client holds open (in use or idle), to check a burst really ran on that many connections. */
  get sockets(): number {
    const count = (pool: NodeJS.ReadOnlyDict<unknown[]>) => Object.values(pool).reduce((n, list) => n + (list?.length ?? 0), 0)
    return count(this.agent.sockets) + count(this.agent.freeSockets)
  }

  close(): void {
    this.agent.destroy()
  }
}

/** X-Switchyard-Revision of an answer (NaN when absent). */
export const revisionOf = (answer: TimedAnswer): number => Number(answer.headers['x-switchyard-revision'])
