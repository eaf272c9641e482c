// The flag registry: this replica's read model of the flags, compiled for evaluation. The store is
// the write authority: a write commits there first (commitAndApply) and only then is applied here.
import { AppError, flagNotFound, validationFailed } from '../errors.js'
import { draftEvent, type Actor } from '../audit/audit.js'
import { diff } from '@switchyard/core/audit/diff'
import { commitAndApply, WRITE_DEADLINE_MS_DEFAULT, type Writer } from '../replica/commit-and-apply.js'
import { KeyQueue } from '../replica/key-queue.js'
import { AppliedRevision } from '../replica/revision.js'
import type { Replicated } from '../replica/sync.js'
import type { Store } from '../store/store.js'
import { pageAfter } from '../paging.js'
import { VersionedMap } from '@switchyard/core/replica/versioned-map'
import { compileFlag, type CompiledFlag } from '@switchyard/core/evaluation/engine'
import { nextTransition } from '@switchyard/core/evaluation/schedule'
import { toNfc } from '@switchyard/core/flags/identity'
import { segmentsNamed, settleRules, variantsProblem } from '@switchyard/core/flags/model'
import type { SegmentRegistry } from '../segments/registry.js'
import { guardSettled, settleSchedule, type GuardDecision, type ScheduleChange } from './schedule.js'
import type { Fence } from '../store/store.js'
import type { GuardEvidence } from '@switchyard/core/audit/schema'
import {
  FLAG_DEFAULTS,
  MODEL_VERSION,
  modelOf,
  withModelDefaults,
  MAX_BETA_IDS,
  MAX_ID_LENGTH,
  MUTABLE_FIELDS,
  type Flag,
  type FlagCreate,
  type FlagPatch,
  type FlagState,
  type Rule,
  type RuleInput,
  type TargetsEdit,
} from '@switchyard/core/flags/schema'

interface FlagListQuery {
  tag?: string
  state?: FlagState
  /** Only flags with (true) or without (false) a schedule. */
  scheduled?: boolean
  /** Keys sort ascending; the page starts after this key. */
  after?: string
  limit: number
}

/** A flag created, updated or deleted (`flag` null), or the whole registry replaced by a resync. */
/** `previous` is the flag this replica held before the change (null: none), so a listener can send a patch. */
export type FlagEvent = { type: 'change'; key: string; flag: Flag | null; previous: Flag | null; seq: number } | { type: 'reset'; seq: number }
type FlagChangeListener = (event: FlagEvent) => void

export class FlagRegistry {
  private readonly flags = new VersionedMap<CompiledFlag>((c) => `${c.flag.key}\0${c.flag.version}\0${c.flag.updatedAt}`)
  private sorted: string[] | null = null
  private readonly listeners = new Set<FlagChangeListener>()

  private readonly writes = new KeyQueue()
  /** nextTransition's answer: for `revision`, from `from` until `at`. */
  private upcoming: { revision: string; from: number; at: number } | null = null

  private constructor(
    private readonly store: Store,
    private readonly writeDeadlineMs: number,
    private readonly applied: AppliedRevision,
    private readonly segments: SegmentRegistry | undefined,
    private readonly clock: () => number,
    private readonly guardSources: ReadonlySet<string> | undefined,
  ) {}

  /** A registry, and the one handle that changes what it holds: for the StoreSync alone. `segments`: what rules name. */
  static create(
    store: Store,
    options: {
      writeDeadlineMs?: number
      revision?: AppliedRevision
      segments?: SegmentRegistry
      clock?: () => number
      /** The metric sources a guard may name (GUARD_PROMETHEUS_URL, GUARD_HTTP_SOURCES); none: any. */
      guardSources?: ReadonlySet<string>
    } = {},
  ): { registry: FlagRegistry; replica: Replicated<Flag> } {
    const registry = new FlagRegistry(
      store,
      options.writeDeadlineMs ?? WRITE_DEADLINE_MS_DEFAULT,
      options.revision ?? new AppliedRevision(),
      options.segments,
      options.clock ?? Date.now,
      options.guardSources,
    )
    const replica: Replicated<Flag> = {
      apply: (key, flag, seq) => registry.#apply(key, flag, seq),
      reset: (flags, seq, exact) => registry.#reset(flags, seq, exact),
    }
    return { registry, replica }
  }

