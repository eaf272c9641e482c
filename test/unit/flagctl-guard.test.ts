// flagctl's guarded rollouts without a server: the `--guard` expression split into query,
// comparator and threshold, the one PATCH `rollout --guard` makes, and how a guard and what it did read.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { Flag, FlagPatch, Guard } from '../../packages/core/src/flags/schema.js'
import type { Api } from '../../packages/flagctl/src/client.js'
import { pauseSchedule, resumeSchedule, rollout } from '../../packages/flagctl/src/commands/schedule.js'
import type { CommandContext } from '../../packages/flagctl/src/context.js'
import { flagDetails, flagTable, guardText } from '../../packages/flagctl/src/output.js'
import { guardExpression, rolloutPatch, scheduleView } from '../../packages/flagctl/src/schedule.js'

const NOW = Date.parse('2030-03-02T09:00:00.750Z')
const RAMP = { from: 1, to: 100, start: '2030-03-02T09:00:00Z', end: '2030-03-09T09:00:00Z' }

const flag = (schedule: Flag['schedule'], fields: Partial<Flag> = {}): Flag => ({
  ...{ key: 'copilot_v2', description: '', tags: [], state: 'percentage', percentage: 1, betaUsers: [], betaTenants: [], stickiness: 'userId', rules: [] },
  ...{ version: 7, createdAt: '2030-01-01T00:00:00.000Z', updatedAt: '2030-01-01T00:00:00.000Z', updatedBy: 'guard', model: 5 },
  schedule,
  ...fields,
})

describe('--guard: the expression', () => {
  it('splits on the last comparator outside brackets and quotes, keeping the query as typed', () => {
    expect(guardExpression('errors > 0.01')).toEqual({ query: 'errors', comparator: '>', threshold: 0.01 })
    expect(guardExpression('  p99_latency_seconds<=.25 ')).toEqual({ query: 'p99_latency_seconds', comparator: '<=', threshold: 0.25 })
    expect(guardExpression('sum(rate(x{code=~"5.."}[1m])) / sum(rate(x[1m])) >= 0.05')).toEqual({
      query: 'sum(rate(x{code=~"5.."}[1m])) / sum(rate(x[1m]))',
      comparator: '>=',
      threshold: 0.05,
    })
    // PromQL's own comparisons: a filter at the top level, comparators in a label value or inside brackets.
    expect(guardExpression('up{job="a>b"} < 1 < 0.5')).toEqual({ query: 'up{job="a>b"} < 1', comparator: '<', threshold: 0.5 })
    expect(guardExpression('(errors > 0) > 1e-3')).toEqual({ query: '(errors > 0)', comparator: '>', threshold: 0.001 })
    expect(guardExpression("label_replace(x, 'a', '$1>', 'b', '(.*)') < -2")).toEqual({
      query: "label_replace(x, 'a', '$1>', 'b', '(.*)')",
      comparator: '<',
      threshold: -2,
    })
  })

  it('refuses an expression that does not end in a comparator and a number, naming --guard', () => {
    const refusals: [string, string][] = [
      ['errors', "--guard 'errors': must be '<query> <comparator> <number>', the comparator one of >, >=, <, <= outside brackets and quotes"],
      ['errors == 0.01', 'outside brackets and quotes'],
      ['errors ≥ 0.01', 'outside brackets and quotes'],
      ['rate(errors[1m] > 0.01)', 'outside brackets and quotes'],
      ['rate(errors[1m] > 0.01', '(its brackets or quotes do not close)'],
      ['x{a="b} > 1', '(its brackets or quotes do not close)'],
      ['errors > bool 0.01', "the last comparator is > and 'bool 0.01' after it is not a number"],
      ['errors > 1%', "the last comparator is > and '1%' after it is not a number"],
      ['errors > Infinity', "'Infinity' after it is not a number"],
      ['errors > 1e999', "'1e999' after it is not a number"],
      ['errors >= ', 'the last comparator is >= and nothing follows it'],
      ['errors > 0.01 and more', "the last comparator is > and '0.01 and more' after it is not a number"],
      ['> 0.01', "--guard '> 0.01': give the query before >"],
      ['errors => 0.01', "--guard 'errors => 0.01': '=>' is not a comparator"],
      ['errors >> 1', "'>>' is not a comparator"],
      [`${'x'.repeat(2001)} > 1`, '--guard: the query is 2,001 characters long; at most 2,000'],
    ]
    for (const [text, message] of refusals) expect(() => guardExpression(text), text).toThrow(message)
    expect(() => guardExpression(`${'x'.repeat(2000)} > 1`)).not.toThrow()
  })

  // A query of PromQL-like pieces: names, label matchers and ranges, with comparators inside brackets and quotes.
  const piece = fc.constantFrom(
    'errors',
    'sum(rate(x[1m]))',
    '{code=~"5.."}',
    '[5m]',
    ' / ',
    ' + ',
    '(a > 0)',
    'job:ratio{le="<=1"}',
    " 'a<b' ",
    ' on(job) ',
    '>= 2',
  )
  const query = fc
    .array(piece, { minLength: 1, maxLength: 6 })
    .map((parts) => parts.join('').trim())
    .filter((q) => q !== '' && !/[=!<>]$/.test(q))
  const comparator = fc.constantFrom('>', '>=', '<', '<=') as fc.Arbitrary<Guard['comparator']>
  const threshold = fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => (n === 0 ? 0 : n))

  it('reads back any query, comparator and threshold written as one expression, spaced or not', () => {
    fc.assert(
      fc.property(query, comparator, threshold, fc.constantFrom('', ' ', '  '), (q, op, n, gap) => {
        expect(guardExpression(`${q}${gap}${op}${gap}${String(n)}`)).toEqual({ query: q, comparator: op, threshold: n })
      }),
    )
  })

  it('refuses any expression whose last comparator is followed by something other than a number', () => {
    const word = fc.constantFrom('x', 'bool 1', '1 x', '1%', '(1)', 'NaN', '')
    fc.assert(
      fc.property(query, comparator, word, (q, op, w) => {
        expect(() => guardExpression(`${q} ${op} ${w}`)).toThrow('--guard')
      }),
    )
  })
})

