// Segments: CRUD, and member edits that travel as a delta. Admin writes; evaluate tokens read.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { actorOf } from '../auth/authenticate.js'
import { WRITE_REFUSALS, errors, segmentNotFound } from '../errors.js'
import { described, ref } from '@switchyard/core/schema'
import { TargetsEdit } from '@switchyard/core/flags/schema'
import { Segment, SegmentCreate, SegmentKey, SegmentPatch, SegmentSummary } from '@switchyard/core/segments/schema'
import { etagOf, IfMatchHeaders, parseIfMatch } from '../if-match.js'
import type { SegmentRegistry } from './registry.js'

const KeyParams = Type.Object({ key: SegmentKey }, { additionalProperties: false })

export const segmentRoutes: FastifyPluginAsyncTypebox<{ segments: SegmentRegistry }> = async (app, { segments }) => {
  app.post(
    '/segments',
    {
      schema: {
        operationId: 'createSegment',
        summary: 'Create a segment',
        tags: ['segments'],
        body: ref(SegmentCreate),
        response: { 201: described(Segment, 'The segment as created'), ...errors('SEGMENT_EXISTS', ...WRITE_REFUSALS) },
      },
      config: { scope: 'admin' },
    },
    async (request, reply) => {
      const segment = await segments.create(request.body, actorOf(request))
      return reply.code(201).header('etag', etagOf(segment.version)).send(segment)
    },
  )

  app.get(
    '/segments',
    {
      schema: {
        operationId: 'listSegments',
        summary: 'List segments, sorted by key, with member counts instead of members',
        tags: ['segments'],
        querystring: Type.Object(
          {
            cursor: Type.Optional(Type.String({ maxLength: 200, description: 'nextCursor of the previous page' })),
            limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object(
            { segments: Type.Array(ref(SegmentSummary)), nextCursor: Type.Optional(Type.String()) },
            { description: 'A page of segments in key order; nextCursor when there are more' },
          ),
          ...errors(),
        },
      },
      config: { scope: 'evaluate' },
    },
    async (request) => segments.list({ after: request.query.cursor, limit: request.query.limit }),
  )

  app.get(
    '/segments/:key',
    {
      schema: {
        operationId: 'getSegment',
        summary: 'Read one segment with all its members; its ETag is its version',
        tags: ['segments'],
        params: KeyParams,
        response: { 200: described(Segment, 'The segment'), ...errors('SEGMENT_NOT_FOUND') },
      },
      config: { scope: 'evaluate' },
    },
    async (request, reply) => {
      const segment = segments.full(request.params.key)
      if (!segment) throw segmentNotFound(request.params.key)
      return reply.header('etag', etagOf(segment.version)).send(segment)
    },
  )

  app.patch(
    '/segments/:key',
    {
      schema: {
        operationId: 'updateSegment',
        summary: 'Change a segment; `users` and `tenants` replace the members whole',
        tags: ['segments'],
        params: KeyParams,
        headers: IfMatchHeaders,
        body: ref(SegmentPatch),
        response: { 200: described(Segment, 'The segment as updated'), ...errors('SEGMENT_NOT_FOUND', 'VERSION_MISMATCH', ...WRITE_REFUSALS) },
      },
      config: { scope: 'admin' },
    },
    async (request, reply) => {
      const segment = await segments.update(request.params.key, request.body, parseIfMatch(request.headers['if-match']), actorOf(request))
      return reply.header('etag', etagOf(segment.version)).send(segment)
    },
  )

  app.post(
    '/segments/:key/targets',
    {
      schema: {
        operationId: 'editSegmentTargets',
        summary: 'Add and remove members in one atomic step, without If-Match',
        description:
          'The body is the one POST /flags/{key}/targets takes. Up to 10,000 ids per list per request; a segment holds up to 1,000,000 members. ' +
          'Other replicas and SDKs receive only the ids added and removed; the audit event lists up to 1,000 per side, then counts.',
        tags: ['segments'],
        params: KeyParams,
        body: ref(TargetsEdit),
        response: { 200: described(SegmentSummary, 'The segment with its member counts'), ...errors('SEGMENT_NOT_FOUND', ...WRITE_REFUSALS) },
      },
      config: { scope: 'admin' },
    },
    async (request, reply) => {
      const summary = await segments.editTargets(request.params.key, request.body, actorOf(request))
      return reply.header('etag', etagOf(summary.version)).send(summary)
    },
  )

  app.delete(
    '/segments/:key',
    {
      schema: {
        operationId: 'deleteSegment',
        summary: 'Delete a segment no flag uses',
        tags: ['segments'],
        params: KeyParams,
        headers: IfMatchHeaders,
        response: { 204: Type.Null({ description: 'Deleted' }), ...errors('SEGMENT_NOT_FOUND', 'SEGMENT_IN_USE', 'VERSION_MISMATCH', ...WRITE_REFUSALS) },
      },
      config: { scope: 'admin' },
    },
    async (request, reply) => {
      await segments.remove(request.params.key, parseIfMatch(request.headers['if-match']), actorOf(request))
      return reply.code(204).send(null)
    },
  )
}
