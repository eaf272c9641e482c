// `npm run flags-schema`: writes schema/flags.schema.json from the flags file's TypeBox schema; a
// test fails when the two drift apart.
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { flagsJsonSchemaText } from '../packages/core/src/flags/flags-file.js'

const file = fileURLToPath(new URL('../schema/flags.schema.json', import.meta.url))
writeFileSync(file, flagsJsonSchemaText())
console.log(`wrote ${file}`)
