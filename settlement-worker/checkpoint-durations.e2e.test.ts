// Checkpoints cost in proportion to change (issue 8 §2): a pass reads and writes only the sessions whose billed time
// moved since their last checkpoint, and a failed write leaves them marked for the next pass.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool } from '../shared/pg/pool.js';
import { createMeter, type Meter } from '../shared/redis/meter.js';
import { meterLimits } from '../shared/meter-limits.js';
import { createLogger } from '../shared/log.js';
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
});