  get(key: string): CompiledFlag | undefined {
    return this.flags.get(key)
  }

  get size(): number {
    return this.flags.size
  }

  /** The flags held, as a hash equal on replicas that hold the same versions (VersionedMap.digest). */
  get digest(): string {
    return this.flags.digest
  }

  /** Changes whenever any flag or segment does; equal on replicas that hold the same changes (VersionedMap.revision). */
  get revision(): string {
    return this.segments ? `${this.flags.revision}+${this.segments.revision}` : this.flags.revision
  }

  all(): IterableIterator<CompiledFlag> {
    return this.flags.valuesIterator()
  }

  /** Every key, sorted; cached until the flags change. */
  keys(): readonly string[] {
    return (this.sorted ??= [...this.flags.valuesIterator()].map((f) => f.flag.key).sort())
  }

  /** The time schedules are read and written at: the store's clock, as this replica measures it. */
  now(): number {
    return this.clock()
  }

  /**
   * The earliest instant after `now` at which a running schedule changes a flag's phase; undefined
   * when none will. Cached until that instant passes or the flags change, so a read costs a comparison.
   */
  nextTransition(now: number): number | undefined {
    let held = this.upcoming
    if (held === null || held.revision !== this.flags.revision || now < held.from || now >= held.at) {
      let at = Infinity
      for (const compiled of this.flags.valuesIterator()) {
        const next = compiled.schedule === null ? undefined : nextTransition(compiled.schedule.timeline, now)
        if (next !== undefined && next.at < at) at = next.at
      }
      held = this.upcoming = { revision: this.flags.revision, from: now, at }
    }
    return held.at === Infinity ? undefined : held.at
  }

  list(query: FlagListQuery): { flags: Flag[]; nextCursor?: string } {
    const matches = (flag: Flag) =>
      (query.state === undefined || flag.state === query.state) &&
      (query.tag === undefined || flag.tags.includes(query.tag)) &&
      (query.scheduled === undefined || (flag.schedule !== undefined) === query.scheduled)
    const { items, nextCursor } = pageAfter(this.keys(), query, (key) => this.flags.get(key)!.flag, matches)
    return { flags: items, nextCursor }
  }

  /** The keys of the flags whose rules name segment `key`, sorted. */
  usingSegment(key: string): string[] {
    return this.keys().filter((flag) => segmentsNamed(this.flags.get(flag)!.flag.rules ?? []).has(key))
  }

  /** A key used before continues its version sequence, so no ETag of a deleted flag matches the new one. */
  /** `options.allowPast`: a flags file or FLAGS_BOOTSTRAP_FILE, whose schedule may lie in the past (schedule.ts). */
  async create(input: FlagCreate, actor: Actor, options: { allowPast?: boolean } = {}): Promise<Flag> {
    const now = this.clock()
    const at = new Date(now).toISOString()
    const { rules = [], schedule, ...fields } = input
    this.checkGuardSource(schedule, 'body')
    const merged: Flag = { ...FLAG_DEFAULTS, ...fields, version: 1, createdAt: at, updatedAt: at, updatedBy: actor.name }
    const scheduled = settleSchedule(null, merged, { ...fields, schedule }, now, 'body', options.allowPast)
    const flag: Flag = this.settle(scheduled.flag, rules, 'body')
    const release = this.claimSegments(flag.rules ?? [], 'body')
    try {
      return await this.createNow(input, flag, actor, scheduled.change, now)
    } finally {
      release()
    }
  }

  private async createNow(input: FlagCreate, settled: Flag, actor: Actor, schedule: ScheduleChange | undefined, at: number): Promise<Flag> {
    let flag = settled
    const changes = diff(null, flag, MUTABLE_FIELDS)
    const written = await commitAndApply(this.writer(input.key, actor), async (conflict) => {
      if (conflict?.current) throw flagExists(input.key)
      // This replica may still hold a flag deleted elsewhere: the store decides.
      if (!conflict && this.flags.get(input.key) && (await this.store.readFlag(input.key))) throw flagExists(input.key)
      // The store holds a tombstone for the key: start where the deleted flag stopped.
      if (conflict) flag = { ...flag, version: conflict.lastVersion + 1 }
      const audit = draftEvent(actor, 'flag.created', { flag: flag.key, version: flag.version, schedule, at }, changes)
      return { kind: 'flag', key: flag.key, expectedVersion: 0, next: flag, audit }
    })
    return written!.next!
  }

