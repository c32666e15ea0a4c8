// settleSession against a real Postgres schema: figures, money movements, ledger, idempotency and invariants.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { InvariantError } from '../core/errors.js';
import { createTestEnv, courseId, STUDENT, STUDENT_2, TEACHER, type TestEnv } from '../test/helpers/test-env.js';
import { assertMoneyInvariants, totalBalancesMinor } from '../test/helpers/money-invariants.js';
import { frozenSession, lockSession, readBalances, readSessionRow } from '../test/helpers/sessions.js';
import { settleSession } from './settle-session.js';
import { SessionNotFoundError } from './settlement-decision.js';

let env: TestEnv;
let totalBefore: number;

beforeAll(async () => {
  env = await createTestEnv();
  totalBefore = await totalBalancesMinor(env.pool);
});
afterEach(async () => {
  await assertMoneyInvariants(env.pool, totalBefore);
});
afterAll(async () => {
  await env.cleanup();
});

async function settleEntries(sessionId: string): Promise<{ account_type: string; account_id: string | null; amount: string }[]> {
  const { rows } = await env.pool.query<{ account_type: string; account_id: string | null; amount: string }>(
    `SELECT e.account_type, e.account_id, e.amount FROM ledger_entries e
     JOIN ledger_transactions t ON t.id = e.transaction_id
     WHERE t.session_id = $1 AND t.kind = 'settle' ORDER BY e.account_type`, [sessionId]);
  return rows;
}

