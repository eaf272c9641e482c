// The embedded store: the memory store made durable under DATA_DIR, which it owns alone (a lock
// file) for the life of the process.
//
// switchyard.journal gets one line per write, the change as a patch (src/replica/change-patch.ts), appended in
// full and synced before the write is acknowledged; a short or failed append is cut back to the
// last whole line before the write answers 503. switchyard.json is the snapshot the journal
// is folded into (file-format.ts), when the journal reaches `compactEvery` lines or `foldBytes`
// bytes and at close: written as a stream to a temp file, synced, renamed into place. A fold that
// fails is logged, shown in health, counted, and retried; the journal keeps every write meanwhile.
// Why a journal at all: docs/decisions/embedded-store-journal.md.
import { randomBytes } from 'node:crypto'
import { mkdir, open, readdir, rename, stat, statfs, truncate, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import type { FastifyBaseLogger } from 'fastify'
import type { AuditEvent } from '@switchyard/core/audit/schema'
import type { TokenRecord } from '@switchyard/core/auth/schema'
import { StoreUnavailableError } from './errors.js'
import type { Flag } from '@switchyard/core/flags/schema'
import { applyPatch, diffRecord, PatchError } from '@switchyard/core/replica/change-patch'
import { DataDirLock, DataDirLockedError } from './data-dir-lock.js'
import { DataFileError, journalLine, parseJournalLine, readLines, readState, writeAll, writeState } from './file-format.js'
import { MemoryStore, type AuditLimits, type HeldSegment, type StoredState, type TombstoneLimits } from './memory.js'
import type { Change, FoldingStore, MembersChange, SegmentHead, Snapshot, StoreHealth } from './store.js'
import type { RecordPatch } from '@switchyard/core/replica/change-patch'

export { DataFileError } from './file-format.js'
export const DATA_FILE = 'switchyard.json'
export const JOURNAL_FILE = 'switchyard.journal'

/** Below this much free space the directory counts as full, and the service does not start. */
const MIN_FREE_BYTES = 256 * 1024

export interface FileStoreOptions extends AuditLimits, TombstoneLimits {
  /** Journal lines after which the journal is folded into the data file. */
  compactEvery?: number
  /** Journal bytes after which it is folded (or the data file's own size, if that is larger). */
  foldBytes?: number
  /** Take over a lock held from another host (DATA_DIR_FORCE_UNLOCK). */
  forceUnlock?: boolean
  /** Reads a directory another process may own, for inspection: no lock, no writes, no folds. */
  readOnly?: boolean
  /** Where a failed fold is reported. */
  log?: Pick<FastifyBaseLogger, 'error' | 'info'>
}

const EMPTY: StoredState = { seq: 0, flags: [], tokens: [], audit: [] }

export class FileStore extends MemoryStore implements FoldingStore {
  override readonly kind: StoreHealth['kind'] = 'file'
  readonly path: string
  readonly journalPath: string
  /** Where each snapshot is prepared before it is renamed over `path`. */
  readonly tempPath: string
  private readonly compactEvery: number
  private readonly foldBytes: number
  private lock?: DataDirLock
  private closed = false
  /** Bytes of whole lines in the journal (verified after every cut), and how many lines. */
  private journalBytes = 0
  private journalLines = 0
  /** The journal may end in bytes that are not a whole line (a torn or failed append). */
  private journalTail = false
  private dataFileBytes = 0
  private writeError?: string
  private foldError?: string
  private foldFailures = 0
  private foldRetry?: NodeJS.Timeout
  /** Another process took the directory over: this one neither writes nor folds any more. */
  private lockLost = false

  constructor(
    private readonly dir: string,
    private readonly options: FileStoreOptions = {},
  ) {
    super(options)
    this.compactEvery = options.compactEvery ?? 1000
    this.foldBytes = options.foldBytes ?? 64 * 1024 * 1024
    this.path = join(dir, DATA_FILE)
    this.journalPath = join(dir, JOURNAL_FILE)
    this.tempPath = `${this.path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  }

  // In line with commits, so a load never replays a line whose commit has yet to apply it.
  override load(): Promise<Snapshot> {
    return this.serialized(() => this.loadNow())
  }

  private async loadNow(): Promise<Snapshot> {
    if (!this.options.readOnly && !this.lock) await this.claimDirectory()
    const state = await readState(this.path)
    this.dataFileBytes = state ? (await stat(this.path)).size : 0
    this.restore(state ?? EMPTY)
    await this.replay()
    return super.load()
  }

  /** Checked before anything is read: the directory exists, has room, and is this process's alone. */
  private async claimDirectory(): Promise<void> {
    const dir = this.dir
    try {
      await mkdir(dir, { recursive: true })
      const fs = await statfs(dir)
      const free = fs.bavail * fs.bsize
      if (free < MIN_FREE_BYTES) throw new DataFileError(`data directory ${dir} is full: ${free} bytes free, at least ${MIN_FREE_BYTES} needed`)
      this.lock = await DataDirLock.acquire(dir, { force: this.options.forceUnlock })
      // A fold or lock takeover cut short by a crash leaves its temp file: the directory is ours now.
      for (const name of await readdir(dir)) {
        if (/^switchyard\.(json|lock)\..+\.(tmp|stale)$/.test(name)) await unlink(join(dir, name)).catch(() => undefined)
      }
    } catch (err) {
      if (err instanceof DataFileError) throw err
      if (err instanceof DataDirLockedError) throw new DataFileError(err.message)
      const code = (err as NodeJS.ErrnoException).code ?? 'error'
      const why = code === 'ENOSPC' ? 'is full' : 'is not writable'
      throw new DataFileError(`data directory ${dir} ${why} (${(err as Error).message})`)
    }
  }

  /**
   * Applies the journal's whole lines newer than the snapshot. Lines the snapshot already holds may
   * only come first (a crash between writing a snapshot and removing the journal); after that each
   * line must be the next change, or the journal is refused untouched. A last line cut short is
   * a write never acknowledged: dropped, and cut off before the next append.
   */
  private async replay(): Promise<void> {
    const path = this.journalPath
    let lines = 0
    let applied = false
    const refuse = (what: string, start: number) =>
      new DataFileError(`journal ${path} ${what} at byte ${start}; it was left untouched — restore it from a backup or move it away`)
    const read = await readLines(path, (line, start) => {
      const entry = parseJournalLine(line)
      if (!entry) throw refuse('is corrupt', start)
      lines++
      if (entry.seq <= this.seq && !applied) return
      if (entry.seq !== this.seq + 1) {
        throw refuse(
          entry.seq <= this.seq ? `repeats change ${entry.seq} (two processes wrote to it?)` : `skips from change ${this.seq} to ${entry.seq}`,
          start,
        )
      }
      let change: Change
      try {
        change =
          entry.kind === 'flag'
            ? { kind: 'flag', key: entry.id, seq: entry.seq, flag: applyPatch<Flag>(this.flags.get(entry.id) ?? null, entry.patch) }
            : entry.kind === 'segment'
              ? { kind: 'segment', key: entry.id, seq: entry.seq, ...segmentChange(this.segments.get(entry.id), entry.patch) }
              : { kind: 'token', id: entry.id, seq: entry.seq, token: applyPatch<TokenRecord>(this.tokens.get(entry.id) ?? null, entry.patch) }
      } catch (err) {
        if (err instanceof PatchError) throw refuse(`cannot apply change ${entry.seq} (${err.message})`, start)
        throw err
      }
      this.applyCommitted(change, entry.event, Buffer.byteLength(JSON.stringify(entry.event)))
      applied = true
    }).catch((err: unknown) => {
      if (err instanceof DataFileError) throw err
      throw new DataFileError(`cannot read journal ${path}: ${(err as Error).message}`)
    })
    this.journalBytes = read?.whole ?? 0
    this.journalLines = lines
    this.journalTail = read !== null && read.whole < read.size
  }

  protected override async persist(change: Change, _event: AuditEvent, eventJson: string): Promise<void> {
    if (this.options.readOnly || this.closed) {
      throw new StoreUnavailableError(`the data directory is ${this.closed ? 'closed' : 'open read-only'}; nothing was changed`)
    }
    await this.checkLock()
    const patch =
      change.kind === 'flag'
        ? diffRecord(this.flags.get(change.key) ?? null, change.flag)
        : change.kind === 'segment'
          ? segmentPatch(this.segments.get(change.key)?.head ?? null, change.head, change.members)
          : diffRecord(this.tokens.get(change.id) ?? null, change.token)
    const line = journalLine({ seq: change.seq, kind: change.kind, id: change.kind === 'token' ? change.id : change.key, patch }, eventJson)
    try {
      await this.append(line)
      this.writeError = undefined
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error'
      this.writeError = `${code}: ${(err as Error).message}`
      throw new StoreUnavailableError(`could not write the journal (${code}); nothing was changed`, { cause: err })
    }
    if (this.journalLines >= this.compactEvery || this.journalBytes >= Math.max(this.foldBytes, this.dataFileBytes)) {
      // After this commit, before the next: the write is acknowledged without waiting for it.
      void this.serialized(() => this.fold())
    }
  }

  /** Refuses to write once another process has taken the directory (its lock file was removed by hand, say). */
  private async checkLock(): Promise<void> {
    if (!this.lock || (await this.lock.held())) return
    this.writeError = `the lock file ${this.lock.path} no longer names this process`
    throw new StoreUnavailableError(`another process has taken over data directory ${this.dir}; nothing was changed; restart this replica`)
  }

  /** Appends one whole line and syncs it, or leaves the journal as it was and throws. */
  private async append(line: Buffer): Promise<void> {
    if (this.journalTail) await this.cutTail()
    const file = await open(this.journalPath, 'a', 0o600)
    try {
      await writeAll(file, line)
      await file.datasync()
      // A new journal's directory entry must be durable too, or a crash could lose the file.
      if (this.journalBytes === 0) await syncDir(this.dir)
    } catch (err) {
      // Part of the line may be on disk: cut it now, or before the next append if that fails too.
      this.journalTail = true
      await this.cutTail().catch(() => undefined)
      throw err
    } finally {
      // The line is synced (or cut) by now: failing to close the descriptor changes neither.
      await file.close().catch(() => undefined)
    }
    this.journalBytes += line.length
    this.journalLines++
  }

  /** Truncates the journal back to its whole lines and checks that it now has exactly that length. */
  private async cutTail(): Promise<void> {
    await truncate(this.journalPath, this.journalBytes)
    const { size } = await stat(this.journalPath)
    if (size !== this.journalBytes) throw new Error(`the journal is ${size} bytes after truncating it to ${this.journalBytes}`)
    this.journalTail = false
  }

  /** Folds the journal into a new data file, then removes it; a failure is reported and retried, never thrown. */
  private async fold(): Promise<void> {
    if (this.journalLines === 0 && !this.journalTail) return
    clearTimeout(this.foldRetry)
    try {
      // Checked again right before each step that replaces or removes a file: a process that
      // took the directory over meanwhile must find its own files intact.
      await this.mustHoldLock()
      await this.writeDataFile(this.state(), () => this.mustHoldLock())
      await this.mustHoldLock()
      const journal = await stat(this.journalPath).catch(() => undefined)
      if (journal && journal.size !== this.journalBytes && !this.journalTail) {
        throw new Error(`the journal is ${journal.size} bytes where this process wrote ${this.journalBytes}; another process wrote to it`)
      }
      await unlink(this.journalPath).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err
      })
      this.journalBytes = 0
      this.journalLines = 0
      this.journalTail = false
      await syncDir(this.dir)
      this.foldError = undefined
    } catch (err) {
      this.foldFailures++
      this.foldError = `${(err as NodeJS.ErrnoException).code ?? 'error'}: ${(err as Error).message}`
      this.options.log?.error({ err: this.foldError, journalBytes: this.journalBytes, failures: this.foldFailures }, 'store.fold_failed')
      if (!this.closed && !this.lockLost) {
        const delay = Math.min(1000 * 2 ** Math.min(this.foldFailures - 1, 6), 60_000)
        this.foldRetry = setTimeout(() => void this.serialized(() => this.fold()), delay).unref()
      }
    }
  }

  private async mustHoldLock(): Promise<void> {
    if (!this.lock || (await this.lock.held())) return
    this.lockLost = true
    throw new Error(`the lock file ${this.lock.path} no longer names this process; not folding`)
  }

  private async writeDataFile(state: StoredState, beforeRename: () => Promise<void>): Promise<void> {
    const tmp = this.tempPath
    try {
      const file = await open(tmp, 'w', 0o600)
      try {
        await writeState(file, state)
        await file.sync()
      } finally {
        await file.close()
      }
      const { size } = await stat(tmp)
      await beforeRename()
      await rename(tmp, this.path)
      await syncDir(this.dir)
      this.dataFileBytes = size
    } catch (err) {
      await unlink(tmp).catch(() => undefined)
      throw err
    }
  }

  override health(): StoreHealth {
    if (this.writeError) return { kind: this.kind, status: 'down', detail: `the last write failed (${this.writeError}); writes answer 503 until one succeeds` }
    if (this.foldError) {
      return {
        kind: this.kind,
        status: 'degraded',
        detail: `folding the journal into the data file failed (${this.foldError}); every write is kept in the journal; retrying`,
      }
    }
    return { kind: this.kind, status: 'up' }
  }

  foldStats(): { failures: number; journalBytes: number } {
    return { failures: this.foldFailures, journalBytes: this.journalBytes }
  }

  /** Leaves one data file behind after a clean shutdown (the journal keeps every write if that fails), then unlocks. */
  override async close(): Promise<void> {
    await this.serialized(async () => {
      if (this.closed) return
      this.closed = true
      clearTimeout(this.foldRetry)
      if (!this.options.readOnly) await this.fold()
      await this.lock?.release()
    })
  }
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/**
 * A segment change as a journal patch on the record with its members: the head's fields as a diff,
 * members replaced as whole lists or edited as list additions and removals (never the million ids).
 */
function segmentPatch(before: SegmentHead | null, head: SegmentHead | null, members: MembersChange): RecordPatch {
  if (head === null) return { op: 'delete' }
  const whole = members.op === 'replace' ? { ...(members.users && { users: members.users }), ...(members.tenants && { tenants: members.tenants }) } : {}
  if (before === null) return { op: 'put', value: { ...head, users: [], tenants: [], ...whole } }
  const patch = diffRecord(before, head)
  if (patch.op !== 'patch') return patch
  if (members.op === 'replace') patch.set = { ...patch.set, ...whole }
  if (members.op === 'edit') {
    patch.lists = {
      ...patch.lists,
      users: { add: members.add.users, remove: members.remove.users },
      tenants: { add: members.add.tenants, remove: members.remove.tenants },
    }
  }
  return patch
}

/** The change a journal patch of a segment records (segmentPatch's inverse), given what is held. */
function segmentChange(held: HeldSegment | undefined, patch: RecordPatch): { head: SegmentHead | null; members: MembersChange } {
  if (patch.op === 'delete') return { head: null, members: { op: 'same' } }
  if (patch.op === 'put') {
    const { users, tenants, ...head } = patch.value as unknown as SegmentHead & { users: string[]; tenants: string[] }
    return { head, members: { op: 'replace', users, tenants } }
  }
  if (!held) throw new PatchError('a patch names a segment that does not exist')
  // Members are the patch's `users`/`tenants`; everything else (exclusion lists edited as lists too) is the head's.
  const { users, tenants, ...set } = (patch.set ?? {}) as { users?: string[]; tenants?: string[] }
  const { users: userEdit, tenants: tenantEdit, ...headLists } = patch.lists ?? {}
  const head = applyPatch<SegmentHead>(held.head, { op: 'patch', set, unset: patch.unset, lists: headLists })!
  if (users !== undefined || tenants !== undefined) return { head, members: { op: 'replace', users, tenants } }
  if (userEdit || tenantEdit) {
    const empty = { add: [], remove: [] }
    const u = userEdit ?? empty
    const t = tenantEdit ?? empty
    return { head, members: { op: 'edit', add: { users: u.add, tenants: t.add }, remove: { users: u.remove, tenants: t.remove } } }
  }
  return { head, members: { op: 'same' } }
}
