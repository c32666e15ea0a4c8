// Many funded students (and teachers with a course each) at once, for tests and benchmarks that need more than the
// seed's three: each wallet is funded by its own 'deposit' ledger transaction from the external account, as
// sql/seed.sql does, so the books explain every balance. Set-based: 100,000 students take a few statements.
import { randomUUID } from 'node:crypto';
import type { Pool } from '../../core/pg/pool.js';
import { minorToNumeric } from '../../core/money.js';

/** Creates `count` students, each with `balanceMinor` in a wallet funded by a balanced deposit. Returns their ids. */
export async function fundStudents(pool: Pool, count: number, balanceMinor: number): Promise<string[]> {
  const ids = Array.from({ length: count }, () => randomUUID());
  const amount = minorToNumeric(balanceMinor);
  await pool.query(
    `WITH s AS (INSERT INTO students (id, name) SELECT id, 'Student ' || n FROM unnest($1::uuid[]) WITH ORDINALITY AS v(id, n) RETURNING id),
          w AS (INSERT INTO wallets (student_id, balance) SELECT id, $2::numeric FROM s RETURNING student_id),
          t AS (INSERT INTO ledger_transactions (kind) SELECT 'deposit' FROM w RETURNING id),
          paired AS (SELECT w.student_id, t.id AS txn_id
                       FROM (SELECT student_id, row_number() OVER () AS n FROM w) w
                       JOIN (SELECT id, row_number() OVER () AS n FROM t) t USING (n))
     INSERT INTO ledger_entries (transaction_id, account_type, account_id, amount)
     SELECT txn_id, 'wallet', student_id, $2::numeric FROM paired
     UNION ALL SELECT txn_id, 'external', NULL, -$2::numeric FROM paired`, [ids, amount]);
  return ids;
}

/** A new teacher with one course at `priceMinor` per minute and lectures 1..3. Returns both ids. */
export async function addTeacherWithCourse(pool: Pool, priceMinor: number): Promise<{ teacherId: string; courseId: string }> {
  const teacherId = randomUUID();
  const courseId = randomUUID();
  await pool.query(`INSERT INTO teachers (id, name) VALUES ($1, 'Extra Teacher')`, [teacherId]);
  await pool.query(
    `INSERT INTO courses (id, teacher_id, title, price_per_minute, content_structure)
     VALUES ($1, $2, 'Extra course', $3, '{"lectures": [{"id": 1}, {"id": 2}, {"id": 3}]}'::jsonb)`,
    [courseId, teacherId, minorToNumeric(priceMinor)]);
  return { teacherId, courseId };
}
