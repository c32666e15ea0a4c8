// Copies the running billed time of every live session to Postgres every CHECKPOINT_INTERVAL_MS, so a Redis that
// loses its data (restart without persistence, failover) costs at most one interval of billed time: the gateway
// rebuilds a lost session from its checkpoint. Monotonic: a checkpoint never lowers duration_ms (GREATEST), and
// only sessions still `active` in Postgres are touched (a settled row is final).
import { checkpointBatchMax } from '../shared/limits.js';
import type { Logger } from '../shared/log.js';
import type { Pool } from '../shared/pg/pool.js';
import type { RedisClient } from '../shared/redis/connect.js';
import type { Checkpoint, Meter } from '../shared/redis/meter.js';
import { backoffMs, pause } from './pause.js';

export interface CheckpointDeps {
  pool: Pool;
  redis: RedisClient;
  meter: Meter;
  log: Logger;
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

/** One pass over every bucket's live sessions (the members of the deadline sets), in bounded batches. */
export async function checkpointDurations(deps: CheckpointDeps, buckets: readonly number[]): Promise<number> {
  let written = 0;
  for (const bucket of buckets) {
    const key = deps.meter.keys.deadlines(bucket);
    for (let offset = 0; !deps.signal.aborted; offset += checkpointBatchMax) {
      const ids = await deps.redis.zrange(key, String(offset), String(offset + checkpointBatchMax - 1));
      const read = await Promise.all(ids.map(async (sessionId) => ({ sessionId, checkpoint: await deps.meter.readCheckpoint(sessionId) })));
      const batch = read.filter((r): r is { sessionId: string; checkpoint: Checkpoint } => r.checkpoint !== null);
      written += await writeCheckpoints(deps.pool, batch);
      if (ids.length < checkpointBatchMax) break;
    }
  }
  return written;
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
      failures = 0;
    } catch (err) {
      failures++;
      deps.log.warn({ err: (err as Error).message }, 'checkpoint failed; retrying with backoff');
    }
    tookMs = performance.now() - started;
  }
}
