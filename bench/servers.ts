// Starts benchmark servers as child processes, so the load generator never shares their event loop.
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { RUN_TS } from '../test/support/process.js'

export interface ChildServer {
  port: number
  info: Record<string, unknown>
  memory(): Promise<NodeJS.MemoryUsage>
  /** CPU time the server has used (user + system), in µs: divided by requests, immune to the load generator's noise. */
  cpuMicros(): Promise<number>
  /** Milliseconds the server's event loop has been busy since it started, and its open streams. */
  loopBusyMs(): Promise<{ active: number; streams: number }>
  /** Sends `msg` to the server and calls `listener` with each message of `type` it sends back. */
  send(msg: Record<string, unknown>): void
  on(type: string, listener: (msg: Record<string, unknown>) => void): void
  stop(): Promise<void>
}

export async function startChild(
  script: 'child-bare.ts' | 'child-switchyard.ts' | 'child-writer.ts' | 'child-segments.ts',
  env: Record<string, string> = {},
): Promise<ChildServer> {
  const child: ChildProcess = fork(fileURLToPath(new URL(script, import.meta.url)), [], {
    env: { ...process.env, ...env },
    // BENCH_NODE_ARGS passes flags to the servers, e.g. --cpu-prof for profiling.
    execArgv: [...RUN_TS, '--expose-gc', ...(process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [])],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start within 120 s`)), 120_000)
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)))
    child.on('message', (msg: Record<string, unknown>) => {
      if (msg.type === 'ready') {
        clearTimeout(timer)
        resolve(msg)
      }
    })
  })
  const ask = <T>(type: string) =>
    new Promise<T>((resolve) => {
      const onMessage = (msg: Record<string, unknown>) => {
        if (msg.type !== type) return
        child.off('message', onMessage)
        resolve(msg as T)
      }
      child.on('message', onMessage)
      child.send({ type })
    })
  return {
    port: ready.port as number,
    info: ready,
    memory: () => ask<NodeJS.MemoryUsage>('memory'),
    cpuMicros: async () => {
      const { user, system } = await ask<NodeJS.CpuUsage>('cpu')
      return user + system
    },
    loopBusyMs: async () => {
      const { active, streams } = await ask<{ active: number; streams: number }>('elu')
      return { active, streams }
    },
    send: (msg) => child.send(msg),
    on: (type, listener) => child.on('message', (msg: Record<string, unknown>) => msg.type === type && listener(msg)),
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve()
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
        child.once('exit', () => {
          clearTimeout(timer)
          resolve()
        })
        child.send({ type: 'stop' })
      }),
  }
}
