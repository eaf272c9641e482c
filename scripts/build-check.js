// Whether the packages `npm start` runs are built from the sources as they are now.
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

/** The modification times of the files under `dir` whose names end with `suffix`. */
function mtimes(dir, suffix) {
  const times = []
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && entry.name.endsWith(suffix)) times.push(statSync(join(entry.parentPath, entry.name)).mtimeMs)
  }
  return times
}

/** What is wrong with the build of the server and its core under `root`, or undefined. */
export function buildProblem(root) {
  for (const name of ['core', 'server']) {
    const dist = join(root, 'packages', name, 'dist')
    if (!existsSync(dist)) return `packages/${name} is not built (no dist/)`
    const built = mtimes(dist, '.js')
    if (built.length === 0) return `packages/${name}/dist/ is empty`
    // A build writes its outputs after reading every source: a source newer than the newest output
    // changed since. (Not the oldest output: a file left from a renamed source is never rewritten.)
    if (Math.max(...mtimes(join(root, 'packages', name, 'src'), '.ts')) > Math.max(...built)) return `packages/${name}/src changed since it was built`
  }
  return undefined
}
