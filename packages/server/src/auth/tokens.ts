// The token registry: resolves a presented secret to a named, scoped token in constant time
// with respect to the secret (it is hashed first; only hashes are looked up or stored).
import { hash, randomBytes, randomUUID } from 'node:crypto'
import { AppError, validationFailed } from '../errors.js'
import { draftEvent, isBuiltInActor, type Actor } from '../audit/audit.js'
import { commitAndApply, WRITE_DEADLINE_MS_DEFAULT, type Writer } from '../replica/commit-and-apply.js'
import { KeyQueue } from '../replica/key-queue.js'
import { AppliedRevision } from '../replica/revision.js'
import type { Replicated } from '../replica/sync.js'
import type { Store } from '../store/store.js'
import { pageAfter } from '../paging.js'
import { VersionedMap } from '@switchyard/core/replica/versioned-map'
import type { Scope, TokenRecord } from '@switchyard/core/auth/schema'

const BOOTSTRAP_TOKEN_ID = 'bootstrap'

// The one-shot crypto.hash (Node 20.12+) costs a third of createHash on every request.
function hashSecret(secret: string): string {
  return hash('sha256', secret, 'hex')
}

export function generateSecret(): string {
  return `sy_${randomBytes(32).toString('base64url')}`
}

/** What POST /tokens asks for. */
interface TokenCreateInput {
  name: string
  scope: Scope
  expiresAt?: string
}

interface TokenListQuery {
  /** Ids sort ascending; the page starts after this id. */
  after?: string
  limit: number
}

/** A token as GET /tokens lists it: its record, and when this replica last accepted it. */
type TokenListing = TokenRecord & { lastUsedAt?: string }

/** A token as this replica resolves it: its expiry parsed once, and its last use here. */
interface Held {
  record: TokenRecord
  /** Infinity without expiresAt; -Infinity for one that does not parse (fail closed). */
  expiresAtMs: number
  /** When this replica last accepted it (0: not since it started). Memory only: docs/decisions/token-last-used.md. */
  lastUsedMs: number
}

function expiryOf(record: TokenRecord): number {
  if (record.expiresAt === undefined) return Infinity
  const ms = Date.parse(record.expiresAt)
  return Number.isNaN(ms) ? -Infinity : ms
}

const held = (record: TokenRecord, lastUsedMs = 0): Held => ({ record, expiresAtMs: expiryOf(record), lastUsedMs })

const TOKENS_MAX_DEFAULT = 10_000

export class TokenRegistry {
  private readonly tokens = new VersionedMap<TokenRecord>((r) => `${r.id}\0${r.hash}`)
  private readonly byHash = new Map<string, Held>()
  private bootstrap?: TokenRecord
  /** Every id, the bootstrap token's included, sorted; rebuilt after a change. */
  private sorted: string[] | null = null
  /** Names being created on this replica, so concurrent creates cannot both pass the name and TOKENS_MAX checks. */
  private readonly creating = new Set<string>()

  private constructor(
    private readonly store: Store,
    private readonly options: { max?: number; writeDeadlineMs?: number; revision: AppliedRevision },
  ) {}

  private readonly writes = new KeyQueue()

  /** A registry, and the one handle that changes what it holds: for the StoreSync alone. */
  static create(
    store: Store,
    options: { max?: number; writeDeadlineMs?: number; revision?: AppliedRevision } = {},
  ): { registry: TokenRegistry; replica: Replicated<TokenRecord> } {
    const registry = new TokenRegistry(store, { ...options, revision: options.revision ?? new AppliedRevision() })
    const replica: Replicated<TokenRecord> = {
      apply: (id, record, seq) => registry.#apply(id, record, seq),
      reset: (records, seq, exact) => registry.#reset(records, seq, exact),
    }
    return { registry, replica }
  }

  /** The admin token from ADMIN_TOKEN (or generated at startup): held in memory, never stored. */
  setBootstrap(secret: string): void {
    if (this.bootstrap) this.byHash.delete(this.bootstrap.hash)
    this.bootstrap = {
      id: BOOTSTRAP_TOKEN_ID,
      name: 'bootstrap',
      scope: 'admin',
      hash: hashSecret(secret),
      createdAt: new Date().toISOString(),
      createdBy: 'environment',
    }
    this.byHash.set(this.bootstrap.hash, held(this.bootstrap))
    this.sorted = null
  }

  /** The stored tokens held, as a hash equal on replicas that hold the same ones (VersionedMap.digest). */
  get digest(): string {
    return this.tokens.digest
  }

  /** The token with this id (the bootstrap token included), if it exists on this replica. */
  find(id: string): TokenRecord | undefined {
    return id === BOOTSTRAP_TOKEN_ID ? this.bootstrap : this.tokens.get(id)
  }

  /**
   * The token behind a secret, or undefined for one unknown, revoked or expired. Expiry is checked
   * here, where every replica admits every request, so a replica that learned of the token from
   * the store enforces it too. Notes the use, in memory.
   */
  resolve(secret: string, nowMs = Date.now()): TokenRecord | undefined {
    const token = this.byHash.get(hashSecret(secret))
    if (token === undefined || token.expiresAtMs <= nowMs) return undefined
    token.lastUsedMs = nowMs
    return token.record
  }

  /** Whether `record` has expired at `nowMs`; one without expiresAt never does. */
  isExpired(record: TokenRecord, nowMs: number): boolean {
    return expiryOf(record) <= nowMs
  }

  /** The tokens the store holds (not the bootstrap token), as this replica holds them. */
  stored(): TokenRecord[] {
    return [...this.tokens.valuesIterator()]
  }

