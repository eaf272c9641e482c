// The process entry point: load config, build the app, listen, load the state, and shut down
// gracefully on SIGTERM/SIGINT (stop accepting, finish in-flight requests, close the store).
import closeWithGrace from 'close-with-grace'
import { ConfigError, loadConfig } from './config.js'
import { buildApp } from './app.js'
import { generateSecret } from './auth/tokens.js'
import { tuneHeap } from './heap-tuning.js'

async function main(): Promise<void> {
  tuneHeap()
  let config
  try {
    config = loadConfig()
    if (process.argv.includes('--force-unlock')) config = { ...config, dataDirForceUnlock: true }
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`switchyard: ${err.message}\n`)
      process.exit(1)
    }
    throw err
  }
  let generated = false
  if (!config.adminToken) {
    config = { ...config, adminToken: generateSecret() }
    generated = true
  }

  const app = await buildApp(config)

  closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'shutting down after an error')
    else app.log.info({ signal }, 'shutting down')
    await app.close()
  })

  await app.listen({ port: config.port, host: config.host })
  try {
    await app.switchyard.sync.start()
  } catch (err) {
    // One line on stderr says why (a full, read-only or locked DATA_DIR, a corrupt file).
    app.log.fatal({ err: (err as Error).message }, 'could not load the store; refusing to start')
    process.stderr.write(`switchyard: ${(err as Error).message}\n`)
    await app.close()
    process.exit(1)
  }
  if (generated) {
    // Printed once, to the terminal only: secrets never go through the logger.
    app.log.warn('ADMIN_TOKEN is not set: generated an admin token for this run (printed on stderr); set ADMIN_TOKEN to keep one across restarts')
    process.stderr.write(`\n  Switchyard admin token for this run (named "bootstrap"):\n\n    ${config.adminToken}\n\n`)
  }
}

await main()
