// The sub-minor remainder each (student, course) carries from one settled session to the next (README "Money and
// metering rules": splitting a viewing never costs less than watching it in one session). Both settlement paths,
// one by one and batched, lock and write it through these two functions, inside their settlement transaction.
//
// Lock order, shared by every settlement path: session rows (by id), then remainder rows (by student, course), then
// wallets, teachers and the platform row. Remainder rows are locked by an upsert, so a first session of a pair
// creates its row under the same lock instead of racing another transaction's insert.
import type { PoolClient } from '../core/pg/pool.js';
import { invariant } from '../core/errors.js';

export interface RemainderPair {
  studentId: string;
  courseId: string;
}

/** Map key of one (student, course) pair. */
export const pairKey = (p: RemainderPair): string => `${p.studentId}|${p.courseId}`;

/** Locks the remainder row of every pair (created at 0 if new), in key order; returns sub-minor units owed per pair. */
export async function lockRemainders(tx: PoolClient, pairs: readonly RemainderPair[]): Promise<Map<string, number>> {
  const unique = new Map(pairs.map((p) => [pairKey(p), p]));
  if (unique.size === 0) return new Map();
  const sorted = [...unique.values()].sort((a, b) => (pairKey(a) < pairKey(b) ? -1 : pairKey(a) > pairKey(b) ? 1 : 0));
  // DO UPDATE (not DO NOTHING) so an existing row is locked and returned by the same statement.
  const { rows } = await tx.query<{ student_id: string; course_id: string; sub_minor_owed: string }>(
    `INSERT INTO billing_remainders (student_id, course_id)
     SELECT v.student_id, v.course_id FROM unnest($1::uuid[], $2::uuid[]) WITH ORDINALITY AS v(student_id, course_id, n)
      ORDER BY v.n
     ON CONFLICT (student_id, course_id) DO UPDATE SET sub_minor_owed = billing_remainders.sub_minor_owed
     RETURNING student_id, course_id, sub_minor_owed`,
    [sorted.map((p) => p.studentId), sorted.map((p) => p.courseId)]);
  invariant(rows.length === sorted.length, `locking ${sorted.length} billing remainders returned ${rows.length}`);
  return new Map(rows.map((r) => [pairKey({ studentId: r.student_id, courseId: r.course_id }), Number(r.sub_minor_owed)]));
}

/** Writes each pair's remainder as the last settlement of the transaction left it. */
export async function saveRemainders(tx: PoolClient, owed: ReadonlyMap<string, { pair: RemainderPair; subMinor: number }>):
  Promise<void> {
  if (owed.size === 0) return;
  const values = [...owed.values()];
  const { rowCount } = await tx.query(
    `UPDATE billing_remainders r SET sub_minor_owed = v.owed, updated_at = now()
       FROM unnest($1::uuid[], $2::uuid[], $3::bigint[]) AS v(student_id, course_id, owed)
      WHERE r.student_id = v.student_id AND r.course_id = v.course_id`,
    [values.map((v) => v.pair.studentId), values.map((v) => v.pair.courseId), values.map((v) => v.subMinor)]);
  invariant(rowCount === values.length, `saving ${values.length} billing remainders updated ${rowCount}`);
}
