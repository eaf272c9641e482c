// Tokens: named, scoped credentials. Only a hash of each secret is ever stored.
import { Type, type Static, type TObject } from 'typebox'
import { StringEnum } from '../schema.js'

export const SCOPES = ['admin', 'evaluate', 'client'] as const
export type Scope = (typeof SCOPES)[number]

const ExpiresAt = Type.String({
  format: 'date-time',
  description: 'When the token stops working: from then on it is refused (401) on every replica. Absent: never',
})

/** What every view of a token shows. */
const tokenFields = {
  id: Type.String(),
  name: Type.String(),
  scope: StringEnum(SCOPES),
  createdAt: Type.String({ format: 'date-time' }),
  createdBy: Type.String(),
  expiresAt: Type.Optional(ExpiresAt),
}

/** A token as stored: what every view shows, and the sha256 of the secret (hex), never shown. */
export type TokenRecord = Static<TObject<typeof tokenFields>> & { hash: string }

export const Token = Type.Object(
  {
    ...tokenFields,
    lastUsedAt: Type.Optional(
      Type.String({
        format: 'date-time',
        description:
          "When the replica that answers last accepted the token. Kept in that replica's memory only: absent when it has not seen the token since it started",
      }),
    ),
  },
  { $id: 'Token', additionalProperties: false },
)
export type Token = Static<typeof Token>

export const TokenCreate = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$' }),
    scope: StringEnum(SCOPES),
    expiresAt: Type.Optional(ExpiresAt),
  },
  {
    $id: 'TokenCreate',
    additionalProperties: false,
    description: 'An active (unrevoked, unexpired) token must not have the name already, nor may a built-in actor (`bootstrap`, `flags-bootstrap-file`, …)',
    examples: [
      { name: 'checkout-service', scope: 'evaluate' },
      { name: 'ci-reader', scope: 'evaluate', expiresAt: '2030-01-01T00:00:00Z' },
    ],
  },
)
export type TokenCreate = Static<typeof TokenCreate>

export const TokenCreated = Type.Object(
  {
    ...tokenFields,
    token: Type.String({ description: 'The secret: shown once, never again' }),
  },
  { $id: 'TokenCreated', additionalProperties: false },
)
export type TokenCreated = Static<typeof TokenCreated>

export const tokenSchemas = [Token, TokenCreate, TokenCreated]
