// The published conformance vectors (test/vectors/evaluation.json) replayed end to end: through the
// server's REST API (flags and segments created as a user would, answers from POST /evaluate) and
// through the Node SDK (started from a bootstrap snapshot, answering locally). Core's own replay is
// test/unit/evaluation-vectors.test.ts.
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createClient } from '../../packages/sdk/src/index.js'
import { MemoryStore } from '../../packages/server/src/store/memory.js'
import { StoreClock } from '../../packages/server/src/replica/clock.js'
import { draftEvent } from '../../packages/server/src/audit/audit.js'
import { MODEL_VERSION, type Flag } from '../../packages/core/src/flags/schema.js'
import type { Segment } from '../../packages/core/src/segments/schema.js'
import { expectationOf, loadEvaluationVectors, type EvaluationVector } from '../support/evaluation-vectors.js'
import { call, startApp } from '../support/helpers.js'

const vectors = loadEvaluationVectors()

/** The cases grouped by the flag and segments they need, so each setup is written once. */
function setups(): { flag: Flag; segments: Segment[]; cases: EvaluationVector[] }[] {
  const groups = new Map<string, { flag: Flag; segments: Segment[]; cases: EvaluationVector[] }>()
  for (const c of vectors.cases) {
    const id = JSON.stringify([c.flag, c.segments])
    const group = groups.get(id) ?? { flag: c.flag, segments: c.segments, cases: [] }
    group.cases.push(c)
    groups.set(id, group)
  }
  return [...groups.values()]
}

/** What a user sends to create a record: its fields without those the server manages. */
const input = <T extends Record<string, unknown>>({ version: _v, createdAt: _c, updatedAt: _u, updatedBy: _b, model: _m, ...rest }: T) => rest

describe('the conformance vectors', () => {
  let app: FastifyInstance
  const store = new MemoryStore()
  // The server's clock: a case with `now` is answered at that instant.
  let now = Date.now()
  beforeAll(async () => {
    app = await startApp({}, { store, clock: new StoreClock(() => now) })
  })
  afterAll(async () => {
    await app.close()
  })

  /** Writes (or deletes) a flag as another replica would, straight into the store, and applies it here. */
  async function throughStore(flag: Flag, op: 'put' | 'delete' = 'put'): Promise<void> {
    const actor = { id: 'replica', name: 'replica', requestId: 'r', log: app.log }
    const held = await store.readFlag(flag.key)
    let write
    if (op === 'delete')
      write = { kind: 'flag' as const, key: flag.key, expectedVersion: held!.version, next: null, audit: draftEvent(actor, 'flag.deleted', {}, {}) }
    else {
      const lastVersion = await store
        .commit({ kind: 'flag', key: flag.key, expectedVersion: 0, next: { ...flag, version: 0 }, audit: draftEvent(actor, 'flag.created', {}, {}) })
        .then(
          () => 0,
          (err: { lastVersion: number }) => err.lastVersion,
        )
      write = {
        kind: 'flag' as const,
        key: flag.key,
        expectedVersion: 0,
        next: { ...flag, version: lastVersion + 1 },
        audit: draftEvent(actor, 'flag.created', {}, {}),
      }
    }
    const change = await store.commit(write)
    ;(app.switchyard.sync as unknown as { applyChange(c: unknown): void }).applyChange(change)
  }

  it('hold through the REST API: flags and segments written with POST, answers from POST /evaluate', async () => {
    let checked = 0
    for (const { flag, segments, cases } of setups()) {
      for (const segment of segments) await call(app, 'POST', '/segments', { body: input(segment), expected: 201 })
      // A flag of a newer model, or one naming a segment that is gone, cannot be written through
      // this build's API (409): such a flag arrives from the store (a newer replica, a race).
      // A schedule may lie in the past of the real clock: written as a flags file writes it.
      now = Date.now()
      const created = (flag.model ?? 1) > MODEL_VERSION ? undefined : await call(app, 'POST', '/flags?allowPast=true', { body: input(flag) })
      if (created?.statusCode !== 201) {
        expect(created === undefined || created.json().code === 'UNKNOWN_SEGMENT', created?.body).toBe(true)
        await throughStore(flag)
      }
      for (const c of cases) {
        now = c.now === undefined ? Date.now() : Date.parse(c.now)
        const res = await call(app, 'POST', '/evaluate', { body: { flag: c.flag.key, context: c.context }, expected: 200 })
        expect(expectationOf(res.json()), c.name).toEqual(c.expected)
        checked++
      }
      // The next setup may use the same keys: a flag first, then the segments it named.
      const removal = await call(app, 'DELETE', `/flags/${flag.key}`)
      if (removal.statusCode !== 204) await throughStore(flag, 'delete')
      for (const segment of segments) await call(app, 'DELETE', `/segments/${segment.key}`, { expected: 204 })
    }
    expect(checked).toBe(vectors.cases.length)
  })

  it('hold in the Node SDK, started from a bootstrap snapshot and answering locally', async () => {
    let checked = 0
    for (const { flag, segments, cases } of setups()) {
      // Nothing listens on port 9: the client answers from its bootstrap after the first refusal.
      let now = Date.now()
      const sdk = await createClient({
        url: 'http://127.0.0.1:9',
        token: 'unused',
        bootstrap: { flags: [flag], segments },
        timeoutMs: 5000,
        clock: () => now,
        clockResolutionMs: 0,
      })
      try {
        for (const c of cases) {
          now = c.now === undefined ? Date.now() : Date.parse(c.now)
          expect(expectationOf(sdk.evaluate(c.flag.key, c.context)), c.name).toEqual(c.expected)
          expect(expectationOf(sdk.explain(c.flag.key, c.context)), c.name).toEqual(c.expected)
          checked++
        }
      } finally {
        await sdk.close()
      }
    }
    expect(checked).toBe(vectors.cases.length)
  })
})
