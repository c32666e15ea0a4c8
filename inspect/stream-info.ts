// Reading the settle streams' consumer group (`settlers`) on one bucket: XINFO GROUPS, XPENDING and XINFO CONSUMERS
// of one stream key, so every command stays in the bucket's slot on a Cluster. Shared by `streams` and `consumers`.
import { settleGroup } from '../core/redis/keys.js';
import type { InspectContext } from './context.js';

export interface GroupInfo {
  consumers: number;
  pending: number;
  last_delivered_id: string;
  /** Entries the group has read (Redis 7+), null when Redis cannot tell. */
  entries_read: number | null;
  /** Entries not yet delivered to any consumer (Redis 7+), null when Redis cannot tell (after XDEL, for instance). */
  lag: number | null;
}

export interface ConsumerInfo {
  name: string;
  pending: number;
  /**
   * Redis 7.2+: since the consumer's last attempted read or claim (every XREADGROUP … BLOCK counts). Before 7.2: since
   * entries were last delivered to it, so a live reader of a quiet stream grows idle like a dead one.
   */
  idle_ms: number;
  /** Since its last successful read or claim (Redis 7.2+; null on older servers, where idle means this). */
  inactive_ms: number | null;
}

export interface BucketStream {
  bucket: number;
  stream: string;
  exists: boolean;
  length: number;
  group: GroupInfo | null;
  consumers: ConsumerInfo[];
  oldest_pending: { id: string; consumer: string; idle_ms: number; deliveries: number } | null;
  /** The first entry after the group's last-delivered id: added but not yet read by any consumer. */
  oldest_undelivered: { id: string; age_ms: number } | null;
}

/** A stream entry id's millisecond part: when it was added, in Redis time. */
export const entryIdMs = (id: string): number => Number(id.split('-')[0]);

/** XINFO replies are flat [field, value, field, value, …] lists. */
function fields(flat: unknown): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const list = Array.isArray(flat) ? flat : [];
  for (let i = 0; i + 1 < list.length; i += 2) out.set(String(list[i]), list[i + 1]);
  return out;
}

const num = (v: unknown): number | null => (v === null || v === undefined || v === '' ? null : Number(v));

export async function readBucketStream(ctx: InspectContext, bucket: number): Promise<BucketStream> {
  const stream = ctx.keys.settleStream(bucket);
  const view: BucketStream = { bucket, stream, exists: false, length: 0, group: null, consumers: [], oldest_pending: null, oldest_undelivered: null };
  // XINFO on a missing key is an error: the worker creates the streams (MKSTREAM) when it starts.
  if ((await ctx.redis.exists(stream)) === 0) return view;
  view.exists = true;
  view.length = await ctx.redis.xlen(stream);
  const groups = ((await ctx.redis.xinfo('GROUPS', stream)) as unknown[]).map(fields);
  const g = groups.find((x) => x.get('name') === settleGroup);
  if (!g) return view;
  view.group = {
    consumers: num(g.get('consumers')) ?? 0,
    pending: num(g.get('pending')) ?? 0,
    last_delivered_id: String(g.get('last-delivered-id') ?? ''),
    entries_read: num(g.get('entries-read')),
    lag: num(g.get('lag')),
  };
  const consumers = ((await ctx.redis.xinfo('CONSUMERS', stream, settleGroup)) as unknown[]).map(fields);
  view.consumers = consumers.map((c) => ({
    name: String(c.get('name')), pending: num(c.get('pending')) ?? 0, idle_ms: num(c.get('idle')) ?? 0, inactive_ms: num(c.get('inactive')),
  }));
  if (view.group.pending > 0) {
    const [first] = (await ctx.redis.xpending(stream, settleGroup, '-', '+', 1)) as [string, string, number, number][];
    if (first) view.oldest_pending = { id: first[0], consumer: first[1], idle_ms: Number(first[2]), deliveries: Number(first[3]) };
  }
  // Exclusive start: the first entry no consumer has been given. A live worker reads every bucket within a block,
  // so one waiting here for long means nobody is reading this bucket.
  const [next] = await ctx.redis.xrange(stream, `(${view.group.last_delivered_id}`, '+', 'COUNT', 1);
  if (next) view.oldest_undelivered = { id: next[0], age_ms: ctx.nowMs - entryIdMs(next[0]) };
  return view;
}

export function readAllBucketStreams(ctx: InspectContext): Promise<BucketStream[]> {
  return Promise.all(ctx.keys.buckets().map((b) => readBucketStream(ctx, b)));
}
