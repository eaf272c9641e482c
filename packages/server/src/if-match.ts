// If-Match and ETag for records that carry a version (flags, segments): a write names the version
// it is based on and answers 412 when the record moved on.
import { Type } from 'typebox'
import { validationFailed } from './errors.js'

export const IfMatchHeaders = Type.Object({
  'if-match': Type.Optional(
    Type.String({
      maxLength: 64,
      description: 'The version this change is based on, as sent in ETag; 412 if it moved on. A weak ETag (W/"3") never matches',
    }),
  ),
})

/** A version no flag has: what a weak ETag in If-Match stands for, so the write answers 412. */
const NO_VERSION = -1

/**
 * If-Match carries the version as an ETag ("3", or a bare 3); `*` means "any version". If-Match
 * compares strongly (RFC 9110 §13.1.1), so a weak ETag (W/"3") never matches.
 */
export function parseIfMatch(header: string | undefined): number | undefined {
  if (header === undefined || header.trim() === '*') return undefined
  const m = /^\s*(W\/)?"?(\d{1,15})"?\s*$/.exec(header)
  if (!m) throw validationFailed('headers.if-match', 'must be a version as sent in ETag, e.g. "3"')
  return m[1] ? NO_VERSION : Number(m[2])
}

export const etagOf = (version: number) => `"${version}"`
