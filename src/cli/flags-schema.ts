// The published JSON Schema of the flags file, generated from the TypeBox schema in code.
// `npm run flags-schema` writes schema/flags.schema.json; a test fails when the two drift apart.
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { FlagsFile } from './flags-file.js'

export const FLAGS_SCHEMA_FILE = fileURLToPath(new URL('../../schema/flags.schema.json', import.meta.url))

export function flagsJsonSchemaText(): string {
  // title and description first, so the file reads top-down.
  const { title, description } = FlagsFile as { title?: string; description?: string }
  return JSON.stringify({ $schema: 'http://json-schema.org/draft-07/schema#', title, description, ...FlagsFile }, null, 2) + '\n'
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(FLAGS_SCHEMA_FILE, flagsJsonSchemaText())
  console.log(`wrote ${FLAGS_SCHEMA_FILE}`)
}
