// The REST client flagctl speaks through: one method per API action, errors mapped to exit codes.
// It holds the token only to send it; no message it builds ever contains it.
import type { AuditEvent } from '@switchyard/core/audit/schema'
import type { Token, TokenCreated, Scope } from '@switchyard/core/auth/schema'
import type { EvaluationContext, EvaluationResult, Flag, FlagCreate, FlagPatch, FlagState, TargetsEdit } from '@switchyard/core/flags/schema'
import type { Fleet, Recovery } from '@switchyard/core/replica/fleet'
import type { Segment, SegmentCreate, SegmentPatch, SegmentSummary } from '@switchyard/core/segments/schema'
import { VERSION } from '@switchyard/core/version'
import { ApiError, networkError, usageError } from './errors.js'

export const DEFAULT_URL = 'http://localhost:8080'
const DEFAULT_TIMEOUT_SECONDS = 10
// GET /flags, GET /segments and GET /audit answer at most this many items a page.
const PAGE = 1000
/** Ids one POST /segments/:key/targets (or a create's member lists) may carry. */
export const TARGETS_PER_REQUEST = 10_000

export interface Connection {
  url: string
  token: string
  timeoutMs: number
  /** Sent as X-Switchyard-Min-Revision until a write returns a higher revision. */
  minRevision?: number
}

export interface ConnectionOptions {
  url?: string
  token?: string
  timeout?: number
  minRevision?: number
}

/** --url/--token/--timeout win over SWITCHYARD_URL/SWITCHYARD_TOKEN; a missing token is a usage error. */
export function connectionFrom(options: ConnectionOptions, env: NodeJS.ProcessEnv = process.env): Connection {
  const url = options.url ?? (env.SWITCHYARD_URL || DEFAULT_URL)
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw usageError(`'${url}' is not a URL (expected e.g. ${DEFAULT_URL})`)
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw usageError(`'${url}' must be an http:// or https:// URL`)
  const token = options.token ?? env.SWITCHYARD_TOKEN
  if (!token) throw usageError('no API token: set SWITCHYARD_TOKEN (or pass --token)')
  return { url: parsed.href.replace(/\/?$/, '/'), token, timeoutMs: (options.timeout ?? DEFAULT_TIMEOUT_SECONDS) * 1000, minRevision: options.minRevision }
}

interface RequestOptions {
  body?: unknown
  /** The version the change is based on; sent as If-Match so a concurrent edit is refused, not overwritten. */
  ifMatch?: number
  query?: Record<string, string | number | boolean | undefined>
}

/** `allowPast`: take a schedule's instants already past as past (a flags file's), rather than be refused for them. */
export interface WriteOptions {
  allowPast?: boolean
}

/** A flag write's answer, with what it did to the flag's schedule (X-Switchyard-Schedule: set, changed, paused, resumed, cleared, finished). */
export interface FlagWritten {
  flag: Flag
  schedule?: string
}

export class Api {
  /**
   * The revision every request asks for: --min-revision, then the one each write returned. Behind a
   * load balancer the next request may reach another replica; it waits until that one holds the
   * write (X-Switchyard-Min-Revision), so one invocation always reads what it wrote.
   */
  private minRevision: number | undefined

  constructor(private readonly connection: Connection) {
    this.minRevision = connection.minRevision
  }

  get url(): string {
    return this.connection.url
  }

  async listFlags(filter: { tag?: string; state?: FlagState; scheduled?: boolean } = {}): Promise<Flag[]> {
    const flags: Flag[] = []
    let cursor: string | undefined
    do {
      const page = await this.send<{ flags: Flag[]; nextCursor?: string }>('GET', 'flags', { query: { ...filter, limit: PAGE, cursor } })
      flags.push(...page.flags)
      cursor = page.nextCursor
    } while (cursor !== undefined)
    return flags
  }

  getFlag(key: string): Promise<Flag> {
    return this.send('GET', `flags/${encodeURIComponent(key)}`)
  }

  createFlag(input: FlagCreate, options: WriteOptions = {}): Promise<Flag> {
    return this.send('POST', 'flags', { body: input, query: writeQuery(options) })
  }

  async updateFlag(key: string, patch: FlagPatch, version: number, options: WriteOptions = {}): Promise<Flag> {
    return (await this.writeFlag(key, patch, version, options)).flag
  }

  /** updateFlag, with what the write did to the flag's schedule. */
  async writeFlag(key: string, patch: FlagPatch, version: number, options: WriteOptions = {}): Promise<FlagWritten> {
    const { body, headers } = await this.request<Flag>('PATCH', `flags/${encodeURIComponent(key)}`, {
      body: patch,
      ifMatch: version,
      query: writeQuery(options),
    })
    const schedule = headers.get('x-switchyard-schedule')
    return { flag: body, ...(schedule === null ? {} : { schedule }) }
  }

  editTargets(key: string, edit: TargetsEdit): Promise<Flag> {
    return this.send('POST', `flags/${encodeURIComponent(key)}/targets`, { body: edit })
  }

  async deleteFlag(key: string, version: number): Promise<void> {
    await this.send('DELETE', `flags/${encodeURIComponent(key)}`, { ifMatch: version })
  }

  evaluate(flag: string, context: EvaluationContext, explain = false): Promise<EvaluationResult> {
    return this.send('POST', 'evaluate', { body: { flag, context, ...(explain ? { explain } : {}) } })
  }

