// Load for the fault and soak suites: bounded loops of real HTTP requests on loopback (95 %
// evaluate, 5 % PATCH by default), every outcome recorded, and readers for what a server holds.
import { startServer, type ServerProcess } from './helpers.js'
import { HttpClient } from './http.js'

export interface Outcome {
  kind: 'evaluate' | 'patch'
  /** Which client (replica) it went to. */
  target: number
  flag: string
  /** For a PATCH: the unique description it set, to find it in the audit trail. */
  mark?: string
  status?: number
  /** The network error code when no HTTP answer came. */
  error?: string
  body?: string
  startedAt: number
  endedAt: number
}

export interface LoadOptions {
  clients: HttpClient[]
  flags: string[]
  workers: number
  /** Share of requests that are PATCHes (the rest evaluate). */
  patchShare?: number
  /** Checked before each request: the loops end when it returns true. */
  stop: () => boolean
  /** A worker ends at its first network error (the server went away) when set. */
  stopOnNetworkError?: boolean
  /** Where outcomes are pushed as they complete, for a test that watches the load live. */
  outcomes?: Outcome[]
}

/** Runs the loops until `stop()`; resolves with every outcome, in completion order. */
export async function runLoad(options: LoadOptions): Promise<Outcome[]> {
  const outcomes = options.outcomes ?? []
  const patchShare = options.patchShare ?? 0.05
  let sequence = 0
  const worker = async (w: number) => {
    for (let i = 0; !options.stop(); i++) {
      const target = (w + i) % options.clients.length
      const client = options.clients[target]!
      const flag = options.flags[(w * 7 + i) % options.flags.length]!
      const isPatch = Math.random() < patchShare
      const mark = isPatch ? `w${w}-${sequence++}` : undefined
      const startedAt = Date.now()
      try {
        const answer = isPatch
          ? await client.send('PATCH', `/flags/${flag}`, { description: mark })
          : await client.send('POST', '/evaluate', { flag, context: { userId: `user-${i % 1000}`, tenantId: `tenant-${w}` } })
        outcomes.push({
          kind: isPatch ? 'patch' : 'evaluate',
          target,
          flag,
          mark,
          status: answer.status,
          body: answer.status === 200 ? undefined : answer.body,
          startedAt,
          endedAt: Date.now(),
        })
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message
        outcomes.push({ kind: isPatch ? 'patch' : 'evaluate', target, flag, mark, error: code, startedAt, endedAt: Date.now() })
        if (options.stopOnNetworkError) return
      }
    }
  }
  await Promise.all(Array.from({ length: options.workers }, (_, w) => worker(w)))
  return outcomes
}

export interface AuditEventLike {
  seq: number
  action: string
  flag?: string
  version?: number
  changes: Record<string, { before?: unknown; after?: unknown }>
}

/** Every audit event, oldest first, following the cursor. */
export async function readWholeAudit(client: HttpClient): Promise<AuditEventLike[]> {
  const events: AuditEventLike[] = []
  let cursor: string | undefined
  do {
    const page = await client.json<{ events: AuditEventLike[]; nextCursor?: string }>('GET', `/audit?limit=1000${cursor ? `&cursor=${cursor}` : ''}`)
    events.push(...page.events)
    cursor = page.nextCursor
  } while (cursor)
  return events.reverse()
}

/** The descriptions PATCHes set, from flag.updated events: one entry per event. */
export const descriptionsIn = (events: AuditEventLike[]) =>
  events.filter((e) => e.action === 'flag.updated' && e.changes.description !== undefined).map((e) => e.changes.description!.after as string)

/** A sample's value from a Prometheus exposition. */
export function metricValue(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text)
  return m ? Number(m[1]) : undefined
}

export interface Replica {
  server: ServerProcess
  client: HttpClient
}

/**
 * `count` replicas of the real server, as child processes sharing one Redis under `prefix`.
 * A big audit cap keeps every event of a long run readable.
 */
export async function startReplicas(redisUrl: string, prefix: string, adminToken: string, count: number): Promise<Replica[]> {
  return Promise.all(
    Array.from({ length: count }, async () => {
      const server = await startServer({ ADMIN_TOKEN: adminToken, REDIS_URL: redisUrl, REDIS_PREFIX: prefix, LOG_LEVEL: 'warn', AUDIT_MAX_EVENTS: '1000000' })
      return { server, client: new HttpClient(server.url, adminToken) }
    }),
  )
}

export async function stopReplicas(replicas: Replica[]): Promise<void> {
  for (const { client } of replicas) client.close()
  await Promise.all(replicas.map(({ server }) => server.stop('SIGTERM').catch(() => server.stop('SIGKILL'))))
}

/** Resident memory of a replica, as its own /metrics reports it. */
export async function rssOf(client: HttpClient): Promise<number> {
  const answer = await client.send('GET', '/metrics')
  const value = metricValue(answer.body, 'process_resident_memory_bytes')
  if (value === undefined) throw new Error(`no process_resident_memory_bytes in /metrics (${answer.status})`)
  return value
}
