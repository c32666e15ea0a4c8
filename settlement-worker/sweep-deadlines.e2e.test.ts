// The deadline sweeper inside a running worker: disconnected sessions are ended and settled, live ones are left
// alone, and a settlement whose entry was lost is sent again.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { createLogger } from '../core/log.js';
import { settleRetryMs } from '../core/limits.js';
import { createMeter, type Meter } from '../core/redis/meter.js';
import { createTestEnv, courseId, STUDENT, type TestEnv } from '../test/helpers/test-env.js';
import { assertMoneyInvariants, totalBalancesMinor } from '../test/helpers/money-invariants.js';
import {
  backdateSession, earnCredit, eventually, lockSession, readSessionRow, startLiveSession, type LockedSession,
} from '../test/helpers/sessions.js';
import { meterLimits } from '../core/meter-limits.js';
import { createSettlementWorker, type SettlementWorker } from './worker.js';

let env: TestEnv;
let meter: Meter;
let totalBefore: number;
let worker: SettlementWorker;

beforeAll(async () => {
  // Grace 500 ms and a 100 ms sweep keep the paused path fast; socketIdleMs stays 8 s (its floor), so the
  // silent-active path is reached by moving the session's clocks back instead of waiting.
  env = await createTestEnv({ HEARTBEAT_INTERVAL_MS: '1000', DISCONNECT_GRACE_MS: '500', SWEEP_INTERVAL_MS: '100' });
  meter = createMeter(env.redis, env.keys, meterLimits(env.config));
  totalBefore = await totalBalancesMinor(env.pool);
  worker = createSettlementWorker({ config: env.config, pool: env.pool, redis: env.redis, log: createLogger(env.config, 'test') });
  await worker.start();
});
afterEach(async () => {
  await assertMoneyInvariants(env.pool, totalBefore);
});
afterAll(async () => {
  await worker.stop();
  await env.cleanup();
});

const deadlineOf = (id: string) => env.redis.zscore(env.keys.deadlines(env.keys.bucketOf(id)), id);

async function liveSession(lockedMinor = 1_000): Promise<LockedSession> {
  const s = await lockSession(env.pool, { studentId: STUDENT, courseId: courseId(1), lockedMinor });
  await startLiveSession(env.pool, meter, s);
  await earnCredit(meter, env.redis, s.sessionId, 1, 2_000, 10); // 2 s = the credit cap at a 1 s heartbeat
  return s;
}

async function settledRow(sessionId: string, timeoutMs = 5_000) {
  return eventually(async () => {
    const row = await readSessionRow(env.pool, sessionId);
    return row?.status === 'completed' ? row : null;
  }, timeoutMs, `session ${sessionId} settled`);
}

async function settleTransactions(sessionId: string): Promise<number> {
  const { rows } = await env.pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM ledger_transactions WHERE session_id = $1 AND kind = 'settle'`, [sessionId]);
  return Number(rows[0]!.n);
}

describe('deadline sweeper', () => {
  it('settles a paused session as disconnected once its grace has passed, not before', async () => {
    // Proves the disconnect path end to end: socket gone → paused → grace expires → `disconnected`, billed time kept.
    const s = await liveSession();
    await meter.attachSocket(s.sessionId, 'socket-1');
    const t0 = Date.now();
    const deadline = await meter.detachSocket(s.sessionId, 'socket-1');
    expect(deadline).not.toBeNull();

    const row = await settledRow(s.sessionId);

    expect(Date.now() - t0).toBeGreaterThanOrEqual(450);
    expect(row).toMatchObject({ end_reason: 'disconnected', duration_ms: '2000', cost: '0.01', completion_pct: '10.00' });
    await eventually(async () => (await meter.readSession(s.sessionId)) === null, 2_000, 'live state forgotten');
    expect(await deadlineOf(s.sessionId)).toBeNull();
  });

  it('settles an active session whose socket went silent longer than socketIdleMs + grace', async () => {
    // Proves the dead-gateway path: an `active` session nobody has heard from is ended as disconnected.
    const s = await liveSession();
    await backdateSession(env.redis, env.keys, s.sessionId, env.config.socketIdleMs + env.config.disconnectGraceMs + 1_000);
    await meter.scheduleDeadline(s.sessionId, 0); // its real deadline, now in the past

    const row = await settledRow(s.sessionId);

    expect(row).toMatchObject({ end_reason: 'disconnected', duration_ms: '2000' });
  });

  it('leaves a live active session alone and moves its deadline to the true one', async () => {
    // Proves the sorted set is only a lower bound: a due entry for a session still heard from is rescheduled.
    const s = await liveSession();
    await meter.scheduleDeadline(s.sessionId, 0);
    const live = await meter.readSession(s.sessionId);

    const score = await eventually(async () => {
      const v = await deadlineOf(s.sessionId);
      return v !== null && Number(v) > 0 ? Number(v) : null;
    }, 2_000, 'rescheduled deadline');

    expect(score).toBeGreaterThan(Date.now() + env.config.socketIdleMs - 1_000);
    expect((await meter.readSession(s.sessionId))?.status).toBe('active');
    expect((await readSessionRow(env.pool, s.sessionId))!.status).toBe('active');
    expect(live?.billedMs).toBe(2_000);
    // Finish it so the worker's later sweeps have nothing of it left to do.
    await meter.enqueueSettlement(await meter.finishSession(s.sessionId, 'completed', null));
    await settledRow(s.sessionId);
  });

  it(`re-enqueues an ending session whose settle entry was lost, after settleRetryMs, and settles it once`, async () => {
    // Proves the lost-entry safety net: re-sent only after settleRetryMs, settled once, a late copy changes nothing.
    const s = await liveSession();
    const frozen = await meter.finishSession(s.sessionId, 'completed', null); // the enqueue that should follow is "lost"
    await meter.scheduleDeadline(s.sessionId, 0);

    const retryAt = await eventually(async () => {
      const v = await deadlineOf(s.sessionId);
      return v !== null && Number(v) > 0 ? Number(v) : null;
    }, 2_000, 'deadline moved to the retry time');
    expect(retryAt).toBeGreaterThan(Date.now() + settleRetryMs - 2_000);
    expect((await readSessionRow(env.pool, s.sessionId))!.status).toBe('active');

    await backdateSession(env.redis, env.keys, s.sessionId, settleRetryMs); // as if settleRetryMs had passed
    await meter.scheduleDeadline(s.sessionId, 0);
    const row = await settledRow(s.sessionId);
    expect(row).toMatchObject({ end_reason: 'completed', duration_ms: '2000' });

    await meter.enqueueSettlement(frozen); // the lost entry turns up after all
    await eventually(async () => (await env.redis.xlen(env.keys.settleStream(env.keys.bucketOf(s.sessionId)))) === 0, 2_000, 'late entry acked');
    expect(await settleTransactions(s.sessionId)).toBe(1);
  });

  it('drops the deadline of a session that no longer exists in Redis', async () => {
    // Proves `gone` cleanup: a deadline left behind by a forgotten session does not stay in the sorted set.
    const id = randomUUID();
    await meter.scheduleDeadline(id, 0);
    await eventually(async () => (await deadlineOf(id)) === null, 2_000, 'deadline removed');
  });
});
