// Load generation with autocannon against 127.0.0.1, bounded in time.
import autocannon from 'autocannon'

export interface LoadResult {
  reqPerSec: number
  /** Latency percentiles in ms, to the microsecond. */
  p50: number
  p99: number
  errors: number
  non2xx: number
}

/** Latencies as autocannon reports each response, in ms; grown by doubling. */
class Latencies {
  private values = new Float64Array(1 << 16)
  private count = 0

  add(ms: number): void {
    if (this.count === this.values.length) {
      const grown = new Float64Array(this.values.length * 2)
      grown.set(this.values)
      this.values = grown
    }
    this.values[this.count++] = ms
  }

  percentile(q: number): number {
    const sorted = this.values.subarray(0, this.count).sort()
    return this.count === 0 ? 0 : Math.round(sorted[Math.min(this.count - 1, Math.floor(q * this.count))]! * 1000) / 1000
  }
}

export async function load(opts: { port: number; path: string; body: unknown; token?: string; seconds: number; connections?: number }): Promise<LoadResult> {
  const instance = autocannon({
    url: `http://127.0.0.1:${opts.port}${opts.path}`,
    method: 'POST',
    connections: opts.connections ?? 50,
    duration: opts.seconds,
    headers: { 'content-type': 'application/json', ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}) },
    body: JSON.stringify(opts.body),
  }) as Promise<autocannon.Result> & { on(event: 'response', listener: (client: unknown, status: number, bytes: number, ms: number) => void): void }
  // autocannon's own percentiles are whole milliseconds, truncated (p50 0 for a 0.7 ms median),
  // too coarse for p99s of 1–3 ms whose ratios are targets; each response's own time has the fraction.
  const latencies = new Latencies()
  instance.on('response', (_client, _status, _bytes, ms) => latencies.add(ms))
  const result = await instance
  return {
    reqPerSec: result.requests.average,
    p50: latencies.percentile(0.5),
    p99: latencies.percentile(0.99),
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  }
}
