// Postgres side of sessions: lock funds on create, mark started, read rows and settled figures.
// Every statement is parameterized.
import { createHash } from 'node:crypto';
import { randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from '../../core/pg/pool.js';
import { withTransaction } from '../../core/pg/pool.js';
import { ApiError, invariant, RetryLaterError } from '../../core/errors.js';
import { openHoldsPerStudentMax, walletLockWaitMsMax } from '../../core/limits.js';
import { maxBillableMs, minorToNumeric, numericToMinor } from '../../core/money.js';
import type { EndReason } from '../../core/protocol/common.js';
import { lectureIdsOf, type CourseRow } from './courses.js';
import type { StartInput } from '../../core/redis/meter.js';
import { startInputOf, type StartFields } from '../../core/live-session.js';

export interface SessionRow {
  id: string;
  student_id: string;
  course_id: string;
  teacher_id: string;
  status: 'locked' | 'active' | 'completed';
  locked_amount: string;
  price_per_minute: string;
  max_billable_ms: string;
  start_time: Date | null;
  duration_ms: string;
  cost: string | null;
  refund: string | null;
  teacher_earning: string | null;
  completion_pct: string;
  current_lecture: number | null;
  content_progress: Record<string, { watched_seconds: number }>;
  end_reason: EndReason | null;
  idempotency_key: string | null;
  request_hash: string | null;
}

export interface CreatedSession {
  sessionId: string;
  lockedMinor: number;
  priceMinor: number;
  maxBillableMs: number;
  /** true when an Idempotency-Key matched an earlier create: nothing was locked this time. */
  replayed: boolean;
}

/**
 * Names of the statements every join runs, prepared once per connection: Postgres parses and plans them once, not at
 * each create, start and upgrade (README "Scaling one machine"). A name stands for one text only.
 */
const preparedNames = Object.freeze({ lockFunds: 'gateway-lock-funds', markStarted: 'gateway-mark-started', findSession: 'gateway-find-session' });

const pgUniqueViolation = '23505';
/** lock_timeout ran out. */
const pgLockNotAvailable = '55P03';

function requestHash(courseId: string, lockedMinor: number): string {
  return createHash('sha256').update(`${courseId}|${lockedMinor}`).digest('hex');
}

async function findByIdempotencyKey(db: Pool | PoolClient, studentId: string, key: string, hash: string): Promise<CreatedSession | null> {
  const { rows } = await db.query<SessionRow>(
    'SELECT * FROM sessions WHERE student_id = $1 AND idempotency_key = $2', [studentId, key]);
  const row = rows[0];
  if (!row) return null;
  if (row.request_hash !== hash) throw new ApiError('idempotency_key_reused');
  return {
    sessionId: row.id, lockedMinor: numericToMinor(row.locked_amount), priceMinor: numericToMinor(row.price_per_minute),
    maxBillableMs: Number(row.max_billable_ms), replayed: true,
  };
}

/** Bounds a create holds to (README "Rate limits"). */
export interface CreateLimits {
  /** Sessions created and not started the student may have; one more is refused too_many_open_holds. */
  openHoldsMax: number;
  /** Longest wait for the wallet row lock with a connection, in ms (0: no bound), then 429 too_many_requests. */
  walletLockWaitMs: number;
}

/** What `POST /api/sessions/create` enforces. */
export const restCreateLimits: CreateLimits = Object.freeze({ openHoldsMax: openHoldsPerStudentMax, walletLockWaitMs: walletLockWaitMsMax });

/** What lock_funds (sql/migrations/0007_lock_funds.sql) answers: a refusal changed nothing. */
type LockFundsOutcome = 'created' | 'replayed' | 'course_not_found' | 'wallet_not_found' | 'insufficient_funds'
  | 'too_many_open_holds' | 'idempotency_key_reused';

/**
 * Moves `lockedMinor` from the student's wallet into a hold for a new `locked` session, in one transaction: one call
 * of lock_funds, which runs the create's statements inside Postgres under the wallet row lock (one round trip, not
 * about twelve). An earlier create with the same Idempotency-Key and request is answered again (`replayed`).
 */
export async function lockFunds(pool: Pool, input: {
  studentId: string; courseId: string; lockedMinor: number; idempotencyKey: string | null;
}, limits: CreateLimits): Promise<CreatedSession> {
  const hash = requestHash(input.courseId, input.lockedMinor);
  try {
    const { rows } = await pool.query<{ outcome: LockFundsOutcome; session_id: string | null; locked_amount: string | null;
      price_per_minute: string | null; max_billable_ms: string | null }>({
      name: preparedNames.lockFunds,
      text: 'SELECT * FROM lock_funds($1, $2, $3, $4, $5, $6, $7, $8)',
      values: [randomUUID(), input.studentId, input.courseId, minorToNumeric(input.lockedMinor), input.idempotencyKey, hash,
        Number.isFinite(limits.openHoldsMax) ? limits.openHoldsMax : null,
        // A gateway runs one student's creates one at a time (http/one-create-per-student.ts); another gateway's, or a
        // settlement, may still hold the row: wait for it a bounded time, never with a connection for as long as it takes.
        limits.walletLockWaitMs > 0 ? `${Math.floor(limits.walletLockWaitMs)}ms` : null],
    });
    const r = rows[0];
    invariant(r !== undefined, 'lock_funds answered no row');
    if (r.outcome !== 'created' && r.outcome !== 'replayed') throw new ApiError(r.outcome);
    const created: CreatedSession = {
      sessionId: r.session_id!, lockedMinor: numericToMinor(r.locked_amount!), priceMinor: numericToMinor(r.price_per_minute!),
      maxBillableMs: Number(r.max_billable_ms), replayed: r.outcome === 'replayed',
    };
    // Postgres did the division; the one money module says what it must be.
    invariant(created.replayed || created.maxBillableMs === maxBillableMs(created.lockedMinor, created.priceMinor),
      `lock_funds: max_billable_ms ${created.maxBillableMs} for ${created.lockedMinor} at ${created.priceMinor}/min`);
    return created;
  } catch (err) {
    const code = (err as { code?: string }).code;
    // Two concurrent creates with one Idempotency-Key: the loser returns the winner's session.
    if (code === pgUniqueViolation && input.idempotencyKey) {
      const winner = await findByIdempotencyKey(pool, input.studentId, input.idempotencyKey, hash);
      if (winner) return winner;
    }
    if (code === pgLockNotAvailable) throw new RetryLaterError('too_many_requests', limits.walletLockWaitMs, 'the wallet is busy with other requests; retry');
    throw err;
  }
}

export async function findSession(pool: Pool, id: string): Promise<SessionRow | null> {
  const { rows } = await pool.query<SessionRow>({ name: preparedNames.findSession, text: 'SELECT * FROM sessions WHERE id = $1', values: [id] });
  return rows[0] ?? null;
}

/**
 * locked → active, with the Redis half of the start (`startLive`) run inside the same transaction, under the session
 * row's lock: the lock a settlement and a rebuild from the checkpoint take (README "Concurrent calls on one session").
 * So no other request sees the row `active` before its live state exists (a rebuild would take that for a Redis
 * loss), and a settlement waits until both halves are there or neither is. If `startLive` throws, the transaction
 * rolls back and the row was never anything but `locked`: there is no undo step that could overwrite a state another
 * request made meanwhile.
 *
 * `actingStudentId`: the row changes only if it is this student's (null: an admin or service caller, any student's),
 * so who may start it is decided by the same statement that starts it, and a start needs no read of the row first
 * (every join runs this). Returns null, having changed nothing, when the row is not a `locked` session the caller
 * may start: the caller reads the row to say why (not found, someone else's, not locked).
 */
export async function markStarted(pool: Pool, id: string, actingStudentId: string | null, startLive: (live: StartInput) => Promise<void>):
  Promise<{ startTime: Date } | null> {
  return withTransaction(pool, async (tx) => {
    const { rows } = await tx.query<StartFields & { start_time: Date; content_structure: CourseRow['content_structure'] }>({
      name: preparedNames.markStarted,
      text: `UPDATE sessions s SET status = 'active', start_time = now() FROM courses c
        WHERE s.id = $1 AND s.status = 'locked' AND ($2::uuid IS NULL OR s.student_id = $2) AND c.id = s.course_id
       RETURNING s.start_time, s.student_id, s.course_id, s.teacher_id, s.locked_amount, s.price_per_minute,
                 s.max_billable_ms, c.content_structure`,
      values: [id, actingStudentId],
    });
    const row = rows[0];
    if (!row) return null;
    await startLive(startInputOf(row, lectureIdsOf(row.content_structure)));
    return { startTime: row.start_time };
  });
}

export interface WalletView { wallet_balance: number; locked_balance: number }

export async function readWalletMinor(pool: Pool, studentId: string): Promise<{ balanceMinor: number; lockedMinor: number } | null> {
  const { rows } = await pool.query<{ balance: string; locked: string }>(
    `SELECT w.balance::text AS balance,
            (SELECT coalesce(sum(amount), 0)::numeric(14,2)::text FROM holds WHERE student_id = $1 AND released_at IS NULL) AS locked
     FROM wallets w WHERE w.student_id = $1`, [studentId]);
  const row = rows[0];
  if (!row) return null;
  return { balanceMinor: numericToMinor(row.balance), lockedMinor: numericToMinor(row.locked) };
}

export async function readEarningsMinor(pool: Pool, teacherId: string): Promise<number | null> {
  const { rows } = await pool.query<{ total_earnings: string }>('SELECT total_earnings FROM teachers WHERE id = $1', [teacherId]);
  return rows[0] ? numericToMinor(rows[0].total_earnings) : null;
}
