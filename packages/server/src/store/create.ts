// Chooses the store from the configuration: the embedded file store unless REDIS_URL is set.
import type { Config } from '../config.js'
import { FileStore, type FileStoreOptions } from './file.js'
import type { Store } from './store.js'

export async function createStore(config: Config, log?: FileStoreOptions['log']): Promise<Store> {
  const audit = { auditMaxEvents: config.auditMaxEvents, auditMaxBytes: config.auditMaxBytes }
  if (config.redisUrl) {
    const { RedisStore } = await import('./redis.js')
    return new RedisStore({ url: config.redisUrl, prefix: config.redisPrefix, ...audit })
  }
  return new FileStore(config.dataDir, { ...audit, forceUnlock: config.dataDirForceUnlock, log })
}
