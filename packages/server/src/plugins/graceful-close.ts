// Graceful close: idle keep-alive connections are reaped as soon as closing begins, then the sync
// and the guards stop (giving their lease up) and the store closes (the embedded store folds its
// journal and releases its lock).
import fp from 'fastify-plugin'
import type { StoreSync } from '../replica/sync.js'
import type { Store } from '../store/store.js'
import type { GuardRunner } from '../guards/runner.js'

export const gracefulClose = fp<{ sync: StoreSync; store: Store; guards?: GuardRunner }>(
  async (app, { sync, store, guards }) => {
    // A keep-alive connection whose request was in flight when closing began would sit idle until
    // keepAliveTimeout once answered, holding the shutdown open: reap it as soon as it is idle.
    let closing = false
    app.addHook('preClose', async () => {
      closing = true
    })
    app.addHook('onResponse', (_request, _reply, done) => {
      if (closing) app.server.closeIdleConnections()
      done()
    })
    app.addHook('onClose', async () => {
      sync.stop()
      await guards?.stop()
      await store.close()
    })
  },
  { name: 'switchyard-graceful-close' },
)
