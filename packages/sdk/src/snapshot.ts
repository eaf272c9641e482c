// The state a client answers from before its stream connects: the last state it saved
// (`persistTo`), else a snapshot the app ships (`bootstrap`: an object, or a JSON file such as
// `flagctl export -o flags.json` writes). Checked here without a schema library: the SDK has no
// runtime dependencies.
import { randomBytes } from 'node:crypto'
import { readFile, rename, writeFile } from 'node:fs/promises'
import { FLAG_DEFAULTS, FLAG_STATES, SEGMENT_DEFAULTS, STICKINESS } from '@switchyard/core/flags/defaults'
import type { Flag } from './types.js'
import type { SegmentRecord } from './segments.js'

/** A flags file's shape: `{flags: [{key, state?, percentage?, betaUsers?, betaTenants?, stickiness?, variants?, offVariant?, …}]}`. */
export interface BootstrapSnapshot {
  flags: (Partial<Flag> & { key: string })[]
  /** Segments the flags' rules name, as a flags file lists them. */
  segments?: (Record<string, unknown> & { key: string })[]
}

export interface HeldState {
  flags: Flag[]
  segments?: SegmentRecord[]
  seq: number
  epoch?: string
}

/** Marks a file this SDK wrote, so a bootstrap file is never mistaken for one. */
const SAVED_BY = 'switchyard-sdk-state'

export class SnapshotError extends Error {
  override name = 'SnapshotError'
  /** The file at `persistTo` is not one this SDK wrote: it must not be overwritten either. */
  foreign = false
}

/**
 * The records of one list of a snapshot (`flags`, `segments`), each an object with a unique key,
 * every field left out at its default (version 0: not from a store); `check` refuses a bad field.
 */
function recordsOf<R>(list: unknown, what: string, defaults: object, check: (record: R, at: string) => void): R[] {
  const seen = new Set<string>()
  return (list as unknown[]).map((item, i) => {
    const at = `${what}[${i}]`
    if (typeof item !== 'object' || item === null) throw new SnapshotError(`${at} must be an object`)
    const r = item as Record<string, unknown>
    if (typeof r.key !== 'string' || r.key === '') throw new SnapshotError(`${at}.key must be a non-empty string`)
    if (seen.has(r.key)) throw new SnapshotError(`${at}.key '${r.key}' appears twice`)
    seen.add(r.key)
    const stamp = { version: 0, createdAt: new Date(0).toISOString(), updatedAt: new Date(0).toISOString(), updatedBy: 'bootstrap' }
    const record = { ...defaults, ...stamp, ...r } as unknown as R
    check(record, at)
    return record
  })
}

function checkIds(record: Record<string, unknown>, fields: readonly string[], at: string): void {
  for (const field of fields) {
    const ids = record[field]
    if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string')) throw new SnapshotError(`${at}.${field} must be a list of strings`)
  }
}

/** A snapshot's flags as full flags. */
export function flagsOf(snapshot: unknown, source: string): Flag[] {
  const list = (snapshot as { flags?: unknown } | null)?.flags
  if (!Array.isArray(list)) throw new SnapshotError(`${source}: expected {"flags": [...]}`)
  return recordsOf<Flag>(list, `${source}: flags`, FLAG_DEFAULTS, (flag, at) => {
    if (!(FLAG_STATES as readonly string[]).includes(flag.state)) throw new SnapshotError(`${at}.state must be one of ${FLAG_STATES.join(', ')}`)
    if (typeof flag.percentage !== 'number' || !(flag.percentage >= 0 && flag.percentage <= 100)) throw new SnapshotError(`${at}.percentage must be 0–100`)
    if (!(STICKINESS as readonly string[]).includes(flag.stickiness)) throw new SnapshotError(`${at}.stickiness must be one of ${STICKINESS.join(', ')}`)
    checkIds(flag as unknown as Record<string, unknown>, ['betaUsers', 'betaTenants'], at)
    checkVariants(flag, at)
  })
}

/** A flag's variants as the engine needs them: keys unique, values present, the offVariant declared. */
function checkVariants(flag: Flag, at: string): void {
  if (flag.variants === undefined) {
    if (flag.offVariant !== undefined) throw new SnapshotError(`${at}.offVariant needs variants: the flag declares none`)
    return
  }
  if (!Array.isArray(flag.variants)) throw new SnapshotError(`${at}.variants must be a list`)
  const keys = new Set<string>()
  for (const [i, variant] of (flag.variants as unknown[]).entries()) {
    const v = variant as Record<string, unknown> | null
    if (typeof v !== 'object' || v === null) throw new SnapshotError(`${at}.variants[${i}] must be an object`)
    if (typeof v.key !== 'string' || v.key === '') throw new SnapshotError(`${at}.variants[${i}].key must be a non-empty string`)
    if (keys.has(v.key)) throw new SnapshotError(`${at}.variants[${i}].key '${v.key}' appears twice`)
    keys.add(v.key)
    if (v.value === undefined || v.value === null) throw new SnapshotError(`${at}.variants[${i}].value must be a JSON value other than null`)
    if (v.weight !== undefined && !(typeof v.weight === 'number' && v.weight >= 0 && v.weight <= 100))
      throw new SnapshotError(`${at}.variants[${i}].weight must be 0–100`)
  }
  if (keys.size > 0 && (typeof flag.offVariant !== 'string' || !keys.has(flag.offVariant)))
    throw new SnapshotError(`${at}.offVariant must name one of the flag's variants (${[...keys].join(', ')})`)
}

