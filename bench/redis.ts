// The Redis the benchmark uses: REDIS_URL, else the local default if it answers, else a private
// redis-server from PATH on a free port (no persistence), stopped at the end.
import { spawn } from 'node:child_process'
import { freePort } from '../test/support/process.js'
import { Redis } from 'ioredis'

async function answers(url: string): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000 })
  client.on('error', () => undefined)
  try {
    await client.connect()
    return (await client.ping()) === 'PONG'
  } catch {
    return false
  } finally {
    client.disconnect()
  }
}

export async function benchRedis(): Promise<{ url: string; stop(): Promise<void> }> {
  if (process.env.REDIS_URL) return { url: process.env.REDIS_URL, stop: async () => undefined }
  if (await answers('redis://127.0.0.1:6379')) return { url: 'redis://127.0.0.1:6379', stop: async () => undefined }
  const port = await freePort()
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  await new Promise<void>((resolve, reject) => {
    child.once('error', () => reject(new Error('redis-server not found: install it (apt-get install redis-server) or set REDIS_URL')))
    child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('Ready to accept connections') && resolve())
  })
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: async () => {
      child.kill('SIGKILL')
    },
  }
}
