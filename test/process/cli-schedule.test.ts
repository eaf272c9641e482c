// flagctl's schedule commands and schedules in flags files (issue 20), run as real processes
// against a real listening service whose clock the test moves (never by sleeping through a ramp).
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Flag } from '../../packages/core/src/flags/schema.js'
import { StoreClock } from '../../packages/server/src/replica/clock.js'
import { createFlag, getFlag } from '../support/helpers.js'
import { concurrentEdit, flagctl, flagctlBin, serve, type Run, type Service } from '../support/cli-helpers.js'

const HOUR = 3_600_000
const DAY = 24 * HOUR

let service: Service
let dir: string
/** How far the service's clock is ahead of the real one: a test moves time by moving it. */
let ahead = 0
const run = (args: string[]) => flagctl(args, { url: service.url })
const json = <T = Record<string, unknown>>(result: Run): T => {
  expect(result.code, result.stderr).toBe(0)
  return JSON.parse(result.stdout) as T
}
type Shown = {
  flag: string
  version: number
  state: string
  percentage: number
  schedule: Flag['schedule'] | null
  effective: Flag['effective'] | null
  change?: string
}
const ms = (iso: string) => Date.parse(iso)

beforeAll(async () => {
  ;[service] = await Promise.all([serve({}, { clock: new StoreClock(() => Date.now() + ahead) }), flagctlBin()])
  dir = await mkdtemp(join(tmpdir(), 'flagctl-schedule-'))
}, 120_000)
afterAll(async () => {
  await service.close()
  await rm(dir, { recursive: true, force: true })
})

