// Running our own code as child processes, shared by the tests and bench/: how Node runs the
// TypeScript sources, the port a child listening on port 0 chose, and a free loopback port for a
// daemon that must be told one.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
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

/**
 * The TCP ports process `pid` listens on, read from /proc: how a test learns the port a server
 * started with PORT=0 chose, whatever its log level.
 */
export function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>()
  let fds: string[]
  try {
    fds = readdirSync(`/proc/${pid}/fd`)
  } catch {
    return []
  }
  for (const fd of fds) {
    try {
      const socket = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))
      if (socket) inodes.add(socket[1]!)
    } catch {
      // closed meanwhile
    }
  }
  const ports: number[] = []
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/)
      // State 0A is LISTEN; the local address is hex ip:port.
      if (cols[3] === '0A' && inodes.has(cols[9]!)) ports.push(parseInt(cols[1]!.split(':')[1]!, 16))
    }
  }
  return ports
}
