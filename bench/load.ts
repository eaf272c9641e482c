// Load generation with autocannon against 127.0.0.1, bounded in time.
import autocannon from 'autocannon'

export interface LoadResult {
  reqPerSec: number
  p50: number
  p99: number
  errors: number
  non2xx: number
}

export async function load(opts: { port: number; path: string; body: unknown; token?: string; seconds: number; connections?: number }): Promise<LoadResult> {
  const result = await autocannon({
    url: `http://127.0.0.1:${opts.port}${opts.path}`,
    method: 'POST',
    connections: opts.connections ?? 50,
    duration: opts.seconds,
    headers: { 'content-type': 'application/json', ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}) },
    body: JSON.stringify(opts.body),
  })
  return {
    reqPerSec: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  }
}