  /** Merges a partial update; a PATCH that changes nothing answers the current flag unchanged. */
  async update(
    key: string,
    patch: FlagPatch,
    ifMatch: number | undefined,
    actor: Actor,
    options: { allowPast?: boolean } = {},
  ): Promise<{ flag: Flag; schedule?: ScheduleChange }> {
    const { rules, schedule: _schedule, ...fields } = patch
    this.checkGuardSource(patch.schedule, 'body')
    const release = rules === undefined ? () => {} : this.claimSegments(rules, 'body')
    let change: ScheduleChange | undefined
    try {
      const flag = await this.change(key, actor, ifMatch, (base) => {
        const scheduled = settleSchedule(base, { ...base, ...fields }, patch, this.clock(), 'body', options.allowPast)
        change = scheduled.change
        return { flag: this.settle(scheduled.flag, rules ?? base.rules ?? [], 'body', rules === undefined), schedule: change }
      })
      return { flag, ...(change === undefined ? {} : { schedule: change }) }
    } finally {
      release()
    }
  }

  /**
   * The guard's write (guards/runner.ts): its decision, on the version it judged (If-Match: a flag
   * changed since is judged again first), fenced by its lease, with its evidence in the audit event.
   */
  async guard(key: string, judged: number, decision: GuardDecision, evidence: GuardEvidence, fence: Fence, actor: Actor): Promise<Flag> {
    return this.change(
      key,
      actor,
      judged,
      (base) => {
        // Only a schedule the guard still watches: a resume only of its own hold (a person's pause is theirs).
        const schedule = base.schedule
        if (schedule?.guard === undefined || (decision.action === 'resume' && schedule.guardPause?.action !== 'hold')) {
          throw versionMismatch(key, base.version)
        }
        const settled = guardSettled(base, decision, this.clock())
        return { flag: settled.flag, schedule: settled.change }
      },
      { guard: evidence, fence },
    )
  }

  /** A guard a request sets names a source this server has (400 naming the field otherwise). */
  private checkGuardSource(schedule: FlagPatch['schedule'], body: string): void {
    const source = schedule?.guard?.source
    if (source === undefined || this.guardSources === undefined || this.guardSources.has(source)) return
    const known = [...this.guardSources].sort()
    const has = known.length === 0 ? 'none is configured (GUARD_PROMETHEUS_URL, GUARD_HTTP_SOURCES)' : `it has ${known.join(', ')}`
    throw validationFailed(`${body}.schedule.guard.source`, `names metric source '${source}', which this server does not have: ${has}`)
  }

  /**
   * Checks that every segment the rules name exists and holds them until the write has committed
   * (SegmentRegistry.claim), so a delete on this replica cannot land in between.
   */
  private claimSegments(rules: readonly RuleInput[], body: string): () => void {
    if (!this.segments) return () => {}
    this.checkSegments(rules, body)
    const claimed = this.segments.claim(segmentsNamed(rules))
    if (claimed.missing !== undefined) throw new AppError('UNKNOWN_SEGMENT', `segment '${claimed.missing}' is being deleted`, `${body}.rules`)
    return claimed.release
  }

  /**
   * Normalizes a flag and settles its rules (ids, NFC, the model's checks, named segments present),
   * and sets the model it needs. `keptRules`: the rules are the stored flag's own, already settled.
   */
  private settle(flag: Omit<Flag, 'rules'>, rules: readonly RuleInput[], body: string, keptRules = false): Flag {
    const settled: ReturnType<typeof settleRules> = keptRules ? { rules: rules as Rule[] } : settleRules(rules)
    if (settled.problem) throw validationFailed(`${body}.rules${settled.problem.field}`, settled.problem.message)
    if (!keptRules) this.checkSegments(settled.rules, body)
    const next = normalize({ ...flag, rules: settled.rules }, body)
    const problem = variantsProblem(next)
    if (problem) throw validationFailed(`${body}${problem.field}`, problem.message)
    return { ...next, model: modelOf(next) }
  }

