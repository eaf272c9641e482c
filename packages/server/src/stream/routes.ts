// GET /stream: flag changes as Server-Sent Events, for SDKs that evaluate locally. POST
// /stream/evaluations: the answers for one context as they change, for browsers and apps.
import { errors } from '../errors.js'
import type { OutgoingHttpHeaders } from 'node:http'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply } from 'fastify'
import { Type } from 'typebox'
import { EvaluationContext, FlagKey, MAX_BATCH_FLAGS } from '@switchyard/core/flags/schema'
import { StringEnum, ref } from '@switchyard/core/schema'
import type { ChangeStream } from './hub.js'

/** Takes the response over for an endless text/event-stream, keeping the headers hooks set. */
function startEventStream(reply: FastifyReply): void {
  reply.hijack()
  reply.raw.writeHead(200, {
    ...(reply.getHeaders() as OutgoingHttpHeaders),
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    // Proxies such as nginx would otherwise buffer the stream.
    'x-accel-buffering': 'no',
    // Not reused after it ends, so shutdown need not wait for an idle keep-alive.
    connection: 'close',
  })
  reply.raw.flushHeaders()
}

/** Our ids are store seqs; anything else cannot be resumed from and gets the full state. */
function parseLastEventId(header: string | undefined): number | undefined {
  if (header === undefined || !/^\d{1,15}$/.test(header.trim())) return undefined
  return Number(header.trim())
}

export const streamRoutes: FastifyPluginAsyncTypebox<{ stream: ChangeStream; bodyLimit: number }> = async (app, { stream, bodyLimit }) => {
  // Open streams would hold the server's close open forever: end them before it closes.
  app.addHook('preClose', async () => stream.close())

  app.get(
    '/stream',
    {
      schema: {
        operationId: 'streamChanges',
        summary: 'Flag changes as Server-Sent Events',
        description: [
          'A `state` event first: `{seq, heartbeatMs, flags}` with every flag in full. Then one event per create, update or delete this replica applies, ' +
            'including those made on other replicas: with `format=patch` a `patch` event, `{seq, key, from, patch}`, where `patch` is `{op:"put", value}` ' +
            '(the flag whole), `{op:"patch", set?, unset?, lists?: {field: {add, remove}}}` or `{op:"delete"}`, to apply to version `from` (0: none); ' +
            'otherwise a `change` event, `{seq, key, flag}` (`flag` null when deleted). After a resync from the store, a new `state` event.',
          'Segments: the `state` event holds `segments`, each whole with `local: true`, or, past SEGMENT_INLINE_MAX members, without its members and ' +
            '`local: false` (unless `segments=all`). A change is a `segment` event, `{seq, key, from, head, members, local, userCount, tenantCount}`: ' +
            '`head` the segment without its members (null when deleted), `members` `{op:"same"}`, `{op:"replace", users, tenants}` or ' +
            '`{op:"edit", add:{users, tenants}, remove:{users, tenants}}`, to apply to version `from`.',
          'Event ids are the store sequence: reconnect with `Last-Event-ID` to get the changes missed (with `format=patch`), or a `state` event when they ' +
            'are no longer held.',
          'When the token is revoked or expires, a last `revoked` event, `{reason, message}`, ends the stream. More than STREAM_MAX_PER_TOKEN streams for ' +
            'one token, or STREAM_MAX_TOTAL on the replica, answer 429.',
          'Comment lines (`: heartbeat`) arrive every `heartbeatMs` on idle connections. A consumer that falls too far behind (STREAM_MAX_BUFFER) is ' +
            'disconnected and should reconnect.',
        ].join('\n\n'),
        tags: ['evaluation'],
        headers: Type.Object({ 'last-event-id': Type.Optional(Type.String({ maxLength: 64, description: 'Id of the last event received' })) }),
        querystring: Type.Object(
          {
            format: Type.Optional(
              StringEnum(['flag', 'patch'], {
                default: 'flag',
                description:
                  '`patch`: changes arrive as `patch` events, `{seq, key, from, patch}`: the change patch to apply to version `from` of the flag (0: it ' +
                  'did not exist). `flag` (default): `change` events with the flag whole.',
              }),
            ),
            segments: Type.Optional(
              StringEnum(['inline', 'all'], {
                default: 'inline',
                description: '`all`: send the members of every segment, however large (about 100 bytes of memory per member in an SDK)',
              }),
            ),
          },
          { additionalProperties: false },
        ),
        response: {
          200: {
            description: 'An endless text/event-stream',
            content: {
              'text/event-stream': { schema: Type.String({ examples: ['id: 42\nevent: change\ndata: {"seq":42,"key":"copilot_v2","flag":{…}}\n\n'] }) },
            },
          },
          ...errors('TOO_MANY_STREAMS'),
        },
      },
      config: { scope: 'evaluate' },
    },
    (request, reply) => {
      const lastEventId = parseLastEventId(request.headers['last-event-id'])
      const tokenId = request.token!.id
      const limitKey = stream.admit(tokenId)
      startEventStream(reply)
      stream.open(reply.raw, lastEventId, { tokenId, limitKey, format: request.query.format ?? 'flag', allSegments: request.query.segments === 'all' })
    },
  )

  app.post(
    '/stream/evaluations',
    {
      bodyLimit,
      schema: {
        operationId: 'streamEvaluations',
        summary: 'The answers for one context, as Server-Sent Events, as they change',
        description: [
          'For browsers and mobile apps (scope `client`): the context travels in the body, never in a URL, and the stream carries answers only, never a ' +
            "flag's lists or rules. Read it with fetch and a streaming body reader.",
          'An `evaluations` event first, `{seq, heartbeatMs, results}` with `results` as POST /evaluate gives them for a batch (every flag, or `flags`), ' +
            'in key order. Then, for each change to one of those flags, an `evaluation` event, `{seq, flag, enabled, reason, version}`: only the changed ' +
            "flag is evaluated again. After a resync from the store, a new `evaluations` event. When a schedule reaches a transition (by the store's " +
            'clock), an `evaluation` event for each of those flags whose answer for this context it changed; a ramp that moves faster is pushed at ' +
            'most once a second.',
          'Heartbeats and the `revoked` event are those of GET /stream. These streams count towards STREAM_MAX_TOTAL, and per client address (not per ' +
            'token, which every browser of an app shares) towards STREAM_MAX_PER_ADDRESS: 429 past either.',
        ].join('\n\n'),
        tags: ['evaluation'],
        body: Type.Object(
          {
            context: Type.Optional(ref(EvaluationContext)),
            flags: Type.Optional(Type.Array(FlagKey, { maxItems: MAX_BATCH_FLAGS, description: 'Only these flags; every flag when omitted' })),
          },
          { additionalProperties: false, examples: [{ context: { userId: 'user-42', tenantId: 'acme' } }] },
        ),
        response: {
          200: {
            description: 'An endless text/event-stream',
            content: {
              'text/event-stream': {
                schema: Type.String({
                  examples: ['id: 42\nevent: evaluation\ndata: {"seq":42,"flag":"copilot_v2","enabled":true,"reason":"percentage_in","version":4}\n\n'],
                }),
              },
            },
          },
          ...errors('TOO_MANY_STREAMS'),
        },
      },
      config: { scope: 'client' },
    },
    (request, reply) => {
      const tokenId = request.token!.id
      const limitKey = stream.admit(tokenId, request.ip)
      const { context = {}, flags } = request.body
      startEventStream(reply)
      stream.open(reply.raw, undefined, { tokenId, limitKey, format: 'evaluations', subscription: { context, keys: flags ? new Set(flags) : undefined } })
    },
  )
}
