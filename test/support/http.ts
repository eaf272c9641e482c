// One HTTP client for the tests and bench/: kept-alive connections to one server with one bearer
// token, answering status, body and headers (or throwing with a code), as a service calling the
// API would, and how long each request took, on this process's monotonic clock.
import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http'

export interface Answer {
  status: number
  body: string
  headers: IncomingHttpHeaders
  /** performance.now() when the request was handed to the agent, and when its body had arrived. */
  start: number
  end: number
  ms: number
}

/** X-Switchyard-Revision of an answer (NaN when absent). */
export const revisionOf = (answer: Answer): number => Number(answer.headers['x-switchyard-revision'])

/** One keep-alive HTTP client for one server, answering status and body, or throwing with a code. */
export class HttpClient {
  private readonly agent: Agent
  constructor(
    readonly base: string,
    private readonly token: string,
    options: { maxSockets?: number; timeoutMs?: number } = {},
  ) {
    // As many idle sockets kept as may be open, so a burst's connections stay for the next one.
    this.agent = new Agent({ keepAlive: true, maxSockets: options.maxSockets ?? 64, maxFreeSockets: options.maxSockets ?? 64 })
    this.timeoutMs = options.timeoutMs ?? 10_000
  }
  private readonly timeoutMs: number

  send(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
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
          timeout: this.timeoutMs,
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
      req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${this.timeoutMs} ms`), { code: 'TIMEOUT' })))
      req.on('error', reject)
      req.end(payload)
    })
  }

  async json<T = Record<string, unknown>>(method: string, path: string, body?: unknown, expected = 200): Promise<T> {
    const answer = await this.send(method, path, body)
    if (answer.status !== expected) throw new Error(`${method} ${path}: expected ${expected}, got ${answer.status} ${answer.body}`)
    return JSON.parse(answer.body) as T
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
