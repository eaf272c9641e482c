// The segment registry: this replica's segments, compiled for the rules that name them. Members
// are held as id tables (core's segments/id-table.ts) and edited in place, so a million-member
// segment changes by its delta alone.
import { AppError, segmentNotFound, validationFailed } from '../errors.js'
import { draftEvent, type Actor } from '../audit/audit.js'
import { diff, listEdit } from '@switchyard/core/audit/diff'
import { commitAndApply, WRITE_DEADLINE_MS_DEFAULT, type Writer } from '../replica/commit-and-apply.js'
import { KeyQueue } from '../replica/key-queue.js'
import { AppliedRevision } from '../replica/revision.js'
import type { ReplicatedSegments, SegmentRecordChange } from '../replica/sync.js'
import type { ConflictError } from '../store/errors.js'
import type { Members, MembersChange, SegmentHead, SegmentWrite, Store } from '../store/store.js'
import { pageAfter } from '../paging.js'
import { VersionedMap } from '@switchyard/core/replica/versioned-map'
import { compileSegment, editMembers, replaceMembers, type MutableSegment } from '@switchyard/core/segments/compile'
import { IdTable } from '@switchyard/core/segments/id-table'
import { settleClauses } from '@switchyard/core/flags/model'
import { toNfc } from '@switchyard/core/flags/identity'
import type { FieldChange } from '@switchyard/core/audit/schema'
import type { TargetsEdit } from '@switchyard/core/flags/schema'
import {
  MAX_SEGMENT_MEMBERS,
  SEGMENT_DEFAULTS,
  SEGMENT_MUTABLE_FIELDS,
  type Segment,
  type SegmentCreate,
  type SegmentPatch,
  type SegmentSummary,
} from '@switchyard/core/segments/schema'

/** A segment as this replica holds it: its head (the record without members) and its compiled form. */
export interface HeldSegment {
  readonly head: SegmentHead
  readonly compiled: MutableSegment
}

/** A segment changed (`head` null: deleted), with how its members changed; or every segment replaced. */
/** `from`: the version held before (0: none); `size`/`previousSize`: members after and before. */
export type SegmentEvent =
  | { type: 'change'; key: string; seq: number; head: SegmentHead | null; members: MembersChange; from: number; size: number; previousSize: number }
  | { type: 'reset'; seq: number }

const HEAD_FIELDS = SEGMENT_MUTABLE_FIELDS.filter((f) => f !== 'users' && f !== 'tenants')

export class SegmentRegistry {
  private readonly segments = new VersionedMap<HeldSegment>((s) => `${s.head.key}\0${s.head.version}\0${s.head.updatedAt}`)
  private sorted: string[] | null = null
  private readonly listeners = new Set<(event: SegmentEvent) => void>()
  private readonly writes = new KeyQueue()
  /** Segments named by flag writes not yet committed (claim()), and segments whose delete is. */
  private readonly claims = new Map<string, number>()
  private readonly deleting = new Set<string>()
  /** Which flags name a segment, for a delete (set by the composition root). */
  usedBy: (key: string) => string[] = () => []

  private constructor(
    private readonly store: Store,
    private readonly writeDeadlineMs: number,
    private readonly applied: AppliedRevision,
  ) {}

