// The worker's checkpoint pass at scale: N live sessions (rows in Postgres, live state in Redis), timed twice, side
// by side: once with every session's billed time moved (all marked dirty: the most a pass can have to do), once with
// none moved (what an idle or paused crowd costs). Also the worker process's share of it: the pass runs in this
// process, so its CPU is read from our own /proc entry.
import type { Pool } from '../../shared/pg/pool.js';
import type { RedisClient } from '../../shared/redis/connect.js';
import type { Meter } from '../../shared/redis/meter.js';
import { createLogger } from '../../shared/log.js';
import { checkpointDurations } from '../../settlement-worker/checkpoint-durations.js';
import { cpuMicros } from './proc-cpu.js';
import { createLiveSessions } from './live-sessions-fixture.js';
import { createWorkerMetrics } from '../../settlement-worker/metrics.js';

export interface CheckpointPassResult {
  liveSessions: number;
  allMoved: { seconds: number; rowsWritten: number; cpuMicros: number; rowsPerSecond: number };
  noneMoved: { seconds: number; rowsWritten: number; cpuMicros: number };
}

async function timedPass(pool: Pool, redis: RedisClient, meter: Meter) {
  const log = createLogger({ logLevel: 'silent', logPretty: false }, 'bench');
  const cpu0 = cpuMicros(process.pid);
  const t0 = performance.now();
  const rowsWritten = await checkpointDurations({ pool, redis, meter, log, metrics: createWorkerMetrics(), signal: new AbortController().signal }, meter.keys.buckets());
  return { seconds: +((performance.now() - t0) / 1000).toFixed(3), rowsWritten, cpuMicros: Math.round(cpuMicros(process.pid) - cpu0) };
}

export async function measureCheckpointPass(pool: Pool, redis: RedisClient, meter: Meter, liveSessions: number): Promise<CheckpointPassResult> {
  const ids = await createLiveSessions(pool, meter, liveSessions);
  // Every session billed 1 s (as one heartbeat would), then marked, as the gateways' flushes would have marked them.
  for (let i = 0; i < ids.length; i += 2_000) {
    const slice = ids.slice(i, i + 2_000);
    await Promise.all(slice.map((id) => redis.hincrby(meter.keys.session(id), 'billed_ms', 1_000).then(() => redis.hincrby(meter.keys.lectures(id), '1', 1_000))));
    for (const id of slice) meter.dirty.mark(id);
    await meter.dirty.flush();
  }
  const allMoved = await timedPass(pool, redis, meter);
  const noneMoved = await timedPass(pool, redis, meter);
  await Promise.all(ids.map((id) => meter.forgetSession(id)));
  return { liveSessions, allMoved: { ...allMoved, rowsPerSecond: Math.round(allMoved.rowsWritten / allMoved.seconds) }, noneMoved };
}