  /** Every segment, without its members (counts instead). */
  async listSegments(): Promise<SegmentSummary[]> {
    const segments: SegmentSummary[] = []
    let after: string | undefined
    do {
      const page = await this.send<{ segments: SegmentSummary[]; nextCursor?: string }>('GET', 'segments', { query: { limit: PAGE, after } })
      segments.push(...page.segments)
      after = page.nextCursor
    } while (after !== undefined)
    return segments
  }

  /** One segment in full: its member lists may hold a million ids. */
  getSegment(key: string): Promise<Segment> {
    return this.send('GET', `segments/${encodeURIComponent(key)}`)
  }

  createSegment(input: SegmentCreate): Promise<Segment> {
    return this.send('POST', 'segments', { body: input })
  }

  /** `users`/`tenants` in a patch replace the lists whole: members change through editSegmentTargets. */
  updateSegment(key: string, patch: SegmentPatch, version: number): Promise<Segment> {
    return this.send('PATCH', `segments/${encodeURIComponent(key)}`, { body: patch, ifMatch: version })
  }

  /** At most TARGETS_PER_REQUEST ids a list; ids added and removed in one atomic step. */
  editSegmentTargets(key: string, edit: TargetsEdit): Promise<SegmentSummary> {
    return this.send('POST', `segments/${encodeURIComponent(key)}/targets`, { body: edit })
  }

  async deleteSegment(key: string, version?: number): Promise<void> {
    await this.send('DELETE', `segments/${encodeURIComponent(key)}`, { ifMatch: version })
  }

  async audit(query: { flag?: string; actor?: string; limit: number }): Promise<AuditEvent[]> {
    const page = await this.send<{ events: AuditEvent[] }>('GET', 'audit', { query })
    return page.events
  }

  async listTokens(): Promise<Token[]> {
    const tokens: Token[] = []
    let cursor: string | undefined
    do {
      const page = await this.send<{ tokens: Token[]; nextCursor?: string }>('GET', 'tokens', { query: { limit: PAGE, cursor } })
      tokens.push(...page.tokens)
      cursor = page.nextCursor
    } while (cursor !== undefined)
    // The service pages by id; people read credentials oldest first, the bootstrap token on top.
    return tokens.sort(
      (a, b) => Number(b.id === 'bootstrap') - Number(a.id === 'bootstrap') || a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id),
    )
  }

  createToken(name: string, scope: Scope): Promise<TokenCreated> {
    return this.send('POST', 'tokens', { body: { name, scope } })
  }

  async revokeToken(id: string): Promise<void> {
    await this.send('DELETE', `tokens/${encodeURIComponent(id)}`)
  }

  fleet(): Promise<Fleet> {
    return this.send('GET', 'admin/fleet')
  }

  reseed(): Promise<Recovery> {
    return this.send('POST', 'admin/reseed')
  }

  acceptStore(): Promise<Recovery> {
    return this.send('POST', 'admin/accept-store')
  }

  private async send<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    return (await this.request<T>(method, path, options)).body
  }

  private async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<{ body: T; headers: Headers }> {
    const url = new URL(path, this.connection.url)
    for (const [name, value] of Object.entries(options.query ?? {})) if (value !== undefined) url.searchParams.set(name, String(value))
    const headers: Record<string, string> = { authorization: `Bearer ${this.connection.token}`, 'user-agent': `flagctl/${VERSION}`, accept: 'application/json' }
    if (options.body !== undefined) headers['content-type'] = 'application/json'
    if (options.ifMatch !== undefined) headers['if-match'] = `"${options.ifMatch}"`
    if (this.minRevision !== undefined) headers['x-switchyard-min-revision'] = String(this.minRevision)
    const where = `${method} ${url.origin}${url.pathname}`

    let response: Response
    let text: string
    try {
      response = await fetch(url, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: AbortSignal.timeout(this.connection.timeoutMs),
      })
      text = await response.text()
    } catch (err) {
      throw networkError(`cannot reach the API (${where}): ${describeFetchError(err, this.connection.timeoutMs)}`)
    }
    const revision = Number(response.headers.get('x-switchyard-revision') ?? NaN)
    if (method !== 'GET' && response.ok && Number.isSafeInteger(revision)) this.minRevision = Math.max(this.minRevision ?? 0, revision)
    if (response.status === 204) return { body: undefined as T, headers: response.headers }
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch {
      throw networkError(`${where} answered ${response.status} with a body that is not JSON: is ${url.origin} a Switchyard API?`)
    }
    if (response.ok) return { body: body as T, headers: response.headers }
    const error = body as { code?: unknown; message?: unknown }
    if (typeof error.message !== 'string')
      throw networkError(`${where} answered ${response.status} without an error message: is ${url.origin} a Switchyard API?`)
    throw new ApiError(response.status, typeof error.code === 'string' ? error.code : 'ERROR', error.message)
  }
}

const writeQuery = (options: WriteOptions) => (options.allowPast ? { allowPast: true } : undefined)

function describeFetchError(err: unknown, timeoutMs: number): string {
  if (err instanceof DOMException && err.name === 'TimeoutError') return `no answer within ${timeoutMs / 1000} s`
  const cause = (err as { cause?: { code?: string; message?: string } }).cause
  return cause?.code ?? cause?.message ?? (err as Error).message
}
