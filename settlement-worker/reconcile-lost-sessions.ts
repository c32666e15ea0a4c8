// Sessions Postgres says are active but Redis no longer meters, and that no player call will bring back: the player
// left while Redis had lost its data, or a process died between creating a session's live state and its deadline.
// Without this they would stay active with their hold open forever. Each pass rebuilds a lost session from its
// checkpoint (the sweeper then settles it as `disconnected` once idle + grace pass without a player) and gives a
// live session without a deadline one (so it is checkpointed and swept).
import { reconcileBatchMax } from '../shared/limits.js';
import type { Logger } from '../shared/log.js';
import type { Pool } from '../shared/pg/pool.js';
import { redisNowMs, type RedisClient } from '../shared/redis/connect.js';
import type { Meter } from '../shared/redis/meter.js';
import { restoreIfStillActive } from '../shared/restore-live-session.js';
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

/** What one session needed: nothing, a rebuild from its checkpoint, or a deadline. */
export type ReconcileAction = 'none' | 'rebuilt' | 'scheduled';

/** One page of ids Postgres says are active (and not just started), after `afterId`, in id order. */
export async function activeSessionIdsPage(pool: Pool, afterId: string, limit = reconcileBatchMax): Promise<string[]> {
  const { rows } = await pool.query<{ id: string }>(
    `SELECT id FROM sessions
      WHERE status = 'active' AND start_time < now() - make_interval(secs => $1) AND id > $2
      ORDER BY id LIMIT $3`,
    [startSettleSeconds, afterId, limit]);
  return rows.map((r) => r.id);
}

/**
 * Compares one session Postgres listed as active with Redis. The list may be stale by the time this runs (the
 * session settled meanwhile): the rebuild re-checks under the settlement's own row lock (restoreIfStillActive).
 */
export async function reconcileSession(deps: ReconcileDeps, sessionId: string, nowMs: number): Promise<ReconcileAction> {
  const keys = deps.meter.keys;
  const [live, deadline] = await Promise.all([
    deps.meter.ownerOf(sessionId),
    deps.redis.zscore(keys.deadlines(keys.bucketOf(sessionId)), sessionId),
  ]);
  if (live === null) {
    const { outcome, billedMs } = await restoreIfStillActive(deps.pool, deps.meter, sessionId);
    if (outcome !== 'restored') return 'none';
    deps.log.warn({ sessionId, billedMs }, 'active session lost from Redis with no player; rebuilt from its checkpoint');
    return 'rebuilt';
  }
  if (deadline === null) {
    await deps.meter.scheduleDeadline(sessionId, nowMs);
    deps.log.warn({ sessionId }, 'live session had no deadline; scheduled one');
    return 'scheduled';
  }
  return 'none';
}

/** One pass over the active sessions, in pages by id. Returns [rebuilt, deadlines added]. */
export async function reconcileLostSessions(deps: ReconcileDeps): Promise<[number, number]> {
  let rebuilt = 0;
  let scheduled = 0;
  let after = '00000000-0000-0000-0000-000000000000';
  while (!deps.signal.aborted) {
    const ids = await activeSessionIdsPage(deps.pool, after);
    const nowMs = await redisNowMs(deps.redis);
    for (const id of ids) {
      const action = await reconcileSession(deps, id, nowMs);
      if (action === 'rebuilt') rebuilt++;
      else if (action === 'scheduled') scheduled++;
    }
    if (ids.length < reconcileBatchMax) break;
    after = ids[ids.length - 1]!;
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
