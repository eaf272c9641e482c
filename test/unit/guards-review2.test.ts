// Second review of issue 21 (guarded rollouts), without a server: each test FAILS on 3d20239.
import { describe, expect, it } from 'vitest'
import type { Flag, FlagPatch, Guard } from '../../packages/core/src/flags/schema.js'
import type { Api } from '../../packages/flagctl/src/client.js'
import { pauseSchedule } from '../../packages/flagctl/src/commands/schedule.js'
import type { CommandContext } from '../../packages/flagctl/src/context.js'

const RAMP = { from: 1, to: 100, start: '2030-03-02T09:00:00Z', end: '2030-03-09T09:00:00Z' }
const GUARD: Guard = { source: 'prometheus', query: 'errors', comparator: '>', threshold: 0.01, action: 'rollback' }
const flag = (schedule: Flag['schedule']): Flag => ({
  ...{ key: 'copilot_v2', description: '', tags: [], state: 'percentage', percentage: 1, betaUsers: [], betaTenants: [], stickiness: 'userId', rules: [] },
  ...{ version: 7, createdAt: '2030-01-01T00:00:00.000Z', updatedAt: '2030-01-01T00:00:00.000Z', updatedBy: 'guard', model: 5 },
  schedule,
})

describe('review 2: flagctl schedule pause on a ramp the guard holds', () => {
  it('sends the pause, which makes the hold a person’s pause (the guard resumes its own holds, never a person’s)', async () => {
    const hold = { action: 'hold' as const, at: '2030-03-04T10:00:00.000Z', reason: 'prometheus could not be reached (ECONNREFUSED) (3 reads in a row)' }
    const held = flag({ ramp: RAMP, guard: GUARD, paused: true, pausedAt: hold.at, guardPause: hold })
    const sent: FlagPatch[] = []
    const notes: string[] = []
    const api = {
      getFlag: async () => held,
      writeFlag: async (_key: string, patch: FlagPatch) => {
        sent.push(patch)
        return { flag: { ...held, version: 8, schedule: { ...held.schedule!, guardPause: undefined } }, schedule: 'paused' }
      },
    } as unknown as Api
    const ctx: CommandContext = { api, out: { emit: () => {}, print: () => {}, note: (t) => void notes.push(t) } }
    await pauseSchedule(ctx, 'copilot_v2')
    expect(sent, `notes: ${JSON.stringify(notes)}`).toEqual([{ schedule: { ramp: RAMP, guard: GUARD, paused: true } }])
  })
})