describe('settleSession', () => {
  it('settles a watched session without a fee: figures, balances, hold, ledger and content_progress', async () => {
    // Proves the 0-bps happy path: floor-rounded cost to the teacher, rest refunded, content_progress sums to duration.
    const before = await readBalances(env.pool, STUDENT_2, TEACHER);
    const s = await lockSession(env.pool, { studentId: STUDENT_2, courseId: courseId(1), lockedMinor: 1_000 });
    expect(s.maxBillableMs).toBe(1_200_000);
    const frozen = frozenSession(s.sessionId, {
      billedMs: 123_456, completionPct: '42.5', currentLecture: 2, progressMs: { '1': 100_000, '2': 23_456, '3': 0 },
    });

    const settled = await settleSession(env.pool, frozen, 0);

    // floor(123456 × 50 / 60000) = floor(102.88) = 102: rounding favours the student.
    expect(settled).toEqual({
      sessionId: s.sessionId, endReason: 'completed', durationMs: 123_456, costMinor: 102, refundMinor: 898,
      teacherEarningMinor: 102, platformFeeMinor: 0, alreadySettled: false,
    });
    const row = await readSessionRow(env.pool, s.sessionId);
    expect(row).toMatchObject({
      status: 'completed', end_reason: 'completed', duration_ms: '123456', cost: '1.02', refund: '8.98',
      teacher_earning: '1.02', platform_fee: '0.00', completion_pct: '42.50', current_lecture: 2,
    });
    expect(row!.ended_at).toBeInstanceOf(Date);
    expect(row!.content_progress).toEqual({
      '1': { watched_seconds: 100 }, '2': { watched_seconds: 23.456 }, '3': { watched_seconds: 0 },
    });
    const progressMs = Object.values(row!.content_progress).reduce((sum, p) => sum + Math.round(p.watched_seconds * 1000), 0);
    expect(progressMs).toBe(123_456);

    const after = await readBalances(env.pool, STUDENT_2, TEACHER);
    expect(after.walletMinor - before.walletMinor).toBe(-102);
    expect(after.teacherMinor - before.teacherMinor).toBe(102);
    expect(after.platformMinor - before.platformMinor).toBe(0);
    const hold = await env.pool.query('SELECT released_at FROM holds WHERE session_id = $1', [s.sessionId]);
    expect(hold.rows[0].released_at).toBeInstanceOf(Date);
    // Zero amounts get no entry (the schema refuses them): no platform leg without a fee.
    expect(await settleEntries(s.sessionId)).toEqual([
      { account_type: 'hold', account_id: s.sessionId, amount: '-10.00' },
      { account_type: 'teacher', account_id: TEACHER, amount: '1.02' },
      { account_type: 'wallet', account_id: STUDENT_2, amount: '8.98' },
    ]);
  });

  it('takes the platform fee (250 bps) out of the cost, rounded down in the teacher\'s favour', async () => {
    // Proves teacher_earning + platform_fee = cost with a fee, and that the platform account and its ledger leg move.
    const before = await readBalances(env.pool, STUDENT, TEACHER);
    const s = await lockSession(env.pool, { studentId: STUDENT, courseId: courseId(10), lockedMinor: 10_000 });
    const frozen = frozenSession(s.sessionId, { billedMs: 654_321, progressMs: { '1': 600_000, '4': 54_321 }, currentLecture: 4 });

    const settled = await settleSession(env.pool, frozen, 250);

    // cost = floor(654321 × 500 / 60000) = 5452; fee = floor(5452 × 0.025) = 136.
    expect(settled).toMatchObject({ costMinor: 5_452, refundMinor: 4_548, teacherEarningMinor: 5_316, platformFeeMinor: 136 });
    const after = await readBalances(env.pool, STUDENT, TEACHER);
    expect(after.walletMinor - before.walletMinor).toBe(-5_452);
    expect(after.teacherMinor - before.teacherMinor).toBe(5_316);
    expect(after.platformMinor - before.platformMinor).toBe(136);
    expect(await settleEntries(s.sessionId)).toEqual([
      { account_type: 'hold', account_id: s.sessionId, amount: '-100.00' },
      { account_type: 'platform', account_id: null, amount: '1.36' },
      { account_type: 'teacher', account_id: TEACHER, amount: '53.16' },
      { account_type: 'wallet', account_id: STUDENT, amount: '45.48' },
    ]);
    expect((await readSessionRow(env.pool, s.sessionId))!.platform_fee).toBe('1.36');
  });

  it('charges exactly the locked amount for funds_exhausted, even where the per-ms price rounds lower', async () => {
    // Proves docs/money.md "Rounding": a funds_exhausted session costs exactly locked, although floor(max_ms × price /
    // 60000) < locked.
    const oddCourse = randomUUID();
    await env.pool.query(
      `INSERT INTO courses (id, teacher_id, title, price_per_minute) VALUES ($1, $2, 'Odd price', 0.07)`, [oddCourse, TEACHER]);
    const s = await lockSession(env.pool, { studentId: STUDENT, courseId: oddCourse, lockedMinor: 100 });
    expect(s.maxBillableMs).toBe(857_142); // floor(100 × 60000 / 7); at 7/min that is 99.99994 → 99 by the formula
    const frozen = frozenSession(s.sessionId, { endReason: 'funds_exhausted', billedMs: s.maxBillableMs });

    const settled = await settleSession(env.pool, frozen, 0);

    expect(settled).toMatchObject({ endReason: 'funds_exhausted', durationMs: 857_142, costMinor: 100, refundMinor: 0, teacherEarningMinor: 100 });
    expect((await settleEntries(s.sessionId)).map((e) => e.account_type)).toEqual(['hold', 'teacher']);
  });

  it('settles a never-started session at cost 0 and refunds everything', async () => {
    // Proves a `locked` session with 0 ms costs 0: the whole hold returns to the wallet and nobody is paid.
    const before = await readBalances(env.pool, STUDENT_2, TEACHER);
    const s = await lockSession(env.pool, { studentId: STUDENT_2, courseId: courseId(3), lockedMinor: 2_500 });

    const settled = await settleSession(env.pool, frozenSession(s.sessionId), 250);

    expect(settled).toMatchObject({ durationMs: 0, costMinor: 0, refundMinor: 2_500, teacherEarningMinor: 0, platformFeeMinor: 0 });
    expect(await readBalances(env.pool, STUDENT_2, TEACHER)).toEqual(before);
    expect(await settleEntries(s.sessionId)).toEqual([
      { account_type: 'hold', account_id: s.sessionId, amount: '-25.00' },
      { account_type: 'wallet', account_id: STUDENT_2, amount: '25.00' },
    ]);
    const row = await readSessionRow(env.pool, s.sessionId);
    expect(row).toMatchObject({ status: 'completed', duration_ms: '0', cost: '0.00', content_progress: {}, current_lecture: null });
  });

  it('is idempotent: a second settle moves no money and returns the first figures, whatever it carries', async () => {
    // Proves exactly-once settlement under a replay, including a replay with different (later) figures.
    const s = await lockSession(env.pool, { studentId: STUDENT, courseId: courseId(2), lockedMinor: 5_000 });
    const first = await settleSession(env.pool, frozenSession(s.sessionId, { billedMs: 90_000 }), 250);
    const balances = await readBalances(env.pool, STUDENT, TEACHER);

    const again = await settleSession(env.pool, frozenSession(s.sessionId, { billedMs: 120_000, endReason: 'disconnected' }), 0);

    expect(first.alreadySettled).toBe(false);
    expect(again).toEqual({ ...first, alreadySettled: true });
    expect(await readBalances(env.pool, STUDENT, TEACHER)).toEqual(balances);
    expect(await settleEntries(s.sessionId)).toHaveLength(4);
  });

  it('settles once when five settlements of one session run concurrently', async () => {
    // Proves the row lock serialises racing settlements: one moves the money, four return the same figures.
    const s = await lockSession(env.pool, { studentId: STUDENT, courseId: courseId(5), lockedMinor: 3_000 });
    const before = await readBalances(env.pool, STUDENT, TEACHER);
    const frozen = frozenSession(s.sessionId, { billedMs: 61_000 });

    const results = await Promise.all(Array.from({ length: 5 }, () => settleSession(env.pool, frozen, 0)));

    expect(results.filter((r) => !r.alreadySettled)).toHaveLength(1);
    const figures = results.map(({ alreadySettled: _, ...f }) => f);
    for (const f of figures) expect(f).toEqual(figures[0]);
    expect(figures[0]).toMatchObject({ costMinor: 61, refundMinor: 2_939 }); // floor(61000 × 60 / 60000)
    const after = await readBalances(env.pool, STUDENT, TEACHER);
    expect(after.walletMinor - before.walletMinor).toBe(2_939);
    expect(after.teacherMinor - before.teacherMinor).toBe(61);
  });

  it('refuses an unknown session with SessionNotFoundError', async () => {
    // Proves an entry naming a session Postgres does not know fails with a typed error (the worker dead-letters it).
    await expect(settleSession(env.pool, frozenSession(randomUUID(), { billedMs: 1_000 }), 0)).rejects.toBeInstanceOf(SessionNotFoundError);
  });

  it('refuses figures that break the meter\'s invariants and leaves the money untouched', async () => {
    // Proves inconsistent frozen figures throw InvariantError (never clamped) and roll back, leaving the session unsettled.
    const s = await lockSession(env.pool, { studentId: STUDENT, courseId: courseId(1), lockedMinor: 100 });
    const balances = await readBalances(env.pool, STUDENT, TEACHER);

    await expect(settleSession(env.pool, frozenSession(s.sessionId, { billedMs: 5_000, progressMs: { '1': 4_000 } }), 0))
      .rejects.toBeInstanceOf(InvariantError);
    await expect(settleSession(env.pool, frozenSession(s.sessionId, { billedMs: s.maxBillableMs + 1 }), 0))
      .rejects.toThrow(/exceeds max billable/);
    // funds_exhausted would charge the whole locked amount: refused unless the whole of it was watched.
    await expect(settleSession(env.pool, frozenSession(s.sessionId, { billedMs: 1_000, endReason: 'funds_exhausted' }), 0))
      .rejects.toThrow(/funds_exhausted after 1000 ms/);

    expect((await readSessionRow(env.pool, s.sessionId))!.status).toBe('locked');
    expect(await readBalances(env.pool, STUDENT, TEACHER)).toEqual(balances);
    // Leave the schema consistent for the invariants check: settle it properly.
    await settleSession(env.pool, frozenSession(s.sessionId, { billedMs: s.maxBillableMs }), 0);
  });
});
