// A Sentinel set for the benchmark: a master, one replica and three sentinels (all redis-server,
// on free ports, nothing on disk), stopped at the end.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { freePort } from '../test/support/process.js'

const NAME = 'switchyard-bench'

function server(args: string[], ready: string): Promise<ChildProcess> {
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] })
  return new Promise((resolve, reject) => {
    let output = ''
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      if (output.includes(ready)) resolve(child)
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', onData)
    child.once('error', () => reject(new Error('redis-server not found: install it (apt-get install redis-server)')))
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code}) before it was ready:\n${output}`)))
  })
}

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`the Sentinel set did not come up: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

export async function benchSentinel(): Promise<{ masterUrl: string; env: Record<string, string>; stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-bench-sentinel-'))
  const children: ChildProcess[] = []
  const clients: Redis[] = []
  const stop = async () => {
    for (const client of clients) client.disconnect()
    for (const child of children) child.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    const base = (port: number) => ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir]
    const [masterPort, replicaPort] = [await freePort(), await freePort()]
    children.push(await server(base(masterPort), 'Ready to accept connections'))
    children.push(await server([...base(replicaPort), '--replicaof', '127.0.0.1', String(masterPort)], 'Ready to accept connections'))
    const sentinelPorts: number[] = []
    for (let i = 0; i < 3; i++) {
      const port = await freePort()
      const conf = join(dir, `sentinel-${i}.conf`)
      writeFileSync(conf, `port ${port}\nbind 127.0.0.1\nsentinel monitor ${NAME} 127.0.0.1 ${masterPort} 2\nsentinel down-after-milliseconds ${NAME} 1000\n`)
      children.push(await server([conf, '--sentinel'], `+monitor master ${NAME}`))
      sentinelPorts.push(port)
    }
    const connect = (port: number) => {
      const client = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 })
      client.on('error', () => undefined)
      clients.push(client)
      return client
    }
    const replica = connect(replicaPort)
    await until(async () => /master_link_status:up/.test(await replica.info('replication')), 'the replica to sync')
    for (const port of sentinelPorts) {
      const sentinel = connect(port)
      await until(async () => {
        const fields = (await sentinel.call('SENTINEL', 'MASTER', NAME)) as string[]
        const info = Object.fromEntries(fields.flatMap((v, i) => (i % 2 ? [] : [[v, fields[i + 1]]])))
        return info['num-slaves'] === '1' && info['num-other-sentinels'] === '2'
      }, 'each sentinel to know the replica and the other sentinels')
    }
    return {
      masterUrl: `redis://127.0.0.1:${masterPort}`,
      env: { REDIS_SENTINELS: sentinelPorts.map((port) => `127.0.0.1:${port}`).join(','), REDIS_SENTINEL_NAME: NAME },
      stop,
    }
  } catch (err) {
    await stop()
    throw err
  }
}
