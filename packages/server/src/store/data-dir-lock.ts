// The data directory's lock: one process owns a DATA_DIR for its whole life, so two processes can
// never interleave their histories in one journal. The lock file names its owner (pid, host, the
// process's start time and boot); a lock whose owner is provably gone is taken over, anything
// else stops the second process with a line naming the directory and the owner.
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { link, open, readFile, rename, stat, unlink } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'

export const LOCK_FILE = 'switchyard.lock'

export interface LockOwner {
  pid: number
  host: string
  /** The process's start time in clock ticks since boot (/proc/<pid>/stat), null where /proc is absent. */
  startTime: string | null
  /** The kernel's boot id: after a reboot no pid of the last boot is alive. */
  bootId: string | null
  acquiredAt: string
  /** Tells this acquisition from any other by the same process. */
  nonce: string
}

export class DataDirLockedError extends Error {
  override name = 'DataDirLockedError'
}

interface LockOptions {
  /** Take over a lock held from another host (DATA_DIR_FORCE_UNLOCK=1, --force-unlock). */
  force?: boolean
}

/** Reads /proc for what identifies a process beyond its pid; null where /proc is not there. */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Field 22; the command name (field 2) is in parentheses and may itself hold spaces.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null
  } catch {
    return null
  }
}

function bootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
  } catch {
    return null
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Why a lock's owner is gone, or undefined while it may still be running. */
function staleBecause(owner: LockOwner, self: LockOwner): string | undefined {
  if (owner.host !== self.host) return undefined
  if (owner.bootId && self.bootId && owner.bootId !== self.bootId) return 'its host has restarted since'
  if (owner.pid === self.pid) return 'it names this process id (a restarted container)'
  if (!isAlive(owner.pid)) return 'its process is no longer running'
  const started = processStartTime(owner.pid)
  if (owner.startTime && started && started !== owner.startTime) return 'its process id now belongs to another process'
  return undefined
}

function describe(owner: LockOwner): string {
  return `pid ${owner.pid} on host ${owner.host} (since ${owner.acquiredAt})`
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const o = JSON.parse(text) as Partial<LockOwner>
    if (typeof o.pid === 'number' && typeof o.host === 'string' && typeof o.nonce === 'string') return o as LockOwner
  } catch {
    // unreadable: handled by the caller
  }
  return undefined
}

export class DataDirLock {
  private constructor(
    readonly path: string,
    readonly owner: LockOwner,
    /** The lock file's inode and change time when last confirmed ours: one stat tells it is unchanged. */
    private identity: string,
  ) {}

  /**
   * Creates the lock file (O_EXCL), or takes over one whose owner is gone. A lock that is held, or
   * held from another host without `force`, throws DataDirLockedError naming the owner.
   */
  static async acquire(dir: string, options: LockOptions = {}): Promise<DataDirLock> {
    const path = join(dir, LOCK_FILE)
    const self: LockOwner = {
      pid: process.pid,
      host: hostname(),
      startTime: processStartTime(process.pid),
      bootId: bootId(),
      acquiredAt: new Date().toISOString(),
      nonce: randomUUID(),
    }
    const text = `${JSON.stringify(self)}\n`
    // A few rounds: each one either creates the file or removes a stale one that a racer may recreate.
    for (let round = 0; round < 5; round++) {
      if (await createExclusive(path, text)) return new DataDirLock(path, self, await identityOf(path))
      let held: string
      try {
        held = await readFile(path, 'utf8')
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue
        throw err
      }
      const owner = parseOwner(held)
      if (!owner) {
        // This code only ever links a complete file into place: someone else wrote this one.
        if (!options.force) {
          throw new DataDirLockedError(`data directory ${dir} has a lock file that is not Switchyard's (${path}); remove it if no process uses the directory`)
        }
      } else if (staleBecause(owner, self) === undefined) {
        if (owner.host === self.host || !options.force) {
          const remedy =
            owner.host === self.host ? 'stop that process first' : 'if that host is gone for good, start with DATA_DIR_FORCE_UNLOCK=1 (or --force-unlock)'
          throw new DataDirLockedError(`data directory ${dir} is in use by ${describe(owner)}; ${remedy}`)
        }
      }
      await removeIf(path, held)
    }
    throw new DataDirLockedError(`data directory ${dir}: could not take its lock file ${path}; another process keeps taking it`)
  }

  /**
   * Whether the lock file is still this acquisition's (nobody removed it by hand, nobody took it
   * over): one stat, cheap enough to ask before every append.
   */
  async held(): Promise<boolean> {
    const identity = await identityOf(this.path).catch(() => undefined)
    if (identity === undefined) return false
    if (identity === this.identity) return true
    // Touched (a chmod, a racer's check that put it back) but maybe still ours: its content says.
    if ((await readFile(this.path, 'utf8').catch(() => '')) !== this.text) return false
    this.identity = identity
    return true
  }

  /** Removes the lock file if it is still this acquisition's; another process's lock is never touched. */
  async release(): Promise<void> {
    if (await this.held()) await unlink(this.path).catch(() => undefined)
  }

  private get text(): string {
    return `${JSON.stringify(this.owner)}\n`
  }
}

/** Inode and change time to the nanosecond: an inode number alone may be reused by the next file. */
async function identityOf(path: string): Promise<string> {
  const s = await stat(path, { bigint: true })
  return `${s.ino}:${s.ctimeNs}`
}

/** Writes the whole file under a temporary name, then links it into place: it appears complete, or not at all. */
async function createExclusive(path: string, text: string): Promise<boolean> {
  const tmp = `${path}.${process.pid}.${randomUUID().slice(0, 8)}.tmp`
  const file = await open(tmp, 'wx', 0o600)
  try {
    await file.writeFile(text)
    await file.sync()
  } finally {
    await file.close()
  }
  try {
    await link(tmp, path)
    return true
  } catch (err) {
    // EEXIST: someone holds it; ENOENT: the holder cleared our temp file away. Either way, look again.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST' || (err as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw err
  } finally {
    await unlink(tmp).catch(() => undefined)
  }
}

/**
 * Removes the lock file only if it still holds `expected`. It is moved aside first and checked
 * there, so a racer's fresh lock that arrived in between is put back rather than deleted.
 */
async function removeIf(path: string, expected: string): Promise<void> {
  const aside = `${path}.${process.pid}.${randomUUID().slice(0, 8)}.stale`
  try {
    await rename(path, aside)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
    throw err
  }
  const moved = await readFile(aside, 'utf8').catch(() => expected)
  if (moved !== expected) await link(aside, path).catch(() => undefined)
  await unlink(aside).catch(() => undefined)
}