describe('flagctl rollout over time', () => {
  it('starts a ramp now: the first percentage at once, the rest on the service’s clock; schedule show reads it', async () => {
    await createFlag(service.app, { key: 'sched_ramp' })
    const before = Date.now()
    const set = json<Shown>(await run(['rollout', 'sched_ramp', '--ramp', '1..100', '--over', '7d', '--interval', '1h', '--json']))
    const ramp = set.schedule!.ramp!
    expect(set).toMatchObject({ version: 2, state: 'percentage', percentage: 1, change: 'set', effective: { state: 'percentage', percentage: 1 } })
    expect(ramp).toMatchObject({ from: 1, to: 100, interval: '1h' })
    expect(ms(ramp.start)).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000)
    expect(ms(ramp.end) - ms(ramp.start)).toBe(7 * DAY)
    // 1 + floor(99,000 · 1h / 7d) thousandths, an hour after the start.
    expect(set.effective!.next).toEqual({ at: new Date(ms(ramp.start) + HOUR).toISOString(), state: 'percentage', percentage: 1.589 })

    const shown = await run(['schedule', 'show', 'sched_ramp'])
    expect(shown.stdout).toMatch(
      new RegExp(
        [
          '^flag: +sched_ramp \\(version 2\\)',
          `schedule: +ramp 1% → 100% from ${ramp.start} to ${ramp.end}, every 1h`,
          'status: +running',
          'now: +percentage 1% \\(at \\S+\\)',
          'next: +percentage 1.589% at \\S+, in (59m \\d+s|1h 0m)\\n$',
        ].join('\\n'),
      ),
    )
    expect(json<Shown>(await run(['schedule', 'show', 'sched_ramp', '--json']))).toMatchObject({ schedule: { ramp }, effective: { percentage: 1 } })

    // list and get show what is in force, not the state the schedule started from.
    const [listed, got] = await Promise.all([run(['list', '--scheduled']), run(['get', 'sched_ramp'])])
    expect(listed.stdout).toMatch(/^sched_ramp +percentage \(scheduled\) +1% by userId /m)
    expect(listed.stdout.trim().split('\n').slice(1)).toEqual(
      listed.stdout
        .trim()
        .split('\n')
        .slice(1)
        .filter((l) => /\((scheduled|schedule paused)\)/.test(l)),
    )
    expect(got.stdout).toMatch(/^schedule: +ramp 1% → 100% from \S+ to \S+, every 1h\nin force: +percentage 1% \(schedule show: the next transition\)$/m)
  })

  it('starts steps now with the first percentage, the others a day apart; or all of them at --start, leaving the flag as it is until then', async () => {
    await createFlag(service.app, { key: 'sched_steps' })
    const now = json<Shown>(await run(['rollout', 'sched_steps', '--steps', '1,5,25,50,100', '--every', '1d', '--json']))
    expect(now).toMatchObject({ state: 'percentage', percentage: 1, effective: { percentage: 1, next: { percentage: 5 } } })
    const steps = now.schedule!.steps!
    expect(steps.map((s) => s.percentage)).toEqual([5, 25, 50, 100])
    expect(steps.map((s) => ms(s.at) - ms(steps[0]!.at))).toEqual([0, DAY, 2 * DAY, 3 * DAY])
    const shown = (await run(['schedule', 'show', 'sched_steps'])).stdout
    expect(shown).toContain(`schedule: step ${steps[0]!.at}: 5%\n          step ${steps[1]!.at}: 25%\n`)
    expect(shown).toMatch(/^now: +percentage 1% \(at \S+\)\nnext: +percentage 5% at \S+, in 23h 59m\n$/m)

    await createFlag(service.app, { key: 'sched_later', state: 'enabled' })
    const later = json<Shown>(
      await run(['rollout', 'sched_later', '--steps', '5,100', '--every', '2d', '--start', '2030-03-02T10:00:00+01:00', '--stickiness', 'tenantId', '--json']),
    )
    expect(later).toMatchObject({
      state: 'enabled',
      schedule: {
        steps: [
          { at: '2030-03-02T09:00:00Z', percentage: 5 },
          { at: '2030-03-04T09:00:00Z', percentage: 100 },
        ],
      },
    })
    expect(await getFlag(service.app, 'sched_later')).toMatchObject({ stickiness: 'tenantId', effective: { state: 'enabled' } })

    // Replacing a schedule says so.
    const replaced = await run(['rollout', 'sched_later', '--ramp', '100..0', '--over', '12h', '--start', '2030-03-02T09:00:00Z'])
    expect(replaced.stderr).toContain("sched_later's schedule is replaced by this one")
    expect(replaced.stdout).toMatch(/^schedule: +ramp 100% → 0% from 2030-03-02T09:00:00Z to 2030-03-02T21:00:00Z$/m)
  })

  it('refuses bad options with exit 1, naming the option, before anything reaches the API', async () => {
    await createFlag(service.app, { key: 'sched_usage' })
    const seeded = service.requests.length
    const cases: [string[], string][] = [
      [['--ramp', '1-100', '--over', '7d'], '--ramp 1-100: must be from..to, e.g. 1..100'],
      [['--ramp', '1..100'], '--ramp needs --over: how long the ramp takes, e.g. --over 7d'],
      [['--ramp', '1..100.0001', '--over', '7d'], "--ramp 1..100.0001: '100.0001' must be a percentage from 0 to 100 with at most three decimals"],
      [['--ramp', '5..5', '--over', '7d'], '--ramp 5..5: from and to are the same (flagctl rollout KEY 5 sets it now)'],
      [['--ramp', '1..100', '--over', '7x'], '--over 7x: must be a duration such as 90s, 30m, 1h or 7d'],
      [['--ramp', '1..100', '--over', '400d'], '--over 400d: a ramp takes at most 366d'],
      [['--ramp', '1..100', '--over', '7d', '--interval', '7d'], '--interval 7d: must be shorter than --over 7d'],
      [['--ramp', '1..100', '--over', '7d', '--every', '1d'], '--every goes with --steps, not --ramp'],
      [['--steps', '1,abc', '--every', '1d'], "--steps 1,abc: 'abc' must be a percentage from 0 to 100 with at most three decimals"],
      [['--steps', '5', '--every', '1d'], '--steps 5: give at least two percentages (flagctl rollout KEY 5 sets one now)'],
      [['--steps', '1,5'], '--steps needs --every: the time between steps, e.g. --every 1d'],
      [['--steps', '1,5', '--every', '500ms'], '--every 500ms: must be at least one second (1s)'],
      [['--steps', '1,5', '--every', '1d', '--start', '2020-01-01T00:00:00Z'], '--start 2020-01-01T00:00:00Z: is in the past'],
      [['--steps', '1,5', '--every', '1d', '--start', 'tomorrow'], '--start tomorrow: must be now or an ISO-8601 instant with a zone'],
      [['25', '--ramp', '1..100'], '--ramp rolls out over time: give it without a percentage (e.g. --ramp 1..25 --over 7d)'],
      [[], 'rollout needs a percentage, --ramp from..to --over <duration>, or --steps p1,p2,… --every <duration>'],
    ]
    const results = await Promise.all(cases.map(([args]) => run(['rollout', 'sched_usage', ...args])))
    results.forEach((result, i) => {
      expect(result.code, cases[i]![1]).toBe(1)
      expect(result.stderr).toContain(`flagctl: ${cases[i]![1]}`)
    })
    expect(service.requests.slice(seeded)).toEqual([])
  })

  it('writes against the version it read: a change made in between is refused, not overwritten', async () => {
    await createFlag(service.app, { key: 'sched_raced' })
    service.afterRead('GET', '/flags/sched_raced', () => concurrentEdit(service.app, 'sched_raced', { description: 'edited meanwhile' }))
    const raced = await run(['rollout', 'sched_raced', '--ramp', '1..100', '--over', '7d'])
    expect(raced.code).toBe(2)
    expect(raced.stderr).toContain('412 VERSION_MISMATCH')
    expect(await getFlag(service.app, 'sched_raced')).not.toHaveProperty('schedule')
  })
})

