// What a fleet of replicas says about itself: each replica's heartbeat, GET /admin/fleet and the
// answer of a recovery (POST /admin/reseed, /admin/accept-store). The server and flagctl share them.
import { Type, type Static } from 'typebox'
import { StringEnum } from '../schema.js'

/** A store's health: `degraded` writes but fails its upkeep; `diverged` lost or replaced its data under the replica. */
export const STORE_STATUSES = ['up', 'degraded', 'diverged', 'down'] as const

/** What a replica says of itself every second (the server's replica/heartbeat.ts); beats never consume a seq. */
export const ReplicaBeat = Type.Object({
  id: Type.String({ description: "The replica's instance id (its Redis connections are named after it)" }),
  epoch: Type.Union([Type.String(), Type.Null()], {
    description: 'The store epoch its state comes from; null while it has none (it started on a store that lost data)',
  }),
  revision: Type.Integer({ description: 'X-Switchyard-Revision: every seq up to it is applied there' }),
  newest: Type.Integer({ description: 'The highest seq it has applied, gaps or not' }),
  stateHash: Type.String({ description: 'A hash of the flag versions and tokens it holds: equal on replicas that hold the same state' }),
  status: StringEnum(STORE_STATUSES),
  stale: Type.Boolean({ description: 'It has heard nothing from the store for longer than STALE_AFTER_MS' }),
  version: Type.String({ description: "The replica's Switchyard version" }),
  startedAt: Type.String({ format: 'date-time' }),
})
export type ReplicaBeat = Static<typeof ReplicaBeat>

export const FleetReplica = Type.Intersect([
  ReplicaBeat,
  Type.Object({
    lastBeatAt: Type.String({ format: 'date-time' }),
    uptimeSeconds: Type.Integer({ description: 'Seconds since the replica started, as of its last heartbeat' }),
    lag: Type.Integer({ description: "How many of the store's changes it has yet to apply (the store's counter minus its revision)" }),
    self: Type.Boolean({ description: 'The replica that answered' }),
    hashMismatch: Type.Boolean({ description: 'Another replica at the same epoch and revision holds a different state: one of them missed a change' }),
  }),
])

export const Fleet = Type.Object({
  epoch: Type.Union([Type.String(), Type.Null()], { description: "The store's epoch (null: it has none, it lost its data)" }),
  counter: Type.Integer({ description: "The store's change counter" }),
  consistent: Type.Boolean({
    description:
      'Every live replica holds the store epoch, none found it diverged or holds a seq past its counter, and replicas at one revision hold one state',
  }),
  replicas: Type.Array(FleetReplica),
})

export const Recovery = Type.Object({
  epoch: Type.String({ description: 'The new epoch every replica adopts' }),
  seq: Type.Integer({ description: 'The seq of the recovery: the store counts on from it' }),
  flags: Type.Integer(),
  tokens: Type.Integer(),
})
export type Fleet = Static<typeof Fleet>
export type Recovery = Static<typeof Recovery>
