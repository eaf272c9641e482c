// plan: what `apply` must do to make the live flags match a flags file. Pure: it reads nothing
// itself, so `plan` and `apply` show and carry out exactly the same steps.
import { diff } from '@switchyard/core/audit/diff'
import type { FieldChange } from '@switchyard/core/audit/schema'
import { byKey, MUTABLE_FIELDS, type Flag, type FlagPatch } from '@switchyard/core/flags/schema'
import { fullSpec, SPEC_DEFAULTS, type FlagsFile, type FullSpec } from '@switchyard/core/flags/flags-file'
import { describeChanges, table } from './output.js'

export type PlanStep =
  | { action: 'create'; key: string; flag: FullSpec }
  /** `version` is the one the plan read: apply sends it as If-Match. */
  | { action: 'update'; key: string; version: number; patch: FlagPatch; changes: Record<string, FieldChange> }
  | { action: 'delete'; key: string; version: number }

export interface Plan {
  steps: PlanStep[]
  /** Flags on the server that the file does not mention; left alone unless --prune. */
  unmanaged: string[]
}

export function computePlan(live: readonly Flag[], file: FlagsFile, prune: boolean): Plan {
  const liveByKey = new Map(live.map((f) => [f.key, f]))
  const steps: PlanStep[] = []
  for (const spec of file.flags.map(fullSpec)) {
    const current = liveByKey.get(spec.key)
    if (!current) {
      steps.push({ action: 'create', key: spec.key, flag: spec })
      continue
    }
    // Both sides through fullSpec: defaults filled in and id lists compared as sets.
    const changes = diff(fullSpec(current), spec, MUTABLE_FIELDS)
    const fields = Object.keys(changes) as (keyof FlagPatch)[]
    if (fields.length === 0) continue
    const patch = Object.fromEntries(fields.map((field) => [field, spec[field]])) as FlagPatch
    steps.push({ action: 'update', key: spec.key, version: current.version, patch, changes })
  }
  const declared = new Set(file.flags.map((f) => f.key))
  const unmanaged = live.filter((f) => !declared.has(f.key)).sort(byKey)
  if (prune) for (const flag of unmanaged) steps.push({ action: 'delete', key: flag.key, version: flag.version })
  return { steps: steps.sort(byKey), unmanaged: prune ? [] : unmanaged.map((f) => f.key) }
}

export function planSummary(plan: Plan): Record<PlanStep['action'], number> {
  const counts = { create: 0, update: 0, delete: 0 }
  for (const step of plan.steps) counts[step.action]++
  return counts
}

/** A created flag shows only what differs from the defaults; an update shows each field's before → after. */
function describeStep(step: PlanStep): string {
  if (step.action === 'delete') return `version ${step.version}`
  if (step.action === 'update') return `version ${step.version}: ${describeChanges(step.changes)}`
  const set = diff({ key: step.key, ...SPEC_DEFAULTS }, step.flag, MUTABLE_FIELDS)
  const fields = Object.entries(set).map(([field, change]) =>
    change.added !== undefined ? `${field}=[${change.added.join(', ')}]` : `${field}=${JSON.stringify(change.after)}`,
  )
  return fields.length > 0 ? fields.join(' ') : 'all defaults'
}

const SIGN = { create: '+', update: '~', delete: '-' } as const

export function renderPlan(plan: Plan, target: string, source: string): string {
  const lines: string[] = []
  if (plan.steps.length === 0) lines.push(`No changes: ${target} matches ${source}.`)
  else {
    lines.push(`Changes that make ${target} match ${source}:`, '')
    lines.push(
      table(
        ['', 'KEY', 'ACTION', 'WHAT'],
        plan.steps.map((s) => [SIGN[s.action], s.key, s.action, describeStep(s)]),
      ),
    )
    const c = planSummary(plan)
    lines.push('', `Plan: ${c.create} to create, ${c.update} to update, ${c.delete} to delete.`)
  }
  if (plan.unmanaged.length > 0) lines.push(`Not in ${source}, left alone (--prune deletes them): ${plan.unmanaged.join(', ')}`)
  return lines.join('\n')
}
