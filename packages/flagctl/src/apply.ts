// apply: carries out a plan step by step. Each write is conditional on the version the plan
// read (If-Match, or "must not exist" for a create), so a change someone made in between stops
// the run with a clear message instead of being overwritten. Segments a flag needs are created
// (and changed) before the flags; segments the flags stopped using are deleted after them.
import { ApiError, CliError } from './errors.js'
import type { Api } from './client.js'
import { targetEdits } from './members.js'
import type { Plan, PlanStep, SegmentStep } from './plan.js'

// Codes meaning the flag or segment is no longer as the plan read it.
const CONFLICTS = new Set(['VERSION_MISMATCH', 'FLAG_EXISTS', 'FLAG_NOT_FOUND', 'SEGMENT_EXISTS', 'SEGMENT_NOT_FOUND'])

export type Operation = { kind: 'flag'; step: PlanStep } | { kind: 'segment'; step: SegmentStep }

/** The plan's steps in the order apply takes them. */
export function operations(plan: Plan): Operation[] {
  const segments = (deletes: boolean) =>
    plan.segments.steps.filter((s) => (s.action === 'delete') === deletes).map((step): Operation => ({ kind: 'segment', step }))
  return [...segments(false), ...plan.steps.map((step): Operation => ({ kind: 'flag', step })), ...segments(true)]
}

/** What an operation is called in progress notes and errors: `copilot_v2`, `segment beta-testers`. */
export const operationName = (op: Operation) => (op.kind === 'segment' ? `segment ${op.step.key}` : op.step.key)

// allowPast: a file's schedule may be past by now, which a file never is refused for (as FLAGS_BOOTSTRAP_FILE).
async function applyFlag(api: Api, step: PlanStep): Promise<void> {
  if (step.action === 'create') await api.createFlag(step.flag, { allowPast: true })
  else if (step.action === 'update') await api.updateFlag(step.key, step.patch, step.version, { allowPast: true })
  else await api.deleteFlag(step.key, step.version)
}

/**
 * A segment step: the create (with at most 10,000 members) or the PATCH of the fields that changed
 * (never the members), then the members as additions and removals in requests of at most 10,000
 * ids. `sent` counts the requests that went through, for the message when one fails.
 */
async function applySegment(api: Api, step: SegmentStep, sent: { requests: number }): Promise<void> {
  if (step.action === 'delete') return api.deleteSegment(step.key, step.version)
  if (step.action === 'create') {
    const [first, ...rest] = targetEdits({ add: step.members })
    await api.createSegment({ ...step.segment, users: first?.add?.users ?? [], tenants: first?.add?.tenants ?? [] })
    sent.requests++
    for (const edit of rest) {
      await api.editSegmentTargets(step.key, edit)
      sent.requests++
    }
    return
  }
  if (Object.keys(step.patch).length > 0) {
    await api.updateSegment(step.key, step.patch, step.version)
    sent.requests++
  }
  // Additions and removals commute with other edits of the members, so they need no If-Match.
  for (const edit of targetEdits(step.members)) {
    await api.editSegmentTargets(step.key, edit)
    sent.requests++
  }
}

export async function applyPlan(api: Api, plan: Plan, onApplied: (op: Operation) => void): Promise<void> {
  const ops = operations(plan)
  const total = ops.length
  for (const [done, op] of ops.entries()) {
    const sent = { requests: 0 }
    try {
      if (op.kind === 'flag') await applyFlag(api, op.step)
      else await applySegment(api, op.step, sent)
    } catch (err) {
      if (!(err instanceof CliError)) throw err
      const { step } = op
      const name = operationName(op)
      const partly = sent.requests > 0 ? ` Of ${name} itself, ${sent.requests} request(s) went through.` : ''
      const progress = `${done} of ${total} change(s) were applied before it, none after.${partly} Run plan again to see where things stand.`
      if (err instanceof ApiError && CONFLICTS.has(err.code) && sent.requests === 0) {
        const was = step.action === 'create' ? 'absent' : `at version ${step.version}`
        throw new CliError(
          `stopped at ${step.action} ${name}: the ${op.kind} changed on the server after the plan read it (${was}): ${err.message}.\n${progress}`,
          err.exitCode,
        )
      }
      throw new CliError(`stopped at ${step.action} ${name}: ${err.message}\n${progress}`, err.exitCode)
    }
    onApplied(op)
  }
}
