// The embedded store's two file formats, and the I/O that neither builds one giant string nor
// reads a whole file into one: both are JSON lines, written in bounded chunks and read line by
// line, so neither V8's string limit nor a 2 GiB read limits how large the state may grow.
//
// switchyard.json (format switchyard/v2): a header line {"format","seq","epoch"} (with "versionFloor" once
// tombstones were dropped), one line per flag, token, audit event and deleted flag's tombstone
// ({"flag":…}, {"token":…}, {"segment":…} with its members, {"audit":…}, {"tombstone":{"key","version"}}), and a trailer
// {"end":{counts}} that proves the file whole. Files written before tombstones (no such lines, no
// count) and files of format switchyard/v1 (the whole state as one JSON object) are still read.
//
// switchyard.journal: one line per committed write, {"seq","kind","id","patch","event"}, where
// patch is the change-patch format (src/replica/change-patch.ts). Lines of the first journal format,
// {"change","event"} with the whole record, are still read.
import { open, type FileHandle } from 'node:fs/promises'
import type { AuditEvent } from '@switchyard/core/audit/schema'
import type { TokenRecord } from '@switchyard/core/auth/schema'
import type { Flag } from '@switchyard/core/flags/schema'
import type { Segment } from '@switchyard/core/segments/schema'
import type { RecordPatch } from '@switchyard/core/replica/change-patch'
import type { StoredState } from './memory.js'
import type { Change, Tombstone } from './store.js'

const FORMAT = 'switchyard/v2'
const FORMAT_V1 = 'switchyard/v1'
const NEWLINE = 0x0a
/** Lines are gathered into writes of about this size. */
const CHUNK_BYTES = 1024 * 1024

/** One journal line: a committed write as a patch on the record it changed. */
interface JournalEntry {
  seq: number
  kind: Change['kind']
  /** The flag or segment key, or the token id. */
  id: string
  patch: RecordPatch
  event: AuditEvent
}

/** Why a file cannot be read as what it should be; the message names the file. */
export class DataFileError extends Error {
  override name = 'DataFileError'
}

/** Writes all of `data` at the file's current end; a short write is continued, a write of nothing fails. */
export async function writeAll(file: FileHandle, data: Buffer): Promise<void> {
  let offset = 0
  while (offset < data.length) {
    const { bytesWritten } = await file.write(data, offset, data.length - offset)
    if (bytesWritten <= 0) throw Object.assign(new Error('the file system accepted no bytes (ENOSPC)'), { code: 'ENOSPC' })
    offset += bytesWritten
  }
}

export function journalLine(entry: { seq: number; kind: Change['kind']; id: string; patch: RecordPatch }, eventJson: string): Buffer {
  return Buffer.from(`${JSON.stringify(entry).slice(0, -1)},"event":${eventJson}}\n`)
}

/** A journal line as an entry (a line of the first format is converted), or undefined when it is not one. */
export function parseJournalLine(line: string): JournalEntry | undefined {
  let e: Record<string, unknown>
  try {
    e = JSON.parse(line) as Record<string, unknown>
  } catch {
    return undefined
  }
  if (typeof e !== 'object' || e === null || typeof e.event !== 'object' || e.event === null) return undefined
  const change = e.change as Record<string, unknown> | undefined
  if (change !== undefined) {
    // The first format: the whole record, or null for a deletion.
    if (typeof change !== 'object' || change === null || !Number.isInteger(change.seq)) return undefined
    const record = change.kind === 'flag' ? change.flag : change.kind === 'token' ? change.token : undefined
    const id = change.kind === 'flag' ? change.key : change.id
    if (record === undefined || typeof id !== 'string') return undefined
    const patch: RecordPatch = record === null ? { op: 'delete' } : { op: 'put', value: record as Record<string, unknown> }
    return { seq: change.seq as number, kind: change.kind as Change['kind'], id, patch, event: e.event as AuditEvent }
  }
  const patch = e.patch as { op?: unknown } | undefined
  const valid =
    Number.isInteger(e.seq) &&
    (e.kind === 'flag' || e.kind === 'token' || e.kind === 'segment') &&
    typeof e.id === 'string' &&
    typeof patch === 'object' &&
    patch !== null &&
    (patch.op === 'put' || patch.op === 'patch' || patch.op === 'delete')
  return valid ? (e as unknown as JournalEntry) : undefined
}

/**
 * Calls `onLine` with each whole line of a file and the byte it starts at, reading a chunk at a
 * time. Returns the length of the whole lines and of the file: bytes past the last newline are a
 * torn tail. Resolves with null when the file does not exist.
 */
