// Sessions Postgres says are active but Redis no longer meters, and that no player call will bring back: the player
// left while Redis had lost its data, or a process died between creating a session's live state and its deadline.
// Without this they would stay active with their hold open forever. Each pass rebuilds a lost session from its
// checkpoint (the sweeper then settles it as `disconnected` once idle + grace pass without a player) and gives a
// live session without a deadline one (so it is checkpointed and swept).
import { reconcileBatchMax } from '../core/limits.js';
import type { Pool } from '../core/pg/pool.js';
import { redisNowMs, type RedisClient } from '../core/redis/connect.js';
import type { Meter } from '../core/redis/meter.js';
import { restoreIfStillActive } from '../core/restore-live-session.js';
import { backoffMs, pause } from './pause.js';
import type { WorkerDeps } from './worker-deps.js';

/** A start writes Redis, then commits its row, within milliseconds: sessions started more recently are left to it. */
const startSettleSeconds = 30;

type Deps = Pick<WorkerDeps, 'pool' | 'redis' | 'meter' | 'log' | 'metrics' | 'signal'>;

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
 * What one session Postgres listed as active needs, given what Redis holds for it. The list may be stale by the time
 * this runs (the session settled meanwhile): the rebuild re-checks under the settlement's own row lock
 * (restoreIfStillActive).
 */
async function reconcileFromRedisState(deps: Deps, sessionId: string, live: boolean, scheduled: boolean,
  nowMs: () => Promise<number>): Promise<ReconcileAction> {
  if (!live) {
    const { outcome, billedMs } = await restoreIfStillActive(deps.pool, deps.meter, sessionId);
    if (outcome !== 'restored') return 'none';
    deps.metrics.reconcileRebuilt.inc();
    deps.log.warn({ sessionId, billedMs }, 'active session lost from Redis with no player; rebuilt from its checkpoint');
    return 'rebuilt';
  }
  if (!scheduled) {
    await deps.meter.scheduleDeadline(sessionId, await nowMs());
    deps.log.warn({ sessionId }, 'live session had no deadline; scheduled one');
    return 'scheduled';
  }
  return 'none';
}

/** Compares one session Postgres listed as active with Redis (reconcilePage does a page at once). */
export async function reconcileSession(deps: Deps, sessionId: string, nowMs: number): Promise<ReconcileAction> {
  const [[live], [scheduled]] = await Promise.all([deps.meter.liveSessions([sessionId]), deps.meter.deadlinesScheduled([sessionId])]);
  return reconcileFromRedisState(deps, sessionId, live!, scheduled!, () => Promise.resolve(nowMs));
}

const firstId = '00000000-0000-0000-0000-000000000000';

/**
 * Reconciles one page of active sessions after `afterId`; returns the cursor for the next page (wrapping at the end).
 * Redis is read for the whole page at once (a few script calls and one ZMSCORE per bucket, not two commands per
 * session): the walk runs all day, so its cost per session is what the worker and Redis pay while nothing is wrong.
 */
export async function reconcilePage(deps: Deps, afterId: string, counts = { rebuilt: 0, scheduled: 0 }): Promise<string> {
  const ids = await activeSessionIdsPage(deps.pool, afterId);
  if (ids.length > 0) {
    const [live, scheduled] = await Promise.all([deps.meter.liveSessions(ids), deps.meter.deadlinesScheduled(ids)]);
    // Redis's clock, read once and only when a deadline is to be written.
    let now: Promise<number> | null = null;
    const nowMs = () => (now ??= redisNowMs(deps.redis));
    const actions = await Promise.all(ids.map((id, i) =>
      live[i] && scheduled[i] ? 'none' : reconcileFromRedisState(deps, id, live[i]!, scheduled[i]!, nowMs)));
    for (const a of actions) {
      if (a === 'rebuilt') counts.rebuilt++;
      else if (a === 'scheduled') counts.scheduled++;
    }
  }
  return ids.length < reconcileBatchMax ? firstId : ids[ids.length - 1]!;
}

/** One whole pass over the active sessions, page by page. Returns [rebuilt, deadlines added]. */
export async function reconcileLostSessions(deps: Deps): Promise<[number, number]> {
  const counts = { rebuilt: 0, scheduled: 0 };
  let after = firstId;
  do {
    after = await reconcilePage(deps, after, counts);
  } while (after !== firstId && !deps.signal.aborted);
  return [counts.rebuilt, counts.scheduled];
}

/**
 * True when Redis has lost its data since the last call (or this is the first call against it): the epoch key the
 * workers keep set is gone. SET NX puts it back in the same step, so one worker, not every one, reacts.
 */
export async function redisLostData(deps: { redis: RedisClient; meter: { keys: Pick<Meter['keys'], 'epoch'> } }): Promise<boolean> {
  return (await deps.redis.set(deps.meter.keys.epoch(), String(Date.now()), 'NX')) === 'OK';
}

/**
 * Bounded and incremental: one page of active sessions per `pageIntervalMs`, a cursor walking the whole table over
 * and over, so the cost per second is fixed whatever the number of live sessions (at 100,000 sessions and 500 per
 * second, a full cycle takes 200 s). When Redis has just lost its data, every active session is compared at once,
 * but only after `playersBackMs`: players still connected rebuild their own sessions on their next heartbeat (and own
 * them); a rebuild here first would leave the session without its socket, and that heartbeat would be refused as
 * coming from a replaced socket. What is still missing after that wait has no player to bring it back.
 */
export async function runReconcileLoop(deps: Deps, pageIntervalMs: number, playersBackMs: number): Promise<void> {
  let failures = 0;
  let after = firstId;
  while (!deps.signal.aborted) {
    await pause(failures > 0 ? backoffMs(failures) : pageIntervalMs, deps.signal);
    if (deps.signal.aborted) break;
    try {
      if (await redisLostData(deps)) {
        await pause(playersBackMs, deps.signal);
        if (deps.signal.aborted) break;
        const [rebuilt, scheduled] = await reconcileLostSessions(deps);
        if (rebuilt + scheduled > 0) deps.log.warn({ rebuilt, scheduled }, 'Redis lost its data: reconciled every active session');
        after = firstId;
      } else {
        after = await reconcilePage(deps, after);
      }
      failures = 0;
    } catch (err) {
      failures++;
      deps.metrics.countServiceError(err);
      deps.log.warn({ err: (err as Error).message }, 'reconciling live sessions failed; retrying with backoff');
    }
  }
}
