// `inspect session <id>`: one session's Redis side (hash, lecture progress, deadline) next to its Postgres side
// (row, hold, settle ledger entries), under a one-line verdict.
import { gatewayOfSocketId } from '../core/socket-id.js';
import { minorToNumeric } from '../core/money.js';
import type { InspectContext } from './context.js';
import { ago, billedClock, dueIn, iso, table } from './format.js';
import { effectiveDeadlineMs, readLiveState, type DeadlineKind, type LiveState } from './live-state.js';
import { readPostgresSide, type PgSide } from './session-postgres.js';
import { verdict } from './session-verdict.js';

export interface SessionReport {
  session_id: string;
  bucket: number;
  redis_now_ms: number;
  verdict: string;
  redis: {
    keys: { session: string; lectures: string; deadlines: string };
    /** The hash exactly as stored (every field, as text). */
    hash: Record<string, string>;
    live: LiveState | null;
    lectures_ms: Record<string, number>;
    deadline: { score_ms: number | null; kind: DeadlineKind | null; deadline_ms: number; deadline_in_ms: number } | null;
  };
  postgres: PgSide;
}

export class UnknownSessionError extends Error {}

export async function readSession(ctx: InspectContext, id: string): Promise<SessionReport> {
  const k = ctx.keys;
  const bucket = k.bucketOf(id);
  const [hash, lectures, score] = await Promise.all([
    ctx.redis.hgetall(k.session(id)), ctx.redis.hgetall(k.lectures(id)), ctx.redis.zscore(k.deadlines(bucket), id),
  ]);
  const postgres = await readPostgresSide(ctx.config, id);
  const live = readLiveState(hash, ctx.config);
  const scoreMs = score === null ? null : Number(score);
  const deadlineMs = effectiveDeadlineMs(scoreMs, live);
  const deadlineInMs = deadlineMs === null ? null : deadlineMs - ctx.nowMs;
  const line = verdict({ live, pg: postgres.session, deadlineInMs, nowMs: ctx.nowMs });
  if (line === null) {
    throw new UnknownSessionError(`session ${id} is in neither Redis (prefix ${JSON.stringify(k.prefix)}) nor Postgres `
      + `(schema ${ctx.config.databaseSchema}): unknown id, or the wrong REDIS_KEY_PREFIX / DATABASE_SCHEMA`);
  }
  return {
    session_id: id, bucket, redis_now_ms: ctx.nowMs, verdict: line,
    redis: {
      keys: { session: k.session(id), lectures: k.lectures(id), deadlines: k.deadlines(bucket) },
      hash, live,
      lectures_ms: Object.fromEntries(Object.entries(lectures).map(([l, ms]) => [l, Number(ms)])),
      deadline: deadlineMs === null ? null : { score_ms: scoreMs, kind: live?.deadline_kind ?? null, deadline_ms: deadlineMs, deadline_in_ms: deadlineInMs! },
    },
    postgres,
  };
}

const money = (minor: number | null) => (minor === null ? '-' : minorToNumeric(minor));
const clock = (ms: number | null | undefined) => (ms == null ? '-' : billedClock(ms));
const at = (ms: number | null, nowMs: number) => (ms === null ? '-' : `${iso(ms)} (${ago(nowMs - ms)})`);
const intField = (hash: Record<string, string>, f: string) => (/^\d+$/.test(hash[f] ?? '') ? Number(hash[f]) : null);

export function renderSession(r: SessionReport): string {
  const { live, hash } = r.redis;
  const pg = r.postgres.session;
  const now = r.redis_now_ms;
  const out = [`session ${r.session_id}  bucket ${r.bucket}  Redis time ${iso(now)}`, `verdict: ${r.verdict}`, ''];

  const d = r.redis.deadline;
  const side: [string, string, string][] = [
    ['status', live?.status ?? (Object.keys(hash).length ? `? ${hash.status}` : '(no hash)'), pg?.status ?? '(no row)'],
    ['student', live?.student_id ?? '-', pg?.student_id ?? '-'],
    ['course', live?.course_id ?? '-', pg?.course_id ?? '-'],
    ['billed', live ? `${clock(live.billed_ms)} (${live.billed_ms} ms)` : '-', pg ? `${clock(pg.duration_ms)} (${pg.duration_ms} ms${pg.status === 'completed' ? ', final' : ', checkpoint'})` : '-'],
    ['cost', money(live?.cost_minor ?? null), pg?.cost ?? '-'],
    ['carried remainder', '', pg?.sub_minor_carried_in == null ? '-' : `in ${pg.sub_minor_carried_in}, out ${pg.sub_minor_carried_out} (of 60000 to a minor unit)`],
    ['locked', money(live?.locked_minor ?? null), pg?.locked_amount ?? '-'],
    ['price/min', money(live?.price_minor ?? null), pg?.price_per_minute ?? '-'],
    ['max billable', clock(live?.max_ms), clock(pg?.max_billable_ms)],
    ['completion %', live?.pct ?? '-', pg?.completion_pct ?? '-'],
    ['lecture', live?.lecture ?? '-', pg?.current_lecture == null ? '-' : String(pg.current_lecture)],
    ['end reason', live?.end_reason ?? '-', pg?.end_reason ?? '-'],
    ['started', at(intField(hash, 'started_ms'), now), pg?.start_time ?? '-'],
    ['ended', at(intField(hash, 'ended_ms'), now), pg?.end_time ?? '-'],
    ['last heartbeat', at(live?.seen_ms ?? null, now), ''],
    ['paused at', at(intField(hash, 'paused_ms'), now), ''],
    ['owner', live?.owner ? `gateway ${gatewayOfSocketId(live.owner) ?? '?'}, socket ${live.owner}` : '-', ''],
    ['deadline', d === null ? 'none' : `${d.kind ?? 'leftover'} ${dueIn(d.deadline_in_ms)} (${iso(d.deadline_ms)}; sorted-set score ${d.score_ms === null ? 'none' : iso(d.score_ms)})`, ''],
  ];
  out.push(table(['', `REDIS ${r.redis.keys.session}`, 'POSTGRES sessions row'], side.map(([a, b, c]) => [a, b, c])));

  const lectureIds = [...new Set([...Object.keys(r.redis.lectures_ms), ...Object.keys(pg?.lectures_ms ?? {})])].sort((a, b) => Number(a) - Number(b));
  out.push('', lectureIds.length === 0 ? 'lecture progress: none recorded' : table(['LECTURE', 'REDIS', 'POSTGRES'],
    lectureIds.map((l) => [l, clock(r.redis.lectures_ms[l]), clock(pg?.lectures_ms[l])]), new Set([1, 2])));

  const hold = r.postgres.hold;
  out.push('', hold === null ? 'hold: none' : `hold: ${hold.amount} since ${hold.created_at}, ${hold.released_at ? `released ${hold.released_at}` : 'open'}`);
  const settle = r.postgres.settlement;
  if (settle === null) out.push('ledger: no settle transaction');
  else {
    out.push(`ledger: settle transaction ${settle.transaction_id} at ${settle.created_at}`);
    out.push(table(['ACCOUNT', 'ID', 'AMOUNT'], settle.entries.map((e) => [e.account_type, e.account_id ?? '-', e.amount]), new Set([2])).replace(/^/gm, '  '));
  }
  if (Object.keys(hash).length > 0) {
    out.push('', `raw hash ${r.redis.keys.session}:`);
    out.push(Object.entries(hash).sort(([a], [b]) => a.localeCompare(b)).map(([f, v]) => `  ${f} = ${v}`).join('\n'));
  }
  return out.join('\n');
}
