// Sessions Postgres says are active but Redis no longer meters, and that no player call will bring back: the player
// left while Redis had lost its data, or a process died between creating a session's live state and its deadline.
// Without this they would stay active with their hold open forever. Each pass rebuilds a lost session from its
// checkpoint (the sweeper then settles it as `disconnected` once idle + grace pass without a player) and gives a
// live session without a deadline one (so it is checkpointed and swept).
import { reconcileBatchMax } from '../shared/limits.js';
import { checkpointOf, startInputOf, type LiveSessionRow } from '../shared/live-session.js';
import type { Logger } from '../shared/log.js';
import type { Pool } from '../shared/pg/pool.js';
import { redisNowMs, type RedisClient } from '../shared/redis/connect.js';
import type { Meter } from '../shared/redis/meter.js';
import { backoffMs, pause } from './pause.js';

/** A start writes Postgres, then Redis, within milliseconds: sessions started more recently are left to it. */
const startSettleSeconds = 30;

export interface ReconcileDeps {
  pool: Pool;
  redis: RedisClient;
  meter: Meter;
  log: Logger;
  signal: AbortSignal;
}

type Row = LiveSessionRow & { lecture_ids: number[] | null };

/** One pass over the active sessions, in pages by id. Returns [rebuilt, deadlines added]. */
export async function reconcileLostSessions(deps: ReconcileDeps): Promise<[number, number]> {
  let rebuilt = 0;
  let scheduled = 0;
  let after = '00000000-0000-0000-0000-000000000000';
  while (!deps.signal.aborted) {
    const { rows } = await deps.pool.query<Row>(
      `SELECT s.*, (SELECT array_agg((l->>'id')::int) FROM jsonb_array_elements(c.content_structure->'lectures') l) AS lecture_ids
         FROM sessions s JOIN courses c ON c.id = s.course_id
        WHERE s.status = 'active' AND s.start_time < now() - make_interval(secs => $1) AND s.id > $2
        ORDER BY s.id LIMIT $3`,
      [startSettleSeconds, after, reconcileBatchMax]);
    const nowMs = await redisNowMs(deps.redis);
    for (const row of rows) {
      const keys = deps.meter.keys;
      const [live, deadline] = await Promise.all([
        deps.meter.ownerOf(row.id),
        deps.redis.zscore(keys.deadlines(keys.bucketOf(row.id)), row.id),
      ]);
      if (live === null) {
        if (await deps.meter.restoreSession(row.id, { ...startInputOf(row, row.lecture_ids ?? []), ...checkpointOf(row) })) {
          rebuilt++;
          deps.log.warn({ sessionId: row.id, billedMs: Number(row.duration_ms) }, 'active session lost from Redis with no player; rebuilt from its checkpoint');
        }
      } else if (deadline === null) {
        await deps.meter.scheduleDeadline(row.id, nowMs);
        scheduled++;
        deps.log.warn({ sessionId: row.id }, 'live session had no deadline; scheduled one');
      }
    }
    if (rows.length < reconcileBatchMax) break;
    after = rows[rows.length - 1]!.id;
  }
  return [rebuilt, scheduled];
}

export async function runReconcileLoop(deps: ReconcileDeps, intervalMs: number): Promise<void> {
  let failures = 0;
  while (!deps.signal.aborted) {
    await pause(failures > 0 ? backoffMs(failures) : intervalMs, deps.signal);
    if (deps.signal.aborted) break;
    try {
      await reconcileLostSessions(deps);
      failures = 0;
    } catch (err) {
      failures++;
      deps.log.warn({ err: (err as Error).message }, 'reconciling live sessions failed; retrying with backoff');
    }
  }
}
