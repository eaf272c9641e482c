// apply: carries out a plan step by step. Each write is conditional on the version the plan
// read (If-Match, or "must not exist" for a create), so a change someone made in between stops
// the run with a clear message instead of being overwritten.
import { ApiError, CliError } from './errors.js'
import type { Api } from './client.js'
import type { Plan, PlanStep } from './plan.js'

// Codes meaning the flag is no longer as the plan read it.
const CONFLICTS = new Set(['VERSION_MISMATCH', 'FLAG_EXISTS', 'FLAG_NOT_FOUND'])

export async function applyPlan(api: Api, plan: Plan, onApplied: (step: PlanStep) => void): Promise<void> {
  const total = plan.steps.length
  for (const [done, step] of plan.steps.entries()) {
    try {
      if (step.action === 'create') await api.createFlag(step.flag)
      else if (step.action === 'update') await api.updateFlag(step.key, step.patch, step.version)
      else await api.deleteFlag(step.key, step.version)
    } catch (err) {
      if (!(err instanceof CliError)) throw err
      const progress = `${done} of ${total} change(s) were applied before it, none after. Run plan again to see where things stand.`
      if (err instanceof ApiError && CONFLICTS.has(err.code)) {
        const was = step.action === 'create' ? 'absent' : `at version ${step.version}`
        throw new CliError(
          `stopped at ${step.action} ${step.key}: the flag changed on the server after the plan read it (${was}): ${err.message}.\n${progress}`,
          err.exitCode,
        )
      }
      throw new CliError(`stopped at ${step.action} ${step.key}: ${err.message}\n${progress}`, err.exitCode)
    }
    onApplied(step)
  }
}
