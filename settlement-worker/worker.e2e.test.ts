// The settlement worker end to end on real Redis and Postgres: stream entry in, one committed settlement out.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { createLogger } from '../core/log.js';
import { createPool } from '../core/pg/pool.js';
import { createMeter, type Meter } from '../core/redis/meter.js';
import { toSettleEntry } from '../core/protocol/settlement.js';
import { createTestEnv, courseId, STUDENT, STUDENT_2, TEACHER, type TestEnv } from '../test/helpers/test-env.js';
import { assertMoneyInvariants, totalBalancesMinor } from '../test/helpers/money-invariants.js';
import {
  earnCredit, eventually, frozenSession, lockSession, readBalances, readSessionRow, startLiveSession,
} from '../test/helpers/sessions.js';
import { deadLetters, pendingEntries, storedEntries } from '../test/helpers/settle-streams.js';
import { meterLimits } from '../core/meter-limits.js';
import { createSettlementWorker, type SettlementWorker, type SettlementWorkerOptions } from './worker.js';

let env: TestEnv;
let meter: Meter;
let totalBefore: number;
const running: SettlementWorker[] = [];

beforeAll(async () => {
  env = await createTestEnv({ SETTLE_CLAIM_IDLE_MS: '1000' });
  meter = createMeter(env.redis, env.keys, meterLimits(env.config));
  await meter.ensureSettleGroups();
  totalBefore = await totalBalancesMinor(env.pool);
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((w) => w.stop()));
  await assertMoneyInvariants(env.pool, totalBefore);
});
afterAll(async () => {
  await env.cleanup();
});

async function startWorker(over: Partial<SettlementWorkerOptions> = {}): Promise<SettlementWorker> {
  const worker = createSettlementWorker({
    config: env.config, pool: env.pool, redis: env.redis, log: createLogger(env.config, 'test-worker'), ...over,
  });
  running.push(worker);
  await worker.start();
  return worker;
}

const completed = (sessionId: string) => async () => {
  const row = await readSessionRow(env.pool, sessionId);
  return row?.status === 'completed' ? row : null;
};

