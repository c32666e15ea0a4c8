// `inspect deadlines`: sessions the sweeper will act on within --within seconds: read from the deadline sets
// (ZRANGEBYSCORE up to now + window), each checked against its hash by checkDeadline-2.lua's rule, since the score is
// only a lower bound (heartbeats never move it) and an active session with a fresh heartbeat is just rescheduled.
import type { InspectContext } from './context.js';
import { dueIn, iso, plural, table } from './format.js';
import { effectiveDeadlineMs, readLiveState, type DeadlineKind } from './live-state.js';

export interface DeadlineRow {
  session_id: string;
  bucket: number;
  /** null: no hash left; the sweeper just drops the entry. */
  status: 'active' | 'paused' | 'ending' | null;
  kind: DeadlineKind | null;
  end_reason: string | null;
  score_ms: number;
  deadline_ms: number;
  /** Negative: overdue (the sweeper is behind, or about to take it). */
  due_in_ms: number;
}

export interface DeadlinesReport {
  redis_now_ms: number;
  within_ms: number;
  limit: number;
  due: DeadlineRow[];
  /** Entries whose score is in the window but whose hash moves the deadline past it: they will be rescheduled. */
  rescheduled: number;
}

export async function readDeadlines(ctx: InspectContext, withinMs: number, limit: number): Promise<DeadlinesReport> {
  const until = ctx.nowMs + withinMs;
  const found: { id: string; bucket: number; score: number }[] = [];
  for (const bucket of ctx.keys.buckets()) {
    const flat = await ctx.redis.zrangebyscore(ctx.keys.deadlines(bucket), '-inf', until, 'WITHSCORES', 'LIMIT', 0, limit);
    for (let i = 0; i + 1 < flat.length; i += 2) found.push({ id: flat[i]!, bucket, score: Number(flat[i + 1]) });
  }
  found.sort((a, b) => a.score - b.score);
  const candidates = found.slice(0, limit);
  const hashes = await Promise.all(candidates.map((c) => ctx.redis.hgetall(ctx.keys.session(c.id))));
  const due: DeadlineRow[] = [];
  candidates.forEach((c, i) => {
    const s = readLiveState(hashes[i]!, ctx.config);
    const deadline = effectiveDeadlineMs(c.score, s)!;
    if (deadline > until) return;
    due.push({
      session_id: c.id, bucket: c.bucket, status: s?.status ?? null, kind: s?.deadline_kind ?? null,
      end_reason: s?.end_reason ?? null, score_ms: c.score, deadline_ms: deadline, due_in_ms: deadline - ctx.nowMs,
    });
  });
  due.sort((a, b) => a.deadline_ms - b.deadline_ms);
  return { redis_now_ms: ctx.nowMs, within_ms: withinMs, limit, due, rescheduled: candidates.length - due.length };
}

const kindText: Record<DeadlineKind, string> = {
  idle: 'idle (no heartbeat: settle disconnected)',
  grace: 'grace (paused: settle disconnected)',
  retry: 'retry (ending: enqueue the settlement again)',
};

export function renderDeadlines(r: DeadlinesReport): string {
  const window = `within ${r.within_ms / 1000} s (by ${iso(r.redis_now_ms + r.within_ms)})`;
  const out: string[] = [];
  if (r.due.length === 0) out.push(`no session is due to be swept ${window}`);
  else {
    out.push(table(['SESSION', 'STATUS', 'DEADLINE', 'DUE'], r.due.map((d) => [
      d.session_id, d.status === null ? '(no hash)' : d.status + (d.end_reason ? ` ${d.end_reason}` : ''),
      d.kind === null ? 'leftover (dropped on sight)' : kindText[d.kind], dueIn(d.due_in_ms),
    ])));
    out.push(`${plural(r.due.length, 'session')} due to be swept ${window}${r.due.length >= r.limit ? ` (limit ${r.limit}; --limit N for more)` : ''}`);
  }
  if (r.rescheduled > 0) out.push(`${plural(r.rescheduled, 'more session')} checked in the window but heartbeats moved their deadline: they will be rescheduled`);
  return out.join('\n');
}
