// The Prometheus harness the guarded-rollout suites stand on: the exporter serves what the test
// sets in the text format, a real Prometheus scraping it every second reports each new value and
// a failing scrape, stop() leaves nothing listening, and a missing binary names its package.
import { connect } from 'node:net'
import { describe, expect, it, onTestFinished } from 'vitest'
import { tempDir } from '../support/helpers.js'
import { PROMETHEUS_MISSING, prometheusBinary, startMetricExporter, startPrometheus } from '../support/prometheus.js'

/** Whether something accepts TCP connections on the loopback port. */
const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })

describe('metric exporter', () => {
  it('serves the series the test sets, escaped, and fails on demand', async () => {
    const exporter = await startMetricExporter()
    const scrape = async () => {
      const res = await fetch(`${exporter.url}/metrics`)
      return { status: res.status, text: await res.text() }
    }
    exporter.set('demo_errors_ratio', 0.5)
    exporter.set('demo_requests', 3, { route: '/flags', note: 'say "hi"\\\n' })
    exporter.set('demo_requests', Infinity, { route: '/evaluate' })
    expect(await scrape()).toEqual({
      status: 200,
      text: [
        '# TYPE demo_errors_ratio gauge',
        'demo_errors_ratio 0.5',
        '# TYPE demo_requests gauge',
        'demo_requests{note="say \\"hi\\"\\\\\\n",route="/flags"} 3',
        'demo_requests{route="/evaluate"} +Inf',
        '',
      ].join('\n'),
    })
    exporter.remove('demo_requests')
    exporter.set('demo_errors_ratio', 0.02)
    expect((await scrape()).text).toBe('# TYPE demo_errors_ratio gauge\ndemo_errors_ratio 0.02\n')
    exporter.fail(true)
    expect((await scrape()).status).toBe(500)
    expect((await fetch(`${exporter.url}/other`)).status).toBe(404)
    expect(exporter.scrapes()).toBe(3)
    expect(() => exporter.set('demo-errors', 1)).toThrow('invalid metric name')
    await exporter.stop()
    expect(await listening(exporter.port)).toBe(false)
  })
})

describe('prometheus', () => {
  it('reports the value the exporter serves, follows its changes, and stops without a trace', async () => {
    const exporter = await startMetricExporter()
    exporter.set('demo_errors_ratio', 0.5)
    const prometheus = await startPrometheus({ targets: [exporter.target], scrapeIntervalMs: 1000 })
    // startPrometheus waited for the first scrape: the value is there already.
    expect(exporter.scrapes()).toBeGreaterThanOrEqual(1)
    expect(await prometheus.query('demo_errors_ratio')).toBe(0.5)

    exporter.set('demo_errors_ratio', 0.02)
    expect(await prometheus.waitForValue('demo_errors_ratio', (v) => v === 0.02, 10_000)).toBe(0.02)
    expect(await prometheus.query('up{job="switchyard-test"}')).toBe(1)
    expect(await prometheus.query('absent_metric_total')).toBeUndefined()
    expect(await prometheus.query('scalar(demo_errors_ratio) * 100')).toBe(2)

    // A failing scrape: the target is down and its series go stale at once, not after 5 minutes.
    exporter.fail(true)
    await prometheus.waitForValue('up{job="switchyard-test"}', (v) => v === 0, 10_000)
    expect(await prometheus.query('demo_errors_ratio')).toBeUndefined()
    expect(exporter.scrapes()).toBeGreaterThanOrEqual(3)

    await prometheus.stop()
    expect(await listening(prometheus.port)).toBe(false)
  })

  it('fails with the package to install when prometheus is not on PATH', async () => {
    const path = process.env.PATH
    onTestFinished(() => {
      if (path === undefined) delete process.env.PATH
      else process.env.PATH = path
    })
    const empty = tempDir()
    onTestFinished(() => empty.remove())
    process.env.PATH = empty.path
    expect(() => prometheusBinary()).toThrow(PROMETHEUS_MISSING)
    await expect(startPrometheus({ targets: [] })).rejects.toThrow(PROMETHEUS_MISSING)
  })

  it('includes its output when it cannot start', async () => {
    // A target with a scheme is a configuration error: Prometheus exits at once, saying why.
    const started = startPrometheus({ targets: ['http://127.0.0.1:1/'] })
    await expect(started).rejects.toThrow(/prometheus exited \(2\) before it was ready; its output:\n.*is not a valid hostname/s)
  })
})