async function settleTransactions(sessionId: string): Promise<number> {
  const { rows } = await env.pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM ledger_transactions WHERE session_id = $1 AND kind = 'settle'`, [sessionId]);
  return Number(rows[0]!.n);
}

/** XADDs the same settle entry (same fields) `times` times, as a producer retrying after a lost reply would. */
async function xaddTimes(sessionId: string, billedMs: number, times: number): Promise<void> {
  const fields = Object.entries(toSettleEntry(frozenSession(sessionId, { billedMs }), Date.now())).flat();
  for (let i = 0; i < times; i++) await env.redis.xadd(env.keys.settleStream(env.keys.bucketOf(sessionId)), '*', ...fields);
}

describe('settlement worker', () => {
  it('settles a live session promptly, then acks and deletes its entry and forgets its Redis state', async () => {
    // Proves the real flow (start → meter → finish → enqueue) commits within a second and leaves nothing in Redis.
    await startWorker();
    const s = await lockSession(env.pool, { studentId: STUDENT_2, courseId: courseId(1), lockedMinor: 1_000 });
    await startLiveSession(env.pool, meter, s);
    await earnCredit(meter, env.redis, s.sessionId, 1, 10_000, 20);
    await earnCredit(meter, env.redis, s.sessionId, 2, 7_500, 35);
    const frozen = await meter.finishSession(s.sessionId, 'completed', null);

    const t0 = Date.now();
    await meter.enqueueSettlement(frozen);
    const row = await eventually(completed(s.sessionId), 5_000, 'settlement');

    expect(Date.now() - t0).toBeLessThan(1_000);
    // floor(17500 × 50 / 60000) = 14
    expect(row).toMatchObject({ end_reason: 'completed', duration_ms: '17500', cost: '0.14', refund: '9.86', completion_pct: '35.00', current_lecture: 2 });
    expect(row.content_progress).toEqual({
      '1': { watched_seconds: 10 }, '2': { watched_seconds: 7.5 }, '3': { watched_seconds: 0 },
      '4': { watched_seconds: 0 }, '5': { watched_seconds: 0 },
    });
    await eventually(async () => (await meter.readSession(s.sessionId)) === null, 2_000, 'live state forgotten');
    expect(await env.redis.zscore(env.keys.deadlines(env.keys.bucketOf(s.sessionId)), s.sessionId)).toBeNull();
    expect(await pendingEntries(env.redis, env.keys)).toBe(0);
    expect(await storedEntries(env.redis, env.keys)).toBe(0);
  });

  it('settles a replayed entry (the same fields XADDed twice) exactly once', async () => {
    // Proves a duplicate entry is a no-op: one settle transaction, money moved once, both entries acked.
    await startWorker();
    const s = await lockSession(env.pool, { studentId: STUDENT_2, courseId: courseId(4), lockedMinor: 700 });
    const before = await readBalances(env.pool, STUDENT_2, TEACHER);

    await xaddTimes(s.sessionId, 40_000, 2);

    await eventually(completed(s.sessionId), 5_000, 'settlement');
    await eventually(async () => (await storedEntries(env.redis, env.keys)) === 0, 3_000, 'both entries acked');
    expect(await settleTransactions(s.sessionId)).toBe(1);
    const after = await readBalances(env.pool, STUDENT_2, TEACHER);
    expect(after.teacherMinor - before.teacherMinor).toBe(50); // floor(40000 × 75 / 60000)
    expect(after.walletMinor - before.walletMinor).toBe(650);
    expect(await pendingEntries(env.redis, env.keys)).toBe(0);
  });

  it('two workers racing over 24 sessions, each enqueued twice, settle every session exactly once', async () => {
    // Proves two workers sharing duplicated entries neither miss a session nor settle one twice.
    const sessions = await Promise.all(Array.from({ length: 24 }, (_, i) =>
      lockSession(env.pool, { studentId: STUDENT, courseId: courseId((i % 10) + 1), lockedMinor: 1_000 + i })));
    const before = await readBalances(env.pool, STUDENT, TEACHER);
    await Promise.all([startWorker({ consumerName: 'racer-a' }), startWorker({ consumerName: 'racer-b' })]);

    for (const [i, s] of sessions.entries()) await xaddTimes(s.sessionId, 1_000 * (i + 1), 2);

    await eventually(async () => {
      const { rows } = await env.pool.query<{ n: string }>(
        `SELECT count(*) AS n FROM sessions WHERE id = ANY($1::uuid[]) AND status = 'completed'`, [sessions.map((s) => s.sessionId)]);
      return Number(rows[0]!.n) === sessions.length;
    }, 10_000, 'all sessions settled');
    await eventually(async () => (await storedEntries(env.redis, env.keys)) === 0, 3_000, 'all entries acked');
    for (const s of sessions) expect(await settleTransactions(s.sessionId)).toBe(1);
    const { rows } = await env.pool.query<{ cost: string }>(
      `SELECT coalesce(sum(cost), 0)::numeric(14,2)::text AS cost FROM sessions WHERE id = ANY($1::uuid[])`, [sessions.map((s) => s.sessionId)]);
    const after = await readBalances(env.pool, STUDENT, TEACHER);
    expect(after.teacherMinor - before.teacherMinor).toBe(Math.round(Number(rows[0]!.cost) * 100));
    expect(await pendingEntries(env.redis, env.keys)).toBe(0);
  });

  it('dead-letters invalid entries and unknown sessions, acks them, and keeps settling', async () => {
    // Proves unusable entries go to the dead-letter stream with a reason, are acked, and do not block the stream.
    await startWorker();
    const s = await lockSession(env.pool, { studentId: STUDENT, courseId: courseId(2), lockedMinor: 500 });
    const stream = env.keys.settleStream(env.keys.bucketOf(s.sessionId));
    const badJson = { ...toSettleEntry(frozenSession(s.sessionId), Date.now()), progress: '{not json' };
    const unknown = toSettleEntry(frozenSession(randomUUID(), { billedMs: 1_000 }), Date.now());

    const unknownStream = env.keys.settleStream(env.keys.bucketOf(unknown.session_id));
    const garbageId = await env.redis.xadd(stream, '*', 'session_id', 'not-a-uuid', 'end_reason', 'bored');
    const badJsonId = await env.redis.xadd(stream, '*', ...Object.entries(badJson).flat());
    const unknownId = await env.redis.xadd(unknownStream, '*', ...Object.entries(unknown).flat());
    await xaddTimes(s.sessionId, 30_000, 1);

    await eventually(completed(s.sessionId), 5_000, 'the valid entry settled');
    const dead = await eventually(async () => {
      const all = await deadLetters(env.redis, env.keys);
      return all.length >= 3 ? all : null;
    }, 3_000, 'three dead letters');
    // Entry ids are unique per stream only: a dead letter is named by both.
    const letterOf = (where: string, id: string | null) => dead.find((d) => d.fields.stream === where && d.fields.entry_id === id);
    expect(letterOf(stream, garbageId)?.fields.reason).toMatch(/^invalid_entry: .*session_id/);
    expect(letterOf(stream, badJsonId)?.fields.reason).toMatch(/^invalid_entry: progress/);
    expect(letterOf(unknownStream, unknownId)?.fields.reason).toBe('session_not_found');
    expect(JSON.parse(letterOf(unknownStream, unknownId)!.fields.fields!)).toMatchObject({ session_id: unknown.session_id });
    expect(await pendingEntries(env.redis, env.keys)).toBe(0);
    expect(await storedEntries(env.redis, env.keys)).toBe(0);
  });

  it('leaves an entry pending while Postgres is unreachable, and a healthy worker reclaims and settles it', async () => {
    // Proves a Postgres failure is neither acked nor dead-lettered; a healthy worker later claims and settles it once.
    const deadPool = createPool({ databaseUrl: 'postgres://postgres@127.0.0.1:1/test', databaseSchema: env.schema }, 2);
    try {
      const deadBefore = (await deadLetters(env.redis, env.keys)).length;
      await startWorker({ pool: deadPool, consumerName: 'no-database' });
      const s = await lockSession(env.pool, { studentId: STUDENT, courseId: courseId(9), lockedMinor: 900 });
      await xaddTimes(s.sessionId, 12_000, 1);

      await eventually(async () => (await pendingEntries(env.redis, env.keys)) === 1, 3_000, 'the entry delivered');
      await new Promise((r) => setTimeout(r, 1_200));
      expect(await pendingEntries(env.redis, env.keys)).toBe(1);
      expect((await readSessionRow(env.pool, s.sessionId))!.status).toBe('locked');
      expect(await deadLetters(env.redis, env.keys)).toHaveLength(deadBefore);
      await running.pop()!.stop();

      await startWorker({ consumerName: 'healthy' });
      const row = await eventually(completed(s.sessionId), 6_000, 'reclaimed settlement');
      expect(row.cost).toBe('0.20'); // floor(12000 × 100 / 60000)
      await eventually(async () => (await pendingEntries(env.redis, env.keys)) === 0, 2_000, 'entry acked');
      expect(await settleTransactions(s.sessionId)).toBe(1);
    } finally {
      await deadPool.end();
    }
  });

  it('stop() returns promptly and leaves the pool and Redis client it was given open', async () => {
    // Proves a graceful stop is bounded (an idle reader returns within one BLOCK) and closes only its own connections.
    const worker = await startWorker();
    running.pop();
    const t0 = Date.now();
    await worker.stop();
    expect(Date.now() - t0).toBeLessThan(2_000);
    await worker.stop(); // a second stop is a no-op
    expect(await env.redis.ping()).toBe('PONG');
    expect((await env.pool.query('SELECT 1 AS one')).rows[0].one).toBe(1);
  });
});
