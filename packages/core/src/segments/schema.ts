// Segments: named, reusable audiences that rules name with `in_segment`. TypeBox schemas of the
// record, its inputs and its listing. Members (`users`, `tenants`) may number a million; they change
// through POST /segments/:key/targets and travel as additions and removals, never whole.
import { Type, type Static } from 'typebox'
import { IDENTIFIER_PATTERN, TEXT_PATTERN, ref } from '../schema.js'
import { Clause, MAX_CLAUSES } from '../flags/rules.js'
import { MAX_BETA_IDS, MAX_ID_LENGTH } from '../flags/schema.js'
import { SEGMENT_DEFAULTS as DEFAULTS } from '../flags/defaults.js'

/** Members a segment may hold, users and tenants together. */
export const MAX_SEGMENT_MEMBERS = 1_000_000
/** Segments larger than this are not sent to SDKs unless they ask (SEGMENT_INLINE_MAX's default). */
export const SEGMENT_INLINE_MAX_DEFAULT = 10_000

export const SegmentKey = Type.String({
  minLength: 1,
  maxLength: 200,
  pattern: '^[a-z][a-z0-9_-]*$',
  description: 'Lowercase, digits, _ and -; immutable',
  examples: ['beta-testers'],
})

const Id = Type.String({ minLength: 1, maxLength: MAX_ID_LENGTH, pattern: IDENTIFIER_PATTERN })
const IdList = Type.Array(Id, { maxItems: MAX_BETA_IDS, description: 'At most 10,000 in one request; duplicates removed; stored in Unicode NFC' })

const mutable = {
  description: Type.String({ maxLength: 1000, pattern: TEXT_PATTERN }),
  users: IdList,
  tenants: IdList,
  excludedUsers: IdList,
  excludedTenants: IdList,
  clauses: Type.Array(ref(Clause), { maxItems: MAX_CLAUSES, description: 'A context matching all of them is in (none: only listed ids are); no in_segment' }),
}

const managed = {
  version: Type.Integer({ minimum: 1, description: '+1 on every change' }),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
  updatedBy: Type.String({ description: 'Name of the token that made the last change' }),
}

export const Segment = Type.Object(
  {
    key: SegmentKey,
    ...mutable,
    users: Type.Array(Type.String(), { description: `Included user ids (up to ${MAX_SEGMENT_MEMBERS.toLocaleString('en')} members in all)` }),
    tenants: Type.Array(Type.String(), { description: 'Included tenant ids' }),
    ...managed,
  },
  {
    $id: 'Segment',
    additionalProperties: false,
    description: 'Excluded ids are never in; then listed ids are; then a context matching every clause is',
  },
)
export type Segment = Static<typeof Segment>

/** A segment without its member lists, which may be a million ids: what GET /segments lists. */
export const SegmentSummary = Type.Object(
  {
    key: SegmentKey,
    description: mutable.description,
    userCount: Type.Integer({ minimum: 0 }),
    tenantCount: Type.Integer({ minimum: 0 }),
    excludedUsers: Type.Array(Type.String()),
    excludedTenants: Type.Array(Type.String()),
    clauses: mutable.clauses,
    ...managed,
  },
  { $id: 'SegmentSummary', additionalProperties: false },
)
export type SegmentSummary = Static<typeof SegmentSummary>

export const SegmentCreate = Type.Object(
  {
    key: SegmentKey,
    description: Type.Optional(mutable.description),
    users: Type.Optional(IdList),
    tenants: Type.Optional(IdList),
    excludedUsers: Type.Optional(IdList),
    excludedTenants: Type.Optional(IdList),
    clauses: Type.Optional(mutable.clauses),
  },
  {
    $id: 'SegmentCreate',
    additionalProperties: false,
    examples: [{ key: 'beta-testers', description: 'People who asked for early access', users: ['user-42'], clauses: [] }],
  },
)
export type SegmentCreate = Static<typeof SegmentCreate>

export const SegmentPatch = Type.Object(
  {
    description: Type.Optional(mutable.description),
    users: Type.Optional(IdList),
    tenants: Type.Optional(IdList),
    excludedUsers: Type.Optional(IdList),
    excludedTenants: Type.Optional(IdList),
    clauses: Type.Optional(mutable.clauses),
  },
  {
    $id: 'SegmentPatch',
    additionalProperties: false,
    minProperties: 1,
    description: '`users` and `tenants` replace the members whole: to change a few of a large segment, use POST /segments/{key}/targets',
    examples: [{ clauses: [{ attribute: 'email', operator: 'ends_with', values: ['@example.com'] }] }],
  },
)
export type SegmentPatch = Static<typeof SegmentPatch>

export const SEGMENT_MUTABLE_FIELDS = Object.keys(mutable) as (keyof SegmentPatch)[]

/** What a field left out of a segment create (or a flags file) means. */
export const SEGMENT_DEFAULTS: Required<Omit<SegmentCreate, 'key'>> = DEFAULTS

export function summarize(segment: Segment): SegmentSummary {
  const { users, tenants, ...rest } = segment
  return { ...rest, userCount: users.length, tenantCount: tenants.length }
}

export const segmentSchemas = [Segment, SegmentSummary, SegmentCreate, SegmentPatch]
