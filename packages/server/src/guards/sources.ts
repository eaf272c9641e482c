// The metric sources guards read (README, "Guarded rollouts"): a Prometheus instant query, or a
// plain HTTP endpoint that answers a number. The operator configures them (config.ts); a flag's
// guard only names one, so editing a flag cannot make the server fetch an arbitrary URL.
import type { GuardSourceConfig } from '../config.js'

/** What a source read came to: a number, or why there is none (said in /healthz and the audit event). */
export type Reading = { value: number; error?: undefined } | { error: string; value?: undefined }

export interface MetricSource {
  readonly name: string
  readonly kind: GuardSourceConfig['kind']
  read(query: string, timeoutMs: number): Promise<Reading>
}

/** The most a source's answer may hold: a number, or a Prometheus vector of one sample. */
const MAX_ANSWER_BYTES = 1024 * 1024

export function metricSources(configs: readonly GuardSourceConfig[]): Map<string, MetricSource> {
  return new Map(configs.map((c) => [c.name, c.kind === 'prometheus' ? prometheusSource(c) : httpSource(c)]))
}

/** GET /api/v1/query: the query must come to one number (a scalar, or a vector of one series). */
function prometheusSource({ name, url }: GuardSourceConfig): MetricSource {
  return {
    name,
    kind: 'prometheus',
    async read(query, timeoutMs) {
      // The API's path under the URL's own (a Prometheus behind a path prefix), its query string kept.
      const target = new URL(url)
      target.pathname = `${target.pathname.replace(/\/+$/, '')}/api/v1/query`
      target.searchParams.set('query', query)
      const answer = await fetchText(target, timeoutMs)
      if (answer.error !== undefined) return answer
      let body: { status?: string; error?: string; data?: { resultType?: string; result?: unknown } } | null
      try {
        body = JSON.parse(answer.text) as typeof body
      } catch {
        return { error: 'answered something other than JSON' }
      }
      if (body === null || typeof body !== 'object') return { error: 'answered JSON that is not a query result' }
      if (body.status !== 'success') return { error: `refused the query: ${String(body.error ?? body.status).slice(0, 300)}` }
      const { resultType, result } = body.data ?? {}
      // The sample of a scalar, or of a vector's one series: [time, "value"].
      const sampleOf = (pair: unknown) => (Array.isArray(pair) && pair.length === 2 ? numberOf(pair[1]) : { error: 'answered a malformed sample' })
      if (resultType === 'scalar') return sampleOf(result)
      if (resultType !== 'vector' || !Array.isArray(result)) return { error: `answered a ${String(resultType)}, not a vector or scalar` }
      if (result.length === 0) return { error: 'the query matched no series' }
      if (result.length > 1) return { error: `the query matched ${result.length} series: aggregate it to one (sum, max, avg…)` }
      return sampleOf((result[0] as { value?: unknown } | null)?.value)
    },
  }
}

/** GET <url>?query=<query>: the body is a number, or JSON `{"value": <number>}`. */
function httpSource({ name, url }: GuardSourceConfig): MetricSource {
  return {
    name,
    kind: 'http',
    async read(query, timeoutMs) {
      const target = new URL(url)
      target.searchParams.set('query', query)
      const answer = await fetchText(target, timeoutMs)
      if (answer.error !== undefined) return answer
      const text = answer.text.trim()
      if (text.startsWith('{')) {
        try {
          return numberOf((JSON.parse(text) as { value?: unknown }).value)
        } catch {
          return { error: 'answered JSON that does not parse' }
        }
      }
      return numberOf(text)
    },
  }
}

function numberOf(raw: unknown): Reading {
  const value = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN
  if (!Number.isFinite(value)) return { error: `answered ${JSON.stringify(String(raw).slice(0, 40))}, not a finite number` }
  return { value }
}

/**
 * The body of a GET, or why there is none. Redirects are not followed (the operator's URL is the
 * one read); the message never holds the URL, which may carry credentials.
 */
async function fetchText(url: URL, timeoutMs: number): Promise<{ text: string; error?: undefined } | { error: string; text?: undefined }> {
  // fetch refuses a URL with credentials: they go as Basic authentication instead.
  const headers: Record<string, string> = { accept: 'application/json, text/plain' }
  if (url.username !== '' || url.password !== '') {
    const user = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`
    headers.authorization = `Basic ${Buffer.from(user).toString('base64')}`
    url = new URL(url)
    url.username = ''
    url.password = ''
  }
  let response: Response
  try {
    response = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(timeoutMs), headers })
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } }
    if (e.name === 'TimeoutError') return { error: `did not answer within ${timeoutMs} ms` }
    return { error: `could not be reached (${e.cause?.code ?? e.name})` }
  }
  if (!response.ok) {
    await response.body?.cancel()
    return { error: `answered HTTP ${response.status}` }
  }
  const length = Number(response.headers.get('content-length') ?? 0)
  if (length > MAX_ANSWER_BYTES) {
    await response.body?.cancel()
    return { error: `answered ${length} bytes, more than a number takes` }
  }
  try {
    const text = await response.text()
    return text.length > MAX_ANSWER_BYTES ? { error: 'answered more than a number takes' } : { text }
  } catch (err) {
    return { error: `broke off its answer (${(err as Error).name})` }
  }
}
