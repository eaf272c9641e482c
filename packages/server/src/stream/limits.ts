// Default limits on open streams, from the process's open-files limit: every stream holds a
// socket, and a process out of descriptors can answer nothing at all (health checks included).
import { readFileSync } from 'node:fs'

/** Used when /proc/self/limits cannot be read (not Linux): a common default soft limit. */
const FALLBACK_OPEN_FILES = 1024
/** Descriptors kept for everything that is not a stream: the store, Redis, plain requests. */
const RESERVED = 128

/** The soft "Max open files" limit of this process, or FALLBACK_OPEN_FILES. */
export function openFilesLimit(text?: string): number {
  try {
    const limits = text ?? readFileSync('/proc/self/limits', 'utf8')
    const m = /^Max open files\s+(\d+|unlimited)\s/m.exec(limits)
    if (!m) return FALLBACK_OPEN_FILES
    return m[1] === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(m[1])
  } catch {
    return FALLBACK_OPEN_FILES
  }
}

/**
 * Half of what the open-files limit leaves after RESERVED for streams in all (at least 16, at
 * most 50,000), a quarter of that per token (one token cannot take every slot), a sixteenth per
 * client address for evaluation streams.
 */
export function defaultStreamLimits(openFiles = openFilesLimit()): { total: number; perToken: number; perAddress: number } {
  const total = Math.min(50_000, Math.max(16, Math.floor((openFiles - RESERVED) / 2)))
  return { total, perToken: Math.max(1, Math.floor(total / 4)), perAddress: Math.max(1, Math.floor(total / 16)) }
}
