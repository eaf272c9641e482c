import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { generateOpenApi, OPENAPI_FILE } from '../../scripts/generate-openapi.js'

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
