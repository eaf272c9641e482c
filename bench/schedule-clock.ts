// Schedules case (issue 20): how close to a step's instant two replicas whose clocks are 30 s off
// either way, and an SDK whose clock is 30 s ahead, switch (Redis's clock decides); and what a
// scheduled flag costs the SDK per evaluation against the same flag unscheduled.
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { createClient, type SwitchyardClient } from '../packages/sdk/src/index.js'
import { nsPerCall } from './sdk.js'
import { BENCH_TOKEN } from './fixtures.js'
import { startChild } from './servers.js'

type Row = { case: string; figure: string; ratio?: string; target?: string }

const SKEW = 30_000
const ROUNDS = Number(process.env.BENCH_SWITCHES ?? 5)
/** How long before and after each step the observers poll. */
const WINDOW_MS = 300

async function api(base: string, method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${BENCH_TOKEN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${await res.text()}`)
  return (await res.json()) as Record<string, unknown>
}

/**
 * When an observer switched, on Redis's clock: between the last check that answered off (its
 * start) and the first that answered on (its end). The error is the bracket's middle minus the step.
 */
interface Switch {
  error: number
  bracket: number
}

/**
 * Polls `check` from `from` until it answers on or `until` passes. An answer was decided between
 * its check's start and end, so the switch lies between the start of the last check that answered
 * off and the end of the first that answered on (from the first check's start if none answered off:
 * it switched before the window, an error past WINDOW_MS).
 */
async function watch(check: () => Promise<boolean> | boolean, now: () => number, from: number, until: number, step: number): Promise<Switch> {
  while (now() < from) await new Promise((resolve) => setTimeout(resolve, 1))
  let lastOff: number | undefined
  while (now() < until) {
    const sent = now()
    if (await check()) {
      const received = now()
      const lower = lastOff ?? sent
      return { error: Math.round(((lower + received) / 2 - step) * 10) / 10, bracket: Math.round((received - lower) * 10) / 10 }
    }
    lastOff = sent
    // Let the SDK's stream and timers run between checks, and its clock be read afresh.
    await new Promise((resolve) => setImmediate(resolve))
  }
  throw new Error(`no switch within ${until - step} ms after the step`)
}

export async function scheduleClockBench(redisUrl: string): Promise<{ rows: Row[]; results: Record<string, unknown> }> {
  const prefix = `switchyard-bench-schedule:${randomBytes(4).toString('hex')}:`
  const env = { BENCH_FLAGS: '0', REDIS_URL: redisUrl, REDIS_PREFIX: prefix }
  const [ahead, behind] = await Promise.all([
    startChild('child-switchyard.ts', { ...env, BENCH_CLOCK_SKEW_MS: String(SKEW) }),
    startChild('child-switchyard.ts', { ...env, BENCH_CLOCK_SKEW_MS: String(-SKEW) }),
  ])
  const redis = new Redis(redisUrl)
  const bases = [ahead, behind].map((s) => `http://127.0.0.1:${s.port}`)
  let client: SwitchyardClient | undefined
  try {
    // Redis's clock, as this process reads it (the same machine: the offset is of the order of its round trip).
    const sent = Date.now()
    const [seconds, micros] = await redis.time()
    const redisOffset = Number(seconds) * 1000 + Number(micros) / 1000 - (sent + Date.now()) / 2
    const redisNow = () => Date.now() + redisOffset

    client = await createClient({ url: bases[1]!, token: BENCH_TOKEN, clock: () => Date.now() + SKEW })
    const sdk = client
    const observers: Record<string, (key: string) => Promise<boolean> | boolean> = {
      'replica +30 s': async (key) => (await api(bases[0]!, 'POST', '/evaluate', { flag: key, context: {} })).enabled === true,
      'replica −30 s': async (key) => (await api(bases[1]!, 'POST', '/evaluate', { flag: key, context: {} })).enabled === true,
      'SDK +30 s': (key) => sdk.isEnabled(key),
    }
    const switches: Record<string, Switch[]> = Object.fromEntries(Object.keys(observers).map((name) => [name, []]))
    for (let round = 0; round < ROUNDS; round++) {
      const key = `switch_${round}`
      const step = Math.round(redisNow() + 1500)
      await api(bases[0]!, 'POST', '/flags', { key, schedule: { steps: [{ at: new Date(step).toISOString(), state: 'enabled' }] } })
      while (sdk.flag(key) === undefined) await new Promise((resolve) => setTimeout(resolve, 5))
      const seen = await Promise.all(Object.values(observers).map((check) => watch(() => check(key), redisNow, step - WINDOW_MS, step + WINDOW_MS, step)))
      for (const [i, name] of Object.keys(observers).entries()) switches[name]!.push(seen[i]!)
    }

    // The SDK's cost: a plain percentage flag, and the same flag with a schedule whose step is a day away.
    const day = new Date(redisNow() + 86_400_000).toISOString()
    await api(bases[0]!, 'POST', '/flags', { key: 'plain', state: 'percentage', percentage: 37.5 })
    await api(bases[0]!, 'POST', '/flags', { key: 'scheduled', state: 'percentage', percentage: 37.5, schedule: { steps: [{ at: day, percentage: 100 }] } })
    while (sdk.flag('scheduled') === undefined) await new Promise((resolve) => setTimeout(resolve, 5))
    const ns: Record<string, number[]> = { plain: [], scheduled: [] }
    for (let i = 0; i < 5; i++) {
      for (const key of ['plain', 'scheduled']) {
        nsPerCall(sdk, key, 1_000_000)
        ns[key]!.push(nsPerCall(sdk, key, 10_000_000))
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!
    const plain = median(ns.plain!)
    const scheduled = median(ns.scheduled!)

    const worst = (name: string) => Math.max(...switches[name]!.map((s) => Math.abs(s.error)))
    const summary = Object.keys(observers)
      .map((name) => `${name}: worst ${worst(name)} ms (${switches[name]!.map((s) => `${s.error}±${s.bracket / 2}`).join(', ')})`)
      .join('; ')
    return {
      rows: [
        {
          case: `12. a step's instant on Redis's clock → the moment each observer switched (middle of its last off and first on check), ${ROUNDS} steps`,
          figure: summary,
          target: 'within 100 ms',
        },
        {
          case:
            '12. SDK isEnabled, a percentage flag with a schedule (next step a day away) against the same flag without one ' +
            '(the SDK\u2019s coarse clock: one reading per 10 ms)',
          figure: `${scheduled} ns vs ${plain} ns`,
          ratio: `${Math.round((scheduled / plain) * 100) / 100} ×`,
          target: '≤ 1.2 ×',
        },
      ],
      results: { scheduleSwitches: switches, sdkClockOffsetMs: sdk.clockOffsetMs, sdkScheduledNs: { plain, scheduled, rounds: ns } },
    }
  } finally {
    await client?.close()
    const keys = await redis.keys(`${prefix}*`)
    if (keys.length > 0) await redis.del(...keys)
    redis.disconnect()
    await Promise.all([ahead.stop(), behind.stop()])
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { benchRedis } = await import('./redis.js')
  const redis = await benchRedis()
  try {
    const { rows, results } = await scheduleClockBench(redis.url)
    console.table(rows)
    console.log(JSON.stringify(results, null, 2))
  } finally {
    await redis.stop()
  }
}
