// Checkpoints cost in proportion to change (README "Checkpoint cost"): a pass reads and writes only the sessions whose
// billed time moved since their last checkpoint, and a failed write leaves them marked for the next pass.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool } from '../core/pg/pool.js';
import { createMeter, type Meter } from '../core/redis/meter.js';
import { meterLimits } from '../core/meter-limits.js';
import { createLogger } from '../core/log.js';
import { courseId, createTestEnv, STUDENT, type TestEnv } from '../test/helpers/test-env.js';
import { earnCredit, lockSession, startLiveSession } from '../test/helpers/sessions.js';
import { checkpointDurations } from './checkpoint-durations.js';
import { createWorkerMetrics } from './metrics.js';

let env: TestEnv;
let meter: Meter;
const log = createLogger({ logLevel: 'silent', logPretty: false }, 'test');

beforeAll(async () => {
  env = await createTestEnv();
  meter = createMeter(env.redis, env.keys, meterLimits(env.config));
});
afterAll(async () => { await env?.cleanup(); });

async function liveSession(): Promise<string> {
  const s = await lockSession(env.pool, { studentId: STUDENT, courseId: courseId(1), lockedMinor: 500 });
  await startLiveSession(env.pool, meter, s);
  return s.sessionId;
}

const durationMs = async (id: string) =>
  Number((await env.pool.query<{ duration_ms: string }>('SELECT duration_ms FROM sessions WHERE id = $1', [id])).rows[0]!.duration_ms);

describe('checkpointDurations', () => {
  it('writes only sessions credited since their last checkpoint, then nothing until they move again', async () => {
    const deps = { pool: env.pool, redis: env.redis, meter, log, metrics: createWorkerMetrics(), signal: new AbortController().signal };
    const [moved, idle] = [await liveSession(), await liveSession()];
    await earnCredit(meter, env.redis, moved, 1, 1_500);
    // A paused player's heartbeat bills nothing: it must not cost the checkpoint anything.
    await meter.applyUpdate(idle, { socketId: '', playing: false, claimedMs: null, lecture: 1, completionPct: 1 });
    expect(meter.dirty.buffered()).toBe(1);
    await meter.dirty.flush();
    expect(await checkpointDurations(deps, env.keys.buckets())).toBe(1);
    expect(await durationMs(moved)).toBe(1_500);
    expect(await durationMs(idle)).toBe(0);
    expect(await checkpointDurations(deps, env.keys.buckets())).toBe(0);
    await earnCredit(meter, env.redis, moved, 2, 700);
    await meter.dirty.flush();
    expect(await checkpointDurations(deps, env.keys.buckets())).toBe(1);
    expect(await durationMs(moved)).toBe(2_200);
  });

  it('a checkpoint write that fails leaves its sessions marked for the next pass', async () => {
    const id = await liveSession();
    await earnCredit(meter, env.redis, id, 1, 900);
    await meter.dirty.flush();
    const bucket = env.keys.bucketOf(id);
    // A real pool to a port where no Postgres listens: the write fails as it would during an outage.
    const down = createPool({ databaseUrl: 'postgres://postgres@127.0.0.1:1/test', databaseSchema: env.schema }, 1);
    try {
      const failing = { pool: down, redis: env.redis, meter, log, metrics: createWorkerMetrics(), signal: new AbortController().signal };
      await expect(checkpointDurations(failing, [bucket])).rejects.toThrow();
    } finally {
      await down.end();
    }
    expect(await env.redis.sismember(env.keys.dirty(bucket), id)).toBe(1);
    const deps = { pool: env.pool, redis: env.redis, meter, log, metrics: createWorkerMetrics(), signal: new AbortController().signal };
    expect(await checkpointDurations(deps, [bucket])).toBe(1);
    expect(await durationMs(id)).toBe(900);
  });

  it('writes the progress of each lecture, the current lecture and the percent as the API reads them', async () => {
    const deps = { pool: env.pool, redis: env.redis, meter, log, metrics: createWorkerMetrics(), signal: new AbortController().signal };
    const id = await liveSession();
    await earnCredit(meter, env.redis, id, 1, 1_500, 3);
    await earnCredit(meter, env.redis, id, 2, 1, 12.345);
    await meter.dirty.flush();
    expect(await checkpointDurations(deps, [env.keys.bucketOf(id)])).toBe(1);
    const { rows } = await env.pool.query('SELECT duration_ms, content_progress, completion_pct, current_lecture FROM sessions WHERE id = $1', [id]);
    // Postgres turns the ms into seconds at ms precision (0.001) and rounds the percent's decimal text to the column's
    // 2 decimals. Every lecture of course 1 is kept, watched or not.
    const unwatched = { watched_seconds: 0 };
    expect(rows[0]).toEqual({
      duration_ms: '1501', current_lecture: 2, completion_pct: '12.35',
      content_progress: { 1: { watched_seconds: 1.5 }, 2: { watched_seconds: 0.001 }, 3: unwatched, 4: unwatched, 5: unwatched },
    });
  });

  it('skips a session settled since it was marked, and a row a settlement holds, without waiting for it', async () => {
    const deps = { pool: env.pool, redis: env.redis, meter, log, metrics: createWorkerMetrics(), signal: new AbortController().signal };
    const [gone, held, free] = [await liveSession(), await liveSession(), await liveSession()];
    for (const id of [gone, held, free]) await earnCredit(meter, env.redis, id, 1, 800);
    await meter.dirty.flush();
    await meter.forgetSession(gone);
    const settlement = await env.pool.connect();
    try {
      await settlement.query('BEGIN');
      await settlement.query('SELECT id FROM sessions WHERE id = $1 FOR UPDATE', [held]);
      // Waiting for the held row would hang here until the statement timeout, past the test's own timeout.
      expect(await checkpointDurations(deps, env.keys.buckets())).toBe(1);
    } finally {
      await settlement.query('ROLLBACK');
      settlement.release();
    }
    expect([await durationMs(gone), await durationMs(held), await durationMs(free)]).toEqual([0, 0, 800]);
  });
});
