// The flags file: the declarative format `flagctl export` writes and `plan`, `apply` and
// FLAGS_BOOTSTRAP_FILE read. Validated with the API's own flag schema and the model's checks
// (flags/model.ts); errors name the path and line.
import { readFile } from 'node:fs/promises'
import { Ajv, type ErrorObject } from 'ajv'
import { Type, type Static } from 'typebox'
import { Document, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document as YamlDocument } from 'yaml'
import { toNfc } from './identity.js'
import { scheduleProblem, settleClauses, settleRules, variantsProblem, type ModelProblem } from './model.js'
import { Clause, MAX_CLAUSES, MAX_RULES, Rule, RULE_ID_PATTERN, type Serve } from './rules.js'
import { normalGuard, Schedule, type Ramp, type ScheduleStep } from './schedule.js'
import { parseInstant } from './values.js'
import { MAX_VARIANTS, Variant } from './variants.js'
import { byKey, FLAG_DEFAULTS, FlagCreate, MAX_BETA_IDS, MAX_ID_LENGTH, type Flag } from './schema.js'
import { IDENTIFIER_PATTERN, TEXT_PATTERN } from '../schema.js'
import { describeValidationError, pointerSegments } from '../validation-errors.js'

const RuleSpec = Type.Object(
  {
    ...Rule.properties,
    id: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        pattern: RULE_ID_PATTERN,
        description:
          'Stable: a rule percentage buckets by it. May be left out: a rule without id is compared with the live rule at the same position, ' +
          "ignoring that rule's id, so a file without ids plans no changes once applied, and a rule edited in place keeps its id. " +
          'Give ids to keep rules apart when they are added, removed or moved.',
      }),
    ),
  },
  { additionalProperties: false, description: 'A targeting rule: when every clause matches, it serves `serve`' },
)
export type RuleSpec = Static<typeof RuleSpec>

// The API's schedule without `pausedAt` and `guardPause`, which the server sets when a schedule
// pauses: a file declares whether a schedule is paused, never since when or why.
const { pausedAt: _pausedAt, guardPause: _guardPause, ...scheduleFields } = Schedule.properties
const ScheduleSpec = Type.Object(
  {
    ...scheduleFields,
    paused: Type.Optional(
      Type.Boolean({
        description:
          'Frozen: the flag answers with the state and percentage this file gives it, whatever the steps or ramp say; ' +
          'without it, apply resumes a schedule paused on the server (the server moves what is left of it later by the time it was paused)',
      }),
    ),
  },
  {
    $id: 'ScheduleSpec',
    additionalProperties: false,
    description:
      'Exactly one of `steps` and `ramp`: they drive the state and the fall-through percentage as time passes, from the state and percentage ' +
      'above (in force before the first step or the ramp). Instants already past are taken as past: a file never becomes invalid as time passes',
  },
)
export type ScheduleSpec = Static<typeof ScheduleSpec>

const FlagSpec = Type.Object(
  {
    ...FlagCreate.properties,
    variants: Type.Optional(
      Type.Array(Variant, {
        maxItems: MAX_VARIANTS,
        description:
          'Left out (or empty): the flag answers on or off. In order: the default split gives each variant its range of buckets in this order, ' +
          'so reordering variants moves users between them. Weights sum to 100; a variant without a weight gets none of the split',
      }),
    ),
    offVariant: FlagCreate.properties.offVariant,
    schedule: Type.Optional(ScheduleSpec),
    rules: Type.Optional(
      Type.Array(RuleSpec, { maxItems: MAX_RULES, description: 'In order: the first rule whose clauses all match decides. Left out: no rules' }),
    ),
  },
  {
    additionalProperties: false,
    description: 'One flag: every field the API lets you change. A field left out means its default.',
  },
)
type FlagSpec = Static<typeof FlagSpec>

// segments/schema.ts's key pattern and member limit. Not imported from there: segments/ builds on
// flags/, never the other way round (test/unit/flags-file.test.ts holds the two equal).
const SEGMENT_KEY_PATTERN = '^[a-z][a-z0-9_-]*$'
const MAX_SEGMENT_MEMBERS = 1_000_000

const Id = Type.String({ minLength: 1, maxLength: MAX_ID_LENGTH, pattern: IDENTIFIER_PATTERN })
const Members = (what: string) =>
  Type.Array(Id, {
    maxItems: MAX_SEGMENT_MEMBERS,
    description: `${what}; a set (duplicates removed, order not kept), compared in Unicode NFC. Users and tenants: at most 1,000,000 in all`,
  })
