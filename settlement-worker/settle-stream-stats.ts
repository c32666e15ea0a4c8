// The settle streams as an operator sees them: per bucket, entries in the stream, entries delivered but not acked,
// the age of the oldest of those, and the consumer group's lag (entries not yet delivered to any worker); plus the
// dead-letter stream's length. Every command names one key, so this works unchanged on Redis Cluster (each bucket's
// stream is in its own slot), and all of them go out together (auto-pipelining): one round trip per node.
import { redisNowMs, type RedisClient } from '../core/redis/connect.js';
import { settleGroup, type Keys } from '../core/redis/keys.js';

export interface BucketStreamStats {
  bucket: number;
  length: number;
  pending: number;
  /** Seconds since the oldest pending entry was added (0 when none is pending), in Redis time. */
  oldestPendingAgeSeconds: number;
  /** Entries the group has not yet delivered; null when Redis cannot tell (after deletions; Redis < 7). */
  lag: number | null;
}

export interface SettleStreamStats {
  buckets: BucketStreamStats[];
  deadLetters: number;
}

/** XINFO GROUPS answers one flat [field, value, …] array per group. */
function groupFields(reply: unknown): Map<string, unknown> | null {
  if (!Array.isArray(reply)) return null;
  for (const group of reply) {
    if (!Array.isArray(group)) continue;
    const fields = new Map<string, unknown>();
    for (let i = 0; i + 1 < group.length; i += 2) fields.set(String(group[i]), group[i + 1]);
    if (fields.get('name') === settleGroup) return fields;
  }
  return null;
}

/** The ms part of a stream entry id ("1700000000000-3"). */
const idMs = (id: unknown): number | null => (typeof id === 'string' ? Number(id.split('-')[0]) : null);

async function bucketStats(redis: RedisClient, keys: Keys, bucket: number, nowMs: number): Promise<BucketStreamStats> {
  const stream = keys.settleStream(bucket);
  const [length, groups, summary] = await Promise.all([
    redis.xlen(stream),
    redis.xinfo('GROUPS', stream),
    // Summary form: [count, smallest pending id, greatest pending id, per-consumer counts].
    redis.xpending(stream, settleGroup) as Promise<unknown[]>,
  ]);
  const group = groupFields(groups);
  const lag = group?.get('lag');
  const oldestMs = idMs(summary[1]);
  return {
    bucket,
    length,
    pending: Number(summary[0] ?? 0),
    oldestPendingAgeSeconds: oldestMs === null ? 0 : Math.max(0, nowMs - oldestMs) / 1000,
    lag: typeof lag === 'number' ? lag : null,
  };
}

export async function readSettleStreamStats(redis: RedisClient, keys: Keys): Promise<SettleStreamStats> {
  const nowMs = await redisNowMs(redis);
  const [buckets, deadLetters] = await Promise.all([
    Promise.all(keys.buckets().map((b) => bucketStats(redis, keys, b, nowMs))),
    redis.xlen(keys.deadLetters()),
  ]);
  return { buckets, deadLetters };
}
