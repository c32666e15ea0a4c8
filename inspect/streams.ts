// `inspect streams`: per bucket, the settle stream's length, the `settlers` group's lag and pending entries (the
// oldest one's age and idle), pending per consumer; then the dead-letter stream and its latest entries.
import type { InspectContext } from './context.js';
import { duration, iso, table } from './format.js';
import { entryIdMs, readAllBucketStreams, type BucketStream } from './stream-info.js';

/** Dead letters shown: enough to see whether they share a reason, few enough to read at 3 a.m. */
const deadLettersShown = 5;
/** A reason can list every invalid field: the table shows its start, --json the whole of it. */
const reasonShownMax = 80;
const clip = (text: string) => (text.length > reasonShownMax ? `${text.slice(0, reasonShownMax - 1)}…` : text);

export interface DeadLetter {
  id: string;
  /** When it was dead-lettered (the entry id's time, Redis time). */
  dead_ms: number;
  reason: string | null;
  stream: string | null;
  entry_id: string | null;
  session_id: string | null;
  fields: Record<string, string>;
}

export interface StreamsReport {
  redis_now_ms: number;
  buckets: (BucketStream & { oldest_pending_age_ms: number | null })[];
  dead_letters: { stream: string; length: number; latest: DeadLetter[] };
}


export async function readStreams(ctx: InspectContext): Promise<StreamsReport> {
  const buckets = await readAllBucketStreams(ctx);
  const dead = ctx.keys.deadLetters();
  const [length, latest] = await Promise.all([ctx.redis.xlen(dead), ctx.redis.xrevrange(dead, '+', '-', 'COUNT', deadLettersShown)]);
  return {
    redis_now_ms: ctx.nowMs,
    buckets: buckets.map((b) => ({ ...b, oldest_pending_age_ms: b.oldest_pending ? ctx.nowMs - entryIdMs(b.oldest_pending.id) : null })),
    dead_letters: { stream: dead, length, latest: latest.map(([id, flat]) => toDeadLetter(id, flat)) },
  };
}

function toDeadLetter(id: string, flat: string[]): DeadLetter {
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) f[flat[i]!] = flat[i + 1]!;
  let sessionId: string | null = null;
  try { sessionId = (JSON.parse(f.fields ?? '{}') as { session_id?: string }).session_id ?? null; } catch { /* not JSON: shown raw */ }
  return { id, dead_ms: entryIdMs(id), reason: f.reason ?? null, stream: f.stream ?? null, entry_id: f.entry_id ?? null, session_id: sessionId, fields: f };
}

export function renderStreams(r: StreamsReport): string {
  const rows = r.buckets.map((b) => {
    const g = b.group;
    const oldest = b.oldest_pending;
    return [
      String(b.bucket), b.stream, b.exists ? String(b.length) : 'no stream',
      g ? (g.lag === null ? '?' : String(g.lag)) : '-', g?.entries_read == null ? '-' : String(g.entries_read),
      b.oldest_undelivered ? duration(b.oldest_undelivered.age_ms) : '-',
      g ? String(g.pending) : '-',
      oldest ? `${duration(b.oldest_pending_age_ms!)} old, idle ${duration(oldest.idle_ms)}, ${oldest.deliveries}× at ${oldest.consumer}` : '-',
    ];
  });
  const out = [`settle streams (group settlers), Redis time ${iso(r.redis_now_ms)}`,
    table(['B', 'STREAM', 'LENGTH', 'LAG', 'READ', 'OLDEST UNREAD', 'PENDING', 'OLDEST PENDING'], rows, new Set([2, 3, 4, 5, 6]))];
  const missing = r.buckets.filter((b) => b.exists && !b.group).map((b) => b.bucket);
  if (missing.length > 0) out.push(`no settlers group on bucket ${missing.join(', ')}: no worker has started against this Redis since it was emptied`);
  const holding = r.buckets.flatMap((b) => b.consumers.filter((c) => c.pending > 0).map((c) => [String(b.bucket), c.name, String(c.pending), duration(c.idle_ms)]));
  out.push('', holding.length === 0 ? 'pending per consumer: none' : `pending per consumer\n${table(['B', 'CONSUMER', 'PENDING', 'IDLE'], holding, new Set([2]))}`);
  const d = r.dead_letters;
  out.push('', `dead letters ${d.stream}: ${d.length}${d.length > 0 ? ' (settlements that could not be made: investigate each)' : ''}`);
  if (d.latest.length > 0) {
    out.push(table(['ID', 'DEAD AT', 'REASON', 'SESSION', 'FROM'], d.latest.map((e) => [
      e.id, iso(e.dead_ms), e.reason === null ? '-' : clip(e.reason), e.session_id ?? '-', e.stream && e.entry_id ? `${e.stream} ${e.entry_id}` : '-',
    ])).replace(/^/gm, '  '));
  }
  return out.join('\n');
}