const Excluded = (what: string) => Type.Array(Id, { maxItems: MAX_BETA_IDS, description: `${what}; a set, compared in Unicode NFC` })

// Small fields first and the member lists, which may hold a million ids, last.
const SegmentSpec = Type.Object(
  {
    key: Type.String({
      minLength: 1,
      maxLength: 200,
      pattern: SEGMENT_KEY_PATTERN,
      description: 'Lowercase, digits, _ and -; what rules name with in_segment',
    }),
    description: Type.Optional(Type.String({ maxLength: 1000, pattern: TEXT_PATTERN })),
    clauses: Type.Optional(
      Type.Array(Clause, { maxItems: MAX_CLAUSES, description: 'A context matching all of them is in (none: only listed ids are); no in_segment' }),
    ),
    excludedUsers: Type.Optional(Excluded('User ids never in')),
    excludedTenants: Type.Optional(Excluded('Tenant ids never in')),
    users: Type.Optional(Members('Included user ids')),
    tenants: Type.Optional(Members('Included tenant ids')),
  },
  {
    additionalProperties: false,
    description:
      'One segment, a named audience rules name with in_segment: excluded ids are never in; then listed ids are; then a context matching every clause is. ' +
      'A field left out means empty.',
  },
)
export type SegmentSpec = Static<typeof SegmentSpec>

export const FlagsFile = Type.Object(
  {
    $schema: Type.Optional(Type.String({ description: 'Where editors find this schema; ignored by Switchyard' })),
    version: Type.Literal(1, { description: 'Format version' }),
    flags: Type.Array(FlagSpec, { description: 'Each key at most once; order does not matter' }),
    segments: Type.Optional(
      Type.Array(SegmentSpec, {
        description:
          'Each key at most once; order does not matter. Left out, the file does not manage segments: plan and apply leave every segment alone, ' +
          'even with --prune. Present (even empty), --prune deletes the segments it does not list.',
      }),
    ),
  },
  {
    additionalProperties: false,
    title: 'Switchyard flags file',
    description: 'Flags as code: the state flagctl export writes and flagctl plan/apply and FLAGS_BOOTSTRAP_FILE read (YAML or JSON).',
  },
)
export type FlagsFile = Static<typeof FlagsFile>

/**
 * A flag as the file declares it, every field present: defaults filled in, tags and ids as sorted
 * sets, rules in normal form. `variants` and `offVariant` only on a flag with variants (a flag
 * without them answers on or off, as every flag did before them), the variants in declared order.
 */
export type FullSpec = Required<Omit<FlagSpec, 'variants' | 'offVariant' | 'schedule'>> & Pick<FlagSpec, 'variants' | 'offVariant' | 'schedule'>
export type VariantSpec = Variant

export const SPEC_DEFAULTS: Omit<FullSpec, 'key'> = FLAG_DEFAULTS

/** A segment as the file declares it, every field present: members as sorted sets, clauses in normal form. */
export type FullSegmentSpec = Required<SegmentSpec>

export const SEGMENT_SPEC_DEFAULTS: Omit<FullSegmentSpec, 'key'> = {
  description: '',
  clauses: [],
  excludedUsers: [],
  excludedTenants: [],
  users: [],
  tenants: [],
}

// Tags and beta ids are sets to the service (duplicates dropped, order never consulted); sorting
// them makes two services holding the same flags export the same bytes, whatever order edits came in.
const sortedSet = (list: readonly string[]) => [...new Set(list)].sort()
// Ids as the service stores them (NFC), so a file written in another normal form plans no change.
const idSet = (list: readonly string[]) => sortedSet(list.map(toNfc))

/** A clause as files hold and plans compare it: string values in NFC (as stored), `negate` only when true, fields in one order. */
export function normalClause(clause: Clause): Clause {
  const { attribute, operator, values, negate } = clause
  return {
    ...(attribute === undefined ? {} : { attribute }),
    operator,
    values: values.map((v) => (typeof v === 'string' ? toNfc(v) : v)),
    ...(negate === true ? { negate } : {}),
  }
}

