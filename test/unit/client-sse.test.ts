import { describe, expect, it } from 'vitest'
import { SseParser, type SseEvent } from '../../packages/sdk/src/sse.js'

function parse(...chunks: string[]): SseEvent[] {
  const events: SseEvent[] = []
  const parser = new SseParser((e) => events.push(e))
  for (const chunk of chunks) parser.push(chunk)
  return events
}

const STREAM = [
  '\uFEFF: a comment first\n',
  'id: 7\nevent: state\ndata: {"seq":7}\n\n',
  ': heartbeat\n\n',
  'event: change\ndata: line one\ndata:line two\ndata\n\n',
  'id: 8\r\nevent: change\r\ndata: crlf\r\n\r\n',
  'id: 9\revent: change\rdata: cr only\r\r',
  'data: no id, no event\n\n',
  'id\nevent: ignored\n\n',
  'data: after an empty id\n\n',
  'unknown: field\nretry: 1000\ndata: x\n\n',
  'data: unfinished',
].join('')

const EXPECTED: SseEvent[] = [
  { id: '7', event: 'state', data: '{"seq":7}' },
  { id: '7', event: 'change', data: 'line one\nline two\n' },
  { id: '8', event: 'change', data: 'crlf' },
  { id: '9', event: 'change', data: 'cr only' },
  { id: '9', event: 'message', data: 'no id, no event' },
  { id: '', event: 'message', data: 'after an empty id' },
  { id: '', event: 'message', data: 'x' },
]

describe('SseParser', () => {
  it('parses fields, comments, multi-line data, every line ending and a BOM', () => {
    expect(parse(STREAM)).toEqual(EXPECTED)
  })

  it('hands each comment line to onComment, without its colon', () => {
    const comments: string[] = []
    const parser = new SseParser(
      () => undefined,
      (text) => comments.push(text),
    )
    parser.push(STREAM)
    expect(comments).toEqual([' a comment first', ' heartbeat'])
  })

  it('gives the same events wherever the chunks split, CRLF pairs included', () => {
    for (let cut = 0; cut <= STREAM.length; cut++) {
      expect(parse(STREAM.slice(0, cut), STREAM.slice(cut)), `split at ${cut}`).toEqual(EXPECTED)
    }
  })

  it('gives the same events fed one character at a time', () => {
    expect(parse(...STREAM)).toEqual(EXPECTED)
  })

  it('dispatches nothing without a blank line, and nothing for an event with no data', () => {
    expect(parse('data: a\n')).toEqual([])
    expect(parse('event: x\nid: 3\n\n')).toEqual([])
  })

  it('keeps a long line whole across many chunks', () => {
    const payload = 'x'.repeat(200_000)
    const text = `data: ${payload}\n\n`
    const chunks: string[] = []
    for (let i = 0; i < text.length; i += 1000) chunks.push(text.slice(i, i + 1000))
    expect(parse(...chunks)).toEqual([{ id: undefined, event: 'message', data: payload }])
  })

  it('strips the BOM only at the very start', () => {
    expect(parse('data: \uFEFFkept\n\n')[0]!.data).toBe('\uFEFFkept')
  })
})
