// Live sessions for the benchmark, made fast: rows inserted straight into a private benchmark schema (no holds, no
// ledger: the rows the metering path reads and the checkpoint writes) and live state started in Redis with the
// meter's own script, thousands at a time. Never used outside the benchmark's throwaway schemas.
import { randomUUID } from 'node:crypto';
import type { Pool } from '../core/pg/pool.js';
import type { Meter } from '../core/redis/meter.js';

export const benchStudentId = '00000000-0000-0000-0000-000000000001';
const COURSE = '10000000-0000-0000-0000-000000000001';
const TEACHER = '00000000-0000-0000-0000-000000000002';

/** N active sessions of the seeded student on course 1 (0.50/min, 100.00 locked); their ids. */
export async function createLiveSessions(pool: Pool, meter: Meter, n: number): Promise<string[]> {
  const ids = Array.from({ length: n }, () => randomUUID());
  for (let i = 0; i < n; i += 5_000) {
    const slice = ids.slice(i, i + 5_000);
    await pool.query(
      `INSERT INTO sessions (id, student_id, course_id, teacher_id, status, locked_amount, price_per_minute, max_billable_ms, start_time)
       SELECT id, $2, $3, $4, 'active', 100, 0.50, 12000000, now() FROM unnest($1::uuid[]) AS t(id)`, [slice, benchStudentId, COURSE, TEACHER]);
    await Promise.all(slice.map((id) => meter.startSession(id, {
      studentId: benchStudentId, courseId: COURSE, teacherId: TEACHER, lockedMinor: 10_000, priceMinor: 50, maxBillableMs: 12_000_000, lectureIds: [1, 2, 3],
    })));
  }
  return ids;
}
