// `npm start`: the built server, at once, in this process (so a signal sent to `npm start` reaches
// it). Building is the job of `npm ci` (its prepare step) and `npm run build`: a missing or stale
// build is said, with the fix, rather than rebuilt on every start.
import { fileURLToPath } from 'node:url'
import { buildProblem } from './build-check.js'

const problem = buildProblem(fileURLToPath(new URL('..', import.meta.url)))
if (problem) {
  process.stderr.write(`switchyard: ${problem}: run \`npm run build\`, then \`npm start\` again\n`)
  process.exit(1)
}
await import('../packages/server/dist/server.js')
