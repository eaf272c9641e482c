// A real, small file system for the disk-full and read-only tests: a tmpfs mounted on a fresh
// directory (the tests run as root). Without mount rights the test fails and says so; it never skips.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface Tmpfs {
  readonly path: string
  /** Changes the size limit in place (what is stored stays). */
  resize(size: string): void
  /** Mounts it read-only, or writable again. */
  readOnly(on: boolean): void
  remove(): void
}

function mount(args: string[]): void {
  try {
    execFileSync('mount', args, { stdio: ['ignore', 'ignore', 'pipe'] })
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim() ?? (err as Error).message
    throw new Error(
      `cannot mount a tmpfs (mount ${args.join(' ')}: ${stderr}). These tests need root and mount(8) from util-linux: run them as root on a machine that ` +
        `allows mounts.`,
    )
  }
}

export function mountTmpfs(size: string): Tmpfs {
  const path = mkdtempSync(join(tmpdir(), 'switchyard-tmpfs-'))
  mount(['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', path])
  return {
    path,
    resize: (next) => mount(['-o', `remount,size=${next}`, path]),
    readOnly: (on) => mount(['-o', `remount,${on ? 'ro' : 'rw'}`, path]),
    remove() {
      try {
        execFileSync('umount', ['-l', path], { stdio: 'ignore' })
      } finally {
        rmSync(path, { recursive: true, force: true })
      }
    },
  }
}
