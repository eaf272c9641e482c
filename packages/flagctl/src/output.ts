// What flagctl prints: aligned tables for people, JSON for scripts (--json), and the one-line
// summaries of flags and field changes that tables, plans and the audit share.
import type { FieldChange } from '@switchyard/core/audit/schema'
import type { Flag } from '@switchyard/core/flags/schema'

export interface Output {
  /** Prints `data` as JSON with --json, otherwise the text `human` renders. */
  emit(data: unknown, human: () => string): void
  /** Text as it is, on stdout. */
  print(text: string): void
  /** Progress and notes: stderr, so stdout stays clean for pipes. */
  note(text: string): void
}

export function createOutput(json: boolean, stdout: NodeJS.WritableStream = process.stdout, stderr: NodeJS.WritableStream = process.stderr): Output {
  const print = (text: string) => stdout.write(text.endsWith('\n') ? text : `${text}\n`)
  return {
    emit: (data, human) => print(json ? JSON.stringify(data, null, 2) : human()),
    print,
    note(text) {
      stderr.write(`${text}\n`)
    },
  }
}

/** Columns padded to their widest cell; the last column is not padded. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd()
  return [line(headers), ...rows.map(line)].join('\n')
}

const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`

export function flagTable(flags: readonly Flag[]): string {
  if (flags.length === 0) return 'no flags'
  return table(
    ['KEY', 'STATE', 'ROLLOUT', 'BETA', 'VERSION', 'TAGS'],
    flags.map((f) => [
      f.key,
      f.state,
      f.state === 'percentage' ? `${f.percentage}% by ${f.stickiness}` : '-',
      `${count(f.betaUsers.length, 'user')}, ${count(f.betaTenants.length, 'tenant')}`,
      String(f.version),
      f.tags.join(','),
    ]),
  )
}

/** One flag, one field a line. */
export function flagDetails(flag: Flag): string {
  const rows: [string, string][] = [
    ['key', flag.key],
    ['description', flag.description],
    ['tags', flag.tags.join(', ')],
    ['state', flag.state],
    ['percentage', String(flag.percentage)],
    ['stickiness', flag.stickiness],
    ['betaUsers', flag.betaUsers.join(', ')],
    ['betaTenants', flag.betaTenants.join(', ')],
    ['version', String(flag.version)],
    ['createdAt', flag.createdAt],
    ['updatedAt', `${flag.updatedAt} by ${flag.updatedBy}`],
  ]
  return rows.map(([name, value]) => `${`${name}:`.padEnd(13)}${value}`.trimEnd()).join('\n')
}

const shown = (value: unknown) => (typeof value === 'string' ? JSON.stringify(value) : Array.isArray(value) ? `[${value.join(', ')}]` : String(value))

/** `state: "disabled" → "enabled"`, `betaUsers: +alice -bob`: the shape audit events and plans share. */
function describeChange(field: string, change: FieldChange): string {
  if (change.added !== undefined || change.removed !== undefined) {
    const parts = [...(change.added ?? []).map((id) => `+${id}`), ...(change.removed ?? []).map((id) => `-${id}`)]
    return `${field}: ${parts.join(' ')}`
  }
  if (change.before === null || change.before === undefined) return `${field}: ${shown(change.after)}`
  if (change.after === null || change.after === undefined) return `${field}: ${shown(change.before)} → (none)`
  return `${field}: ${shown(change.before)} → ${shown(change.after)}`
}

export function describeChanges(changes: Record<string, FieldChange>): string {
  return Object.entries(changes)
    .map(([field, change]) => describeChange(field, change))
    .join('; ')
}
