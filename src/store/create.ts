// Chooses the store from the configuration: the embedded file store unless REDIS_URL is set.
import type { Config } from '../config.js'
import { FileStore } from './file.js'
import type { Store } from './store.js'

export async function createStore(config: Config): Promise<Store> {
  if (config.redisUrl) {
    const { RedisStore } = await import('./redis.js')
    return new RedisStore({ url: config.redisUrl, prefix: config.redisPrefix, auditMaxEvents: config.auditMaxEvents })
  }
  return new FileStore(config.dataDir, { auditMaxEvents: config.auditMaxEvents })
}