describe('rollout --guard: the PATCH', () => {
  it('puts the guard into the schedule of the same write, the defaults left to the service', () => {
    expect(rolloutPatch({ ramp: '1..100', over: '7d', guard: 'errors > 0.01', holdOnError: true }, NOW)).toEqual({
      state: 'percentage',
      percentage: 1,
      schedule: { ramp: RAMP, guard: { source: 'prometheus', query: 'errors', comparator: '>', threshold: 0.01, action: 'pause' } },
    })
  })

  it('takes every guard option with --steps too', () => {
    const options = {
      steps: '1,50',
      every: '1d',
      guard: 'sum(rate(x{code=~"5.."}[1m])) / sum(rate(x[1m])) >= 0.05',
      source: 'datadog_eu',
      action: 'rollback',
      guardInterval: '1m',
      breaches: '5',
      holdOnError: false,
    }
    expect(rolloutPatch(options, NOW).schedule).toEqual({
      steps: [{ at: '2030-03-03T09:00:00Z', percentage: 50 }],
      guard: {
        source: 'datadog_eu',
        query: 'sum(rate(x{code=~"5.."}[1m])) / sum(rate(x[1m]))',
        comparator: '>=',
        threshold: 0.05,
        interval: '1m',
        breaches: 5,
        holdOnError: false,
        action: 'rollback',
      },
    })
  })

  it('refuses bad guard options, and guard options without --guard, naming the option', () => {
    const ramp = { ramp: '1..100', over: '7d' }
    const guarded = { ...ramp, guard: 'errors > 0.01' }
    const refusals: [object, string][] = [
      [{ ...guarded, guardInterval: '4s' }, '--guard-interval 4s: must be at least five seconds (5s)'],
      [{ ...guarded, guardInterval: '2h' }, '--guard-interval 2h: must be at most one hour (1h)'],
      [{ ...guarded, guardInterval: '15' }, '--guard-interval 15: must be a duration such as 15s, 1m or 5m'],
      [{ ...guarded, guardInterval: '0s' }, '--guard-interval 0s: must be a duration'],
      [{ ...guarded, breaches: '0' }, '--breaches 0: must be a whole number from 1 to 100'],
      [{ ...guarded, breaches: '101' }, '--breaches 101: must be a whole number from 1 to 100'],
      [{ ...guarded, breaches: '2.5' }, '--breaches 2.5: must be a whole number from 1 to 100'],
      [{ ...guarded, source: 'Prometheus' }, '--source Prometheus: must be prometheus or the name of a metric source'],
      [{ ...guarded, action: 'stop' }, '--action stop: must be one of pause, rollback'],
      [{ ...guarded, guard: 'errors' }, "--guard 'errors': must be"],
      [{ ...ramp, source: 'prometheus' }, "--source goes with --guard: give the metric to watch too, e.g. --guard 'errors > 0.01'"],
      [{ ...ramp, action: 'rollback' }, '--action goes with --guard'],
      [{ ...ramp, guardInterval: '30s' }, '--guard-interval goes with --guard'],
      [{ ...ramp, breaches: '2' }, '--breaches goes with --guard'],
      [{ ...ramp, holdOnError: false }, '--no-hold-on-error goes with --guard'],
    ]
    for (const [options, message] of refusals) expect(() => rolloutPatch(options, NOW), JSON.stringify(options)).toThrow(message)
    expect(() => rolloutPatch({ ...guarded, guardInterval: '5s' }, NOW)).not.toThrow()
    expect(() => rolloutPatch({ ...guarded, guardInterval: '1h', breaches: '100' }, NOW)).not.toThrow()
  })
})

