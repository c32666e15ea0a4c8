// The fixture step: fresh students for one run, each with a wallet funded the way sql/seed.sql funds the demo
// student (a `deposit` ledger transaction: wallet +amount, external −amount). Viewers are spread over them because
// creates queue on the student's wallet row (~200 creates/s per student measured). Batched with unnest, one
// statement (and so one transaction) per batch.
import { randomUUID } from 'node:crypto';
import type { Pool } from '../../core/pg/pool.js';
import { minorToNumeric } from '../../core/money.js';

/** Students written per statement. */
export const studentsPerBatchMax = 1_000;

const fundSql = `
  WITH input AS (
    SELECT id, name, nextval(pg_get_serial_sequence('ledger_transactions', 'id')) AS txn_id
      FROM unnest($1::uuid[], $2::text[]) AS t(id, name)
  ), student AS (
    INSERT INTO students (id, name) SELECT id, name FROM input RETURNING id
  ), wallet AS (
    INSERT INTO wallets (student_id, balance) SELECT id, $3::numeric FROM student RETURNING student_id
  ), txn AS (
    INSERT INTO ledger_transactions (id, kind) SELECT txn_id, 'deposit' FROM input RETURNING id
  )
  INSERT INTO ledger_entries (transaction_id, account_type, account_id, amount)
  SELECT i.txn_id, 'wallet', w.student_id, $3::numeric FROM input i JOIN wallet w ON w.student_id = i.id
  UNION ALL
  SELECT i.txn_id, 'external', NULL, -$3::numeric FROM input i JOIN txn t ON t.id = i.txn_id`;

/** Creates `count` students named after the run, each funded with `fundMinor`; their ids, in order. */
export async function fundStudents(pool: Pool, runId: string, count: number, fundMinor: number): Promise<string[]> {
  const ids = Array.from({ length: count }, () => randomUUID());
  for (let i = 0; i < count; i += studentsPerBatchMax) {
    const batch = ids.slice(i, i + studentsPerBatchMax);
    const names = batch.map((_, j) => `loadtest ${runId} #${i + j}`);
    const { rowCount } = await pool.query(fundSql, [batch, names, minorToNumeric(fundMinor)]);
    if (rowCount !== 2 * batch.length) throw new Error(`funding students: wrote ${rowCount} ledger entries for ${batch.length} students`);
  }
  return ids;
}
