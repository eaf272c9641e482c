// Flags and contexts the benchmark cases share, built deterministically.
import { FLAG_DEFAULTS, type Flag } from '../packages/core/src/flags/schema.js'
import type { Write } from '../packages/server/src/store/store.js'

export const BENCH_TOKEN = 'bench-admin-token-0123456789abcdef'

export function makeFlag(key: string, overrides: Partial<Flag> = {}): Flag {
  const now = '2026-01-01T00:00:00.000Z'
  return {
    key,
    ...FLAG_DEFAULTS,
    rules: [],
    model: 1,
    state: 'percentage',
    percentage: 50,
    version: 1,
    createdAt: now,
    updatedAt: now,
    updatedBy: 'bench',
    ...overrides,
  }
}

/** `count` flags: bench_flag (percentage 50) first, the rest cycling through every state. */
export function makeFlags(count: number, betaUsers = 0): Flag[] {
  const states = ['enabled', 'disabled', 'beta_users', 'percentage'] as const
  const flags = [makeFlag('bench_flag', { betaUsers: Array.from({ length: betaUsers }, (_, i) => `beta-user-${i}`) })]
  for (let i = 1; i < count; i++) flags.push(makeFlag(`flag_${i}`, { state: states[i % 4]!, percentage: (i * 7) % 100 }))
  return flags
}

/** The store write that seeds a flag directly, as a deployment that already holds it would. */
export function seedWrite(flag: Flag, expectedVersion = 0): Write {
  const action = expectedVersion === 0 ? 'flag.created' : 'flag.updated'
  return {
    kind: 'flag',
    key: flag.key,
    expectedVersion,
    next: flag,
    audit: {
      id: `${flag.key}@${flag.version}`,
      type: 'audit',
      action,
      flag: flag.key,
      actor: 'bench',
      requestId: 'seed',
      timestamp: flag.createdAt,
      changes: {},
    },
  }
}
