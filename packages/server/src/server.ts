// The process entry point: read .env and the config, check what can be checked locally, build the
// app, load the state and listen, and shut down gracefully on SIGTERM/SIGINT (stop accepting,
// finish in-flight requests, close the store). A local problem at startup (bad config, a bad
// bootstrap file, an unusable DATA_DIR, a port in use) is one line on stderr and exit 1, before
// anything claims to be listening or a token is printed.
import { existsSync } from 'node:fs'
import type { DestinationStream } from 'pino'
import closeWithGrace from 'close-with-grace'
import { ConfigError, loadConfig, type Config } from './config.js'
import { buildApp } from './app.js'
import { generateSecret } from './auth/tokens.js'
import { tuneHeap } from './heap-tuning.js'
import { describeTarget } from './store/redis-connection.js'

function fail(message: string): never {
  process.stderr.write(`switchyard: ${message}\n`)
  process.exit(1)
}

/** Readable lines on a terminal (or with LOG_FORMAT=pretty), JSON otherwise; undefined: JSON on stdout. */
async function logDestination(config: Config): Promise<{ stream?: DestinationStream; warning?: string }> {
  const pretty = config.logFormat === 'pretty' || (config.logFormat === 'auto' && process.stdout.isTTY === true)
  if (!pretty) return {}
  try {
    // A dev dependency: a production image without it logs JSON.
    const { default: prettyStream } = await import('pino-pretty')
    const colorize = process.stdout.isTTY === true && !process.env.NO_COLOR
    return { stream: prettyStream({ colorize, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,startup', singleLine: true, sync: true }) }
  } catch {
    return { warning: 'readable logs need pino-pretty, which is not installed (npm install --include=dev): logging JSON' }
  }
}

/** The flags file is read and checked before anything else, so a broken one never gets as far as listening. */
async function checkBootstrapFile(path: string): Promise<void> {
  const { FlagsFileError, readFlagsFile } = await import('@switchyard/core/flags/flags-file')
  try {
    await readFlagsFile(path)
  } catch (err) {
    if (err instanceof FlagsFileError)
      fail(`FLAGS_BOOTSTRAP_FILE=${path} is not a valid flags file: ${err.problems.join('; ')}. Fix it, or unset FLAGS_BOOTSTRAP_FILE.`)
    throw err
  }
}

async function main(): Promise<void> {
  tuneHeap()
  // A .env in the working directory, as .env.example suggests; variables already set win.
  const envFile = existsSync('.env')
  if (envFile) process.loadEnvFile('.env')
  let config
  try {
    config = loadConfig()
    if (process.argv.includes('--force-unlock')) config = { ...config, dataDirForceUnlock: true }
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message)
    throw err
  }
  if (config.flagsBootstrapFile) await checkBootstrapFile(config.flagsBootstrapFile)
  let generated = false
  if (!config.adminToken) {
    config = { ...config, adminToken: generateSecret() }
    generated = true
  }

  const { stream, warning } = await logDestination(config)
  const app = await buildApp(config, { logStream: stream })
  if (warning) app.log.warn(warning)
  for (const notice of config.notices) app.log.warn(notice)
  if (envFile) app.log.info('read .env (variables set in the environment win over it)')

  closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'shutting down after an error')
    else app.log.info({ signal }, 'shutting down')
    await app.close()
  })

  const load = async () => {
    try {
      await app.switchyard.sync.start()
    } catch (err) {
      // A full, read-only or locked DATA_DIR, a corrupt file, a bootstrap that failed half-way.
      app.log.fatal({ err: (err as Error).message }, 'could not load the store; refusing to start')
      await app.close()
      fail((err as Error).message)
    }
  }
  // A local store is loaded before listening: its problems are this machine's to fix, and stop
  // startup. A remote one may be down for a while: the replica listens (unready) and retries.
  const remote = config.redis !== undefined
  if (!remote) await load()
  let url
  try {
    url = await app.listen({ port: config.port, host: config.host })
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    await app.close()
    if (code === 'EADDRINUSE') fail(`port ${config.port} on ${config.host} is already in use (another Switchyard?): stop that process or set PORT`)
    if (code === 'EACCES') fail(`not allowed to listen on port ${config.port} on ${config.host}: use a port above 1023 (set PORT)`)
    if (code === 'EADDRNOTAVAIL') fail(`HOST=${config.host} is not an address of this machine: set HOST (0.0.0.0 for every interface)`)
    throw err
  }
  if (remote) await load()
  if (generated) {
    // Printed once, to the terminal only: secrets never go through the logger.
    app.log.warn('ADMIN_TOKEN is not set: generated an admin token for this run (printed on stderr); set ADMIN_TOKEN to keep one across restarts')
    process.stderr.write(`\n  Switchyard admin token for this run (named "bootstrap"):\n\n    ${config.adminToken}\n\n`)
  }
  const base = url.replace('://0.0.0.0:', '://localhost:').replace('://[::]:', '://localhost:')
  const store = config.redis ? describeTarget(config.redis) : `embedded store in ${config.dataDir}`
  // The fields for machines; readable output shows the message alone (logDestination ignores `startup`).
  app.log.info({ startup: { url: base, store, docs: `${base}/docs` } }, `Switchyard is ready at ${base} (${store}); API docs at ${base}/docs`)
}

await main()
