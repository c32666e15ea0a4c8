// The worker's checkpoint pass at scale: N live sessions (rows in Postgres, live state in Redis), timed twice, side
// by side: once with every session's billed time moved (all marked dirty: the most a pass can have to do), once with
// none moved (what an idle or paused crowd costs). Also the worker process's share of it: the pass runs in this
// process, so its CPU is read from our own /proc entry.
import { randomUUID } from 'node:crypto';
import type { Pool } from '../../shared/pg/pool.js';
import type { RedisClient } from '../../shared/redis/connect.js';
import type { Meter } from '../../shared/redis/meter.js';
import { createLogger } from '../../shared/log.js';
import { checkpointDurations } from '../../settlement-worker/checkpoint-durations.js';
import { cpuMicros } from './proc-cpu.js';

export interface CheckpointPassResult {
  liveSessions: number;
  allMoved: { seconds: number; rowsWritten: number; cpuMicros: number; rowsPerSecond: number };
  noneMoved: { seconds: number; rowsWritten: number; cpuMicros: number };
}

const STUDENT = '00000000-0000-0000-0000-000000000001';
const COURSE = '10000000-0000-0000-0000-000000000001';
const TEACHER = '00000000-0000-0000-0000-000000000002';

/** Rows straight into a private benchmark schema (no holds: the pass reads and writes only these columns). */
async function createLiveSessions(pool: Pool, meter: Meter, n: number): Promise<string[]> {
  const ids = Array.from({ length: n }, () => randomUUID());
  for (let i = 0; i < n; i += 5_000) {
    const slice = ids.slice(i, i + 5_000);
    await pool.query(
      `INSERT INTO sessions (id, student_id, course_id, teacher_id, status, locked_amount, price_per_minute, max_billable_ms, start_time)
       SELECT id, $2, $3, $4, 'active', 100, 0.50, 12000000, now() FROM unnest($1::uuid[]) AS t(id)`, [slice, STUDENT, COURSE, TEACHER]);
    await Promise.all(slice.map((id) => meter.startSession(id, {
      studentId: STUDENT, courseId: COURSE, teacherId: TEACHER, lockedMinor: 10_000, priceMinor: 50, maxBillableMs: 12_000_000, lectureIds: [1, 2, 3],
    })));
  }
  return ids;
}

async function timedPass(pool: Pool, redis: RedisClient, meter: Meter) {
  const log = createLogger({ logLevel: 'silent', logPretty: false }, 'bench');
  const cpu0 = cpuMicros(process.pid);
  const t0 = performance.now();
  const rowsWritten = await checkpointDurations({ pool, redis, meter, log, signal: new AbortController().signal }, meter.keys.buckets());
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
