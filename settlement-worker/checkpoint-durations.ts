// Copies the running billed time of live sessions to Postgres every CHECKPOINT_INTERVAL_MS, so a Redis that loses
// its data (restart without persistence, failover) costs at most one interval of billed time: the gateway rebuilds a
// lost session from its checkpoint. Only sessions whose billed time moved since their last checkpoint are read and
// written (the dirty sets of shared/redis/dirty-sessions.ts): the cost follows the heartbeats that billed, not the
// number of live sessions. Monotonic: a checkpoint never lowers duration_ms (GREATEST), and
// only sessions still `active` in Postgres are touched (a settled row is final).
import { checkpointBatchMax } from '../shared/limits.js';
import type { Logger } from '../shared/log.js';
import type { Pool } from '../shared/pg/pool.js';
import type { RedisClient } from '../shared/redis/connect.js';
import type { Checkpoint, Meter } from '../shared/redis/meter.js';
import { backoffMs, pause } from './pause.js';
import type { WorkerMetrics } from './metrics.js';

export interface CheckpointDeps {
  pool: Pool;
  redis: RedisClient;
  meter: Meter;
  log: Logger;
  metrics: WorkerMetrics;
  signal: AbortSignal;
}

/** The lectures' billed ms as the API's content_progress (watched_seconds, ms precision). */
function progressJson(c: Checkpoint): string {
  const out: Record<string, { watched_seconds: number }> = {};
  for (const [lecture, ms] of Object.entries(c.progressMs)) out[lecture] = { watched_seconds: ms / 1000 };
  return JSON.stringify(out);
}

/** Writes one batch in one statement. Returns the number of rows moved forward. */
export async function writeCheckpoints(pool: Pool, batch: { sessionId: string; checkpoint: Checkpoint }[]): Promise<number> {
  if (batch.length === 0) return 0;
  const r = await pool.query(
    `UPDATE sessions s
        SET duration_ms = v.ms,
            content_progress = v.progress,
            completion_pct = v.pct,
            current_lecture = v.lecture
       FROM unnest($1::uuid[], $2::bigint[], $3::jsonb[], $4::numeric[], $5::int[]) AS v(id, ms, progress, pct, lecture)
      WHERE s.id = v.id AND s.status = 'active' AND v.ms >= s.duration_ms
        -- A row a settlement holds is skipped, never waited for: settlements lock many session rows in id order, and
        -- this statement, waiting in its own order, could deadlock with them. A session being settled needs no
        -- checkpoint anyway.
        AND s.id IN (SELECT id FROM sessions WHERE id = ANY($1::uuid[]) FOR UPDATE SKIP LOCKED)`,
    [
      batch.map((b) => b.sessionId),
      batch.map((b) => b.checkpoint.billedMs),
      batch.map((b) => progressJson(b.checkpoint)),
      batch.map((b) => Math.min(100, Number(b.checkpoint.completionPct)).toFixed(2)),
      batch.map((b) => b.checkpoint.currentLecture),
    ]);
  return r.rowCount ?? 0;
}

/**
 * One pass: every session marked as moved since its last checkpoint (the dirty sets), in bounded batches. A pass
 * takes at most what was marked when it began (plus one batch per bucket), so a busy gateway cannot keep it running.
 * Returns the number of rows moved forward.
 */
export async function checkpointDurations(deps: CheckpointDeps, buckets: readonly number[]): Promise<number> {
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

/** Reads each session's checkpoint (one atomic script call each, pipelined) and writes them in one statement. */
async function checkpointBatch(deps: CheckpointDeps, ids: readonly string[]): Promise<number> {
  const read = await Promise.all(ids.map(async (sessionId) => ({ sessionId, checkpoint: await deps.meter.readCheckpoint(sessionId) })));
  // A session settled since it was marked has no live state left: nothing to checkpoint.
  const batch = read.filter((r): r is { sessionId: string; checkpoint: Checkpoint } => r.checkpoint !== null);
  return writeCheckpoints(deps.pool, batch);
}

export async function runCheckpointLoop(deps: CheckpointDeps, buckets: readonly number[], intervalMs: number): Promise<void> {
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
