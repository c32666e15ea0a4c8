// Settled sessions written straight into a schema, books balanced the way the product keeps them (a `lock` and a
// `settle` ledger transaction per session, hold released, wallet and teacher totals moved): what a run of the driver
// leaves behind, in seconds instead of hours, so the money check can be tested, and timed at 100,000 sessions.
import type { Pool } from '../../core/pg/pool.js';
import type { SettledRow } from './child-protocol.js';
import { fundStudents } from './fund-students.js';

/** Sessions written per statement. */
const sessionsPerStatement = 20_000;

const insertSql = `
  WITH course AS (
    SELECT id, teacher_id, price_per_minute, row_number() OVER (ORDER BY id) - 1 AS k, count(*) OVER () AS n FROM courses
  ), input AS (
    SELECT gen_random_uuid() AS id, ($1::uuid[])[1 + g % array_length($1::uuid[], 1)] AS student_id,
           c.id AS course_id, c.teacher_id, c.price_per_minute, (1000 + (g * 7919) % 120000)::bigint AS duration_ms,
           $4::numeric AS locked
      FROM generate_series($2::int, $3::int - 1) g JOIN course c ON c.k = g % c.n
  ), priced AS (
    SELECT *, least(floor(duration_ms * price_per_minute * 100 / 60000), locked * 100) / 100 AS cost FROM input
  ), s AS (
    INSERT INTO sessions (id, student_id, course_id, teacher_id, status, locked_amount, price_per_minute, max_billable_ms,
                          start_time, end_time, duration_ms, cost, refund, teacher_earning, platform_fee, content_progress,
                          end_reason, ended_at)
    SELECT id, student_id, course_id, teacher_id, 'completed', locked, price_per_minute, floor(locked * 60000 / price_per_minute),
           now(), now(), duration_ms, cost, locked - cost, cost, 0,
           jsonb_build_object('1', jsonb_build_object('watched_seconds', duration_ms / 1000.0)), 'completed', now()
      FROM priced RETURNING id
  ), h AS (
    INSERT INTO holds (session_id, student_id, amount, released_at) SELECT p.id, p.student_id, p.locked, now()
      FROM priced p JOIN s ON s.id = p.id RETURNING session_id
  ), t AS (
    INSERT INTO ledger_transactions (kind, session_id) SELECT k, h.session_id FROM h, unnest(ARRAY['lock', 'settle']) k
    RETURNING id, kind, session_id
  )
  INSERT INTO ledger_entries (transaction_id, account_type, account_id, amount)
  SELECT t.id, e.account_type, e.account_id, e.amount
    FROM t JOIN priced p ON p.id = t.session_id
   CROSS JOIN LATERAL (VALUES
     ('lock', 'wallet', p.student_id, -p.locked), ('lock', 'hold', p.id, p.locked),
     ('settle', 'hold', p.id, -p.locked), ('settle', 'wallet', p.student_id, p.locked - p.cost),
     ('settle', 'teacher', p.teacher_id, p.cost)) AS e(kind, account_type, account_id, amount)
   WHERE e.kind = t.kind AND e.amount <> 0`;

const applyTotalsSql = `
  WITH spent AS (SELECT student_id, sum(cost) AS total FROM sessions WHERE student_id = ANY($1) GROUP BY student_id),
  w AS (UPDATE wallets w SET balance = w.balance - spent.total FROM spent WHERE w.student_id = spent.student_id RETURNING 1),
  earned AS (SELECT teacher_id, sum(cost) AS total FROM sessions WHERE student_id = ANY($1) GROUP BY teacher_id)
  UPDATE teachers te SET total_earnings = te.total_earnings + earned.total FROM earned WHERE te.id = earned.teacher_id`;

export interface SettledFixture {
  studentIds: string[];
  fundMinor: number;
  /** What each viewer would have been told: the books' own figures. */
  settled: SettledRow[];
}

/** `sessions` settled sessions over `students` fresh students, each funded with enough for all of its sessions. */
export async function createSettledSessions(pool: Pool, runId: string, students: number, sessions: number): Promise<SettledFixture> {
  const lockedMinor = 500;
  const fundMinor = Math.ceil(sessions / students) * lockedMinor;
  const studentIds = await fundStudents(pool, runId, students, fundMinor);
  for (let from = 0; from < sessions; from += sessionsPerStatement) {
    await pool.query(insertSql, [studentIds, from, Math.min(sessions, from + sessionsPerStatement), (lockedMinor / 100).toFixed(2)]);
  }
  await pool.query(applyTotalsSql, [studentIds]);
  const { rows } = await pool.query<{ id: string; duration_ms: string; cost_minor: string; end_reason: SettledRow[3] }>(
    `SELECT id, duration_ms, (cost * 100)::bigint AS cost_minor, end_reason FROM sessions WHERE student_id = ANY($1)`, [studentIds]);
  return { studentIds, fundMinor, settled: rows.map((r) => [r.id, Number(r.duration_ms), Number(r.cost_minor), r.end_reason]) };
}
