// GET /stream: flag changes as Server-Sent Events, for SDKs that evaluate locally.
import type { OutgoingHttpHeaders } from 'node:http'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { errors } from '../schema.js'
import type { ChangeStream } from './hub.js'

/** Our ids are store seqs; anything else cannot be resumed from and gets the full state. */
function parseLastEventId(header: string | undefined): number | undefined {
  if (header === undefined || !/^\d{1,15}$/.test(header.trim())) return undefined
  return Number(header.trim())
}

export const streamRoutes: FastifyPluginAsyncTypebox<{ stream: ChangeStream }> = async (app, { stream }) => {
  // Open streams would hold the server's close open forever: end them before it closes.
  app.addHook('preClose', async () => stream.close())

  app.get(
    '/stream',
    {
      schema: {
        operationId: 'streamChanges',
        summary: 'Flag changes as Server-Sent Events',
        description: [
          'A `state` event first: `{seq, heartbeatMs, flags}` with every flag in full. Then one `change` event per create, update or delete this replica applies, including those made on other replicas: `{seq, key, flag}` (`flag` null when deleted). After a resync from the store, a new `state` event.',
          'Event ids are the store sequence: reconnect with `Last-Event-ID` to get the changes missed, or a `state` event when they are no longer held.',
          'Comment lines (`: heartbeat`) arrive every `heartbeatMs` on idle connections. A consumer that falls too far behind (STREAM_MAX_BUFFER) is disconnected and should reconnect.',
        ].join('\n\n'),
        tags: ['evaluation'],
        headers: Type.Object({ 'last-event-id': Type.Optional(Type.String({ maxLength: 64, description: 'Id of the last event received' })) }),
        response: {
          200: {
            description: 'An endless text/event-stream',
            content: { 'text/event-stream': { schema: Type.String({ examples: ['id: 42\nevent: change\ndata: {"seq":42,"key":"copilot_v2","flag":{…}}\n\n'] }) } },
          },
          ...errors(400, 401, 403, 503),
        },
      },
      config: { scope: 'evaluate' },
    },
    (request, reply) => {
      const lastEventId = parseLastEventId(request.headers['last-event-id'])
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
      stream.open(reply.raw, lastEventId)
    },
  )
}