export async function readLines(path: string, onLine: (line: string, start: number) => void): Promise<{ whole: number; size: number } | null> {
  let file: FileHandle
  try {
    file = await open(path, 'r')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
  try {
    const buffer = Buffer.allocUnsafe(CHUNK_BYTES)
    let pending: Buffer[] = []
    let pendingBytes = 0
    let lineStart = 0
    let size = 0
    for (;;) {
      const { bytesRead } = await file.read(buffer, 0, buffer.length, null)
      if (bytesRead === 0) break
      const chunk = buffer.subarray(0, bytesRead)
      let from = 0
      for (let nl = chunk.indexOf(NEWLINE); nl !== -1; nl = chunk.indexOf(NEWLINE, from)) {
        const piece = chunk.subarray(from, nl)
        const line = pendingBytes ? Buffer.concat([...pending, piece]).toString('utf8') : piece.toString('utf8')
        onLine(line, lineStart)
        lineStart += pendingBytes + piece.length + 1
        pending = []
        pendingBytes = 0
        from = nl + 1
      }
      if (from < chunk.length) {
        pending.push(Buffer.from(chunk.subarray(from)))
        pendingBytes += chunk.length - from
      }
      size += bytesRead
    }
    return { whole: lineStart, size }
  } finally {
    await file.close()
  }
}

/** Writes the whole state to `file` as switchyard/v2 lines, a chunk at a time; yields to the event loop between chunks. */
export async function writeState(file: FileHandle, state: StoredState): Promise<void> {
  let chunk: string[] = []
  let chunkLength = 0
  const add = async (line: string) => {
    chunk.push(line)
    chunkLength += line.length
    if (chunkLength >= CHUNK_BYTES) await flush()
  }
  const flush = async () => {
    await writeAll(file, Buffer.from(chunk.join('')))
    chunk = []
    chunkLength = 0
  }
  const tombstones = state.tombstones ?? []
  const floor = state.versionFloor ? { versionFloor: state.versionFloor } : {}
  await add(`${JSON.stringify({ format: FORMAT, seq: state.seq, epoch: state.epoch, ...floor })}\n`)
  for (const flag of state.flags) await add(`{"flag":${JSON.stringify(flag)}}\n`)
  for (const token of state.tokens) await add(`{"token":${JSON.stringify(token)}}\n`)
  for (const segment of state.segments ?? []) await add(`{"segment":${JSON.stringify(segment)}}\n`)
  for (const event of state.audit) await add(`{"audit":${JSON.stringify(event)}}\n`)
  for (const tombstone of tombstones) await add(`{"tombstone":${JSON.stringify(tombstone)}}\n`)
  const end = {
    flags: state.flags.length,
    tokens: state.tokens.length,
    segments: state.segments?.length ?? 0,
    audit: state.audit.length,
    tombstones: tombstones.length,
  }
  await add(`${JSON.stringify({ end })}\n`)
  await flush()
}

/** Reads a data file of either format; null when there is none. */
export async function readState(path: string): Promise<StoredState | null> {
  const corrupt = (why: string) => new DataFileError(`data file ${path} is corrupt (${why}); it was left untouched — restore it from a backup or move it away`)
  const notOurs = () =>
    new DataFileError(`data file ${path} is not a ${FORMAT} or ${FORMAT_V1} file; it was left untouched — restore it from a backup or move it away`)
  let state: StoredState | undefined
  let ended = false
  let lineNo = 0
  let result
  try {
    result = await readLines(path, (line, start) => {
      lineNo++
      let value: Record<string, unknown>
      try {
        value = JSON.parse(line) as Record<string, unknown>
      } catch (err) {
        throw corrupt(`${(err as Error).message} in the line at byte ${start}`)
      }
      if (lineNo === 1) {
        state = firstLine(value, notOurs)
        if (value?.format === FORMAT_V1) ended = true
        return
      }
      if (ended || state === undefined) throw corrupt(`a line at byte ${start} follows the end of the state`)
      if (typeof value !== 'object' || value === null) throw corrupt(`the line at byte ${start} is not an object`)
      if ('flag' in value) state.flags.push(value.flag as Flag)
      else if ('token' in value) state.tokens.push(value.token as TokenRecord)
      else if ('segment' in value) state.segments!.push(value.segment as Segment)
      else if ('audit' in value) state.audit.push(value.audit as AuditEvent)
      else if ('tombstone' in value) state.tombstones!.push(value.tombstone as Tombstone)
      else if ('end' in value) {
        const end = value.end as Record<string, unknown>
        // Files written before tombstones count none.
        const tombstones = end?.tombstones ?? 0
        // Files written before segments count none.
        const segments = end?.segments ?? 0
        const counted =
          end?.flags === state.flags.length && end?.tokens === state.tokens.length && end?.audit === state.audit.length && segments === state.segments!.length
        if (!counted || tombstones !== state.tombstones!.length) {
          throw corrupt('its record counts do not match its trailer')
        }
        ended = true
      } else throw corrupt(`the line at byte ${start} holds no flag, token, segment, audit event or tombstone`)
    })
  } catch (err) {
    if (err instanceof DataFileError) throw err
    throw new DataFileError(`cannot read data file ${path}: ${(err as Error).message}`)
  }
  if (result === null) return null
  // A v1 file has no newline at its end: its one line is the whole file.
  if (result.whole < result.size) {
    if (lineNo > 0) throw corrupt(`it ends in a line cut short at byte ${result.whole}`)
    const text = await readTail(path)
    let value: Record<string, unknown>
    try {
      value = JSON.parse(text) as Record<string, unknown>
    } catch (err) {
      throw corrupt((err as Error).message)
    }
    if (value?.format !== FORMAT_V1) throw notOurs()
    return firstLine(value, notOurs)
  }
  if (!state || !ended) throw corrupt(lineNo === 0 ? 'it is empty' : 'it has no trailer: it was cut short')
  return state
}

function firstLine(value: Record<string, unknown>, notOurs: () => Error): StoredState {
  if (typeof value !== 'object' || value === null || !Number.isInteger(value.seq)) throw notOurs()
  if (value.format === FORMAT) {
    const versionFloor = Number.isInteger(value.versionFloor) ? (value.versionFloor as number) : 0
    const epoch = typeof value.epoch === 'string' ? { epoch: value.epoch } : {}
    return { seq: value.seq as number, ...epoch, flags: [], tokens: [], segments: [], audit: [], tombstones: [], versionFloor }
  }
  if (value.format === FORMAT_V1 && Array.isArray(value.flags) && Array.isArray(value.tokens) && Array.isArray(value.audit)) {
    return value as unknown as StoredState
  }
  throw notOurs()
}

async function readTail(path: string): Promise<string> {
  const file = await open(path, 'r')
  try {
    return await file.readFile('utf8')
  } finally {
    await file.close()
  }
}
