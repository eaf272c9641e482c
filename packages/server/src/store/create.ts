// Chooses the store from the configuration: the embedded file store unless a Redis is configured.
import type { Config } from '../config.js'
import { FileStore, type FileStoreOptions } from './file.js'
import type { Store } from './store.js'

export async function createStore(config: Config, log?: FileStoreOptions['log']): Promise<Store> {
  const audit = { auditMaxEvents: config.auditMaxEvents, auditMaxBytes: config.auditMaxBytes }
  // Code that embeds the server and still passes the old field would otherwise get the embedded store, one per replica.
  if ('redisUrl' in config) throw new Error("Config.redisUrl is now Config.redis: { kind: 'single', url } (or loadConfig() from REDIS_URL)")
  if (config.redis) {
    const { RedisStore } = await import('./redis.js')
    return new RedisStore({ target: config.redis, prefix: config.redisPrefix, waitReplicas: config.redisWaitReplicas, waitMs: config.redisWaitMs, ...audit })
  }
  return new FileStore(config.dataDir, { ...audit, forceUnlock: config.dataDirForceUnlock, log })
}