/** A snapshot's segments (none when it lists none), as full segments. */
export function segmentsOf(snapshot: unknown, source: string): SegmentRecord[] {
  const list = (snapshot as { segments?: unknown } | null)?.segments
  if (list === undefined) return []
  if (!Array.isArray(list)) throw new SnapshotError(`${source}: segments must be a list`)
  return recordsOf<SegmentRecord>(list, `${source}: segments`, SEGMENT_DEFAULTS, (segment, at) => {
    checkIds(segment as unknown as Record<string, unknown>, ['users', 'tenants', 'excludedUsers', 'excludedTenants'], at)
    if (!Array.isArray(segment.clauses)) throw new SnapshotError(`${at}.clauses must be a list`)
  })
}

/** The bootstrap as given: an object, or the path of a JSON file. */
export async function readBootstrap(bootstrap: BootstrapSnapshot | string): Promise<HeldState> {
  if (typeof bootstrap !== 'string') return { flags: flagsOf(bootstrap, 'bootstrap'), segments: segmentsOf(bootstrap, 'bootstrap'), seq: 0 }
  if (/\.ya?ml$/i.test(bootstrap)) throw new SnapshotError(`bootstrap ${bootstrap}: the SDK reads JSON only (flagctl export -o flags.json writes it)`)
  let text: string
  try {
    text = await readFile(bootstrap, 'utf8')
  } catch (err) {
    throw new SnapshotError(`bootstrap ${bootstrap} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`)
  }
  try {
    const parsed: unknown = JSON.parse(text)
    return { flags: flagsOf(parsed, `bootstrap ${bootstrap}`), segments: segmentsOf(parsed, `bootstrap ${bootstrap}`), seq: 0 }
  } catch (err) {
    if (err instanceof SnapshotError) throw err
    throw new SnapshotError(`bootstrap ${bootstrap} is not JSON: ${(err as Error).message}`)
  }
}

/** The state saved by `persistTo`, or undefined when there is none (a first start); a damaged file is an error to report, not to use. */
export async function readSaved(path: string): Promise<HeldState | undefined> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new SnapshotError(`persistTo ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`)
  }
  let saved: { savedBy?: string; seq?: number; epoch?: string } | null
  try {
    saved = JSON.parse(text) as typeof saved
  } catch (err) {
    throw new SnapshotError(`persistTo ${path} is damaged: ${(err as Error).message}`)
  }
  if (saved?.savedBy !== SAVED_BY) {
    const error = new SnapshotError(`persistTo ${path} was not written by this SDK: it is neither used nor overwritten (point persistTo at a file of its own)`)
    error.foreign = true
    throw error
  }
  return { flags: flagsOf(saved, `persistTo ${path}`), segments: segmentsOf(saved, `persistTo ${path}`), seq: Number(saved.seq ?? 0), epoch: saved.epoch }
}

/**
 * Saves the state the client holds, whole, to a temporary file renamed over `path` (a crash leaves
 * the old file or the new one). Writes never overlap; changes that arrive during one are saved by
 * the next.
 */
export class StateSaver {
  private writing?: Promise<void>
  private pending?: () => HeldState

  constructor(
    private readonly path: string,
    private readonly onError: (error: Error) => void,
  ) {}

  save(state: () => HeldState): void {
    this.pending = state
    this.writing ??= this.drain().finally(() => (this.writing = undefined))
  }

  /** Resolves once everything asked for is on disk (or failed and was reported). */
  async flush(): Promise<void> {
    while (this.writing) await this.writing
  }

  private async drain(): Promise<void> {
    while (this.pending) {
      const state = this.pending()
      this.pending = undefined
      // Unique per write: two clients of one process may share the path.
      const tmp = `${this.path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
      try {
        await writeFile(tmp, JSON.stringify({ savedBy: SAVED_BY, savedAt: new Date().toISOString(), ...state }))
        await rename(tmp, this.path)
      } catch (err) {
        this.onError(new SnapshotError(`could not save the state to ${this.path}: ${(err as Error).message}`))
      }
    }
  }
}
