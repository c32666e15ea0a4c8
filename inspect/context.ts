// What every subcommand reads with: the configuration, one Redis connection (single node or Cluster), the key
// layout, and Redis server time, read once so every age and "due in" of one run is measured from the same instant.
import type { Config } from '../core/config.js';
import { createRedis, redisNowMs, type RedisClient } from '../core/redis/connect.js';
import { createKeys, type Keys } from '../core/redis/keys.js';
import { checkRedis } from '../core/startup.js';

export interface InspectContext {
  config: Config;
  redis: RedisClient;
  keys: Keys;
  /** Redis TIME in ms: the scripts write every timestamp and deadline in it, so ages are measured against it. */
  nowMs: number;
}

/** Connects (failing with the where-and-how message when Redis is unreachable) and reads Redis time. */
export async function openContext(config: Config): Promise<InspectContext> {
  const redis = createRedis(config, { purpose: 'inspect' });
  try {
    await checkRedis(config, redis);
    return { config, redis, keys: createKeys(config.redisKeyPrefix), nowMs: await redisNowMs(redis) };
  } catch (err) {
    redis.disconnect();
    throw err;
  }
}
