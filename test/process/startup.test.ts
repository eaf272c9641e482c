// The first minutes of a new user (issue 17): `npm start` starts the built server at once and stops
// on a signal sent to it; .env is read; the output is readable on a terminal and JSON for machines;
// every local problem at startup is one line on stderr, before anything claims to be listening.
import { execFile, spawn } from 'node:child_process'
import { promisify } from 'node:util'
import { cpSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { describe, expect, it, onTestFinished } from 'vitest'
// @ts-expect-error: a plain JavaScript module without types (it runs before anything is compiled)
import { buildProblem } from '../../scripts/build-check.js'
import { eventually, REPO_ROOT, spawnServer, startServer, tempDir, waitReady } from '../support/helpers.js'

const TOKEN = 'startup-admin-token-0123456789'

function dir(prefix: string): string {
  const d = tempDir(prefix)
  onTestFinished(() => d.remove())
  return d.path
}

/** Nothing on stdout says the server listened or became ready, and stderr is one `switchyard:` line. */
function refusedBeforeListening(server: { stdout(): string; stderr(): string }) {
  expect(server.stdout()).not.toMatch(/listening|is ready/i)
  expect(server.stderr()).not.toContain('admin token for this run')
  const lines = server.stderr().trim().split('\n')
  expect(lines, server.stderr()).toHaveLength(1)
  return lines[0]!
}

describe('fatal problems at startup: one line on stderr, exit 1, before listening or printing a token', () => {
  // Finding: a port already in use ended in a JSON stack trace, after printing a freshly
  // generated admin token for a process that never served.
  it('a port in use', async () => {
    const blocker = createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
    onTestFinished(() => void blocker.close())
    const port = (blocker.address() as { port: number }).port
    const server = await spawnServer({ PORT: String(port), DATA_DIR: dir('switchyard-port-') })
    expect(await server.exited).toBe(1)
    expect(refusedBeforeListening(server)).toBe(`switchyard: port ${port} on 127.0.0.1 is already in use (another Switchyard?): stop that process or set PORT`)
  })

  // Finding: a broken bootstrap file logged "Server listening" before "refusing to start".
  it('a broken FLAGS_BOOTSTRAP_FILE', async () => {
    const file = join(dir('switchyard-bootstrap-'), 'flags.yaml')
    writeFileSync(file, 'flags:\n  - key: Not A Key\n    state: sideways\n')
    const server = await spawnServer({ FLAGS_BOOTSTRAP_FILE: file, DATA_DIR: dir('switchyard-bootstrap-data-') })
    expect(await server.exited).toBe(1)
    const line = refusedBeforeListening(server)
    expect(line).toMatch(new RegExp(`^switchyard: FLAGS_BOOTSTRAP_FILE=${file} is not a valid flags file: .*key.*Fix it, or unset FLAGS_BOOTSTRAP_FILE\\.$`))
  })

  it('a DATA_DIR that cannot be used (a file where the directory should be)', async () => {
    const file = join(dir('switchyard-datadir-'), 'not-a-directory')
    writeFileSync(file, 'x')
    const server = await spawnServer({ DATA_DIR: file })
    expect(await server.exited).toBe(1)
    expect(refusedBeforeListening(server)).toMatch(/^switchyard: .*not-a-directory/)
  })
})

describe('.env and the startup output', () => {
  // Finding: a .env file was ignored by `npm start`: the user's token got 401 and a new one was generated.
  it('reads .env from the working directory, and variables set in the environment win over it', async () => {
    const cwd = dir('switchyard-dotenv-')
    writeFileSync(join(cwd, '.env'), `ADMIN_TOKEN=${TOKEN}\nSTALE_AFTER_MS=not-a-number-but-overridden\n`)
    const server = await spawnServer({ DATA_DIR: join(cwd, 'data'), STALE_AFTER_MS: '9000' }, [], { cwd })
    onTestFinished(async () => void (await server.stop()))
    await waitReady(server)
    const res = await fetch(`${server.url}/flags`, { headers: { authorization: `Bearer ${TOKEN}` } })
    expect(res.status).toBe(200)
    expect(server.stderr()).not.toContain('admin token for this run')
    expect(server.stdout()).toContain('read .env')
  })

  it('logs JSON when stdout is not a terminal, with one ready line naming the URL, the store and the docs', async () => {
    const data = dir('switchyard-json-')
    const server = await startServer({ ADMIN_TOKEN: TOKEN, DATA_DIR: data, LOG_LEVEL: 'info' })
    onTestFinished(async () => void (await server.stop()))
    await eventually(() => server.stdout().includes('is ready'), 10_000, 'the ready line')
    const lines = server.stdout().trim().split('\n')
    for (const line of lines) expect(() => JSON.parse(line), line).not.toThrow()
    const ready = lines.map((line) => JSON.parse(line) as { msg: string; startup?: unknown }).find((l) => /is ready/.test(l.msg))!
    expect(ready.startup).toEqual({ url: server.url, store: `embedded store in ${data}`, docs: `${server.url}/docs` })
  })

  it('LOG_FORMAT=pretty gives readable lines, without colours when piped', async () => {
    const server = await startServer({ ADMIN_TOKEN: TOKEN, DATA_DIR: dir('switchyard-pretty-'), LOG_LEVEL: 'info', LOG_FORMAT: 'pretty' })
    onTestFinished(async () => void (await server.stop()))
    await eventually(() => server.stdout().includes('is ready'), 10_000, 'the ready line')
    const ready = server
      .stdout()
      .split('\n')
      .find((line) => line.includes('is ready'))!
    const url = String.raw`http:\/\/127\.0\.0\.1:\d+`
    expect(ready).toMatch(
      new RegExp(String.raw`^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: Switchyard is ready at ${url} \(embedded store in .*\); API docs at ${url}\/docs$`),
    )
    // eslint-disable-next-line no-control-regex
    expect(server.stdout()).not.toMatch(/\x1b\[/)
    expect(server.stdout()).not.toMatch(/^\{"level"/m)
  })

  it('LOG_FORMAT=pretty without pino-pretty installed (a production image) logs JSON, and says so once', async () => {
    // A resolve hook that finds no pino-pretty, as `npm ci --omit=dev` leaves the image.
    const hooks = join(dir('switchyard-no-pretty-'), 'no-pino-pretty.mjs')
    const resolver = [
      'export async function resolve(specifier, context, next) {',
      "  if (specifier === 'pino-pretty') throw Object.assign(new Error('not installed'), { code: 'ERR_MODULE_NOT_FOUND' })",
      '  return next(specifier, context)',
      '}',
    ].join('\n')
    writeFileSync(hooks, `import { register } from 'node:module'\nregister('data:text/javascript,' + encodeURIComponent(${JSON.stringify(resolver)}))\n`)
    const server = await spawnServer({ ADMIN_TOKEN: TOKEN, DATA_DIR: dir('switchyard-no-pretty-data-'), LOG_LEVEL: 'info', LOG_FORMAT: 'pretty' }, [], {
      nodeArgs: ['--import', hooks],
    })
    onTestFinished(async () => void (await server.stop()))
    await waitReady(server)
    await eventually(() => server.stdout().includes('is ready'), 10_000, 'the ready line')
    const lines = server
      .stdout()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { level: number; msg: string })
    expect(lines.filter((l) => /pino-pretty/.test(l.msg))).toEqual([
      expect.objectContaining({ level: 40, msg: 'readable logs need pino-pretty, which is not installed (npm install --include=dev): logging JSON' }),
    ])
  })
})

describe('npm start', () => {
  // Finding: `npm start` ran tsc on every start (17–25 s), and a SIGTERM sent to the `npm start`
  // process left the server running as an orphan.
  it('runs the built server at once, and a SIGTERM to the npm process stops it gracefully, leaving no process behind', async () => {
    // On a fresh clone `npm ci` built it; after editing sources the build is brought up to date first.
    if (buildProblem(REPO_ROOT)) await promisify(execFile)('npm', ['run', 'build'], { cwd: REPO_ROOT })
    const data = dir('switchyard-npm-start-')
    const npm = spawn('npm', ['start'], {
      cwd: REPO_ROOT,
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: data, ADMIN_TOKEN: TOKEN, LOG_LEVEL: 'info', LOG_FORMAT: 'json', REDIS_URL: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    npm.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    npm.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const exited = new Promise<void>((resolve) => npm.once('exit', () => resolve()))
    onTestFinished(() => void npm.kill('SIGKILL'))
    let ready: { pid: number; url: string } | undefined
    await eventually(
      () => {
        if (npm.exitCode !== null) throw new Error(`npm start exited (${npm.exitCode}):\n${stderr}\n${stdout}`)
        const line = stdout.split('\n').find((l) => l.includes('is ready'))
        const parsed = line ? (JSON.parse(line) as { pid: number; startup: { url: string } }) : undefined
        ready = parsed && { pid: parsed.pid, url: parsed.startup.url }
        return ready !== undefined
      },
      30_000,
      'the ready line',
    )
    expect(stdout).not.toMatch(/tsc|> switchyard@.* build/)
    expect((await fetch(`${ready!.url}/healthz`)).status).toBe(200)
    expect(ready!.pid).not.toBe(npm.pid)

    npm.kill('SIGTERM')
    await exited
    const gone = () => {
      try {
        process.kill(ready!.pid, 0)
        return false
      } catch {
        return true
      }
    }
    await eventually(gone, 15_000, 'the server process to exit')
    expect(stdout).toMatch(/"signal":"SIGTERM".*"msg":"shutting down"/)
  }, 120_000)

  it('says what to do when the build is missing or older than the sources, and starts nothing', async () => {
    const root = dir('switchyard-stale-')
    cpSync(join(REPO_ROOT, 'scripts'), join(root, 'scripts'), { recursive: true })
    const run = () =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [join(root, 'scripts', 'start.js')], { stdio: ['ignore', 'ignore', 'pipe'] })
        let stderr = ''
        child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
        child.once('exit', (code) => resolve({ code, stderr }))
      })
    for (const name of ['core', 'server']) {
      mkdirSync(join(root, 'packages', name, 'src'), { recursive: true })
      writeFileSync(join(root, 'packages', name, 'src', 'index.ts'), 'export {}\n')
    }
    expect(await run()).toEqual({ code: 1, stderr: 'switchyard: packages/core is not built (no dist/): run `npm run build`, then `npm start` again\n' })

    for (const name of ['core', 'server']) {
      mkdirSync(join(root, 'packages', name, 'dist'), { recursive: true })
      writeFileSync(join(root, 'packages', name, 'dist', 'index.js'), 'export {}\n')
      // Built an hour before the sources were last changed.
      const hourAgo = new Date(Date.now() - 3600_000)
      utimesSync(join(root, 'packages', name, 'dist', 'index.js'), hourAgo, hourAgo)
    }
    expect(await run()).toEqual({ code: 1, stderr: 'switchyard: packages/core/src changed since it was built: run `npm run build`, then `npm start` again\n' })

    // Built again: the file left behind by a renamed source (the hour-old one) does not make it stale.
    for (const name of ['core', 'server']) writeFileSync(join(root, 'packages', name, 'dist', 'renamed.js'), 'export {}\n')
    const started = await run()
    expect(started.stderr).not.toContain('npm run build')
    expect(started.stderr).toContain('packages/server/dist/server.js')
  })
})
