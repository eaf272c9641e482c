// The application/json body parser: Fastify's own (secure-json-parse, proto and constructor
// poisoning refused as app.ts configures), behind one scan that refuses deep nesting first.
import type { FastifyInstance } from 'fastify'
import { AppError } from '../errors.js'

const OPEN_BRACE = 0x7b
const OPEN_BRACKET = 0x5b
const CLOSE_BRACE = 0x7d
const CLOSE_BRACKET = 0x5d
const QUOTE = 0x22
const BACKSLASH = 0x5c

/**
 * Whether `text` nests arrays and objects more than `max` deep: one pass that counts brackets
 * outside strings and jumps over each string to its closing quote (one not preceded by an odd run
 * of backslashes), with no allocation. Invalid JSON is left for the parser to refuse: this only
 * bounds the work it is given.
 */
export function nestsDeeperThan(text: string, max: number): boolean {
  let depth = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === QUOTE) {
      let end = text.indexOf('"', i + 1)
      while (end !== -1) {
        let slashes = 0
        while (text.charCodeAt(end - 1 - slashes) === BACKSLASH) slashes++
        if ((slashes & 1) === 0) break
        end = text.indexOf('"', end + 1)
      }
      // An unterminated string: JSON.parse refuses it before any bracket after it counts.
      if (end === -1) return false
      i = end
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > max) return true
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--
  }
  return false
}

/**
 * Replaces the application/json parser on `app` (call it before any route is added). A body
 * nested deeper than `maxDepth` answers 400 before JSON.parse builds it, and before schema
 * validation or secure-json-parse's prototype scan walk it.
 */
export function installJsonParser(app: FastifyInstance, maxDepth: number): void {
  const { onProtoPoisoning, onConstructorPoisoning } = app.initialConfig
  const parse = app.getDefaultJsonParser(onProtoPoisoning ?? 'error', onConstructorPoisoning ?? 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body: string, done) => {
    if (nestsDeeperThan(body, maxDepth)) {
      done(new AppError('VALIDATION_FAILED', `body nests arrays and objects more than ${maxDepth} levels deep`, 'body'), undefined)
      return
    }
    // Fastify's own parser answers through `done`; it returns nothing to wait for.
    void parse(request, body, done)
  })
}
