// Sessions for tests, made by the gateway's own store functions (create locks funds: wallet → hold under one
// balanced 'lock' ledger transaction), so the money invariants hold from the first row.
import type { Pool } from '../../core/pg/pool.js';
import { numericToMinor } from '../../core/money.js';
import type { Meter, StartInput, UpdateResult } from '../../core/redis/meter.js';
import type { RedisClient } from '../../core/redis/connect.js';
import type { Keys } from '../../core/redis/keys.js';
import type { FrozenSession } from '../../core/protocol/settlement.js';
import { lockFunds, type CreateLimits } from '../../gateway/store/sessions.js';
import { lectureIdsOf, type CourseRow } from '../../gateway/store/courses.js';

export type LockedSession = StartInput & { sessionId: string; lectureIds: number[] };

/**
 * What a fixture holds a create to: none of the REST create's bounds. Fixtures lock hundreds of sessions of one
 * student at once (a burst to settle, a race to run), which the REST create's open-holds cap and bounded lock wait
 * exist to refuse (README "Rate limits"; test/e2e/create-flood.e2e.test.ts tests them).
 */
const fixtureLimits: CreateLimits = { openHoldsMax: Infinity, walletLockWaitMs: 0 };

/** Moves `lockedMinor` from the student's wallet into a hold for a new `locked` session: the gateway's own lockFunds. */
export async function lockSession(pool: Pool, input: { studentId: string; courseId: string; lockedMinor: number }): Promise<LockedSession> {
  const created = await lockFunds(pool, { ...input, idempotencyKey: null }, fixtureLimits);
  const course = (await pool.query<CourseRow>('SELECT * FROM courses WHERE id = $1', [input.courseId])).rows[0]!;
  return {
    sessionId: created.sessionId, studentId: input.studentId, courseId: input.courseId, teacherId: course.teacher_id,
    lockedMinor: created.lockedMinor, priceMinor: created.priceMinor, maxBillableMs: created.maxBillableMs,
    lectureIds: lectureIdsOf(course.content_structure),
  };
}

/**
 * locked → active in Postgres, then the live metering state in Redis. The gateway's start writes both under the row
 * lock (markStarted); tests that use this helper do not race it.
 */
export async function startLiveSession(pool: Pool, meter: Meter, s: LockedSession): Promise<{ nowMs: number }> {
  const { rowCount } = await pool.query(
    `UPDATE sessions SET status = 'active', start_time = now() WHERE id = $1 AND status = 'locked'`, [s.sessionId]);
  if (rowCount !== 1) throw new Error(`session ${s.sessionId} is not locked`);
  return meter.startSession(s.sessionId, {
    studentId: s.studentId, courseId: s.courseId, teacherId: s.teacherId, lockedMinor: s.lockedMinor,
    priceMinor: s.priceMinor, maxBillableMs: s.maxBillableMs, lectureIds: s.lectureIds,
  });
}

/**
 * Moves a live session's clocks `ms` into the past (last update, last seen, pause and end times), so a test can
 * earn credit or pass a deadline without waiting for it. Only fields that exist are moved.
 */
export async function backdateSession(redis: RedisClient, keys: Keys, sessionId: string, ms: number): Promise<void> {
  const key = keys.session(sessionId);
  const fields = ['last_ms', 'seen_ms', 'paused_ms', 'ended_ms'] as const;
  const values = await redis.hmget(key, ...fields);
  const moved: (string | number)[] = [];
  fields.forEach((f, i) => {
    const v = values[i];
    if (v !== null && v !== undefined) moved.push(f, Number(v) - ms);
  });
  if (moved.length > 0) await redis.hset(key, ...moved);
}

/**
 * Earns exactly `ms` (at most the credit cap, 2 heartbeat intervals) of billed time on `lecture`, as one REST
 * metrics update would after `ms` of playing, without waiting for it.
 */
export async function earnCredit(meter: Meter, redis: RedisClient, sessionId: string, lecture: number, ms: number,
  completionPct = 0): Promise<UpdateResult> {
  const live = await meter.readSession(sessionId);
  if (!live) throw new Error(`session ${sessionId} has no live state`);
  await backdateSession(redis, meter.keys, sessionId, ms);
  const result = await meter.applyUpdate(sessionId, { socketId: '', playing: true, claimedMs: live.billedMs + ms, lecture, completionPct });
  if (result.creditMs !== ms) throw new Error(`earned ${result.creditMs} ms, not ${ms}: is ms above the credit cap?`);
  return result;
}

/** A frozen session as the meter would produce it: `progressMs` must sum to `billedMs`. */
export function frozenSession(sessionId: string, over: Partial<Omit<FrozenSession, 'sessionId'>> = {}): FrozenSession {
  const billedMs = over.billedMs ?? 0;
  return {
    sessionId,
    endReason: 'completed',
    billedMs,
    completionPct: '0',
    currentLecture: billedMs > 0 ? 1 : null,
    progressMs: billedMs > 0 ? { '1': billedMs } : {},
    ...over,
  };
}

export interface SettledRow {
  status: string;
  end_reason: string | null;
  duration_ms: string;
  cost: string | null;
  refund: string | null;
  teacher_earning: string | null;
  platform_fee: string | null;
  completion_pct: string;
  current_lecture: number | null;
  content_progress: Record<string, { watched_seconds: number }>;
  ended_at: Date | null;
  /** Sub-minor units taken from and left in the (student, course) remainder; null when the session billed nothing. */
  sub_minor_carried_in: string | null;
  sub_minor_carried_out: string | null;
}

export async function readSessionRow(pool: Pool, sessionId: string): Promise<SettledRow | null> {
  const { rows } = await pool.query<SettledRow>(
    `SELECT status, end_reason, duration_ms, cost, refund, teacher_earning, platform_fee, completion_pct, current_lecture,
            content_progress, ended_at, sub_minor_carried_in, sub_minor_carried_out
     FROM sessions WHERE id = $1`, [sessionId]);
  return rows[0] ?? null;
}

/** The balances one settlement touches, in minor units. */
export async function readBalances(pool: Pool, studentId: string, teacherId: string): Promise<{
  walletMinor: number; teacherMinor: number; platformMinor: number;
}> {
  const { rows } = await pool.query<{ wallet: string; teacher: string; platform: string }>(
    `SELECT (SELECT balance FROM wallets WHERE student_id = $1) AS wallet,
            (SELECT total_earnings FROM teachers WHERE id = $2) AS teacher,
            (SELECT balance FROM platform_account) AS platform`, [studentId, teacherId]);
  const r = rows[0]!;
  return { walletMinor: numericToMinor(r.wallet), teacherMinor: numericToMinor(r.teacher), platformMinor: numericToMinor(r.platform) };
}

/** Polls until `check` returns a value that is not null/false, or fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | null | false | undefined>, timeoutMs = 5_000, what = 'condition'): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== null && value !== false && value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
