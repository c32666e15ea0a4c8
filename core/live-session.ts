// What Redis needs to meter a session, built from its Postgres row: used to start it, and to rebuild it from its
// checkpoint when Redis has lost it (by the gateway on the player's next call, by the worker for players gone).
import { invariant } from './errors.js';
import { numericToMinor } from './money.js';
import type { Checkpoint, StartInput } from './redis/meter.js';

/** The columns of the session's Postgres row its live state in Redis is built from (a SELECT * row has them). */
export interface SessionRowForMeter {
  id: string;
  student_id: string;
  course_id: string;
  teacher_id: string;
  locked_amount: string;
  price_per_minute: string;
  max_billable_ms: string;
  duration_ms: string;
  completion_pct: string;
  current_lecture: number | null;
  content_progress: Record<string, { watched_seconds: number }> | null;
}

/** The fields of a session row a start needs. */
export type StartFields = Pick<SessionRowForMeter, 'student_id' | 'course_id' | 'teacher_id' | 'locked_amount' | 'price_per_minute' | 'max_billable_ms'>;

export function startInputOf(row: StartFields, lectureIds: readonly number[]): StartInput {
  return {
    studentId: row.student_id,
    courseId: row.course_id,
    teacherId: row.teacher_id,
    lockedMinor: numericToMinor(row.locked_amount),
    priceMinor: numericToMinor(row.price_per_minute),
    maxBillableMs: Number(row.max_billable_ms),
    lectureIds,
  };
}

/** The checkpoint Postgres holds for a session (duration_ms + content_progress, written together). */
export function checkpointOf(row: SessionRowForMeter): Checkpoint {
  const progressMs: Record<string, number> = {};
  for (const [lecture, p] of Object.entries(row.content_progress ?? {})) progressMs[lecture] = Math.round(p.watched_seconds * 1000);
  const billedMs = Number(row.duration_ms);
  const sum = Object.values(progressMs).reduce((a, b) => a + b, 0);
  invariant(sum === billedMs || billedMs === 0, `checkpoint of ${row.id}: progress ${sum} ms != duration ${billedMs} ms`);
  return { billedMs, completionPct: String(Number(row.completion_pct)), currentLecture: row.current_lecture, progressMs };
}
