// Admin CRUD on flags. Every write goes through the registry (write-through, audited).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { actorOf } from '../auth/authenticate.js'
import { WRITE_REFUSALS, errors, flagNotFound } from '../errors.js'
import { described, ref, StringEnum } from '@switchyard/core/schema'
import type { FlagRegistry } from './registry.js'
import { etagOf, IfMatchHeaders, parseIfMatch } from '../if-match.js'
import { Flag, FLAG_STATES, FlagCreate, FlagKey, FlagPatch, TargetsEdit } from '@switchyard/core/flags/schema'
import { withEffective } from './schedule.js'

/** The header a write's response names what it did to the flag's schedule in (`paused`, `resumed`, …). */
const SCHEDULE_HEADER = 'x-switchyard-schedule'

const KeyParams = Type.Object({ key: FlagKey }, { additionalProperties: false })
const WriteQuery = Type.Object(
  {
    allowPast: Type.Optional(
      Type.Boolean({
        description:
          'Take a schedule whose steps (or ramp) are already past as past rather than refuse it: what flagctl apply sends, ' +
          'since time passing never makes a flags file invalid',
      }),
    ),
  },
  { additionalProperties: false },
)

export const flagRoutes: FastifyPluginAsyncTypebox<{ flags: FlagRegistry }> = async (app, { flags }) => {
  app.post(
    '/flags',
    {
      schema: {
        operationId: 'createFlag',
        summary: 'Create a flag',
        tags: ['flags'],
        body: ref(FlagCreate),
        querystring: WriteQuery,
        response: {
          201: described(Flag, 'The flag as created, at version 1 (or past the last version of a deleted flag of that key)'),
          ...errors('FLAG_EXISTS', ...WRITE_REFUSALS),
        },
      },
      config: { scope: 'admin' },
    },
    async (request, reply) => {
      const flag = await flags.create(request.body, actorOf(request), { allowPast: request.query.allowPast })
      if (flag.schedule !== undefined) reply.header(SCHEDULE_HEADER, 'set')
      return reply.code(201).header('etag', etagOf(flag.version)).send(withEffective(flag, flags.now()))
    },
  )

  app.get(
    '/flags',
    {
      schema: {
        operationId: 'listFlags',
        summary: 'List flags, sorted by key',
        tags: ['flags'],
        querystring: Type.Object(
          {
            tag: Type.Optional(Type.String({ maxLength: 100 })),
            state: Type.Optional(
              StringEnum(FLAG_STATES, { description: 'The state the flag is set to (a schedule may have another in force: see `effective`)' }),
            ),
            scheduled: Type.Optional(Type.Boolean({ description: 'Only flags with (true) or without (false) a schedule' })),
            cursor: Type.Optional(Type.String({ maxLength: 200, description: 'nextCursor of the previous page' })),
            limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object(
            { flags: Type.Array(ref(Flag)), nextCursor: Type.Optional(Type.String()) },
            { description: 'A page of flags in key order; nextCursor when there are more' },
          ),
          ...errors(),
        },
      },
      config: { scope: 'evaluate' },
    },
    async (request) => {
      const { tag, state, scheduled, cursor, limit } = request.query
      const page = flags.list({ tag, state, scheduled, after: cursor, limit })
      const now = flags.now()
      return { ...page, flags: page.flags.map((flag) => withEffective(flag, now)) }
    },
  )

  app.get(
    '/flags/:key',
    {
      schema: {
        operationId: 'getFlag',
        summary: 'Read one flag; its ETag is its version',
        tags: ['flags'],
        params: KeyParams,
        response: {
          200: described(Flag, 'The flag; with a running schedule, `effective` holds its state and percentage now and the next transition'),
          ...errors('FLAG_NOT_FOUND'),
        },
      },
      config: { scope: 'evaluate' },
    },
    async (request, reply) => {
      const compiled = flags.get(request.params.key)
      if (!compiled) throw flagNotFound(request.params.key)
      return reply.header('etag', etagOf(compiled.flag.version)).send(withEffective(compiled.flag, flags.now()))
    },
  )

  app.patch(
    '/flags/:key',
    {
      schema: {
        operationId: 'updateFlag',
        summary: 'Change any mutable field; If-Match guards against concurrent edits',
        description:
          "Setting `state` or `percentage` by hand pauses a running schedule, unless the same request sets or clears `schedule`: the response's " +
          '`X-Switchyard-Schedule` header and the audit event say `paused`. That header names whatever a write did to the schedule: ' +
          'set, changed, paused, resumed, cleared or finished.',
        tags: ['flags'],
        params: KeyParams,
        headers: IfMatchHeaders,
        body: ref(FlagPatch),
        querystring: WriteQuery,
        response: {
          200: described(Flag, 'The flag as updated'),
          ...errors('FLAG_NOT_FOUND', 'VERSION_MISMATCH', ...WRITE_REFUSALS),
        },
      },
      config: { scope: 'admin' },
    },
    async (request, reply) => {
      const { flag, schedule } = await flags.update(request.params.key, request.body, parseIfMatch(request.headers['if-match']), actorOf(request), {
        allowPast: request.query.allowPast,
      })
      if (schedule !== undefined) reply.header(SCHEDULE_HEADER, schedule)
      return reply.header('etag', etagOf(flag.version)).send(withEffective(flag, flags.now()))
    },
  )

  app.post(
    '/flags/:key/targets',
    {
      schema: {
        operationId: 'editFlagTargets',
        summary: 'Add and remove beta users and tenants in one atomic step, without If-Match',
        description:
          'Concurrent edits through any replica all apply: each starts from the flag as the store holds it. The audit event lists the ids ' +
          'added and removed (up to 1,000 per side, then counts). A list may not grow past 10,000 ids.',
        tags: ['flags'],
        params: KeyParams,
        body: ref(TargetsEdit),
        response: { 200: described(Flag, 'The flag with its lists edited'), ...errors('FLAG_NOT_FOUND', ...WRITE_REFUSALS) },
      },
      config: { scope: 'admin' },
    },
    async (request, reply) => {
      const flag = await flags.editTargets(request.params.key, request.body, actorOf(request))
      return reply.header('etag', etagOf(flag.version)).send(withEffective(flag, flags.now()))
    },
  )

  app.delete(
    '/flags/:key',
    {
      schema: {
        operationId: 'deleteFlag',
        summary: 'Delete a flag',
        tags: ['flags'],
        params: KeyParams,
        headers: IfMatchHeaders,
        response: { 204: Type.Null({ description: 'Deleted' }), ...errors('FLAG_NOT_FOUND', 'VERSION_MISMATCH', ...WRITE_REFUSALS) },
      },
      config: { scope: 'admin' },
    },
    async (request, reply) => {
      await flags.remove(request.params.key, parseIfMatch(request.headers['if-match']), actorOf(request))
      return reply.code(204).send(null)
    },
  )
}
