// `inspect sessions`: every live session, found through the deadline sorted sets (every live session has a deadline;
// no KEYS or SCAN, so it works the same on a Cluster), soonest deadline first, at most --limit rows.
import { gatewayOfSocketId } from '../core/socket-id.js';
import type { InspectContext } from './context.js';
import { billedClock, dueIn, ago, plural, table } from './format.js';
import { effectiveDeadlineMs, readLiveState, type DeadlineKind } from './live-state.js';

/** HGETALLs in flight at once: a large --limit must not queue thousands of commands on one connection. */
const readBatchSize = 100;

export interface SessionRow {
  session_id: string;
  bucket: number;
  /** null: the deadline set names a session with no hash, a leftover the sweeper drops on its next look. */
  status: 'active' | 'paused' | 'ending' | null;
  student_id: string | null;
  course_id: string | null;
  billed_ms: number | null;
  cost_minor: number | null;
  cost: string | null;
  /** Since the last heartbeat (seen_ms), in Redis time. */
  heartbeat_age_ms: number | null;
  owner: string | null;
  /** The gateway process holding the socket (`host:pid`, from the owner socket id). */
  owner_gateway: string | null;
  end_reason: string | null;
  deadline_kind: DeadlineKind | null;
  deadline_ms: number | null;
  deadline_in_ms: number | null;
}

export interface SessionsReport {
  redis_now_ms: number;
  limit: number;
  /** Entries of the deadline sets of all buckets: every live session, plus leftovers without a hash. */
  total: number;
  per_bucket: number[];
  shown: number;
  sessions: SessionRow[];
}

interface DeadlineEntry { id: string; bucket: number; scoreMs: number }

export async function readSessions(ctx: InspectContext, limit: number): Promise<SessionsReport> {
  const perBucket: number[] = [];
  const entries: DeadlineEntry[] = [];
  // Each bucket's `limit` soonest: together they hold the `limit` soonest overall.
  for (const bucket of ctx.keys.buckets()) {
    const key = ctx.keys.deadlines(bucket);
    const [count, flat] = await Promise.all([ctx.redis.zcard(key), ctx.redis.zrange(key, '0', String(limit - 1), 'WITHSCORES')]);
    perBucket.push(count);
    for (let i = 0; i + 1 < flat.length; i += 2) entries.push({ id: flat[i]!, bucket, scoreMs: Number(flat[i + 1]) });
  }
  entries.sort((a, b) => a.scoreMs - b.scoreMs);
  const chosen = entries.slice(0, limit);
  const rows: SessionRow[] = [];
  for (let i = 0; i < chosen.length; i += readBatchSize) {
    const batch = chosen.slice(i, i + readBatchSize);
    const hashes = await Promise.all(batch.map((e) => ctx.redis.hgetall(ctx.keys.session(e.id))));
    batch.forEach((e, j) => rows.push(toRow(ctx, e, hashes[j]!)));
  }
  rows.sort((a, b) => (a.deadline_ms ?? Infinity) - (b.deadline_ms ?? Infinity) || a.session_id.localeCompare(b.session_id));
  return {
    redis_now_ms: ctx.nowMs, limit, total: perBucket.reduce((a, b) => a + b, 0), per_bucket: perBucket,
    shown: rows.length, sessions: rows,
  };
}

function toRow(ctx: InspectContext, e: DeadlineEntry, hash: Record<string, string>): SessionRow {
  const s = readLiveState(hash, ctx.config);
  const deadline = effectiveDeadlineMs(e.scoreMs, s);
  return {
    session_id: e.id,
    bucket: e.bucket,
    status: s?.status ?? null,
    student_id: s?.student_id ?? null,
    course_id: s?.course_id ?? null,
    billed_ms: s?.billed_ms ?? null,
    cost_minor: s?.cost_minor ?? null,
    cost: s?.cost ?? null,
    heartbeat_age_ms: s?.seen_ms == null ? null : ctx.nowMs - s.seen_ms,
    owner: s ? s.owner || null : null,
    owner_gateway: s?.owner ? gatewayOfSocketId(s.owner) : null,
    end_reason: s?.end_reason ?? null,
    deadline_kind: s?.deadline_kind ?? null,
    deadline_ms: deadline,
    deadline_in_ms: deadline === null ? null : deadline - ctx.nowMs,
  };
}

export function renderSessions(r: SessionsReport): string {
  if (r.total === 0) return `no live sessions (the deadline sets of all ${r.per_bucket.length} buckets are empty)`;
  const rows = r.sessions.map((s) => [
    s.session_id,
    s.student_id ?? '-',
    s.course_id ?? '-',
    s.status === null ? '(no hash)' : s.status + (s.end_reason ? ` ${s.end_reason}` : ''),
    s.billed_ms === null ? '-' : billedClock(s.billed_ms),
    s.cost ?? '-',
    s.heartbeat_age_ms === null ? '-' : ago(s.heartbeat_age_ms),
    s.owner === null ? '-' : (s.owner_gateway ?? `socket ${s.owner}`),
    s.deadline_in_ms === null ? '-' : `${s.deadline_kind ?? 'leftover'} ${dueIn(s.deadline_in_ms)}`,
  ]);
  const header = ['SESSION', 'STUDENT', 'COURSE', 'STATUS', 'BILLED', 'COST', 'HEARTBEAT', 'GATEWAY', 'DEADLINE'];
  return `${table(header, rows, new Set([4, 5]))}\n${footer(r)}`;
}

function footer(r: SessionsReport): string {
  const counts = new Map<string, number>();
  for (const s of r.sessions) counts.set(s.status ?? 'no hash', (counts.get(s.status ?? 'no hash') ?? 0) + 1);
  const byStatus = [...counts].map(([status, n]) => `${n} ${status}`).join(', ');
  const shown = r.shown < r.total
    ? `${r.shown} of ${plural(r.total, 'live session')} shown, soonest deadline first (limit ${r.limit}; --limit N for more)`
    : `${plural(r.shown, 'live session')} shown (limit ${r.limit})`;
  return `${shown}: ${byStatus}`;
}