/**
 * What a rule serves, fields in one order. `stickiness: userId` is a percentage's default, and left
 * out; with a split it is kept as given, since a split's default is the flag's stickiness, which
 * another line of the file may change.
 */
export function normalServe({ enabled, percentage, stickiness, variant, split }: Serve): Serve {
  return {
    ...(enabled === undefined ? {} : { enabled }),
    ...(percentage === undefined ? {} : { percentage }),
    ...(stickiness === undefined || (stickiness === 'userId' && split === undefined) ? {} : { stickiness }),
    ...(variant === undefined ? {} : { variant }),
    ...(split === undefined ? {} : { split: split.map((share) => ({ variant: share.variant, weight: share.weight })) }),
  }
}

/** A variant in normal form: a weight only when it is above 0 (absent means 0), a description only when not empty. */
export function normalVariant({ key, value, weight, description }: Variant): Variant {
  return { key, value, ...(weight ? { weight } : {}), ...(description ? { description } : {}) }
}

/** A rule in normal form: optional fields only when they say something (a live rule keeps its id). */
export function normalRule(rule: RuleSpec): RuleSpec {
  const { id, description, clauses, serve } = rule
  return {
    ...(id === undefined ? {} : { id }),
    ...(description ? { description } : {}),
    clauses: clauses.map(normalClause),
    serve: normalServe(serve),
  }
}

// An instant as files hold and plans compare it: UTC, milliseconds only when there are some, so
// `10:00+01:00` and the server's `09:00:00.000Z` (what a resume writes) are one instant.
const instantText = (at: string) => {
  const ms = parseInstant(at)
  return Number.isNaN(ms) ? at : new Date(ms).toISOString().replace('.000Z', 'Z')
}

/**
 * A schedule in normal form: fields in the schema's order, instants in UTC, a guard with its
 * defaults spelled out, `paused` only when true, never `pausedAt` or `guardPause`.
 */
export function normalSchedule(schedule: ScheduleSpec): ScheduleSpec {
  const step = ({ at, state, percentage }: ScheduleStep): ScheduleStep => ({
    at: instantText(at),
    ...(state === undefined ? {} : { state }),
    ...(percentage === undefined ? {} : { percentage }),
  })
  const ramp = ({ from, to, start, end, interval }: Ramp): Ramp => ({
    from,
    to,
    start: instantText(start),
    end: instantText(end),
    ...(interval === undefined ? {} : { interval }),
  })
  return {
    ...(schedule.steps === undefined ? {} : { steps: schedule.steps.map(step) }),
    ...(schedule.ramp === undefined ? {} : { ramp: ramp(schedule.ramp) }),
    ...(schedule.guard === undefined ? {} : { guard: normalGuard(schedule.guard) }),
    ...(schedule.paused === true ? { paused: true } : {}),
  }
}

/**
 * Also drops what the server manages (version, timestamps, model, `effective`, a schedule's
 * `pausedAt`), so a live flag and a declared one compare field by field.
 */
export function fullSpec(flag: FlagSpec | Flag): FullSpec {
  const d = SPEC_DEFAULTS
  return {
    key: flag.key,
    description: flag.description ?? d.description,
    tags: sortedSet(flag.tags ?? d.tags),
    state: flag.state ?? d.state,
    percentage: flag.percentage ?? d.percentage,
    betaUsers: idSet(flag.betaUsers ?? d.betaUsers),
    betaTenants: idSet(flag.betaTenants ?? d.betaTenants),
    stickiness: flag.stickiness ?? d.stickiness,
    // No variants (or `variants: []`, which the service stores as none): neither field.
    ...(flag.variants !== undefined && flag.variants.length > 0
      ? { variants: flag.variants.map(normalVariant), ...(flag.offVariant === undefined ? {} : { offVariant: flag.offVariant }) }
      : {}),
    ...(flag.schedule === undefined ? {} : { schedule: normalSchedule(flag.schedule) }),
    rules: (flag.rules ?? d.rules).map(normalRule),
  }
}

/** The same for a segment, declared or live (GET /segments/:key, with its members). */
export function fullSegmentSpec(segment: SegmentSpec): FullSegmentSpec {
  const d = SEGMENT_SPEC_DEFAULTS
  return {
    key: segment.key,
    description: segment.description ?? d.description,
    clauses: (segment.clauses ?? d.clauses).map(normalClause),
    excludedUsers: idSet(segment.excludedUsers ?? d.excludedUsers),
    excludedTenants: idSet(segment.excludedTenants ?? d.excludedTenants),
    users: idSet(segment.users ?? d.users),
    tenants: idSet(segment.tenants ?? d.tenants),
  }
}

