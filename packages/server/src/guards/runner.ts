// Guards (README, "Guarded rollouts"): while a guarded schedule runs, read its metric every
// interval; `breaches` bad samples in a row pause it or roll it back, and a source that cannot be
// read holds it (holdOnError) until it reads healthy again. Only the replica holding the guard
// lease samples and writes; each write is an ordinary audited write by the actor `guard`, on the
// version it judged (If-Match) and fenced by the lease, so two holders never both act.
import { createHash, randomUUID } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import { nextTransition, timelineOf } from '@switchyard/core/evaluation/schedule'
import { GUARD_DEFAULTS, normalGuard, type Guard, type GuardComparator } from '@switchyard/core/flags/schedule'
import { durationMs, parseInstant } from '@switchyard/core/flags/values'
import type { Flag, Schedule } from '@switchyard/core/flags/schema'
import type { GuardEvidence } from '@switchyard/core/audit/schema'
import { builtInActor } from '../audit/audit.js'
import { AppError } from '../errors.js'
import type { FlagRegistry } from '../flags/registry.js'
import type { GuardDecision } from '../flags/schedule.js'
import type { LeaseKeeper } from '../replica/lease.js'
import { LeaseLostError } from '../store/errors.js'
import type { MetricSource, Reading } from './sources.js'

/** The lease guards run under. */
export const GUARD_LEASE = 'guards'

/** Samples an audit event carries at most: the run that tripped the guard, and a few before it. */
const KEPT_SAMPLES = 10

interface Sample {
  at: number
  reading: Reading
}

/** What one guard has seen, on the replica that holds the lease; forgotten when the plan changes. */
interface GuardState {
  plan: string
  nextAt: number
  busy: boolean
  breaches: number
  errors: number
  samples: Sample[]
  /** The store-clock instant of the last healthy sample: where a rollback returns to. */
  healthyAt?: number
}

/** How a source did on its last read, for /healthz and the metrics. */
export interface SourceStatus {
  status: 'ok' | 'failing'
  detail?: string
  lastReadAt: string
}

export interface GuardStatus {
  /** Whether this replica holds the guard lease (and so samples and acts), with its fencing token. */
  lease: { held: boolean; token?: number }
  /** Guarded schedules being watched (on the lease holder). */
  watching: number
  /** Every configured source, with how its last read went (none yet: `idle`). */
  sources: Record<string, SourceStatus | { status: 'idle' }>
}

export interface GuardObserver {
  sampled(source: string, outcome: 'healthy' | 'breach' | 'error'): void
  acted(action: GuardDecision['action']): void
}

const BREACHES: Record<GuardComparator, (value: number, threshold: number) => boolean> = {
  '>': (v, t) => v > t,
  '>=': (v, t) => v >= t,
  '<': (v, t) => v < t,
  '<=': (v, t) => v <= t,
}

/** The plan a guard watches: steps or ramp and the guard; not whether it is paused. */
function planOf(schedule: Schedule): string {
  return JSON.stringify([schedule.steps ?? null, schedule.ramp ?? null, normalGuard(schedule.guard!)])
}

/** A guard watches a schedule that runs and has a transition to come, or one it holds itself. */
export function watched(flag: Flag, now: number): boolean {
  const schedule = flag.schedule
  if (schedule?.guard === undefined) return false
  if (schedule.paused === true) return schedule.guardPause?.action === 'hold'
  return nextTransition(timelineOf(flag)!, now) !== undefined
}

/** A guard's last healthy sample, as the lease's holder notes it for the next: the plan it was of, and when. */
interface HealthyNote {
  plan: string
  at: number
}

const planHash = (plan: string) => createHash('sha256').update(plan).digest('base64url').slice(0, 22)

export class GuardRunner {
  private readonly states = new Map<string, GuardState>()
  /** The notes the lease's earlier holders left, read once per token this replica holds the lease under. */
  private notes: { token: number; healthy: Record<string, string> } | undefined
  private readingNotes = false
  private stopped = false
  private readonly sourceStatus = new Map<string, SourceStatus>()
  private timer: NodeJS.Timeout | undefined
  private readonly inflight = new Set<Promise<void>>()