  static create(
    store: Store,
    options: { writeDeadlineMs?: number; revision?: AppliedRevision } = {},
  ): { registry: SegmentRegistry; replica: ReplicatedSegments } {
    const registry = new SegmentRegistry(store, options.writeDeadlineMs ?? WRITE_DEADLINE_MS_DEFAULT, options.revision ?? new AppliedRevision())
    return {
      registry,
      replica: { apply: (key, change, seq) => registry.#apply(key, change, seq), reset: (all, seq, exact) => registry.#reset(all, seq, exact) },
    }
  }

  /** The compiled segment rules look up at evaluation time. */
  readonly lookup = (key: string): MutableSegment | undefined => this.segments.get(key)?.compiled

  has(key: string): boolean {
    return this.segments.get(key) !== undefined
  }

  /**
   * Holds segments a flag write names until it has committed, so a delete on this replica cannot
   * slip between that write's check and its commit (409 SEGMENT_IN_USE meanwhile). Answers the first
   * key that does not exist or is being deleted, claiming nothing then; else the release.
   */
  claim(keys: Iterable<string>): { missing: string; release?: undefined } | { release: () => void; missing?: undefined } {
    const list = [...keys]
    const missing = list.find((key) => !this.has(key) || this.deleting.has(key))
    if (missing !== undefined) return { missing }
    for (const key of list) this.claims.set(key, (this.claims.get(key) ?? 0) + 1)
    let released = false
    return {
      release: () => {
        if (released) return
        released = true
        for (const key of list) {
          const left = this.claims.get(key)! - 1
          if (left > 0) this.claims.set(key, left)
          else this.claims.delete(key)
        }
      },
    }
  }

  head(key: string): SegmentHead | undefined {
    return this.segments.get(key)?.head
  }

  get size(): number {
    return this.segments.size
  }

  get digest(): string {
    return this.segments.digest
  }

  /** Moves whenever a segment changes (VersionedMap.revision): answers that depend on segments carry it. */
  get revision(): string {
    return this.segments.revision
  }

  /** The whole segment, members as lists (a million ids: for GET and exports, not the hot path). */
  full(key: string): Segment | undefined {
    const held = this.segments.get(key)
    return held && { ...held.head, users: [...held.compiled.users], tenants: [...held.compiled.tenants] }
  }

  /** Members, users and tenants together. */
  sizeOf(key: string): number {
    const held = this.segments.get(key)
    return held ? held.compiled.users.size + held.compiled.tenants.size : 0
  }

  /** Every segment's head, in key order. */
  heads(): SegmentHead[] {
    return this.keys().map((key) => this.segments.get(key)!.head)
  }

  summary(key: string): SegmentSummary | undefined {
    const held = this.segments.get(key)
    return held && { ...held.head, userCount: held.compiled.users.size, tenantCount: held.compiled.tenants.size }
  }

  keys(): readonly string[] {
    return (this.sorted ??= [...this.segments.valuesIterator()].map((s) => s.head.key).sort())
  }

  all(): Segment[] {
    return this.keys().map((key) => this.full(key)!)
  }

  list(query: { after?: string; limit: number }): { segments: SegmentSummary[]; nextCursor?: string } {
    const { items, nextCursor } = pageAfter(this.keys(), query, (key) => this.summary(key)!)
    return { segments: items, nextCursor }
  }

  async create(input: SegmentCreate, actor: Actor): Promise<Segment> {
    const now = new Date().toISOString()
    const { users, tenants, ...fields } = { ...SEGMENT_DEFAULTS, ...input }
    const members: Members = { users: idSet(users, 'body.users'), tenants: idSet(tenants, 'body.tenants') }
    let head: SegmentHead = settleHead({ ...fields, key: input.key, version: 1, createdAt: now, updatedAt: now, updatedBy: actor.name }, 'body')
    const changes = diff(null, { ...head, ...members }, SEGMENT_MUTABLE_FIELDS)
    await commitAndApply(this.writer(input.key, actor), async (conflict?: ConflictError<SegmentHead>) => {
      if (conflict?.current) throw segmentExists(input.key)
      if (!conflict && this.has(input.key) && (await this.store.readSegment(input.key))) throw segmentExists(input.key)
      if (conflict) head = { ...head, version: conflict.lastVersion + 1 }
      const audit = draftEvent(actor, 'segment.created', { segment: input.key, version: head.version }, changes)
      return { kind: 'segment', key: input.key, expectedVersion: 0, head, members: { op: 'replace', ...members }, audit } satisfies SegmentWrite
    })
    return this.full(input.key) ?? { ...head, ...members }
  }

  async update(key: string, patch: SegmentPatch, ifMatch: number | undefined, actor: Actor): Promise<Segment> {
    const { users, tenants, ...fields } = patch
    const replaced = users !== undefined || tenants !== undefined
    const settled: Partial<Members> = {}
    if (users !== undefined) settled.users = idSet(users, 'body.users')
    if (tenants !== undefined) settled.tenants = idSet(tenants, 'body.tenants')
    await this.change(key, actor, ifMatch, (base, held) => {
      const head = settleHead({ ...base, ...fields }, 'body')
      if (!replaced) return { head, members: { op: 'same' }, changes: {} }
      // Only the lists the PATCH names are replaced (and travel): the other may hold a million ids.
      const sides = (['users', 'tenants'] as const).filter((side) => settled[side] !== undefined)
      const before = Object.fromEntries(sides.map((side) => [side, [...held[side]]]))
      const changes = diff(before, settled, sides)
      return { head, members: { op: 'replace', ...settled }, changes }
    })
    return this.full(key)!
  }

  /** Adds and removes members in one atomic step, whatever else changes the segment meanwhile (no If-Match). */
  async editTargets(key: string, edit: TargetsEdit, actor: Actor): Promise<SegmentSummary> {
    const wanted = {
      add: { users: edit.add?.users ?? [], tenants: edit.add?.tenants ?? [] },
      remove: { users: edit.remove?.users ?? [], tenants: edit.remove?.tenants ?? [] },
    }
    for (const side of ['users', 'tenants'] as const) {
      const removed = new Set(wanted.remove[side].map(toNfc))
      const both = wanted.add[side].findIndex((id) => removed.has(toNfc(id)))
      if (both >= 0) throw validationFailed(`body.add.${side}[${both}]`, `is also in body.remove.${side}: an id is either added or removed`)
      wanted.add[side] = idSet(wanted.add[side], `body.add.${side}`)
      wanted.remove[side] = [...removed]
    }
    await this.change(key, actor, undefined, (base, held) => {
      // Only what actually changes travels and is audited: ids already in (to add) or out (to remove) drop out.
      const add = { users: wanted.add.users.filter((id) => !held.users.has(id)), tenants: wanted.add.tenants.filter((id) => !held.tenants.has(id)) }
      const remove = { users: wanted.remove.users.filter((id) => held.users.has(id)), tenants: wanted.remove.tenants.filter((id) => held.tenants.has(id)) }
      const size = held.users.size + held.tenants.size + add.users.length + add.tenants.length - remove.users.length - remove.tenants.length
      if (size > MAX_SEGMENT_MEMBERS) throw validationFailed('body.add', `would make segment '${key}' hold ${size} members, more than ${MAX_SEGMENT_MEMBERS}`)
      const changes: Record<string, FieldChange> = {}
      for (const side of ['users', 'tenants'] as const) {
        const change = listEdit(add[side], remove[side])
        if (change) changes[side] = change
      }
      return { head: base, members: { op: 'edit', add, remove }, changes }
    })
    return this.summary(key)!
  }

  /**
   * The write path of a change: `apply` gives the new head and members from the current ones, once
   * this write's turn has come; nothing changed (no field, no member): no write.
   */
  private async change(
    key: string,
    actor: Actor,
    ifMatch: number | undefined,
    apply: (base: SegmentHead, held: MutableSegment) => { head: SegmentHead; members: MembersChange; changes: Record<string, FieldChange> },
  ): Promise<void> {
    await commitAndApply(this.writer(key, actor), async (conflict?: ConflictError<SegmentHead>) => {
      const held = this.segments.get(key)
      // Members are edited against this replica's copy: a conflict means another replica wrote first,
      // and its change reaches this one before the retry (or the store is asked for the head alone).
      const base = conflict ? conflict.current : (held?.head ?? (await this.store.readSegment(key)))
      if (!base || !held) throw segmentNotFound(key)
      if (ifMatch !== undefined && base.version !== ifMatch) throw versionMismatch(key, base.version)
      if (conflict && held.head.version !== base.version) await this.caughtUp(key, base.version)
      const { head, members, changes } = apply(base, this.segments.get(key)!.compiled)
      const next: SegmentHead = { ...head, key, version: base.version + 1, updatedAt: new Date().toISOString(), updatedBy: actor.name }
      const all = { ...diff(base, next, HEAD_FIELDS), ...changes }
      if (Object.keys(all).length === 0) return null
      const audit = draftEvent(actor, 'segment.updated', { segment: key, version: next.version }, all)
      return { kind: 'segment', key, expectedVersion: base.version, head: next, members, audit } satisfies SegmentWrite
    })
  }

  /** Waits (briefly) until this replica holds `version` of a segment another replica just wrote. */
  private async caughtUp(key: string, version: number): Promise<void> {
    for (let i = 0; i < 100 && (this.segments.get(key)?.head.version ?? 0) < version; i++) await new Promise((resolve) => setTimeout(resolve, 20))
  }

  async remove(key: string, ifMatch: number | undefined, actor: Actor): Promise<void> {
    try {
      await this.removeNow(key, ifMatch, actor)
    } finally {
      this.deleting.delete(key)
    }
  }

  private async removeNow(key: string, ifMatch: number | undefined, actor: Actor): Promise<void> {
    await commitAndApply(this.writer(key, actor), async (conflict?: ConflictError<SegmentHead>) => {
      const base = conflict ? conflict.current : (this.head(key) ?? (await this.store.readSegment(key)))
      if (!base) throw segmentNotFound(key)
      if (ifMatch !== undefined && base.version !== ifMatch) throw versionMismatch(key, base.version)
      const users = this.usedBy(key)
      if (users.length > 0) {
        const names = users.map((f) => `'${f}'`).join(', ')
        throw new AppError(
          'SEGMENT_IN_USE',
          `segment '${key}' is used by the rules of ${users.length === 1 ? 'flag' : 'flags'} ${names}: change those rules first`,
        )
      }
      if (this.claims.has(key)) throw new AppError('SEGMENT_IN_USE', `segment '${key}' is named by a flag write in progress: retry once it has finished`)
      // From here until the delete commits, a flag write naming the segment is refused (claim()).
      this.deleting.add(key)
      const held = this.segments.get(key)?.compiled
      const changes = diff({ ...base, users: [...(held?.users ?? [])], tenants: [...(held?.tenants ?? [])] }, null, SEGMENT_MUTABLE_FIELDS)
      const audit = draftEvent(actor, 'segment.deleted', { segment: key, version: base.version }, changes)
      return { kind: 'segment', key, expectedVersion: base.version, head: null, members: { op: 'same' }, audit } satisfies SegmentWrite
    })
  }

  private writer(key: string, actor: Actor): Writer {
    return {
      store: this.store,
      actor,
      what: `segment '${key}'`,
      queue: this.writes,
      key,
      deadlineMs: this.writeDeadlineMs,
      revision: this.applied,
      apply: (change) => {
        if (change.kind === 'segment') this.#apply(change.key, change, change.seq)
      },
    }
  }

  #apply(key: string, change: SegmentRecordChange, seq: number): boolean {
    if (!this.segments.isNewer(key, seq)) return false
    const held = this.segments.get(key)
    const from = held?.head.version ?? 0
    const previousSize = held ? held.compiled.users.size + held.compiled.tenants.size : 0
    let next: HeldSegment | null = null
    if (change.head !== null) {
      const { head, members } = change
      if (!held) {
        const users = members.op === 'replace' ? (members.users ?? []) : []
        const tenants = members.op === 'replace' ? (members.tenants ?? []) : []
        next = { head, compiled: compileSegment(head, IdTable.from(users), IdTable.from(tenants)) }
      } else {
        if (members.op === 'edit') editMembers(held.compiled, members.add, members.remove)
        else if (members.op === 'replace') replaceMembers(held.compiled, members)
        // The member tables carry over; the rest is compiled again only when it changed (by value:
        // a head from the store or another replica is a new object every time).
        next = {
          head,
          compiled: sameRest(head, held.head) ? held.compiled : compileSegment(head, held.compiled.users, held.compiled.tenants, true, held.compiled.nfc),
        }
      }
    }
    this.segments.apply(key, seq, next)
    this.sorted = null
    const size = next ? next.compiled.users.size + next.compiled.tenants.size : 0
    this.emit({ type: 'change', key, seq, head: change.head, members: change.members, from, size, previousSize })
    return true
  }