export type FileFormat = 'yaml' | 'json'

// A clause or a variant whose JSON is at most this long is written on one line in YAML.
const FLOW_CLAUSE_MAX = 120

/**
 * The stable text of a set of flags, and of segments when given (with their members: GET
 * /segments/:key): sorted by key, every field written, fields in one order. Without `segments`
 * the file leaves segments unmanaged.
 */
export function formatFlagsFile(flags: readonly (Flag | FlagSpec)[], format: FileFormat, segments?: readonly SegmentSpec[]): string {
  const file: FlagsFile = { version: 1, flags: flags.map(fullSpec).sort(byKey) }
  if (segments !== undefined) file.segments = segments.map(fullSegmentSpec).sort(byKey)
  if (format === 'json') return JSON.stringify(file, null, 2) + '\n'
  const doc = new Document(file)
  // A rule reads as one line a clause: `{attribute: country, operator: in, values: [NL]}`.
  const flow = (path: (string | number)[]) => {
    const node = doc.getIn(path, true)
    if (isMap(node) || isSeq(node)) node.flow = true
  }
  const flowClauses = (path: (string | number)[], items: readonly (Clause | Variant)[]) =>
    items.forEach((item, k) => JSON.stringify(item).length <= FLOW_CLAUSE_MAX && flow([...path, k]))
  file.flags.forEach((flag, i) => {
    // A variant a line: `{key: treatment, value: green, weight: 50}`.
    flowClauses(['flags', i, 'variants'], flag.variants ?? [])
    // A step a line, and the ramp on one: `{at: 2030-03-03T09:00:00Z, percentage: 5}`.
    flag.schedule?.steps?.forEach((_, j) => flow(['flags', i, 'schedule', 'steps', j]))
    if (flag.schedule?.ramp !== undefined) flow(['flags', i, 'schedule', 'ramp'])
    flag.rules?.forEach((rule, j) => {
      flowClauses(['flags', i, 'rules', j, 'clauses'], rule.clauses)
      flow(['flags', i, 'rules', j, 'serve'])
    })
  })
  file.segments?.forEach((segment, i) => flowClauses(['segments', i, 'clauses'], segment.clauses ?? []))
  // lineWidth 0: long descriptions stay on one line, so an edit shows as a one-line diff.
  return '# Switchyard flags (flagctl export). A field left out means its default.\n' + doc.toString({ lineWidth: 0, flowCollectionPadding: false })
}

/** One `source:line:col: path rule` line per problem (flagctl maps it to a usage error, exit 1). */
export class FlagsFileError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid flags file:\n${problems.join('\n')}`)
    this.name = 'FlagsFileError'
  }
}

/**
 * The file's schema as plain JSON Schema: the API's named schemas (Clause, Serve), which TypeBox
 * nests wherever they are used, written once under `definitions` and referenced, so any validator
 * (and any editor) reads it.
 */
function jsonSchemaOf(schema: object): Record<string, unknown> {
  const definitions: Record<string, unknown> = {}
  const walk = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(walk)
    if (node === null || typeof node !== 'object') return node
    const { $id, ...rest } = node as Record<string, unknown>
    const out = Object.fromEntries(Object.entries(rest).map(([name, value]) => [name, walk(value)]))
    if (typeof out.$ref === 'string' && /^\w+#$/.test(out.$ref)) out.$ref = `#/definitions/${out.$ref.slice(0, -1)}`
    if (typeof $id !== 'string') return out
    if (definitions[$id] !== undefined && JSON.stringify(definitions[$id]) !== JSON.stringify(out)) throw new Error(`two schemas named ${$id}`)
    definitions[$id] = out
    return { $ref: `#/definitions/${$id}` }
  }
  const root = walk(JSON.parse(JSON.stringify(schema))) as Record<string, unknown>
  // A schema referred to by name (ref()) rather than nested must have been nested somewhere too.
  for (const [, name] of JSON.stringify(root).matchAll(/"#\/definitions\/(\w+)"/g))
    if (definitions[name!] === undefined) throw new Error(`the flags file schema refers to ${name}, which it does not define`)
  return { ...root, definitions }
}

