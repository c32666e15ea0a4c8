// Redis connections: a single node (REDIS_URL) or a Cluster (REDIS_CLUSTER_NODES), with the metering scripts
// registered on each client.
import { Redis, Cluster } from 'ioredis';
import { redisCommandTimeoutMsOf, type Config } from '../config.js';
import { defineScripts } from './load-scripts.js';
import { redisReconnectWaitMsMax } from '../limits.js';

export type RedisClient = Redis | Cluster;

/** What createRedis needs of the config; the bounds default as loadConfig would make them at a 5 s heartbeat. */
export type RedisTarget = Pick<Config, 'redisUrl' | 'redisClusterNodes'>
  & Partial<Pick<Config, 'redisSentinels' | 'redisSentinelMaster' | 'redisCommandTimeoutMs'>>;

export interface RedisOptions {
  /** For blocking reads (XREADGROUP BLOCK) and subscribers, which must not share a connection. */
  purpose?: string;
  /** A connection that blocks or subscribes: nothing to pipeline on it. */
  dedicated?: boolean;
  /** The longest BLOCK this connection's commands ask for, ms: added to its reply bounds. */
  blockMsMax?: number;
  /**
   * A subscriber sends nothing while it waits for messages, so a hang would go unnoticed: PING it this often (ms),
   * and an unanswered PING drops the connection like any other (it reconnects and subscribes again). Single node and
   * Sentinel only: a Cluster client's PING goes to any node, not to its subscriber's.
   */
  pingEveryMs?: number;
}

/** For callers without a loaded config (bench, tests): what loadConfig makes of the default 5 s heartbeat. */
const commandTimeoutMsDefault = redisCommandTimeoutMsOf(0, 5_000);

/**
 * Replies that mean "this node cannot serve that key right now" while a Cluster or a Sentinel pair fails over
 * (README "Redis: hangs and failovers"). ioredis retries MOVED, ASK, TRYAGAIN and CLUSTERDOWN itself; a READONLY
 * comes from a connection still on a master that was demoted to replica: reconnect, and the connector asks the
 * sentinels for the new master. The command itself fails as `unavailable`, not replayed.
 */
const reconnectOnReadonly = (err: Error): 1 | false => (err.message.startsWith('READONLY') ? 1 : false);

/**
 * Every reply is bounded (README "Redis: hangs and failovers"): a command unanswered after `redisCommandTimeoutMs`
 * fails as `unavailable` (commandTimeout), and a connection that was sent commands and has received nothing for
 * twice that is destroyed and made again (socketTimeout): a Redis behind a partition or a stuck proxy looks exactly
 * like that, an open TCP connection on which no byte comes back. Commands written to the dead connection are not
 * sent again on the new one (autoResendUnfulfilledCommands off): their callers have been answered already, and a
 * backlog replayed when Redis returns would be heartbeats nobody waits for.
 */
export function createRedis(config: RedisTarget, opts: RedisOptions = {}): RedisClient {
  const replyMs = (config.redisCommandTimeoutMs ?? commandTimeoutMsDefault) + (opts.blockMsMax ?? 0);
  const common = {
    connectionName: `metering-${opts.purpose ?? 'main'}`,
    maxRetriesPerRequest: 2,
    connectTimeout: 5_000,
    commandTimeout: replyMs,
    socketTimeout: 2 * replyMs,
    autoResendUnfulfilledCommands: false,
    reconnectOnError: reconnectOnReadonly,
    // While reconnecting, commands wait in ioredis' queue; maxRetriesPerRequest bounds how long before they fail.
    enableOfflineQueue: true,
    retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 6), redisReconnectWaitMsMax),
    // Commands issued in the same tick go out in one write (and, on a Cluster, one per node): a gateway's heartbeats
    // and a worker's page of checks cost one syscall per batch, not one per command.
    enableAutoPipelining: !opts.dedicated,
  };
  let client: RedisClient;
  if (config.redisClusterNodes.length > 0) {
    client = new Cluster([...config.redisClusterNodes], {
      // `-n` scripts go through EVALSHA itself, which ioredis routes by its first key (load-scripts.ts).
      redisOptions: common, scaleReads: 'master', enableAutoPipelining: !opts.dedicated,
      // During a failover a slot's master is gone for a few seconds: ioredis waits this long between tries and gives
      // up after maxRedirections ("Too many Cluster redirections", answered `unavailable`), about one command bound.
      retryDelayOnFailover: 100, retryDelayOnClusterDown: 100, retryDelayOnTryAgain: 100,
      maxRedirections: Math.max(4, Math.ceil(replyMs / 100)),
      slotsRefreshTimeout: replyMs,
    });
  } else if ((config.redisSentinels ?? []).length > 0) {
    client = new Redis({
      ...common,
      sentinels: [...config.redisSentinels!], name: config.redisSentinelMaster ?? 'mymaster',
      sentinelCommandTimeout: replyMs,
      // The sentinels announce a new master on +switch-master: reconnect at once rather than on the next failure.
      failoverDetector: true,
      sentinelRetryStrategy: (times: number) => Math.min(100 * times, 1_000),
    });
  } else {
    client = new Redis(config.redisUrl, common);
  }
  defineScripts(client);
  // Queued while the first connection is made (start-up waits for it), then never again: during an outage a command
  // fails at once as `unavailable` instead of waiting in a queue (auto-pipelined commands waited there ~12 s), so a
  // player's heartbeats are answered while Redis is down and no backlog of them is replayed when it returns.
  client.once('ready', () => { client.options.enableOfflineQueue = false; });
  if (opts.pingEveryMs && !(client instanceof Cluster)) {
    const pinger = setInterval(() => { if (client.status === 'ready') client.ping().catch(() => undefined); }, opts.pingEveryMs);
    pinger.unref();
    client.once('end', () => clearInterval(pinger));
  }
  // Connection errors surface as failed commands (mapped to `unavailable` at the edge) and in /readyz; without a
  // listener ioredis would print every reconnect attempt as an unhandled error.
  client.on('error', () => undefined);
  return client;
}

/** Where Redis was looked for, for start-up errors. */
export function describeRedisTarget(config: RedisTarget): string {
  const list = (nodes: readonly { host: string; port: number }[]) => nodes.map((n) => `${n.host}:${n.port}`).join(', ');
  if (config.redisClusterNodes.length > 0) return `Redis Cluster at ${list(config.redisClusterNodes)} (REDIS_CLUSTER_NODES)`;
  if ((config.redisSentinels ?? []).length > 0) {
    return `Redis master '${config.redisSentinelMaster ?? 'mymaster'}' of the sentinels at ${list(config.redisSentinels!)} (REDIS_SENTINELS)`;
  }
  return `Redis at ${config.redisUrl.replace(/\/\/[^@/]*@/, '//***@')} (REDIS_URL)`;
}

/** Redis server time in ms: deadlines and metering timestamps are written in it, so they are compared in it. */
export async function redisNowMs(redis: RedisClient): Promise<number> {
  const [seconds, micros] = await redis.time();
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}