  #reset(all: readonly Segment[], seq: number, exact?: boolean): void {
    this.segments.reset(
      all.map(({ users, tenants, ...head }) => [
        head.key,
        { head, compiled: compileSegment(head, IdTable.from(users.map(toNfc)), IdTable.from(tenants.map(toNfc))) },
      ]),
      seq,
      exact,
    )
    this.sorted = null
    this.emit({ type: 'reset', seq })
  }

  private emit(event: SegmentEvent): void {
    for (const listener of this.listeners) listener(event)
  }

  onChange(listener: (event: SegmentEvent) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }
}

/** Whether two heads of a segment match the same contexts apart from members: clauses and exclusions equal by value. */
function sameRest(a: SegmentHead, b: SegmentHead): boolean {
  const same = (x: unknown, y: unknown) => x === y || JSON.stringify(x) === JSON.stringify(y)
  return same(a.clauses, b.clauses) && same(a.excludedUsers, b.excludedUsers) && same(a.excludedTenants, b.excludedTenants)
}

/** Clauses checked and settled, excluded ids as NFC sets; `body` names the request's fields in errors. */
function settleHead(head: SegmentHead, body: string): SegmentHead {
  const settled = settleClauses(head.clauses)
  if (settled.problem) throw validationFailed(`${body}.clauses${settled.problem.field}`, settled.problem.message)
  return {
    ...head,
    clauses: settled.clauses,
    excludedUsers: idSet(head.excludedUsers, `${body}.excludedUsers`),
    excludedTenants: idSet(head.excludedTenants, `${body}.excludedTenants`),
  }
}

function idSet(ids: readonly string[], field: string): string[] {
  const nfc = ids.map(toNfc)
  const long = nfc.findIndex((id) => id.length > 200)
  if (long >= 0) throw validationFailed(`${field}[${long}]`, 'must NOT have more than 200 characters in Unicode NFC')
  return [...new Set(nfc)]
}

const segmentExists = (key: string) => new AppError('SEGMENT_EXISTS', `segment '${key}' already exists`)
const versionMismatch = (key: string, current: number) => new AppError('VERSION_MISMATCH', `segment '${key}' is at version ${current}; If-Match did not match`)