/** The flags file's JSON Schema as schema/flags.schema.json holds it (scripts/generate-flags-schema.ts writes it). */
export function flagsJsonSchemaText(): string {
  // title and description first, so the file reads top-down.
  const { title, description } = FlagsFile as { title?: string; description?: string }
  return JSON.stringify({ $schema: 'http://json-schema.org/draft-07/schema#', title, description, ...jsonSchemaOf(FlagsFile) }, null, 2) + '\n'
}

const MAX_PROBLEMS = 20

let validator: ReturnType<Ajv['compile']> | undefined
function validateFile(data: unknown): ErrorObject[] {
  // The options the API validates bodies with: no coercion, and a float-tolerant multipleOf. A
  // schedule's instants (format date-time) are parsed by scheduleProblem, which names the line: Ajv
  // is told the format exists, or it warns on stderr each time it compiles.
  validator ??= new Ajv({
    allErrors: true,
    strict: false,
    coerceTypes: false,
    multipleOfPrecision: 9,
    unicodeRegExp: true,
    formats: { 'date-time': true },
  }).compile(jsonSchemaOf(FlagsFile))
  return validator(data) ? [] : (validator.errors ?? [])
}

/**
 * The errors worth reading. `version: "1"` breaks both `type` and `const`: "must be 1" alone says it
 * better. A value no branch of an anyOf (a clause value: string, number or boolean) accepts: the
 * branch of the value's own type when there is one (a string too long), else one "must be string,
 * number or boolean".
 */
function readableErrors(errors: ErrorObject[]): ErrorObject[] {
  const kept = errors.filter((e, _, all) => !(e.keyword === 'type' && all.some((o) => o.instancePath === e.instancePath && o.keyword === 'const')))
  const out: ErrorObject[] = []
  for (const e of kept) {
    const branch = kept.find((o) => o.keyword === 'anyOf' && o.instancePath === e.instancePath && e.schemaPath.startsWith(`${o.schemaPath}/`))
    if (branch !== undefined) continue
    if (e.keyword !== 'anyOf') {
      out.push(e)
      continue
    }
    const branches = kept.filter((o) => o.instancePath === e.instancePath && o.schemaPath.startsWith(`${e.schemaPath}/`))
    const ofItsType = branches.filter((o) => o.keyword !== 'type')
    if (ofItsType.length > 0) out.push(...ofItsType)
    else {
      const types = branches.map((o) => String((o.params as { type: string }).type))
      const listed = types.length > 1 ? `${types.slice(0, -1).join(', ')} or ${types.at(-1)}` : (types[0] ?? 'valid')
      out.push({ ...e, message: `must be ${listed}` })
    }
  }
  return out
}

/** `[2].clauses[0].values[1]` (a model problem's field) as JSON pointer segments. */
function fieldSegments(field: string): string[] {
  return [...field.matchAll(/\[(\d+)\]|\.([^.[\]]+)/g)].map((m) => m[1] ?? m[2]!)
}

/**
 * Parses YAML or JSON (YAML is a superset of JSON, so one parser gives line numbers for both).
 * Throws FlagsFileError with one `source:line:col: path rule` line per problem: the schema's, then
 * the model's (flags/model.ts: what each operator's values must be, rule ids unique in a flag), keys
 * declared twice and segments over their member limit.
 */
