// A segment head as a store holds it, for tests and benches that write segments to a store directly.
import type { SegmentHead } from '../../packages/server/src/store/store.js'

export const SEGMENT_TIME = '2026-01-01T00:00:00.000Z'

/** The head of segment `key` at `version`: no clauses, no exclusions, written by `by`. */
export function segmentHead(key: string, version: number, description = '', by = 'test'): SegmentHead {
  return {
    key,
    description,
    excludedUsers: [],
    excludedTenants: [],
    clauses: [],
    version,
    createdAt: SEGMENT_TIME,
    updatedAt: SEGMENT_TIME,
    updatedBy: by,
  }
}
