// Token administration: create (the secret is shown once), list (paged), revoke.
import { WRITE_REFUSALS, errors } from '../errors.js'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { described, ref } from '@switchyard/core/schema'
import { actorOf } from './authenticate.js'
import { Token, TokenCreate, TokenCreated, type TokenRecord } from '@switchyard/core/auth/schema'
import type { TokenRegistry } from './tokens.js'

const publicView = <T extends TokenRecord>({ hash: _hash, ...rest }: T) => rest

export const tokenRoutes: FastifyPluginAsyncTypebox<{ tokens: TokenRegistry }> = async (app, { tokens }) => {
  app.post(
    '/tokens',
    {
      schema: {
        operationId: 'createToken',
        summary: 'Create a named token; its secret is in this response only',
        tags: ['tokens'],
        body: ref(TokenCreate),
        response: {
          201: described(TokenCreated, 'The token, with its secret: shown this once'),
          ...errors('TOKEN_EXISTS', 'TOKEN_LIMIT_REACHED', ...WRITE_REFUSALS),
        },
      },
      config: { scope: 'admin' },
    },
    async (request, reply) => {
      const { record, secret } = await tokens.create(request.body, actorOf(request))
      return reply
        .code(201)
        .header('cache-control', 'no-store')
        .send({ ...publicView(record), token: secret })
    },
  )

  app.get(
    '/tokens',
    {
      schema: {
        operationId: 'listTokens',
        summary: 'List tokens by id, expired ones included (never their secrets)',
        tags: ['tokens'],
        querystring: Type.Object(
          {
            cursor: Type.Optional(Type.String({ maxLength: 100, pattern: '^[A-Za-z0-9_]+$', description: 'nextCursor of the previous page' })),
            limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object(
            {
              tokens: Type.Array(ref(Token)),
              nextCursor: Type.Optional(Type.String({ description: 'Present only when another token follows' })),
            },
            { description: 'A page of tokens, without their secrets' },
          ),
          ...errors(),
        },
      },
      config: { scope: 'admin' },
    },
    async (request) => {
      const page = tokens.page({ after: request.query.cursor, limit: request.query.limit })
      return { tokens: page.tokens.map(publicView), nextCursor: page.nextCursor }
    },
  )

  app.delete(
    '/tokens/:id',
    {
      schema: {
        operationId: 'revokeToken',
        summary: 'Revoke a token; refused from its next request on',
        tags: ['tokens'],
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9_]+$' }) }, { additionalProperties: false }),
        response: { 204: Type.Null({ description: 'Revoked' }), ...errors('TOKEN_NOT_FOUND', 'TOKEN_PROTECTED', ...WRITE_REFUSALS) },
      },
      config: { scope: 'admin' },
    },
    async (request, reply) => {
      await tokens.revoke(request.params.id, actorOf(request))
      return reply.code(204).send(null)
    },
  )
}
