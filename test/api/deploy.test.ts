// The deployment files, checked by reading them (no Docker engine here): docker-compose.yml
// and the Dockerfile must line up with the code's configuration, entry point and probes.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { defaultConfig, loadConfig } from '../../packages/server/src/config.js'
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { onTestFinished } from 'vitest'
import { call, eventually, REPO_ROOT, startApp, tempDir } from '../support/helpers.js'
import { redisServerBinary } from '../support/redis-helpers.js'
import { freePort } from '../support/process.js'

const read = (file: string) => readFileSync(join(REPO_ROOT, file), 'utf8')

interface Service {
  build?: string
  image?: string
  command?: string[]
  env_file?: string | string[]
  environment?: Record<string, string>
  ports?: string[]
  volumes?: string[]
  depends_on?: Record<string, { condition: string }>
  healthcheck?: { test: string[] }
  profiles?: string[]
}
const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, Service>; volumes?: Record<string, unknown> }
const services = compose.services
// The default topology: what `docker compose up` starts (services of a profile start only when it is asked for).
const replicas = Object.entries(services).filter(([, s]) => s.build !== undefined && s.profiles === undefined)
const inProfile = (profile: string) => Object.entries(services).filter(([, s]) => s.profiles?.includes(profile))
const SAMPLE_TOKEN = 'sample-admin-token-0123456789'

/** Compose's interpolation for the forms the file uses: ${NAME}, ${NAME:?message}, ${NAME:-default}. */
function interpolate(value: string, env: Record<string, string>): string {
  return value.replace(/\$\{(\w+)(?::([?-])([^}]*))?\}/g, (_, name: string, kind?: string, rest?: string) => {
    if (env[name]) return env[name]
    if (kind === '?') throw new Error(`compose would refuse to start: ${rest}`)
    return kind === '-' ? (rest ?? '') : ''
  })
}

/** The configuration a replica starts with, given an .env that sets ADMIN_TOKEN. */
function configOf(replica: Service) {
  const env = Object.entries(replica.environment ?? {}).map(([k, v]) => [k, interpolate(String(v), { ADMIN_TOKEN: SAMPLE_TOKEN })])
  return loadConfig(Object.fromEntries(env))
}

describe('docker-compose.yml', () => {
  it('runs one Redis with persistence on a volume, and two replicas built from this repository', () => {
    const redis = services.redis!
    expect(redis.image).toMatch(/^redis:/)
    expect(redis.command).toEqual(expect.arrayContaining(['--appendonly', 'yes']))
    const [volume, mountedAt] = redis.volumes![0]!.split(':')
    expect(mountedAt).toBe('/data')
    expect(compose.volumes).toHaveProperty(volume!)
    expect(redis.healthcheck!.test).toEqual(['CMD', 'redis-cli', 'ping'])
    expect(replicas).toHaveLength(2)
    for (const [, replica] of replicas) {
      expect(replica.build).toBe('.')
      expect(replica.depends_on).toEqual({ redis: { condition: 'service_healthy' } })
    }
  })

  it('publishes the replicas on different host ports, each onto the port the service listens on', () => {
    const hostPorts = replicas.map(([, replica]) => {
      expect(replica.ports).toHaveLength(1)
      const [host, container] = replica.ports![0]!.split(':')
      expect(Number(container)).toBe(configOf(replica).port)
      return host
    })
    expect(new Set(hostPorts).size).toBe(replicas.length)
    expect(configOf(replicas[0]![1]).port).toBe(defaultConfig().port)
  })

  it('configures every replica for the shared Redis, with ADMIN_TOKEN required from the env file', () => {
    const example = read('.env.example')
    expect(example).toMatch(/^ADMIN_TOKEN=/m)
    expect(read('.gitignore')).toMatch(/^\.env$/m)
    const redisPort = 6379 // the redis image's default; its command sets no other
    for (const [name, replica] of replicas) {
      expect(replica.env_file, name).toBe('.env')
      const raw = replica.environment!
      expect(raw.ADMIN_TOKEN, name).toMatch(/^\$\{ADMIN_TOKEN:\?.+\}$/)
      expect(() => interpolate(raw.ADMIN_TOKEN!, {})).toThrow(/ADMIN_TOKEN/)
      const config = configOf(replica)
      expect(config.redis, name).toEqual({ kind: 'single', url: `redis://redis:${redisPort}` })
      expect(config.redisPrefix, name).toBe(defaultConfig().redisPrefix)
      // Probes come from outside the container: listening on loopback would fail them.
      expect(config.host, name).toBe('0.0.0.0')
      expect(config.adminToken, name).toBe(SAMPLE_TOKEN)
    }
    expect(new Set(replicas.map(([, r]) => JSON.stringify(r.environment))).size).toBe(1)
  })

  it('health-checks each replica on /healthz at the port it listens on, a route that answers without a token', async () => {
    for (const [name, replica] of replicas) {
      const probe = replica.healthcheck!.test.join(' ')
      expect(probe, name).toContain(`http://127.0.0.1:${configOf(replica).port}/healthz`)
    }
    const app = await startApp()
    try {
      await call(app, 'GET', '/healthz', { token: null, expected: 200 })
    } finally {
      await app.close()
    }
  })
})