describe('the guard as flagctl shows it', () => {
  const GUARD: Guard = { source: 'prometheus', query: 'errors', comparator: '>', threshold: 0.01, action: 'rollback' }

  it('reads a guard on one line, its defaults filled in', () => {
    expect(guardText(GUARD)).toBe('errors > 0.01 on prometheus, every 15s, 3 in a row → rollback (holds while the source is unreadable)')
    expect(guardText({ ...GUARD, source: 'datadog', comparator: '<=', threshold: 200, interval: '1m', breaches: 1, holdOnError: false, action: 'pause' })).toBe(
      'errors <= 200 on datadog, every 1m, at the first breach → pause (runs on while the source is unreadable)',
    )
  })

  it('schedule show: the guard under the schedule, and what the guard did under the status', () => {
    const effective = { state: 'percentage' as const, percentage: 1, at: '2030-03-02T09:00:00.000Z' }
    const running = flag(
      { ramp: RAMP, guard: GUARD },
      { effective: { ...effective, next: { ...effective, percentage: 1.001, at: '2030-03-02T09:00:06.108Z' } } },
    )
    expect(scheduleView(running)).toBe(
      [
        'flag:     copilot_v2 (version 7)',
        'schedule: ramp 1% → 100% from 2030-03-02T09:00:00Z to 2030-03-09T09:00:00Z',
        'guard:    errors > 0.01 on prometheus, every 15s, 3 in a row → rollback (holds while the source is unreadable)',
        'status:   running',
        'now:      percentage 1% (at 2030-03-02T09:00:00.000Z)',
        'next:     percentage 1.001% at 2030-03-02T09:00:06.108Z, in 6s',
      ].join('\n'),
    )
    const reason = 'errors was 0.034, 0.05, 0.041 (> 0.01) in 3 samples in a row'
    const rolledBack = flag(
      {
        ramp: RAMP,
        guard: GUARD,
        paused: true,
        pausedAt: '2030-03-04T10:00:00.000Z',
        guardPause: { action: 'rollback', at: '2030-03-04T10:00:00.000Z', reason },
      },
      { percentage: 20.5 },
    )
    expect(scheduleView(rolledBack)).toContain(
      [
        'status:   paused since 2030-03-04T10:00:00.000Z: frozen (schedule resume goes on, moving what is left later by the time it was paused)',
        `          paused by the guard at 2030-03-04T10:00:00.000Z: rollback — ${reason}`,
        'now:      percentage 20.5%',
      ].join('\n'),
    )
    const held = flag({
      ramp: RAMP,
      guard: GUARD,
      paused: true,
      guardPause: { action: 'hold', at: '2030-03-04T10:00:00.000Z', reason: 'prometheus: timed out' },
    })
    expect(scheduleView(held)).toContain(
      '          held by the guard at 2030-03-04T10:00:00.000Z: the source was unreadable — prometheus: timed out (it resumes once the source reads healthy)',
    )
  })

  it('get and list say it too', () => {
    const paused = flag({ ramp: RAMP, guard: GUARD, paused: true, guardPause: { action: 'pause', at: '2030-03-04T10:00:00.000Z', reason: 'too many errors' } })
    expect(flagDetails(paused)).toContain(
      [
        'guard:       errors > 0.01 on prometheus, every 15s, 3 in a row → rollback (holds while the source is unreadable)',
        '             paused by the guard at 2030-03-04T10:00:00.000Z: pause — too many errors',
        'in force:    paused by the guard: the state and percentage above',
      ].join('\n'),
    )
    expect(flagTable([paused])).toContain('percentage (schedule paused by the guard)')
    expect(flagTable([flag({ ...paused.schedule!, guardPause: { ...paused.schedule!.guardPause!, action: 'hold' } })])).toContain(
      'percentage (schedule held by the guard)',
    )
  })
})