  /** Every segment a rule names exists (409 UNKNOWN_SEGMENT naming the first that does not). */
  private checkSegments(rules: readonly RuleInput[], body: string): void {
    if (!this.segments) return
    for (const [i, rule] of rules.entries()) {
      for (const [j, clause] of rule.clauses.entries()) {
        if (clause.operator !== 'in_segment') continue
        const missing = clause.values.findIndex((v) => !this.segments!.has(String(v)))
        if (missing < 0) continue
        const field = `${body}.rules[${i}].clauses[${j}].values[${missing}]`
        throw new AppError('UNKNOWN_SEGMENT', `${field} names segment '${String(clause.values[missing])}', which does not exist`, field)
      }
    }
  }

  /**
   * Adds ids to and removes them from the beta lists in one atomic step, whatever else changes
   * the flag meanwhile (no If-Match needed): each attempt starts from the flag as it is.
   */
  async editTargets(key: string, edit: TargetsEdit, actor: Actor): Promise<Flag> {
    const lists = [
      ['users', 'betaUsers'],
      ['tenants', 'betaTenants'],
    ] as const
    for (const [side] of lists) {
      const removed = new Set((edit.remove?.[side] ?? []).map(toNfc))
      const both = (edit.add?.[side] ?? []).findIndex((id) => removed.has(toNfc(id)))
      if (both >= 0) throw validationFailed(`body.add.${side}[${both}]`, `is also in body.remove.${side}: an id is either added or removed`)
    }
    for (const [side] of lists) checkIdLengths(edit.add?.[side] ?? [], `body.add.${side}`)
    const edited = await this.change(key, actor, undefined, (base) => {
      const next: Flag = { ...base }
      for (const [side, field] of lists) {
        const removed = new Set((edit.remove?.[side] ?? []).map(toNfc))
        const list = [...new Set([...base[field].map(toNfc), ...(edit.add?.[side] ?? []).map(toNfc)])].filter((id) => !removed.has(id))
        if (list.length > MAX_BETA_IDS) throw validationFailed(`body.add.${side}`, `would make ${field} longer than ${MAX_BETA_IDS} ids`)
        next[field] = list
      }
      return { flag: next }
    })
    return edited
  }

  /**
   * The write path of an update: `apply` gives the flag's new fields from its current ones, once
   * this write's turn has come. When this replica's copy says nothing would change, the store's
   * copy decides: this replica may not hold a change made elsewhere yet, and an edit that would
   * undo it must still be written.
   */
  private async change(
    key: string,
    actor: Actor,
    ifMatch: number | undefined,
    apply: (base: Flag) => { flag: Flag; schedule?: ScheduleChange },
    extra: { guard?: GuardEvidence; fence?: Fence } = {},
  ): Promise<Flag> {
    let base: Flag | null = null
    const draft = (stored: Flag) => {
      const from = readable(stored)
      if (ifMatch !== undefined && from.version !== ifMatch) throw versionMismatch(key, from.version)
      const applied = apply(from)
      const at = this.clock()
      const next: Flag = { ...applied.flag, key, version: from.version + 1, updatedAt: new Date(at).toISOString(), updatedBy: actor.name }
      const changes = diff(from, next, MUTABLE_FIELDS)
      if (Object.keys(changes).length === 0) return null
      const audit = draftEvent(actor, 'flag.updated', { flag: key, version: next.version, schedule: applied.schedule, guard: extra.guard, at }, changes)
      return { kind: 'flag' as const, key, expectedVersion: from.version, next, audit, ...(extra.fence ? { fence: extra.fence } : {}) }
    }
    const written = await commitAndApply(this.writer(key, actor), async (conflict) => {
      base = conflict ? conflict.current : await this.base(key, ifMatch)
      if (!base) throw flagNotFound(key)
      const write = draft(base)
      if (write !== null || conflict) return write
      base = await this.store.readFlag(key)
      if (!base) throw flagNotFound(key)
      return draft(base)
    })
    return written ? written.next! : base!
  }

  async remove(key: string, ifMatch: number | undefined, actor: Actor): Promise<void> {
    await commitAndApply(this.writer(key, actor), async (conflict) => {
      const base = conflict ? conflict.current : await this.base(key, ifMatch)
      if (!base) throw flagNotFound(key)
      if (ifMatch !== undefined && base.version !== ifMatch) throw versionMismatch(key, base.version)
      readable(base)
      const audit = draftEvent(actor, 'flag.deleted', { flag: key, version: base.version, at: this.clock() }, diff(base, null, MUTABLE_FIELDS))
      return { kind: 'flag', key, expectedVersion: base.version, next: null, audit }
    })
  }