describe('docker-compose.yml, the sentinel profile', () => {
  const profile = inProfile('sentinel')
  const byName = Object.fromEntries(profile)
  const sentinels = profile.filter(([, s]) => s.command?.join(' ').includes('--sentinel'))
  const switchyards = profile.filter(([, s]) => s.build !== undefined)
  /** The sentinel.conf each sentinel writes at start (the printf's text). */
  const sentinelConf = (service: Service) => /printf '([^']*)'/.exec(service.command!.join(' '))![1]!.split('\\n').filter(Boolean)

  const redisServers = profile.filter(([, s]) => s.image?.startsWith('redis:') && !s.command!.join(' ').includes('--sentinel'))
  /** The redis.conf a Redis of the profile writes on its volume the first time (the printf's text). */
  const redisConf = (service: Service) => /printf '([^']*)'/.exec(service.command!.join(' '))![1]!.split('\\n').filter(Boolean)

  it('runs a master and one replica of it, persistent, refusing writes they cannot replicate, with three sentinels that monitor it with quorum 2', () => {
    const masters = redisServers.filter(([, s]) => !redisConf(s).some((line) => line.startsWith('replicaof')))
    expect(masters).toHaveLength(1)
    const [masterName] = masters[0]!
    const replicas = redisServers.filter(([, s]) => redisConf(s).includes(`replicaof ${masterName} 6379`))
    expect(replicas).toHaveLength(1)
    for (const [name, server] of redisServers) {
      const conf = redisConf(server)
      expect(conf, name).toEqual(expect.arrayContaining(['appendonly yes', 'appendfsync always', 'min-replicas-to-write 1']))
      // Written once, on the volume, and started from there: the sentinels' rewrites survive a restart.
      const [volume, mountedAt] = server.volumes![0]!.split(':')
      expect(mountedAt, name).toBe('/data')
      expect(compose.volumes).toHaveProperty(volume!)
      expect(server.command!.join(' '), name).toMatch(
        /test -f \/data\/redis\.conf \|\| printf .* > \/data\/redis\.conf; exec redis-server \/data\/redis\.conf$/,
      )
    }
    expect(sentinels).toHaveLength(3)
    for (const [name, sentinel] of sentinels) {
      const conf = sentinelConf(sentinel)
      expect(conf, name).toContain('port 26379')
      expect(conf, name).toContain(`sentinel monitor switchyard ${masterName} 6379 2`)
      expect(sentinel.depends_on, name).toEqual({ [masterName]: { condition: 'service_healthy' } })
    }
    expect(byName[masterName]).toBeDefined()
  })

  it('gives the sentinel pair REDIS_SENTINELS naming the three sentinels, REDIS_WAIT_REPLICAS=1, and host ports of their own', () => {
    expect(switchyards).toHaveLength(2)
    const taken = new Set(replicas.map(([, r]) => r.ports![0]!.split(':')[0]))
    for (const [name, replica] of switchyards) {
      const config = configOf(replica)
      expect(config.redis, name).toEqual({
        kind: 'sentinel',
        name: 'switchyard',
        sentinels: sentinels.map(([host]) => ({ host, port: 26379 })),
        auth: { tls: false },
      })
      expect(config.redisWaitReplicas, name).toBe(1)
      expect(config.adminToken, name).toBe(SAMPLE_TOKEN)
      const host = replica.ports![0]!.split(':')[0]
      expect(taken.has(host), name).toBe(false)
      taken.add(host)
    }
  })

  it("writes a redis.conf and a sentinel.conf redis-server accepts: the profile's text, run here as a master and a sentinel of it", async () => {
    // The master's configuration as the profile writes it, on a port of this machine.
    const masterPort = await freePort()
    const masterDir = tempDir('switchyard-redis-conf-')
    onTestFinished(() => masterDir.remove())
    const masterConf = [
      ...redisConf(redisServers.find(([, s]) => !redisConf(s).some((l) => l.startsWith('replicaof')))![1]),
      `port ${masterPort}`,
      'bind 127.0.0.1',
      `dir ${masterDir.path}`,
    ]
    writeFileSync(join(masterDir.path, 'redis.conf'), `${masterConf.join('\n')}\n`)
    const redis = spawn(redisServerBinary(), [join(masterDir.path, 'redis.conf')], { stdio: ['ignore', 'pipe', 'pipe'] })
    onTestFinished(() => void redis.kill('SIGKILL'))
    let redisOutput = ''
    for (const stream of [redis.stdout, redis.stderr]) stream.on('data', (chunk: Buffer) => (redisOutput += chunk.toString()))
    await eventually(() => redisOutput.includes('Ready to accept connections') || redis.exitCode !== null, 10_000, 'the master to start')
    expect(redisOutput).toContain('Ready to accept connections')
    const master = { port: masterPort }
    const port = await freePort()
    const conf = sentinelConf(sentinels[0]![1]).map((line) =>
      line.replace('sentinel-redis-1 6379', `127.0.0.1 ${master.port}`).replace('port 26379', `port ${port}`),
    )
    const dir = tempDir('switchyard-sentinel-conf-')
    onTestFinished(() => dir.remove())
    writeFileSync(join(dir.path, 'sentinel.conf'), `${conf.join('\n')}\n`)
    const sentinel = spawn(redisServerBinary(), [join(dir.path, 'sentinel.conf'), '--sentinel'], { stdio: ['ignore', 'pipe', 'pipe'] })
    onTestFinished(() => void sentinel.kill('SIGKILL'))
    let output = ''
    for (const stream of [sentinel.stdout, sentinel.stderr]) stream.on('data', (chunk: Buffer) => (output += chunk.toString()))
    await eventually(() => output.includes('+monitor master switchyard') || sentinel.exitCode !== null, 10_000, 'the sentinel to start')
    expect(output).toContain(`+monitor master switchyard 127.0.0.1 ${master.port} quorum 2`)
  })
})

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile')
  const stages = dockerfile.split(/^FROM /m).slice(1)
  const runtime = stages[stages.length - 1]!

  it('builds in one stage and runs from another with production dependencies only', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2)
    expect(dockerfile).toMatch(/npm (prune --omit=dev|ci --omit=dev)/)
    expect(runtime).toMatch(/COPY --from=build .*node_modules/)
    expect(runtime).not.toMatch(/npm (ci|install)(?! --omit=dev)/)
  })

  it('runs as a non-root user, the compiled server as entry point, listening on all interfaces', () => {
    const user = /^USER (\S+)/m.exec(runtime)?.[1]
    expect(user).toBeDefined()
    expect(['root', '0']).not.toContain(user)
    const main = (JSON.parse(read('package.json')) as { main: string }).main.replace(/^\.\//, '')
    expect(runtime).toMatch(new RegExp(`^CMD \\["node", "${main.replaceAll('.', '\\.')}"\\]`, 'm'))
    expect(main).toBe('packages/server/dist/server.js')
    expect(runtime).toMatch(/HOST=0\.0\.0\.0/)
    expect(runtime).toMatch(new RegExp(`PORT=${defaultConfig().port}\\b`))
    expect(runtime).toMatch(new RegExp(`^EXPOSE ${defaultConfig().port}$`, 'm'))
  })

  it('installs without lifecycle scripts before the sources are copied (prepare builds, and would find no sources)', () => {
    const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts
    const install = /RUN npm ci[^\n]*/.exec(stages[0]!)![0]
    if (scripts.prepare || scripts.postinstall) expect(install).toContain('--ignore-scripts')
    expect(stages[0]!.indexOf(install)).toBeLessThan(stages[0]!.indexOf('COPY packages ./packages'))
  })

  // Finding: the image lacked examples/ (the documented bootstrap path failed there) and declared no volume for its data.
  it('carries examples/ and declares the DATA_DIR of the embedded store as a volume, owned by the user it runs as', () => {
    expect(runtime).toMatch(/^COPY examples \.\/examples$/m)
    const workdir = /^WORKDIR (\S+)/m.exec(runtime)![1]!
    const dataDir = join(workdir, defaultConfig().dataDir)
    expect(runtime).toContain(`VOLUME ["${dataDir}"]`)
    expect(runtime).toContain(`chown node:node ${dataDir}`)
    expect(read('.dockerignore').split('\n')).not.toContain('examples')
  })

  it('has a HEALTHCHECK on /healthz', () => {
    expect(runtime).toMatch(/^HEALTHCHECK [\s\S]*\/healthz/m)
  })

  it('keeps secrets and local builds out of the build context', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((line) => line.trim())
    for (const entry of ['.env', 'node_modules', 'dist', 'data', '.git']) expect(ignored).toContain(entry)
  })
})
