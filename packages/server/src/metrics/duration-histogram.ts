// A Prometheus histogram whose observe() is a bucket search and three additions: each series is a
// plain array the hot path holds directly, read out only when /metrics is scraped. prom-client's
// own observe() validates and hashes the labels on every call, which cost 3.8 µs of CPU per
// request (docs/decisions/evaluate-overhead.md).
import type { Metric, Registry } from 'prom-client'

type Labels = Record<string, string>
interface Sample {
  metricName: string
  labels: Record<string, string | number>
  value: number
}

interface Series {
  labels: Labels
  /** Observations per bucket (not cumulative); the last slot is past the highest bound. */
  counts: Float64Array
  sum: number
}

export class DurationHistogram {
  readonly type = 'histogram'
  readonly aggregator = 'sum'
  private readonly series = new Map<string, Series>()

  constructor(
    registry: Registry,
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
  ) {
    registry.registerMetric(this as unknown as Metric)
  }

  /** The observe function of one label set: hold on to it, it allocates nothing per call. */
  observer(labels: Labels): (seconds: number) => void {
    const key = JSON.stringify(labels)
    let series = this.series.get(key)
    if (series === undefined) {
      series = { labels, counts: new Float64Array(this.bounds.length + 1), sum: 0 }
      this.series.set(key, series)
    }
    const { bounds } = this
    const s = series
    return (seconds) => {
      let i = 0
      while (i < bounds.length && seconds > bounds[i]!) i++
      s.counts[i]!++
      s.sum += seconds
    }
  }

  /** What prom-client's registry prints: cumulative buckets, then sum and count, per series. */
  async get(): Promise<{ name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: Sample[] }> {
    const values: Sample[] = []
    for (const { labels, counts, sum } of this.series.values()) {
      let cumulative = 0
      for (const [i, bound] of this.bounds.entries()) {
        cumulative += counts[i]!
        values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: bound }, value: cumulative })
      }
      cumulative += counts[this.bounds.length]!
      values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: '+Inf' }, value: cumulative })
      values.push({ metricName: `${this.name}_sum`, labels, value: sum })
      values.push({ metricName: `${this.name}_count`, labels, value: cumulative })
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values }
  }

  /** Zeroes every series in place: the observers handed out keep counting into them. */
  reset(): void {
    for (const series of this.series.values()) {
      series.counts.fill(0)
      series.sum = 0
    }
  }
}
