// Operating a fleet: GET /admin/fleet shows every live replica (from their heartbeats); when the
// store lost data, POST /admin/reseed writes this replica's state back and POST
// /admin/accept-store goes on with what the store holds, each under a new epoch every replica
// adopts. Both are refused unless this replica found the store diverged.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { actorOf } from '../auth/authenticate.js'
import { draftEvent, logAudit } from '../audit/audit.js'
import { AppError, type ErrorCode, errors } from '../errors.js'
import type { Switchyard } from '../services.js'
import { isRecoverableStore } from '../store/store.js'
import { Fleet, Recovery } from '@switchyard/core/replica/fleet'

export const adminRoutes: FastifyPluginAsyncTypebox<{ services: Switchyard }> = async (app, { services }) => {
  const { store, flags, tokens, heartbeat } = services

  app.get(
    '/admin/fleet',
    {
      schema: {
        operationId: 'getFleet',
        summary: 'Every live replica: its revision, lag, state hash and last heartbeat',
        description:
          'From the heartbeats each replica writes into the store every second (they expire after 5 s). `hashMismatch` marks replicas that hold ' +
          'different states at the same revision; after a loss of data, the state hashes tell which replica to reseed from.',
        tags: ['admin'],
        response: { 200: { ...Fleet, description: 'Every live replica, from its heartbeats' }, ...errors('STORE_UNAVAILABLE') },
      },
      config: { scope: 'admin', whileLoading: true },
    },
    async () => {
      // This replica's own beat is current; the store's copy of it may be a second old.
      const [fleet, own] = [await store.fleet(), heartbeat.beat()]
      const beats = [...fleet.beats.filter((b) => b.id !== own.id), { ...own, lastBeatAt: new Date().toISOString() }]
      const hashes = new Map<string, Set<string>>()
      for (const b of beats) {
        const at = `${b.epoch} ${b.revision}`
        hashes.set(at, (hashes.get(at) ?? new Set()).add(b.stateHash))
      }
      const replicas = beats
        .map((b) => ({
          ...b,
          uptimeSeconds: Math.max(0, Math.floor((Date.parse(b.lastBeatAt) - Date.parse(b.startedAt)) / 1000)),
          lag: b.epoch === fleet.epoch ? Math.max(0, fleet.counter - b.revision) : 0,
          self: b.id === own.id,
          hashMismatch: hashes.get(`${b.epoch} ${b.revision}`)!.size > 1,
        }))
        .sort((a, b) => a.id.localeCompare(b.id))
      // A replica ahead of the store's counter, or that found it diverged, holds what the store lost.
      const consistent = replicas.every((r) => r.epoch === fleet.epoch && !r.hashMismatch && r.status !== 'diverged' && r.newest <= fleet.counter)
      return { epoch: fleet.epoch, counter: fleet.counter, consistent, replicas }
    },
  )

  const recovery = (summary: string, description: string, operationId: string, ...refusals: ErrorCode[]) => ({
    schema: {
      operationId,
      summary,
      description,
      tags: ['admin'],
      response: { 200: { ...Recovery, description: 'The store under its new epoch' }, ...errors('STORE_NOT_DIVERGED', ...refusals, 'STORE_UNAVAILABLE') },
    },
    config: { scope: 'admin' as const, whileLoading: true },
  })

  const mustBeDiverged = () => {
    if (!isRecoverableStore(store) || store.health().status !== 'diverged') {
      throw new AppError(
        'STORE_NOT_DIVERGED',
        'the store holds the data this replica synced from: there is nothing to recover (only a replica that reports the store diverged in /healthz can)',
      )
    }
    return store
  }

  app.post(
    '/admin/reseed',
    recovery(
      "Write this replica's state back into a store that lost data",
      'Writes the flags and tokens this replica holds into the store under a new epoch, with the change counter past every seq any live replica ' +
        "has seen; every replica adopts it and writes resume. Refused unless this replica reports the store diverged. Compare the replicas' " +
        'state hashes in GET /admin/fleet to choose which one to reseed from.',
      'reseedStore',
      'NOTHING_TO_RESEED',
    ),
    async (request) => {
      const recoverable = mustBeDiverged()
      if (services.sync.epoch === undefined) {
        throw new AppError(
          'NOTHING_TO_RESEED',
          'this replica started on the store after it lost data and holds nothing of it: reseed from a replica listed in GET /admin/fleet, or accept the store',
        )
      }
      const state = { flags: [...flags.all()].map((c) => c.flag), tokens: tokens.stored(), segments: services.segments.all() }
      const actor = actorOf(request)
      const audit = draftEvent(
        actor,
        'store.reseeded',
        {},
        {
          flags: { after: state.flags.length },
          tokens: { after: state.tokens.length },
          segments: { after: state.segments.length },
        },
      )
      const { epoch, seq } = await recoverable.reseed(state, audit)
      logAudit(actor, { ...audit, seq })
      return { epoch, seq, flags: state.flags.length, tokens: state.tokens.length }
    },
  )

  app.post(
    '/admin/accept-store',
    recovery(
      'Go on with what a store that lost data holds now',
      'Accepts the loss: the store keeps what it holds (after a FLUSHALL, nothing) under a new epoch, and every replica replaces its state with it. ' +
        'Tokens created through the API are gone with the data: only ADMIN_TOKEN works until new ones are made. ' +
        'Restore the flags with `flagctl apply` from an export.',
      'acceptStore',
    ),
    async (request) => {
      const recoverable = mustBeDiverged()
      const actor = actorOf(request)
      const audit = draftEvent(actor, 'store.accepted', {}, {})
      const { epoch, seq } = await recoverable.acceptLoss(audit)
      logAudit(actor, { ...audit, seq })
      return { epoch, seq, flags: flags.size, tokens: tokens.stored().length }
    },
  )
}
