// Tokens: named, scoped credentials. Only a hash of each secret is ever stored.
import { Type, type Static } from 'typebox'
import { StringEnum } from '../schema.js'

export const SCOPES = ['admin', 'evaluate'] as const
export type Scope = (typeof SCOPES)[number]

export interface TokenRecord {
  id: string
  name: string
  scope: Scope
  /** sha256 of the secret, hex. */
  hash: string
  createdAt: string
  createdBy: string
}

export const Token = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    scope: StringEnum(SCOPES),
    createdAt: Type.String({ format: 'date-time' }),
    createdBy: Type.String(),
  },
  { $id: 'Token', additionalProperties: false },
)

export const TokenCreate = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$' }),
    scope: StringEnum(SCOPES),
  },
  { $id: 'TokenCreate', additionalProperties: false, examples: [{ name: 'checkout-service', scope: 'evaluate' }] },
)
export type TokenCreate = Static<typeof TokenCreate>

export const TokenCreated = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    scope: StringEnum(SCOPES),
    createdAt: Type.String({ format: 'date-time' }),
    createdBy: Type.String(),
    token: Type.String({ description: 'The secret: shown once, never again' }),
  },
  { $id: 'TokenCreated', additionalProperties: false },
)

export const tokenSchemas = [Token, TokenCreate, TokenCreated]
