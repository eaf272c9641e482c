// The embedded store: the memory store made durable under DATA_DIR in two files.
//
// switchyard.json is a snapshot of the whole state, replaced atomically (temp file, fsync,
// rename, fsync of the folder). switchyard.journal holds the writes committed since, one JSON
// line each. A write appends its line and fsyncs it before it is acknowledged, so what a write
// costs does not grow with the number of flags or the audit trail: rewriting the whole file on
// every write cost 10 ms of blocked event loop per write once the trail held 10,000 events.
// Every `compactEvery` writes, and at close, the snapshot takes in the journal.
//
// A crash at any instant leaves the state before or after each write: a torn last line is a
// write that was never acknowledged, and is cut off before the next append.
import { mkdir, open, readFile, rename, truncate, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import type { AuditEvent } from '../audit/schema.js'
import { StoreUnavailableError } from '../errors.js'
import { MemoryStore, type StoredState } from './memory.js'
import type { Change, Snapshot, StoreHealth } from './store.js'

const FORMAT = 'switchyard/v1'
export const DATA_FILE = 'switchyard.json'
export const JOURNAL_FILE = 'switchyard.journal'
const NEWLINE = 0x0a

export class DataFileError extends Error {
  override name = 'DataFileError'
}

/** One line of the journal. */
interface JournalEntry {
  change: Change
  event: AuditEvent
}

export interface FileStoreOptions {
  auditMaxEvents?: number
  /** Journal lines after which the next write first folds them into the snapshot. */
  compactEvery?: number
}

export class FileStore extends MemoryStore {
  override readonly kind: StoreHealth['kind'] = 'file'
  readonly path: string
  readonly journalPath: string
  /** Where each snapshot is prepared before it is renamed over `path`. */
  readonly tempPath: string
  private readonly compactEvery: number
  private lastError?: string
  /** Bytes of whole lines in the journal, and how many lines. */
  private journalBytes = 0
  private journalLines = 0
  /** The journal may end in bytes that are not a whole line (a torn or failed append). */
  private journalTail = false

  constructor(
    private readonly dir: string,
    options: FileStoreOptions = {},
  ) {
    super(options.auditMaxEvents)
    this.compactEvery = options.compactEvery ?? 1000
    this.path = join(dir, DATA_FILE)
    this.journalPath = join(dir, JOURNAL_FILE)
    this.tempPath = `${this.path}.${process.pid}.tmp`
  }

  // In line with commits, so a load never replays a line whose commit has yet to apply it.
  override load(): Promise<Snapshot> {
    return this.serialized(() => this.loadNow())
  }

  private async loadNow(): Promise<Snapshot> {
    await mkdir(this.dir, { recursive: true })
    const snapshot = await readIfPresent(this.path, 'data file')
    if (snapshot !== null) this.restore(parseDataFile(snapshot.toString('utf8'), this.path))
    const journal = await readIfPresent(this.journalPath, 'journal')
    if (journal !== null) this.replay(journal)
    return super.load()
  }

  /** Applies the journal's whole lines newer than the snapshot; a line cut short at the end is dropped. */
  private replay(journal: Buffer): void {
    let offset = 0
    let lines = 0
    for (let end = journal.indexOf(NEWLINE); end !== -1; offset = end + 1, end = journal.indexOf(NEWLINE, offset)) {
      const entry = parseJournalLine(journal.toString('utf8', offset, end))
      if (!entry) throw new DataFileError(`journal ${this.journalPath} is corrupt at byte ${offset}; it was left untouched — restore it from a backup or move it away`)
      lines++
      // A crash between writing a snapshot and removing the journal leaves lines the snapshot holds.
      if (entry.change.seq <= this.seq) continue
      if (entry.change.seq !== this.seq + 1) {
        throw new DataFileError(`journal ${this.journalPath} skips from change ${this.seq} to ${entry.change.seq} at byte ${offset}; it was left untouched`)
      }
      this.applyCommitted(entry.change, entry.event)
    }
    this.journalBytes = offset
    this.journalLines = lines
    this.journalTail = offset < journal.length
  }

  protected override async persist(change: Change, event: AuditEvent): Promise<void> {
    try {
      if (this.journalLines >= this.compactEvery) await this.compact()
      await this.append(Buffer.from(`${JSON.stringify({ change, event } satisfies JournalEntry)}\n`))
      this.lastError = undefined
    } catch (err) {
      this.lastError = (err as Error).message
      throw new StoreUnavailableError(`could not write the data file (${(err as NodeJS.ErrnoException).code ?? 'error'}); nothing was changed`, { cause: err })
    }
  }

  private async append(line: Buffer): Promise<void> {
    if (this.journalTail) {
      await truncate(this.journalPath, this.journalBytes)
      this.journalTail = false
    }
    const created = this.journalBytes === 0
    const file = await open(this.journalPath, 'a', 0o600)
    try {
      await file.write(line)
      await file.datasync()
    } catch (err) {
      // Part of the line may be on disk: cut it now, or before the next append if that fails too.
      this.journalTail = true
      await truncate(this.journalPath, this.journalBytes).then(
        () => (this.journalTail = false),
        () => undefined,
      )
      throw err
    } finally {
      await file.close()
    }
    // A new journal's directory entry must be durable too, or a crash could lose the file.
    if (created) await syncDir(this.dir)
    this.journalBytes += line.length
    this.journalLines++
  }

  /** Folds the journal into a new snapshot, then removes it. */
  private async compact(): Promise<void> {
    await this.writeSnapshot(this.state())
    await unlink(this.journalPath).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err
    })
    await syncDir(this.dir)
    this.journalBytes = 0
    this.journalLines = 0
    this.journalTail = false
  }

  private async writeSnapshot(state: StoredState): Promise<void> {
    const tmp = this.tempPath
    try {
      const file = await open(tmp, 'w', 0o600)
      try {
        await file.writeFile(JSON.stringify({ format: FORMAT, ...state }))
        await file.sync()
      } finally {
        await file.close()
      }
      await rename(tmp, this.path)
      await syncDir(this.dir)
    } catch (err) {
      await unlink(tmp).catch(() => undefined)
      throw err
    }
  }

  override health(): StoreHealth {
    return this.lastError ? { kind: this.kind, status: 'down', detail: 'last write failed' } : { kind: this.kind, status: 'up' }
  }

  /** Leaves one data file behind after a clean shutdown; if that fails, the journal still holds every write. */
  override async close(): Promise<void> {
    await this.serialized(async () => {
      if (this.journalLines > 0 || this.journalTail) await this.compact().catch(() => undefined)
    })
  }
}