  /** Every token, the bootstrap token's included, by id. */
  list(): TokenRecord[] {
    return this.sortedIds().map((id) => this.find(id)!)
  }

  /** A page of tokens by id, expired ones included; a cursor only when another token follows. */
  page(query: TokenListQuery): { tokens: TokenListing[]; nextCursor?: string } {
    const { items, nextCursor } = pageAfter(this.sortedIds(), query, (id) => this.find(id)!)
    const tokens = items.map((record) => {
      const lastUsedMs = this.byHash.get(record.hash)?.lastUsedMs ?? 0
      return lastUsedMs > 0 ? { ...record, lastUsedAt: new Date(lastUsedMs).toISOString() } : record
    })
    return { tokens, nextCursor }
  }

  async create(input: TokenCreateInput, actor: Actor, nowMs = Date.now()): Promise<{ record: TokenRecord; secret: string }> {
    const { name, scope } = input
    if (isBuiltInActor(name)) {
      throw validationFailed('body.name', `must not be '${name}': that is a built-in actor's name, and the audit trail must tell them apart`)
    }
    let expiresAt: string | undefined
    if (input.expiresAt !== undefined) {
      const ms = Date.parse(input.expiresAt)
      if (!(ms > nowMs)) throw validationFailed('body.expiresAt', 'must be in the future')
      expiresAt = new Date(ms).toISOString()
    }
    if (this.creating.has(name) || this.hasActive(name, nowMs)) {
      throw new AppError('TOKEN_EXISTS', `an active token is already named '${name}'; revoke it or choose another name`)
    }
    const max = this.options.max ?? TOKENS_MAX_DEFAULT
    if (this.tokens.size + this.creating.size >= max) {
      throw new AppError(
        'TOKEN_LIMIT_REACHED',
        `the service holds its limit of ${max} tokens (TOKENS_MAX); revoke tokens no longer needed, expired ones included`,
      )
    }
    this.creating.add(name)
    try {
      const secret = generateSecret()
      const record: TokenRecord = {
        id: `tok_${randomUUID().replaceAll('-', '').slice(0, 20)}`,
        name,
        scope,
        hash: hashSecret(secret),
        createdAt: new Date(nowMs).toISOString(),
        createdBy: actor.name,
        ...(expiresAt === undefined ? {} : { expiresAt }),
      }
      const changes = {
        name: { before: null, after: name },
        scope: { before: null, after: scope },
        ...(expiresAt === undefined ? {} : { expiresAt: { before: null, after: expiresAt } }),
      }
      const audit = draftEvent(actor, 'token.created', { tokenId: record.id }, changes)
      await commitAndApply(this.writer(record.id, actor), () => ({ kind: 'token', id: record.id, next: record, audit }))
      return { record, secret }
    } finally {
      this.creating.delete(name)
    }
  }

  /** Whether an unexpired token has this name; revoked ones are gone, so their names are free. */
  private hasActive(name: string, nowMs: number): boolean {
    for (const record of this.tokens.valuesIterator()) if (record.name === name && !this.isExpired(record, nowMs)) return true
    return false
  }

  private sortedIds(): string[] {
    if (!this.sorted) {
      const ids = [...this.tokens.valuesIterator()].map((r) => r.id)
      if (this.bootstrap) ids.push(this.bootstrap.id)
      this.sorted = ids.sort()
    }
    return this.sorted
  }

  async revoke(id: string, actor: Actor): Promise<void> {
    if (id === BOOTSTRAP_TOKEN_ID) {
      throw new AppError('TOKEN_PROTECTED', 'the bootstrap token comes from ADMIN_TOKEN; change or unset that variable and restart to retire it')
    }
    const record = this.tokens.get(id)
    if (!record) throw new AppError('TOKEN_NOT_FOUND', `token '${id}' does not exist`)
    const audit = draftEvent(
      actor,
      'token.revoked',
      { tokenId: id },
      { name: { before: record.name, after: null }, scope: { before: record.scope, after: null } },
    )
    await commitAndApply(this.writer(id, actor), () => ({ kind: 'token', id, next: null, audit }))
  }

  private writer(id: string, actor: Actor): Writer {
    return {
      store: this.store,
      actor,
      what: `token '${id}'`,
      queue: this.writes,
      key: id,
      deadlineMs: this.options.writeDeadlineMs ?? WRITE_DEADLINE_MS_DEFAULT,
      revision: this.options.revision,
      apply: (change) => {
        if (change.kind === 'token') this.#apply(change.id, change.token, change.seq)
      },
    }
  }

  #apply(id: string, record: TokenRecord | null, seq: number): boolean {
    const previous = this.tokens.get(id)
    if (!this.tokens.apply(id, seq, record)) return false
    const lastUsedMs = previous ? this.byHash.get(previous.hash)?.lastUsedMs : undefined
    if (previous) this.byHash.delete(previous.hash)
    if (record) this.byHash.set(record.hash, held(record, lastUsedMs))
    this.sorted = null
    return true
  }

  #reset(records: readonly TokenRecord[], seq: number, exact?: boolean): void {
    this.tokens.reset(
      records.map((r) => [r.id, r]),
      seq,
      exact,
    )
    // A resync keeps what this replica knows of each token's last use.
    const lastUsed = new Map([...this.byHash].map(([hash, token]) => [hash, token.lastUsedMs]))
    this.byHash.clear()
    if (this.bootstrap) this.byHash.set(this.bootstrap.hash, held(this.bootstrap, lastUsed.get(this.bootstrap.hash)))
    for (const r of this.tokens.valuesIterator()) this.byHash.set(r.hash, held(r, lastUsed.get(r.hash)))
    this.sorted = null
  }
}
