// The token registry: resolves a presented secret to a named, scoped token in constant time
// with respect to the secret (it is hashed first; only hashes are looked up or stored).
import { hash, randomBytes, randomUUID } from 'node:crypto'
import { AppError } from '../errors.js'
import { draftEvent, logAudit, type Actor } from '../audit/audit.js'
import type { Store } from '../store/store.js'
import { VersionedMap } from '../store/versioned-map.js'
import type { Scope, TokenRecord } from './schema.js'

export const BOOTSTRAP_TOKEN_ID = 'bootstrap'

// The one-shot crypto.hash (Node 20.12+) costs a third of createHash on every request.
export function hashSecret(secret: string): string {
  return hash('sha256', secret, 'hex')
}

export function generateSecret(): string {
  return `sy_${randomBytes(32).toString('base64url')}`
}

export class TokenRegistry {
  private readonly tokens = new VersionedMap<TokenRecord>()
  private readonly byHash = new Map<string, TokenRecord>()
  private bootstrap?: TokenRecord

  constructor(private readonly store: Store) {}

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
    this.byHash.set(this.bootstrap.hash, this.bootstrap)
  }

  resolve(secret: string): TokenRecord | undefined {
    return this.byHash.get(hashSecret(secret))
  }

  list(): TokenRecord[] {
    const all = [...this.tokens.valuesIterator()].sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id))
    return this.bootstrap ? [this.bootstrap, ...all] : all
  }

  async create(name: string, scope: Scope, actor: Actor): Promise<{ record: TokenRecord; secret: string }> {
    const secret = generateSecret()
    const record: TokenRecord = {
      id: `tok_${randomUUID().replaceAll('-', '').slice(0, 20)}`,
      name,
      scope,
      hash: hashSecret(secret),
      createdAt: new Date().toISOString(),
      createdBy: actor.name,
    }
    const audit = draftEvent(actor, 'token.created', { tokenId: record.id }, { name: { before: null, after: name }, scope: { before: null, after: scope } })
    const change = await this.store.commit({ kind: 'token', id: record.id, next: record, audit })
    this.apply(record.id, record, change.seq)
    logAudit(actor, { ...audit, seq: change.seq })
    return { record, secret }
  }

  async revoke(id: string, actor: Actor): Promise<void> {
    if (id === BOOTSTRAP_TOKEN_ID) {
      throw new AppError('TOKEN_PROTECTED', 'the bootstrap token comes from ADMIN_TOKEN; change or unset that variable and restart to retire it')
    }
    const record = this.tokens.get(id)
    if (!record) throw new AppError('TOKEN_NOT_FOUND', `token '${id}' does not exist`)
    const audit = draftEvent(actor, 'token.revoked', { tokenId: id }, { name: { before: record.name, after: null }, scope: { before: record.scope, after: null } })
    const change = await this.store.commit({ kind: 'token', id, next: null, audit })
    this.apply(id, null, change.seq)
    logAudit(actor, { ...audit, seq: change.seq })
  }

  apply(id: string, record: TokenRecord | null, seq: number): boolean {
    const previous = this.tokens.get(id)
    if (!this.tokens.apply(id, seq, record)) return false
    if (previous) this.byHash.delete(previous.hash)
    if (record) this.byHash.set(record.hash, record)
    return true
  }

  reset(records: readonly TokenRecord[], seq: number): void {
    this.tokens.reset(
      records.map((r) => [r.id, r]),
      seq,
    )
    this.byHash.clear()
    if (this.bootstrap) this.byHash.set(this.bootstrap.hash, this.bootstrap)
    for (const r of this.tokens.valuesIterator()) this.byHash.set(r.hash, r)
  }
}