export function parseFlagsFile(text: string, source: string): FlagsFile {
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true })
  const at = (offset: number | undefined) => {
    const pos = offset === undefined ? undefined : lines.linePos(offset)
    return pos ? `${source}:${pos.line}:${pos.col}:` : `${source}:`
  }
  if (doc.errors.length > 0) throw new FlagsFileError(doc.errors.slice(0, MAX_PROBLEMS).map((e) => `${at(e.pos[0])} ${e.message}`))

  let data: unknown
  try {
    data = doc.toJS()
  } catch (err) {
    throw new FlagsFileError([`${at(0)} ${(err as Error).message}`])
  }
  const errors = readableErrors(validateFile(data))
  if (errors.length > 0) {
    const located = errors.map((e) => ({ offset: offsetOf(doc, e) ?? 0, problem: describeProblem(e) })).sort((a, b) => a.offset - b.offset)
    throw new FlagsFileError(located.slice(0, MAX_PROBLEMS).map((p) => `${at(p.offset)} ${p.problem}`))
  }

  const file = data as FlagsFile
  const problems: { offset: number; problem: string }[] = []
  const report = (segments: (string | number)[], problem: string) =>
    problems.push({ offset: offsetOf(doc, { instancePath: segments.map((s) => `/${s}`).join('') }) ?? 0, problem })
  const reportModel = (list: 'flags' | 'segments', i: number, field: 'rules' | 'clauses', { field: at, message }: ModelProblem) =>
    report([list, i, field, ...fieldSegments(at)], `${list}[${i}].${field}${at} ${message}`)
  const once = (list: 'flags' | 'segments', items: readonly { key: string }[]) => {
    const firstIndex = new Map<string, number>()
    items.forEach(({ key }, i) => {
      const first = firstIndex.get(key)
      if (first === undefined) firstIndex.set(key, i)
      else report([list, i, 'key'], `${list}[${i}].key '${key}' is already declared at ${list}[${first}]`)
    })
  }
  once('flags', file.flags)
  once('segments', file.segments ?? [])
  file.flags.forEach((flag, i) => {
    const { problem } = settleRules(flag.rules ?? [])
    if (problem) reportModel('flags', i, 'rules', problem)
    // Variants, offVariant and what rules serve with them: fields relative to the flag (`.variants[1].value`).
    const variants = variantsProblem(flag)
    if (variants) report(['flags', i, ...fieldSegments(variants.field)], `flags[${i}]${variants.field} ${variants.message}`)
    // Without `now`: a step already past is not a problem in a file (flags/model.ts).
    const schedule = flag.schedule && scheduleProblem(flag.schedule)
    if (schedule) report(['flags', i, ...fieldSegments(schedule.field)], `flags[${i}]${schedule.field} ${schedule.message}`)
  })
  file.segments?.forEach((segment, i) => {
    const { problem } = settleClauses(segment.clauses ?? [])
    if (problem) reportModel('segments', i, 'clauses', problem)
    const members = new Set((segment.users ?? []).map(toNfc)).size + new Set((segment.tenants ?? []).map(toNfc)).size
    if (members > MAX_SEGMENT_MEMBERS)
      report(
        ['segments', i],
        `segments[${i}] holds ${members.toLocaleString('en')} users and tenants: at most ${MAX_SEGMENT_MEMBERS.toLocaleString('en')} in all`,
      )
  })
  if (problems.length > 0)
    throw new FlagsFileError(
      problems
        .sort((a, b) => a.offset - b.offset)
        .slice(0, MAX_PROBLEMS)
        .map((p) => `${at(p.offset)} ${p.problem}`),
    )
  return file
}

export async function readFlagsFile(path: string): Promise<FlagsFile> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new FlagsFileError([`${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`])
  }
  return parseFlagsFile(text, path)
}

/** `flags[2].percentage must be <= 100`, in the words the API uses for the same rule. */
function describeProblem(e: ErrorObject): string {
  const { field, message } = describeValidationError([e], '')
  const path = field.replace(/^\./, '') || '(the file)'
  const rule = e.keyword === 'const' ? `must be ${JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)}` : message.slice(field.length + 1)
  return `${path} ${rule}`
}

/**
 * Where in the text a validation error belongs: the offending value, the unknown field's key,
 * or, for a missing field, the object that lacks it.
 */
function offsetOf(doc: YamlDocument, e: Pick<ErrorObject, 'instancePath'> & Partial<Pick<ErrorObject, 'keyword' | 'params'>>): number | undefined {
  const segments = pointerSegments(e.instancePath)
  const unknownField = e.keyword === 'additionalProperties' ? (e.params as { additionalProperty: string }).additionalProperty : undefined
  if (unknownField !== undefined) segments.push(unknownField)
  let node: unknown = doc.contents
  let offset = (node as { range?: [number] } | null)?.range?.[0]
  for (const [i, segment] of segments.entries()) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === segment)
      if (!pair) break
      const last = i === segments.length - 1
      const target = (last && unknownField !== undefined) || !pair.value ? pair.key : pair.value
      offset = (target as { range?: [number] }).range?.[0] ?? offset
      node = pair.value
    } else if (isSeq(node)) {
      const item = node.items[Number(segment)]
      if (!item) break
      offset = (item as { range?: [number] }).range?.[0] ?? offset
      node = item
    } else break
  }
  return offset
}
