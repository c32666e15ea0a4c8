// `inspect consumers`: the workers of the `settlers` group and whether each is alive (consumer-liveness.ts). Redis
// lists a consumer on a bucket only once it has been given entries there, so a bucket without consumers says nothing
// about liveness: each consumer is judged by its freshest idle over all buckets.
import type { InspectContext } from './context.js';
import { aliveIdleMsMax, liveness, type Liveness } from './consumer-liveness.js';
import { duration, iso, plural, table } from './format.js';
import { readAllBucketStreams } from './stream-info.js';
import { readReaderConnections, type ReaderConnections } from './reader-connections.js';

export interface ConsumerReport {
  name: string;
  state: Liveness;
  /** The smallest idle over the buckets it appears on. */
  idle_ms: number;
  pending: number;
  buckets: { bucket: number; idle_ms: number; inactive_ms: number | null; pending: number }[];
}

export interface ConsumersReport {
  redis_now_ms: number;
  alive_idle_ms_max: number;
  /** Redis 7.2+: idle restarts at every read attempt. Older: only when entries are delivered. */
  idle_counts_every_read: boolean;
  /** A dead consumer's pending entries are claimed by a live worker after this idle (SETTLE_CLAIM_IDLE_MS). */
  claim_idle_ms: number;
  alive: number;
  consumers: ConsumerReport[];
  /** Oldest entry that no consumer has been given, over all buckets. */
  oldest_unread: { bucket: number; age_ms: number } | null;
  /** Buckets whose group exists but no consumer has ever been given entries on. */
  never_read_buckets: number[];
  /** Buckets whose stream or `settlers` group does not exist. */
  missing_group_buckets: number[];
  /** Workers' settle-reader connections to this Redis (any key prefix); null when CLIENT LIST is refused. */
  reader_connections: ReaderConnections | null;
}

export async function readConsumers(ctx: InspectContext): Promise<ConsumersReport> {
  const [streams, readers] = await Promise.all([readAllBucketStreams(ctx), readReaderConnections(ctx)]);
  const readersConnected = readers === null ? null : readers.per_bucket.some((n) => n > 0);
  const byName = new Map<string, Omit<ConsumerReport, 'state'>>();
  for (const s of streams) {
    for (const c of s.consumers) {
      const r = byName.get(c.name) ?? { name: c.name, idle_ms: Infinity, pending: 0, buckets: [] };
      r.buckets.push({ bucket: s.bucket, idle_ms: c.idle_ms, inactive_ms: c.inactive_ms, pending: c.pending });
      r.idle_ms = Math.min(r.idle_ms, c.idle_ms);
      r.pending += c.pending;
      byName.set(c.name, r);
    }
  }
  const idleCountsEveryRead = streams.some((s) => s.consumers.some((c) => c.inactive_ms !== null));
  const unread = streams.filter((s) => s.oldest_undelivered).map((s) => ({ bucket: s.bucket, age_ms: s.oldest_undelivered!.age_ms }))
    .sort((a, b) => b.age_ms - a.age_ms)[0] ?? null;
  const order: Record<Liveness, number> = { alive: 0, unknown: 1, dead: 2 };
  const consumers = [...byName.values()]
    .map((c) => ({ ...c, state: liveness({ freshestIdleMs: c.idle_ms, idleCountsEveryRead, oldestUnreadAgeMs: unread?.age_ms ?? null, readersConnected }) }))
    .sort((a, b) => order[a.state] - order[b.state] || a.idle_ms - b.idle_ms);
  return {
    redis_now_ms: ctx.nowMs,
    alive_idle_ms_max: aliveIdleMsMax,
    idle_counts_every_read: idleCountsEveryRead,
    claim_idle_ms: ctx.config.settleClaimIdleMs,
    alive: consumers.filter((c) => c.state === 'alive').length,
    consumers,
    oldest_unread: unread,
    never_read_buckets: streams.filter((s) => s.group !== null && s.consumers.length === 0).map((s) => s.bucket),
    missing_group_buckets: streams.filter((s) => s.group === null).map((s) => s.bucket),
    reader_connections: readers,
  };
}

function readersText(readers: ReaderConnections | null): string {
  if (readers === null) return 'reader connections: unknown (CLIENT LIST refused)';
  const total = readers.per_bucket.reduce((a, b) => a + b, 0);
  if (total === 0) return 'reader connections: none: no settlement worker is connected to this Redis';
  const counts = [...new Set(readers.per_bucket)];
  const spread = counts.length === 1 ? `${counts[0]} on every bucket` : readers.per_bucket.map((n, b) => `b${b}:${n}`).join(' ');
  return `reader connections (CLIENT LIST, any key prefix on this Redis): ${total}, ${spread}; ${readers.blocked} blocked in XREADGROUP now`;
}

const stateText: Record<Liveness, string> = { alive: 'alive', dead: 'DEAD', unknown: 'quiet' };

export function renderConsumers(r: ConsumersReport): string {
  const out = [`consumers of group settlers, Redis time ${iso(r.redis_now_ms)}; alive = idle at most ${duration(r.alive_idle_ms_max)} on some bucket`];
  if (r.consumers.length === 0) out.push('no consumer has ever read any bucket: no settlement worker has settled anything with this Redis and prefix');
  else {
    out.push(table(['CONSUMER', 'STATE', 'IDLE', 'PENDING', 'BUCKETS (idle)'], r.consumers.map((c) => [
      c.name, stateText[c.state], duration(c.idle_ms), String(c.pending),
      c.buckets.map((b) => `${b.bucket} (${duration(b.idle_ms)})`).join(' '),
    ]), new Set([2, 3])));
  }
  for (const c of r.consumers.filter((x) => x.state !== 'alive' && x.pending > 0)) {
    out.push(`${c.name} holds ${plural(c.pending, 'pending entry', 'pending entries')}: a live worker claims them once idle ${duration(r.claim_idle_ms)} (SETTLE_CLAIM_IDLE_MS)`);
  }
  if (r.consumers.some((c) => c.state === 'unknown')) {
    out.push(`quiet: no entries given to it for a while; this Redis (before 7.2) restarts idle only when entries are delivered, `
      + 'so a worker waiting on empty streams looks the same as a dead one; nothing is waiting unread, so nothing is held up');
  }
  out.push(readersText(r.reader_connections));
  if (r.oldest_unread && r.oldest_unread.age_ms > r.alive_idle_ms_max) {
    out.push(`bucket ${r.oldest_unread.bucket} has an entry waiting unread for ${duration(r.oldest_unread.age_ms)}: no worker is reading it`);
  }
  for (const b of r.never_read_buckets) out.push(`no consumer has ever read bucket ${b}`);
  if (r.missing_group_buckets.length > 0) out.push(`no settlers group on bucket ${r.missing_group_buckets.join(', ')}: no worker has started since Redis was emptied`);
  out.push(r.alive > 0 ? plural(r.alive, 'live consumer')
    : r.consumers.some((c) => c.state === 'unknown') ? 'no consumer seen alive, but none can be called dead (see quiet above)'
      : 'NO LIVE CONSUMER: nothing is settling; start the settlement worker');
  return out.join('\n');
}