  private writer(key: string, actor: Actor): Writer {
    return {
      store: this.store,
      actor,
      what: `flag '${key}'`,
      queue: this.writes,
      key,
      deadlineMs: this.writeDeadlineMs,
      revision: this.applied,
      apply: (change) => {
        if (change.kind === 'flag') this.#apply(change.key, change.flag, change.seq)
      },
    }
  }

  /**
   * The flag a write starts from. A client may have read a newer version on another replica
   * than this one holds yet, or a flag created there this replica has not heard of: then the
   * store, not this replica, is asked.
   */
  private async base(key: string, ifMatch: number | undefined): Promise<Flag | null> {
    const local = this.flags.get(key)?.flag ?? null
    if (local === null || (ifMatch !== undefined && local.version < ifMatch)) {
      const stored = await this.store.readFlag(key)
      return stored && withModelDefaults(stored)
    }
    return local
  }

  /** Applies a committed change if it is newer than what this replica holds. */
  #apply(key: string, flag: Flag | null, seq: number): boolean {
    const previous = this.flags.get(key)?.flag ?? null
    const applied = this.flags.apply(key, seq, flag ? this.compile(flag) : null)
    if (applied) {
      this.sorted = null
      this.emit({ type: 'change', key, flag, previous, seq })
    }
    return applied
  }

  #reset(flags: readonly Flag[], seq: number, exact?: boolean): void {
    this.flags.reset(
      flags.map((f) => [f.key, this.compile(f)]),
      seq,
      exact,
    )
    this.sorted = null
    this.emit({ type: 'reset', seq })
  }

  /** Stored flags written before model 2 get its fields; rules find segments in this replica's registry. */
  private compile(flag: Flag): CompiledFlag {
    return compileFlag(withModelDefaults(flag), this.segments?.lookup)
  }

  private emit(event: FlagEvent): void {
    for (const listener of this.listeners) listener(event)
  }

  onChange(listener: FlagChangeListener): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }
}

/** Lists as sets, ids in NFC (so café is one user however it was typed; identity.ts). */
/** Tags and ids without duplicates, ids in NFC; `body` names the request's fields in errors. */
function normalize(flag: Flag, body: string): Flag {
  const betaUsers = [...new Set(flag.betaUsers.map(toNfc))]
  const betaTenants = [...new Set(flag.betaTenants.map(toNfc))]
  checkIdLengths(betaUsers, `${body}.betaUsers`)
  checkIdLengths(betaTenants, `${body}.betaTenants`)
  const normal = { ...flag, tags: [...new Set(flag.tags)], betaUsers, betaTenants }
  // No variants is a flag that answers on or off: `variants: []` makes it one again.
  if (normal.variants?.length === 0) {
    delete normal.variants
    delete normal.offVariant
  }
  return normal
}

/** NFC can lengthen an id (U+FB2C becomes three characters): the 200-character limit holds after it. */
function checkIdLengths(ids: readonly string[], field: string): void {
  const long = ids.findIndex((id) => toNfc(id).length > MAX_ID_LENGTH)
  if (long >= 0) throw validationFailed(`${field}[${long}]`, `must NOT have more than ${MAX_ID_LENGTH} characters in Unicode NFC`)
}

/**
 * A flag this build can change: one written by a newer build may hold fields this one does not know
 * and would drop, so it is refused (409) rather than rewritten.
 */
function readable(flag: Flag): Flag {
  const model = flag.model ?? 1
  if (model > MODEL_VERSION) {
    throw new AppError(
      'MODEL_UNSUPPORTED',
      `flag '${flag.key}' needs flag model ${model} and this server speaks up to ${MODEL_VERSION}: change it through an upgraded replica`,
    )
  }
  return withModelDefaults(flag)
}

const flagExists = (key: string) => new AppError('FLAG_EXISTS', `flag '${key}' already exists`)
const versionMismatch = (key: string, current: number) => new AppError('VERSION_MISMATCH', `flag '${key}' is at version ${current}; If-Match did not match`)
