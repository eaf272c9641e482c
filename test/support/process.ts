// Running our own code as child processes, shared by the tests and bench/: how Node runs the
// TypeScript sources, and a free loopback port for a daemon that cannot listen on port 0.
import { createServer } from 'node:net'

/** Node's arguments to run TypeScript sources, workspace packages resolved to their sources too. */
export const RUN_TS = ['--conditions=source', '--import', 'tsx']

/**
 * A loopback port that was free a moment ago (bound to 0, then released). Only for daemons that
 * must be told a port; a caller retries with another one when the daemon finds it taken.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}