async function readIfPresent(path: string, what: string): Promise<Buffer | null> {
  try {
    return await readFile(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw new DataFileError(`cannot read ${what} ${path}: ${(err as Error).message}`)
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

function parseDataFile(text: string, path: string): StoredState {
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (err) {
    throw new DataFileError(`data file ${path} is corrupt (${(err as Error).message}); it was left untouched — restore it from a backup or move it away`)
  }
  const d = data as Partial<StoredState> & { format?: unknown }
  if (
    typeof d !== 'object' ||
    d === null ||
    d.format !== FORMAT ||
    !Number.isInteger(d.seq) ||
    !Array.isArray(d.flags) ||
    !Array.isArray(d.tokens) ||
    !Array.isArray(d.audit)
  ) {
    throw new DataFileError(`data file ${path} is not a ${FORMAT} file; it was left untouched — restore it from a backup or move it away`)
  }
  return d as StoredState
}

function parseJournalLine(line: string): JournalEntry | null {
  let entry: Partial<JournalEntry>
  try {
    entry = JSON.parse(line) as Partial<JournalEntry>
  } catch {
    return null
  }
  const change = entry?.change
  const valid =
    typeof entry === 'object' &&
    entry !== null &&
    typeof entry.event === 'object' &&
    entry.event !== null &&
    typeof change === 'object' &&
    change !== null &&
    Number.isInteger(change.seq) &&
    ((change.kind === 'flag' && typeof change.key === 'string') || (change.kind === 'token' && typeof change.id === 'string'))
  return valid ? (entry as JournalEntry) : null
}