describe('the schedule commands keep the guard', () => {
  const GUARD: Guard = { source: 'prometheus', query: 'errors', comparator: '>', threshold: 0.01, action: 'pause' }
  /** A context whose API holds `flag` and records each PATCH; notes collected. */
  function fake(flag: Flag) {
    const sent: FlagPatch[] = []
    const notes: string[] = []
    const api = {
      getFlag: async () => flag,
      writeFlag: async (_key: string, patch: FlagPatch) => {
        sent.push(patch)
        return { flag: { ...flag, version: flag.version + 1 }, schedule: 'changed' }
      },
    } as unknown as Api
    const ctx: CommandContext = { api, out: { emit: () => {}, print: () => {}, note: (t) => void notes.push(t) } }
    return { ctx, sent, notes }
  }

  it('pause and resume send the schedule back with its guard', async () => {
    const running = fake(flag({ ramp: RAMP, guard: GUARD }))
    await pauseSchedule(running.ctx, 'copilot_v2')
    expect(running.sent).toEqual([{ schedule: { ramp: RAMP, guard: GUARD, paused: true } }])
    const guardPause = { action: 'pause' as const, at: '2030-03-04T10:00:00.000Z', reason: 'errors above 0.01' }
    const stopped = fake(flag({ ramp: RAMP, guard: GUARD, paused: true, pausedAt: guardPause.at, guardPause }))
    await resumeSchedule(stopped.ctx, 'copilot_v2')
    expect(stopped.sent).toEqual([{ schedule: { ramp: RAMP, guard: GUARD } }])
    expect(stopped.notes).toEqual(["resumed copilot_v2's schedule (it was paused by the guard at 2030-03-04T10:00:00.000Z: pause — errors above 0.01)"])
  })

  it('rollout says when a new schedule without --guard drops the old one’s guard, and refuses guard options with a percentage', async () => {
    const guarded = fake(flag({ ramp: RAMP, guard: GUARD }))
    await rollout(guarded.ctx, 'copilot_v2', undefined, { steps: '1,5', every: '1d' })
    expect(guarded.notes).toEqual(["copilot_v2's schedule is replaced by this one, and its guard is gone (--guard gives it one)"])
    await expect(rollout(guarded.ctx, 'copilot_v2', 5, { guard: 'errors > 0.01' })).rejects.toThrow(
      '--guard guards a schedule: give it with --ramp or --steps, not a percentage',
    )
    await expect(rollout(guarded.ctx, 'copilot_v2', 5, { action: 'rollback' })).rejects.toThrow('--action guards a schedule')
    expect(guarded.sent).toHaveLength(1)
  })
})
