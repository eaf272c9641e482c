// Writes openapi/openapi.json from the route schemas (npm run openapi). A test fails when the
// committed file differs from what the code generates.
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { buildApp } from '../packages/server/src/app.js'
import { defaultConfig } from '../packages/server/src/config.js'
import { MemoryStore } from '../packages/server/src/store/memory.js'

export const OPENAPI_FILE = fileURLToPath(new URL('../openapi/openapi.json', import.meta.url))

export async function generateOpenApi(): Promise<string> {
  const app = await buildApp(defaultConfig({ logLevel: 'silent', adminToken: 'x'.repeat(32) }), { store: new MemoryStore() })
  await app.ready()
  const text = JSON.stringify(app.swagger(), null, 2) + '\n'
  await app.close()
  return text
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(OPENAPI_FILE, await generateOpenApi())
  console.log(`wrote ${OPENAPI_FILE}`)
}
