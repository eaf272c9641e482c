import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { Ajv } from 'ajv'
import { generateOpenApi, OPENAPI_FILE } from '../../scripts/generate-openapi.js'
import { ErrorCodes } from '../../packages/server/src/errors.js'

describe('openapi/openapi.json', () => {
  it('matches what the route schemas generate (run `npm run openapi` after changing a route)', async () => {
    expect(readFileSync(OPENAPI_FILE, 'utf8')).toBe(await generateOpenApi())
  })

  it('documents every route with an operationId and a response schema', async () => {
    const doc = JSON.parse(await generateOpenApi()) as { paths: Record<string, Record<string, { operationId?: string; responses?: object }>> }
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        expect(op.operationId, `${method} ${path}`).toBeTruthy()
        expect(Object.keys(op.responses ?? {}).length, `${method} ${path}`).toBeGreaterThan(0)
      }
    }
  })
})

interface Operation {
  'x-scope': string
  requestBody?: unknown
  parameters?: unknown[]
  responses: Record<string, { description: string; content?: Record<string, { schema: unknown; examples?: Record<string, { value: unknown }> }> }>
}

describe('what the document tells a client (issue 17)', () => {
  type Document = { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, object> } }
  const doc = async () => JSON.parse(await generateOpenApi()) as Document

  // Finding: in Swagger UI the 400/401/404/413/503 examples all showed VALIDATION_FAILED on
  // body.percentage, and 403 and 429 were not documented.
  it('documents every error status an operation can answer, each with an example of each of its codes', async () => {
    for (const [path, methods] of Object.entries((await doc()).paths)) {
      for (const [method, op] of Object.entries(methods)) {
        const where = `${method.toUpperCase()} ${path}`
        const statuses = Object.keys(op.responses)
        if (op['x-scope'] !== 'public') {
          expect(statuses, where).toEqual(expect.arrayContaining(['401', '429', '503']))
          if (op['x-scope'] !== 'client') expect(statuses, where).toContain('403')
        }
        if (op.requestBody) expect(statuses, where).toEqual(expect.arrayContaining(['400', '413', '415']))
        if (op.parameters?.length) expect(statuses, where).toContain('400')
        for (const [status, response] of Object.entries(op.responses)) {
          expect(response.description, `${where} ${status}`).not.toBe('Default Response')
          // OFREP's errors have OFREP's own shape, and /readyz's 503 is a probe's answer; every other error is the one Error shape.
          if (Number(status) < 400 || path.startsWith('/ofrep/') || op['x-scope'] === 'public') continue
          const media = response.content!['application/json']!
          expect(media.schema, `${where} ${status}`).toEqual({ allOf: [{ $ref: '#/components/schemas/Error' }], description: response.description })
          const examples = Object.entries(media.examples ?? {})
          expect(examples.length, `${where} ${status}`).toBeGreaterThan(0)
          for (const [name, { value }] of examples) {
            const error = value as { statusCode: number; code: keyof typeof ErrorCodes; message: string }
            expect(name).toBe(error.code)
            expect(ErrorCodes[error.code], `${where} ${status} ${name}`).toBe(Number(status))
            expect(error.statusCode).toBe(Number(status))
            expect(error.message.length).toBeGreaterThan(0)
          }
        }
      }
    }
  })

  // Finding: the 200 of POST /evaluate was "Default Response", with an example mixing the single and batch shapes.
  it("names POST /evaluate's two answers, each with an example that validates against its schema", async () => {
    const { paths, components } = await doc()
    const ok = paths['/evaluate']!.post!.responses['200']!
    const media = ok.content!['application/json']!
    expect(media.schema).toMatchObject({ oneOf: [{ $ref: '#/components/schemas/EvaluationResult' }, { $ref: '#/components/schemas/EvaluationBatch' }] })
    const ajv = new Ajv({ strict: false })
    for (const [name, schema] of Object.entries(components.schemas)) ajv.addSchema(schema, `#/components/schemas/${name}`)
    const validate = (ref: string, value: unknown) => ajv.validate({ $ref: ref }, value) || ajv.errorsText()
    expect(validate('#/components/schemas/EvaluationResult', media.examples!.single!.value)).toBe(true)
    expect(validate('#/components/schemas/EvaluationResult', media.examples!.variant!.value)).toBe(true)
    expect(validate('#/components/schemas/EvaluationBatch', media.examples!.batch!.value)).toBe(true)
    expect(validate('#/components/schemas/EvaluationBatch', media.examples!.single!.value)).not.toBe(true)
  })
})
