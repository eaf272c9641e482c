// The flags file: the declarative format `flagctl export` writes and `plan`, `apply` and
// FLAGS_BOOTSTRAP_FILE read. Validated with the API's own flag schema; errors name the path and line.
import { readFile } from 'node:fs/promises'
import { Ajv, type ErrorObject } from 'ajv'
import { Type, type Static } from 'typebox'
import { isMap, isScalar, isSeq, LineCounter, parseDocument, stringify, type Document } from 'yaml'
import { toNfc } from './identity.js'
import { byKey, FLAG_DEFAULTS, FlagCreate, type Flag } from './schema.js'
import { describeValidationError, pointerSegments } from '../validation-errors.js'

const FlagSpec = Type.Object(FlagCreate.properties, {
  additionalProperties: false,
  description: 'One flag: every field the API lets you change. A field left out means its default.',
})
type FlagSpec = Static<typeof FlagSpec>

export const FlagsFile = Type.Object(
  {
    $schema: Type.Optional(Type.String({ description: 'Where editors find this schema; ignored by Switchyard' })),
    version: Type.Literal(1, { description: 'Format version' }),
    flags: Type.Array(FlagSpec, { description: 'Each key at most once; order does not matter' }),
  },
  {
    additionalProperties: false,
    title: 'Switchyard flags file',
    description: 'Flags as code: the state flagctl export writes and flagctl plan/apply and FLAGS_BOOTSTRAP_FILE read (YAML or JSON).',
  },
)
export type FlagsFile = Static<typeof FlagsFile>

/** A flag as the file declares it, every field present: defaults filled in, tags and ids as sorted sets. */
export type FullSpec = Required<FlagSpec>

export const SPEC_DEFAULTS: Omit<FullSpec, 'key'> = FLAG_DEFAULTS

// Tags and beta ids are sets to the service (duplicates dropped, order never consulted); sorting
// them makes two services holding the same flags export the same bytes, whatever order edits came in.
const sortedSet = (list: readonly string[]) => [...new Set(list)].sort()
// Ids as the service stores them (NFC), so a file written in another normal form plans no change.
const idSet = (list: readonly string[]) => sortedSet(list.map(toNfc))

/** Also drops what the server manages (version, timestamps), so a live flag and a declared one compare field by field. */
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
  }
}

export type FileFormat = 'yaml' | 'json'

/** The stable text of a set of flags: sorted by key, every field written, fields in one order. */
export function formatFlagsFile(flags: readonly (Flag | FlagSpec)[], format: FileFormat): string {
  const file: FlagsFile = { version: 1, flags: flags.map(fullSpec).sort(byKey) }
  if (format === 'json') return JSON.stringify(file, null, 2) + '\n'
  // lineWidth 0: long descriptions stay on one line, so an edit shows as a one-line diff.
  return '# Switchyard flags (flagctl export). A field left out means its default.\n' + stringify(file, { lineWidth: 0 })
}

/** One `source:line:col: path rule` line per problem (flagctl maps it to a usage error, exit 1). */
export class FlagsFileError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid flags file:\n${problems.join('\n')}`)
    this.name = 'FlagsFileError'
  }
}

/** The flags file's JSON Schema as schema/flags.schema.json holds it (scripts/generate-flags-schema.ts writes it). */
export function flagsJsonSchemaText(): string {
  // title and description first, so the file reads top-down.
  const { title, description } = FlagsFile as { title?: string; description?: string }
  return JSON.stringify({ $schema: 'http://json-schema.org/draft-07/schema#', title, description, ...FlagsFile }, null, 2) + '\n'
}

const MAX_PROBLEMS = 20

let validator: ReturnType<Ajv['compile']> | undefined
function validateFile(data: unknown): ErrorObject[] {
  // The options the API validates bodies with: no coercion, and a float-tolerant multipleOf.
  validator ??= new Ajv({ allErrors: true, strict: false, coerceTypes: false, multipleOfPrecision: 9, unicodeRegExp: true }).compile(FlagsFile)
  return validator(data) ? [] : (validator.errors ?? [])
}

/**
 * Parses YAML or JSON (YAML is a superset of JSON, so one parser gives line numbers for both).
 * Throws FlagsFileError with one `source:line:col: path rule` line per problem.
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
  // `version: "1"` breaks both `type` and `const`; "must be 1" alone says it better.
  const errors = validateFile(data).filter(
    (e, _, all) => !(e.keyword === 'type' && all.some((o) => o.instancePath === e.instancePath && o.keyword === 'const')),
  )
  if (errors.length > 0) {
    const located = errors.map((e) => ({ offset: offsetOf(doc, e) ?? 0, problem: describeProblem(e) })).sort((a, b) => a.offset - b.offset)
    throw new FlagsFileError(located.slice(0, MAX_PROBLEMS).map((p) => `${at(p.offset)} ${p.problem}`))
  }

  const file = data as FlagsFile
  const firstIndex = new Map<string, number>()
  const duplicates: string[] = []
  file.flags.forEach((flag, i) => {
    const first = firstIndex.get(flag.key)
    if (first === undefined) firstIndex.set(flag.key, i)
    else duplicates.push(`${at(offsetOf(doc, { instancePath: `/flags/${i}/key` }))} flags[${i}].key '${flag.key}' is already declared at flags[${first}]`)
  })
  if (duplicates.length > 0) throw new FlagsFileError(duplicates.slice(0, MAX_PROBLEMS))
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
function offsetOf(doc: Document, e: Pick<ErrorObject, 'instancePath'> & Partial<Pick<ErrorObject, 'keyword' | 'params'>>): number | undefined {
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
