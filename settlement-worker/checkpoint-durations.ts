// Copies the running billed time of live sessions to Postgres every CHECKPOINT_INTERVAL_MS, so a Redis that loses
// its data (restart without persistence, failover) costs at most one interval of billed time: the gateway rebuilds a
// lost session from its checkpoint. Only sessions whose billed time moved since their last checkpoint are read and
// written (the dirty sets of core/redis/dirty-sessions.ts): the cost follows the heartbeats that billed, not the
// number of live sessions. Monotonic: a checkpoint never lowers duration_ms (GREATEST), and
// only sessions still `active` in Postgres are touched (a settled row is final).
import { checkpointBatchMax } from '../core/limits.js';
import { withTransaction, type Pool } from '../core/pg/pool.js';
import type { Checkpoint } from '../core/redis/meter.js';
import { backoffMs, pause } from './pause.js';
import type { WorkerDeps } from './worker-deps.js';

type Deps = Pick<WorkerDeps, 'pool' | 'meter' | 'log' | 'metrics' | 'signal'>;

/**
 * Checkpoint rows as readCheckpoints-n.lua writes them (README "Checkpoint cost"): one JSON array per script call,
 * joined here into one JSON array of arrays. Every value is JSON text or a JSON number; Postgres converts it.
 */
export function checkpointRowsJson(batch: readonly { sessionId: string; checkpoint: Checkpoint }[]): string {
  return JSON.stringify([batch.map(({ sessionId, checkpoint: c }) => ({
    id: sessionId, ms: c.billedMs, pct: c.completionPct, lecture: c.currentLecture ?? '', progress: c.progressMs,
  }))]);
}

/** Writes typed checkpoints (tests, tools) through the same statement as the pass. Returns the rows moved forward. */
export function writeCheckpoints(pool: Pool, batch: readonly { sessionId: string; checkpoint: Checkpoint }[]): Promise<number> {
  return batch.length === 0 ? Promise.resolve(0) : writeCheckpointRows(pool, checkpointRowsJson(batch));
}

/**
 * Writes one batch of checkpoint rows (a JSON array of readCheckpoints-n.lua replies) in one statement. Returns the
 * number of rows moved forward. Postgres does the per-row work (JSON to columns, ms to the API's content_progress
 * of watched_seconds at ms precision, pct capped at 100 and rounded to the column's 2 decimals), so the worker's
 * CPU per row is the few µs of handing the text on.
 *
 * Each row is found and locked through the primary key, one id at a time (the LATERAL subquery): the plan cannot
 * fall back to scanning every active session per batch, or per row, when the statistics of `sessions` are stale
 * (they are, right after many sessions start; a scan per row made a pass over 100,000 sessions take a minute).
 */
export async function writeCheckpointRows(pool: Pool, rowsJson: string): Promise<number> {
  return withTransaction(pool, async (client) => {
    // Nested loops only: the locked rows reach their session row through the primary key. With a hash join, the
    // planner (its estimate of a JSON document's rows is a fixed 100 per array) scanned every session row per batch.
    await client.query('SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off');
    const r = await client.query(
    `WITH v AS (
       SELECT r.id, r.ms, r.pct, r.lecture, r.progress
         FROM json_array_elements($1::json) AS part,
              json_to_recordset(part) AS r(id uuid, ms bigint, pct numeric, lecture text, progress json)
     ), locked AS MATERIALIZED (
       -- Monotonic: a row whose duration_ms is already past this read is not touched (the condition is checked again
       -- on the latest row version once it is locked). Only sessions still active (a settled row is final).
       -- A row a settlement holds is skipped, never waited for: settlements lock many session rows in id order, and
       -- this statement, waiting in its own order, could deadlock with them. A session being settled needs no
       -- checkpoint anyway.
       SELECT v.* FROM v CROSS JOIN LATERAL (
         SELECT 1 FROM sessions s
          WHERE s.id = v.id AND s.status = 'active' AND s.duration_ms <= v.ms
            FOR UPDATE SKIP LOCKED) AS hold
     )
     UPDATE sessions s
        SET duration_ms = l.ms,
            content_progress = coalesce(
              (SELECT jsonb_object_agg(p.key, jsonb_build_object('watched_seconds', trim_scale(p.value::numeric / 1000)))
                 FROM json_each_text(l.progress) AS p),
              '{}'::jsonb),
            completion_pct = round(least(l.pct, 100), 2),
            current_lecture = nullif(l.lecture, '')::int
       FROM locked l
      WHERE s.id = l.id`,
      [rowsJson]);
    return r.rowCount ?? 0;
  });
}

/**
 * One pass: every session marked as moved since its last checkpoint (the dirty sets), in bounded batches. A pass
 * takes at most what was marked when it began (plus one batch per bucket), so a busy gateway cannot keep it running.
 * Returns the number of rows moved forward.
 */
export async function checkpointDurations(deps: Deps, buckets: readonly number[]): Promise<number> {
  let written = 0;
  for (const bucket of buckets) {
    let left = await deps.meter.dirty.count(bucket);
    while (left > 0 && !deps.signal.aborted) {
      const ids = await deps.meter.dirty.take(bucket, checkpointBatchMax);
      if (ids.length === 0) break;
      left -= ids.length;
      try {
        written += await checkpointBatch(deps, ids);
      } catch (err) {
        // Marked again, so the next pass writes them: a checkpoint is never skipped for a failed write.
        await deps.meter.dirty.putBack(bucket, ids).catch(() => undefined);
        throw err;
      }
    }
  }
  return written;
}

/** Reads the sessions' checkpoints (readCheckpointRows: a few script calls) and writes them in one statement. */
async function checkpointBatch(deps: Deps, ids: readonly string[]): Promise<number> {
  const replies = await deps.meter.readCheckpointRows(ids);
  // A session settled since it was marked has no live state left: the script left it out, nothing to checkpoint.
  return writeCheckpointRows(deps.pool, `[${replies.join(',')}]`);
}

export async function runCheckpointLoop(deps: Deps, buckets: readonly number[], intervalMs: number): Promise<void> {
  let failures = 0;
  let tookMs = 0;
  while (!deps.signal.aborted) {
    // Fixed rate, not fixed delay: the interval is the promise (the most billed time a Redis loss can cost).
    await pause(failures > 0 ? backoffMs(failures) : Math.max(0, intervalMs - tookMs), deps.signal);
    if (deps.signal.aborted) break;
    const started = performance.now();
    try {
      const written = await checkpointDurations(deps, buckets);
      if (written > 0) deps.log.debug({ written }, 'checkpointed live durations');
      deps.metrics.checkpointSessionsWritten.inc(written);
      deps.metrics.checkpointPassSeconds.observe((performance.now() - started) / 1000);
      deps.metrics.checkpointLastPass.set(Date.now() / 1000);
      failures = 0;
    } catch (err) {
      failures++;
      deps.metrics.countServiceError(err);
      deps.log.warn({ err: (err as Error).message }, 'checkpoint failed; retrying with backoff');
    }
    tookMs = performance.now() - started;
  }
}
