// Segment members travel as ids added and removed (POST /segments/:key/targets), never whole: a
// segment may hold a million. This cuts a change into requests the API takes, and reads id files.
import { readFile } from 'node:fs/promises'
import type { TargetsEdit } from '@switchyard/core/flags/schema'
import { TARGETS_PER_REQUEST } from './client.js'
import { usageError } from './errors.js'

export interface Members {
  users: string[]
  tenants: string[]
}

export const noMembers = (): Members => ({ users: [], tenants: [] })
export const memberCount = (m: Members) => m.users.length + m.tenants.length

/**
 * The requests that make a change: at most `max` ids each, all lists together (the API's limit is
 * per list; this stays under it whatever the mix). Removals go first, so a segment never holds
 * more members on the way than at either end.
 */
export function targetEdits(change: { add?: Members; remove?: Members }, max = TARGETS_PER_REQUEST): TargetsEdit[] {
  const edits: TargetsEdit[] = []
  let edit: TargetsEdit = {}
  let size = 0
  for (const side of ['remove', 'add'] as const) {
    for (const list of ['users', 'tenants'] as const) {
      for (const id of change[side]?.[list] ?? []) {
        if (size === max) {
          edits.push(edit)
          edit = {}
          size = 0
        }
        ;((edit[side] ??= {})[list] ??= []).push(id)
        size++
      }
    }
  }
  if (size > 0) edits.push(edit)
  return edits
}

/** Ids from a file (`-`: stdin), one a line; blank lines are skipped and each line trimmed. */
export async function readIdFile(path: string): Promise<string[]> {
  let text: string
  try {
    if (path === '-') {
      const chunks: Buffer[] = []
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
      text = Buffer.concat(chunks).toString('utf8')
    } else text = await readFile(path, 'utf8')
  } catch (err) {
    throw usageError(`${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`)
  }
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
}

/** `--users a,b --users c` and `--users-file ids.txt`, duplicates dropped, in the order given. */
export async function membersFrom(options: { users?: string[]; tenants?: string[]; usersFile?: string; tenantsFile?: string }): Promise<Members> {
  if (options.usersFile === '-' && options.tenantsFile === '-') throw usageError('only one of --users-file and --tenants-file can read stdin')
  const list = async (given: string[] | undefined, file: string | undefined) => {
    const ids = (given ?? []).flatMap((value) => value.split(',').map((id) => id.trim())).filter((id) => id !== '')
    if (file !== undefined) ids.push(...(await readIdFile(file)))
    return [...new Set(ids)]
  }
  return { users: await list(options.users, options.usersFile), tenants: await list(options.tenants, options.tenantsFile) }
}