describe('flagctl schedule pause, resume, clear', () => {
  it('pauses at what is in force, resumes with the rest moved later by the pause, and a percentage set by hand pauses too', async () => {
    await createFlag(service.app, { key: 'sched_pause' })
    const started = json<Shown>(await run(['rollout', 'sched_pause', '--ramp', '1..100', '--over', '7d', '--json']))
    try {
      ahead = 2 * DAY
      const paused = await run(['schedule', 'pause', 'sched_pause'])
      expect(paused.code, paused.stderr).toBe(0)
      const frozen = (await getFlag(service.app, 'sched_pause')) as Flag
      expect(frozen.percentage).toBeGreaterThan(29.2)
      expect(frozen.percentage).toBeLessThan(29.3)
      expect(frozen.schedule).toMatchObject({ paused: true })
      expect(paused.stderr).toBe(`paused sched_pause's schedule: it stays at percentage ${frozen.percentage}% until resumed\n`)
      expect(paused.stdout).toMatch(/^status: +paused since \S+: frozen \(schedule resume goes on, moving what is left later by the time it was paused\)$/m)
      expect(paused.stdout).toMatch(new RegExp(`^now: +percentage ${frozen.percentage}%$`, 'm'))
      expect((await run(['schedule', 'pause', 'sched_pause'])).stderr).toContain("sched_pause's schedule already is paused: nothing changed")

      ahead = 2 * DAY + 5 * HOUR
      const resumed = await run(['schedule', 'resume', 'sched_pause', '--json'])
      expect(resumed.stderr).toBe("resumed sched_pause's schedule: what is left moved 5h 0m later\n")
      const after = json<Shown>(resumed)
      expect(after.change).toBe('resumed')
      // Five hours of the service's clock, and the real seconds the commands took.
      const moved = ms(after.schedule!.ramp!.start) - ms(started.schedule!.ramp!.start)
      expect(moved).toBeGreaterThanOrEqual(5 * HOUR)
      expect(moved).toBeLessThan(5 * HOUR + 60_000)
      expect(after.effective!.percentage).toBeCloseTo(frozen.percentage, 1)
      expect((await run(['schedule', 'resume', 'sched_pause'])).stderr).toContain("sched_pause's schedule is not paused: nothing changed")

      const byHand = await run(['rollout', 'sched_pause', '40'])
      expect(byHand.stderr).toContain(
        "sched_pause's schedule is paused: a state or percentage set by hand stops it (flagctl schedule resume sched_pause goes on)",
      )
      expect(await getFlag(service.app, 'sched_pause')).toMatchObject({ percentage: 40, schedule: { paused: true } })
    } finally {
      ahead = 0
    }
  })

  it('clears, keeping what is in force; says when the schedule had finished; refuses a flag without one to pause', async () => {
    await createFlag(service.app, { key: 'sched_clear' })
    await run(['rollout', 'sched_clear', '--steps', '10,20', '--every', '1h'])
    const cleared = await run(['schedule', 'clear', 'sched_clear'])
    expect(cleared.stdout).toBe('cleared the schedule of sched_clear: it stays at percentage 10% (version 3)\n')
    expect(await getFlag(service.app, 'sched_clear')).not.toHaveProperty('schedule')
    expect(await run(['schedule', 'clear', 'sched_clear'])).toMatchObject({ code: 0, stderr: 'sched_clear has no schedule: nothing changed\n' })
    expect((await run(['schedule', 'show', 'sched_clear'])).stdout).toBe('sched_clear has no schedule: it is at percentage 10%\n')
    const none = await run(['schedule', 'pause', 'sched_clear'])
    expect([none.code, none.stderr]).toEqual([1, 'flagctl: sched_clear has no schedule (flagctl rollout sched_clear --ramp or --steps gives it one)\n'])

    await createFlag(service.app, { key: 'sched_done' })
    await run(['rollout', 'sched_done', '--ramp', '0..100', '--over', '1h'])
    try {
      ahead = 2 * HOUR
      const finished = await run(['schedule', 'show', 'sched_done'])
      expect(finished.stdout).toMatch(
        /^status: +finished: nothing is left to come \(schedule clear removes it, keeping what is in force\)\nnow: +percentage 100%/m,
      )
      expect((await run(['schedule', 'clear', 'sched_done', '--yes'])).stdout).toBe(
        'removed the finished schedule of sched_done: it stays at percentage 100% (version 3)\n',
      )
    } finally {
      ahead = 0
    }
  })
})

