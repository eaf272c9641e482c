// The embedded store: the memory store made durable in one JSON file under DATA_DIR.
// Every commit rewrites the file atomically (temp file, fsync, rename, fsync of the folder),
// so a crash at any instant leaves either the old state or the new one on disk.
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { StoreUnavailableError } from '../errors.js'
import { MemoryStore, type StoredState } from './memory.js'
import type { Snapshot, StoreHealth } from './store.js'

const FORMAT = 'switchyard/v1'
export const DATA_FILE = 'switchyard.json'

export class DataFileError extends Error {
  override name = 'DataFileError'
}

export class FileStore extends MemoryStore {
  override readonly kind: StoreHealth['kind'] = 'file'
  readonly path: string
  /** Where each write is prepared before it is renamed over `path`. */
  readonly tempPath: string
  private lastError?: string

  constructor(
    private readonly dir: string,
    auditMaxEvents?: number,
  ) {
    super(auditMaxEvents)
    this.path = join(dir, DATA_FILE)
    this.tempPath = `${this.path}.${process.pid}.tmp`
  }

  override async load(): Promise<Snapshot> {
    await mkdir(this.dir, { recursive: true })
    let text: string
    try {
      text = await readFile(this.path, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return super.load()
      throw new DataFileError(`cannot read data file ${this.path}: ${(err as Error).message}`)
    }
    this.restore(parseDataFile(text, this.path))
    return super.load()
  }

  protected override async persist(next: () => StoredState): Promise<void> {
    const state = next()
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
      const dir = await open(this.dir, 'r')
      try {
        await dir.sync()
      } finally {
        await dir.close()
      }
      this.lastError = undefined
    } catch (err) {
      await unlink(tmp).catch(() => undefined)
      this.lastError = (err as Error).message
      throw new StoreUnavailableError(`could not write the data file (${(err as NodeJS.ErrnoException).code ?? 'error'}); nothing was changed`, { cause: err })
    }
  }

  override health(): StoreHealth {
    return this.lastError ? { kind: this.kind, status: 'down', detail: 'last write failed' } : { kind: this.kind, status: 'up' }
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
