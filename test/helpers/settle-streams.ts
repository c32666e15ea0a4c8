// Read-only looks at the settle streams and the dead-letter stream, for tests of whoever produces or consumes them.
import type { RedisClient } from '../../core/redis/connect.js';
import { settleGroup, type Keys } from '../../core/redis/keys.js';

/** Entries delivered but not acknowledged, over every bucket. */
export async function pendingEntries(redis: RedisClient, keys: Keys): Promise<number> {
  let total = 0;
  for (const b of keys.buckets()) {
    const summary = (await redis.xpending(keys.settleStream(b), settleGroup).catch(() => [0])) as unknown[];
    total += Number(summary[0] ?? 0);
  }
  return total;
}

/** Entries still stored in the settle streams (acked entries are deleted by the worker), over every bucket. */
export async function storedEntries(redis: RedisClient, keys: Keys): Promise<number> {
  let total = 0;
  for (const b of keys.buckets()) total += await redis.xlen(keys.settleStream(b));
  return total;
}

export interface DeadLetter {
  id: string;
  fields: Record<string, string>;
}

export async function deadLetters(redis: RedisClient, keys: Keys): Promise<DeadLetter[]> {
  const rows = await redis.xrange(keys.deadLetters(), '-', '+');
  return rows.map(([id, flat]) => {
    const fields: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
    return { id, fields };
  });
}