describe('schedules in flags files', () => {
  it('exports running and paused schedules without what the server manages, and plans no change against them', async () => {
    await createFlag(service.app, { key: 'file_running', schedule: { steps: [{ at: '2031-01-01T00:00:00Z', state: 'enabled' }] } })
    await createFlag(service.app, { key: 'file_paused', schedule: { ramp: { from: 0, to: 100, start: '2031-01-01T00:00:00Z', end: '2031-01-08T00:00:00Z' } } })
    await run(['schedule', 'pause', 'file_paused'])
    const exported = await run(['export', '-o', join(dir, 'all.yaml')])
    expect(exported.code, exported.stderr).toBe(0)
    const text = (await run(['export'])).stdout
    expect(text).not.toMatch(/pausedAt|effective/)
    expect(text).toContain('      ramp: {from: 0, to: 100, start: 2031-01-01T00:00:00Z, end: 2031-01-08T00:00:00Z}\n      paused: true\n')
    expect(await run(['plan', join(dir, 'all.yaml')])).toMatchObject({ code: 0 })
  })

  it('applies a file whose schedule is past without refusal, and pauses or resumes as the file says', async () => {
    const path = join(dir, 'past.yaml')
    const ramp = '{from: 0, to: 100, start: 2020-01-01T00:00:00Z, end: 2020-01-08T00:00:00Z}'
    await writeFile(path, `version: 1\nflags:\n  - key: file_past\n    state: percentage\n    schedule:\n      ramp: ${ramp}\n`)
    const applied = await run(['apply', path, '--yes'])
    expect(applied.code, applied.stderr).toBe(0)
    expect(await getFlag(service.app, 'file_past')).toMatchObject({ effective: { state: 'percentage', percentage: 100 } })
    expect((await run(['plan', path])).code).toBe(0)

    await writeFile(
      path,
      `version: 1\nflags:\n  - key: file_past\n    state: percentage\n    percentage: 60\n    schedule:\n      ramp: ${ramp}\n      paused: true\n`,
    )
    const plan = await run(['plan', path])
    expect(plan.code).toBe(10)
    expect(plan.stdout).toContain('percentage: 0 → 60; schedule paused\n     ~ paused: the flag stays at percentage 60% (in force when read: percentage 100%)')
    expect((await run(['apply', path, '--yes'])).code).toBe(0)
    expect(await getFlag(service.app, 'file_past')).toMatchObject({ percentage: 60, schedule: { paused: true } })
    expect((await run(['plan', path])).code).toBe(0)

    await writeFile(path, `version: 1\nflags:\n  - key: file_past\n    state: percentage\n    schedule:\n      ramp: ${ramp}\n`)
    expect((await run(['plan', path])).stdout).toContain('~ resumed: the server moves what is left of the schedule later by the time it was paused')
    expect((await run(['apply', path, '--yes'])).code).toBe(0)
    expect(await getFlag(service.app, 'file_past')).toMatchObject({ percentage: 0, effective: { percentage: 100 } })
  })
})