  constructor(
    private readonly flags: FlagRegistry,
    private readonly sources: ReadonlyMap<string, MetricSource>,
    private readonly lease: LeaseKeeper,
    private readonly log: FastifyBaseLogger,
    private readonly observer?: GuardObserver,
    private readonly tickMs = 500,
  ) {}

  start(): void {
    this.lease.start()
    this.timer = setInterval(() => this.tick(), this.tickMs)
    this.timer.unref()
  }

  async stop(): Promise<void> {
    this.stopped = true
    clearInterval(this.timer)
    await this.settled()
    await this.lease.stop()
  }

  /** Resolves once every sample started so far has been judged (and acted on). */
  async settled(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight])
  }

  status(): GuardStatus {
    const fence = this.lease.fence()
    const sources: GuardStatus['sources'] = {}
    for (const name of [...this.sources.keys()].sort()) sources[name] = this.sourceStatus.get(name) ?? { status: 'idle' }
    return { lease: fence ? { held: true, token: fence.token } : { held: false }, watching: this.states.size, sources }
  }

  /** Starts a sample of every guard that is due. */
  tick(): void {
    const fence = this.lease.fence()
    if (fence === undefined || this.stopped) {
      // What this replica saw is forgotten; should it hold the lease again, it reads the notes again.
      this.states.clear()
      this.notes = undefined
      return
    }
    // A new holder first reads where its predecessors last saw each guard healthy (a rollback's target).
    if (this.notes?.token !== fence.token) {
      if (!this.readingNotes) {
        this.readingNotes = true
        const read: Promise<void> = this.lease
          .notes()
          .catch(() => ({}))
          .then((healthy) => {
            this.notes = { token: fence.token, healthy }
            this.readingNotes = false
            this.inflight.delete(read)
            this.tick()
          })
        this.inflight.add(read)
      }
      return
    }
    // The store's clock, which the schedules run by, paces the samples too.
    const now = this.flags.now()
    const seen = new Set<string>()
    for (const { flag } of this.flags.all()) {
      if (!watched(flag, now)) continue
      seen.add(flag.key)
      const guard = flag.schedule!.guard!
      const plan = planOf(flag.schedule!)
      let state = this.states.get(flag.key)
      if (state === undefined || state.plan !== plan) {
        state = { plan, nextAt: now, busy: false, breaches: 0, errors: 0, samples: [] }
        const noted = this.healthyNoted(flag.key, plan)
        if (noted !== undefined) state.healthyAt = noted
        this.states.set(flag.key, state)
      }
      if (state.busy || now < state.nextAt) continue
      const intervalMs = durationMs(guard.interval ?? GUARD_DEFAULTS.interval)
      state.busy = true
      state.nextAt = now + intervalMs
      const task = this.sample(flag.key, guard, state, Math.min(5000, intervalMs - 1000))
        .catch((err: unknown) => this.log.error({ flag: flag.key, err: (err as Error).message }, 'guard sample failed'))
        .finally(() => {
          state.busy = false
          this.inflight.delete(task)
        })
      this.inflight.add(task)
    }
    for (const key of this.states.keys()) {
      if (seen.has(key)) continue
      this.states.delete(key)
      this.lease.note(key, null)
    }
  }

  /** The last healthy sample a holder noted for this plan of the guard of `key`. */
  private healthyNoted(key: string, plan: string): number | undefined {
    const text = this.notes?.healthy[key]
    if (text === undefined) return undefined
    try {
      const note = JSON.parse(text) as HealthyNote
      return note.plan === planHash(plan) && Number.isFinite(note.at) ? note.at : undefined
    } catch {
      return undefined
    }
  }

  private healthy(key: string, state: GuardState, at: number): void {
    state.healthyAt = at
    const note: HealthyNote = { plan: planHash(state.plan), at }
    this.lease.note(key, JSON.stringify(note))
  }

  private async sample(key: string, guard: Guard, state: GuardState, timeoutMs: number): Promise<void> {
    const source = this.sources.get(guard.source)
    const at = this.flags.now()
    const reading: Reading = source ? await source.read(guard.query, timeoutMs) : { error: 'is not configured on this replica' }
    this.sourceStatus.set(guard.source, {
      status: reading.error === undefined ? 'ok' : 'failing',
      ...(reading.error === undefined ? {} : { detail: `${guard.source} ${reading.error}` }),
      lastReadAt: new Date(at).toISOString(),
    })
    // Judged on the flag as it is once the answer is in; a plan changed meanwhile starts afresh.
    const flag = this.flags.get(key)?.flag
    if (flag?.schedule?.guard === undefined || planOf(flag.schedule) !== state.plan || this.states.get(key) !== state) return
    state.samples.push({ at, reading })
    if (state.samples.length > KEPT_SAMPLES) state.samples.shift()
    const breaches = guard.breaches ?? GUARD_DEFAULTS.breaches
    const held = flag.schedule.paused === true
    // Paused by a person while the read was on its way: not the guard's to judge any more.
    if (held && flag.schedule.guardPause?.action !== 'hold') return
    if (reading.error !== undefined) {
      this.observer?.sampled(guard.source, 'error')
      state.errors++
      this.log.warn({ flag: key, source: guard.source, error: reading.error }, 'guard could not read its metric')
      if ((guard.holdOnError ?? GUARD_DEFAULTS.holdOnError) && !held && state.errors >= breaches) {
        await this.act(flag, guard, state, { action: 'hold', reason: `${guard.source} ${reading.error} (${breaches} reads in a row)` })
      }
      return
    }
    state.errors = 0
    if (!BREACHES[guard.comparator](reading.value, guard.threshold)) {
      this.observer?.sampled(guard.source, 'healthy')
      state.breaches = 0
      // Held, the flag serves the phase it was held at: that is what this sample found healthy.
      this.healthy(key, state, held && flag.schedule.pausedAt !== undefined ? Math.min(at, parseInstant(flag.schedule.pausedAt)) : at)
      if (held) await this.act(flag, guard, state, { action: 'resume', reason: `${guard.source} reads ${reading.value} again` })
      return
    }
    this.observer?.sampled(guard.source, 'breach')
    state.breaches++
    if (state.breaches < breaches) return
    const reason = `${guard.query} ${guard.comparator} ${guard.threshold}: ${state.samples
      .slice(-breaches)
      .map((s) => s.reading.value)
      .join(', ')}`
    await this.act(flag, guard, state, { action: guard.action, reason, ...(state.healthyAt === undefined ? {} : { healthyAt: state.healthyAt }) })
  }

  private async act(flag: Flag, guard: Guard, state: GuardState, decision: GuardDecision): Promise<void> {
    const fence = this.lease.fence()
    if (fence === undefined) return
    const evidence: GuardEvidence = {
      action: decision.action,
      source: guard.source,
      query: guard.query,
      comparator: guard.comparator,
      threshold: guard.threshold,
      samples: state.samples.map(({ at, reading }) => ({
        at: new Date(at).toISOString(),
        ...(reading.error === undefined ? { value: reading.value } : { error: reading.error }),
      })),
      ...(decision.healthyAt === undefined ? {} : { healthyAt: new Date(decision.healthyAt).toISOString() }),
      lease: fence.token,
    }
    const actor = builtInActor('guard', `guard-${randomUUID()}`, this.log)
    try {
      const written = await this.flags.guard(flag.key, flag.version, decision, evidence, fence, actor)
      this.observer?.acted(decision.action)
      this.log.warn({ flag: flag.key, action: decision.action, reason: decision.reason, version: written.version }, `guard: ${decision.action}`)
      // A resumed schedule is a new plan (moved later): it starts healthy, as the sample that resumed it read.
      if (decision.action === 'resume' && written.schedule?.guard !== undefined) {
        Object.assign(state, { plan: planOf(written.schedule), breaches: 0, errors: 0 })
        this.healthy(flag.key, state, this.flags.now())
      }
    } catch (err) {
      if (err instanceof AppError && err.code === 'VERSION_MISMATCH') {
        this.log.info({ flag: flag.key }, 'guard: the flag changed since it was judged; judging it again')
      } else if (err instanceof LeaseLostError) {
        this.log.warn({ flag: flag.key }, `guard: ${err.message}`)
      } else {
        this.log.error({ flag: flag.key, err: (err as Error).message }, `guard could not ${decision.action} the schedule`)
      }
    }
  }
}
