// Redis connections: a single node (REDIS_URL) or a Cluster (REDIS_CLUSTER_NODES), with the metering scripts
// registered on each client.
import { Redis, Cluster } from 'ioredis';
import type { Config } from '../config.js';
import { defineScripts } from './load-scripts.js';

export type RedisClient = Redis | Cluster;

export interface RedisOptions {
  /** For blocking reads (XREADGROUP BLOCK) and subscribers, which must not share a connection. */
  purpose?: string;
  /** A connection that blocks or subscribes: nothing to pipeline on it. */
  dedicated?: boolean;
}

export function createRedis(config: Pick<Config, 'redisUrl' | 'redisClusterNodes'>, opts: RedisOptions = {}): RedisClient {
  const common = {
    connectionName: `metering-${opts.purpose ?? 'main'}`,
    maxRetriesPerRequest: 2,
    connectTimeout: 5_000,
    // While reconnecting, commands wait in ioredis' queue; maxRetriesPerRequest bounds how long before they fail.
    enableOfflineQueue: true,
    retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 6), 2_000),
    // Commands issued in the same tick go out in one write (and, on a Cluster, one per node): a gateway's heartbeats
    // and a worker's page of checks cost one syscall per batch, not one per command.
    enableAutoPipelining: !opts.dedicated,
  };
  const client: RedisClient = config.redisClusterNodes.length > 0
    ? new Cluster([...config.redisClusterNodes], {
      // `-n` scripts go through EVALSHA itself, which ioredis routes by its first key (load-scripts.ts).
      redisOptions: common, scaleReads: 'master', enableAutoPipelining: !opts.dedicated,
    })
    : new Redis(config.redisUrl, common);
  defineScripts(client);
  // Queued while the first connection is made (start-up waits for it), then never again: during an outage a command
  // fails at once as `unavailable` instead of waiting in a queue (auto-pipelined commands waited there ~12 s), so a
  // player's heartbeats are answered while Redis is down and no backlog of them is replayed when it returns.
  client.once('ready', () => { client.options.enableOfflineQueue = false; });
  // Connection errors surface as failed commands (mapped to `unavailable` at the edge) and in /readyz; without a
  // listener ioredis would print every reconnect attempt as an unhandled error.
  client.on('error', () => undefined);
  return client;
}

/** Where Redis was looked for, for start-up errors. */
export function describeRedisTarget(config: Pick<Config, 'redisUrl' | 'redisClusterNodes'>): string {
  return config.redisClusterNodes.length > 0
    ? `Redis Cluster at ${config.redisClusterNodes.map((n) => `${n.host}:${n.port}`).join(', ')} (REDIS_CLUSTER_NODES)`
    : `Redis at ${config.redisUrl.replace(/\/\/[^@/]*@/, '//***@')} (REDIS_URL)`;
}

/** Redis server time in ms: deadlines and metering timestamps are written in it, so they are compared in it. */
export async function redisNowMs(redis: RedisClient): Promise<number> {
  const [seconds, micros] = await redis.time();
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}
