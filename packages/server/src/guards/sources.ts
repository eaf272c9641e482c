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
  const base = url.replace(/\/+$/, '')
  return {
    name,
    kind: 'prometheus',
    async read(query, timeoutMs) {
      const answer = await fetchText(`${base}/api/v1/query?${new URLSearchParams({ query })}`, timeoutMs)
      if (answer.error !== undefined) return answer
      let body: { status?: string; error?: string; data?: { resultType?: string; result?: unknown } }
      try {
        body = JSON.parse(answer.text) as typeof body
      } catch {
        return { error: 'answered something other than JSON' }
      }
      if (body.status !== 'success') return { error: `refused the query: ${String(body.error ?? body.status).slice(0, 300)}` }
      const { resultType, result } = body.data ?? {}
      if (resultType === 'scalar') return numberOf((result as [number, string])[1])
      if (resultType !== 'vector' || !Array.isArray(result)) return { error: `answered a ${String(resultType)}, not a vector or scalar` }
      if (result.length === 0) return { error: 'the query matched no series' }
      if (result.length > 1) return { error: `the query matched ${result.length} series: aggregate it to one (sum, max, avg…)` }
      return numberOf((result[0] as { value: [number, string] }).value[1])
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
      const answer = await fetchText(target.href, timeoutMs)
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
async function fetchText(url: string, timeoutMs: number): Promise<{ text: string; error?: undefined } | { error: string; text?: undefined }> {
  let response: Response
  try {
    response = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json, text/plain' } })
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
