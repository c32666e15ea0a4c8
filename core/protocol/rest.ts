// REST request and response bodies (docs/rest-api.md). Types are inferred from these schemas, never written twice.
import { z } from 'zod';
import { idempotencyKeyLengthMax } from '../limits.js';
import { idempotencyKeyMalformed, idempotencyKeyPattern, idempotencyKeyTooLong } from './idempotency-key-rule.js';
import { completionPct, contentProgress, durationSeconds, endReason, lectureId, sessionStatus, uuid } from './common.js';

export const createSessionBody = z.strictObject({
  course_id: uuid,
  /**
   * Whose funds are locked. A student token may leave it out (it is the token's subject) or name only itself; admin
   * and service tokens must name the student (README "REST API").
   */
  student_id: uuid.optional(),
  // Refined to exact minor units at the edge (money.amountToMinor); here only its JSON type is checked.
  locked_amount: z.number().finite().positive(),
});
export type CreateSessionBody = z.infer<typeof createSessionBody>;

/**
 * An `Idempotency-Key` header value: 1–200 printable ASCII characters, none blank at either end. The gateway's HTTP
 * parser (this uWS build) drops blanks AND bytes ≥ 0x80 from both ends of a header value before any code sees it, so
 * `café` arrives as `caf`: only a client can refuse those, and the SDK does, with this same schema. The gateway refuses
 * everything it can see (non-ASCII inside the key, a key that was all such bytes, a key too long).
 */
export const idempotencyKey = z.string()
  .max(idempotencyKeyLengthMax, idempotencyKeyTooLong)
  .regex(idempotencyKeyPattern, idempotencyKeyMalformed);

export const metricsBody = z.strictObject({
  duration_seconds: durationSeconds,
  completion_pct: completionPct,
  current_lecture: lectureId,
});
export type MetricsBody = z.infer<typeof metricsBody>;

export const completeBody = z.strictObject({
  session_id: uuid.optional(),
  duration_seconds: durationSeconds.optional(),
});
export type CompleteBody = z.infer<typeof completeBody>;

export const createSessionResponse = z.object({
  session_id: uuid,
  status: z.literal('locked'),
  locked_amount: z.number(),
  price_per_minute: z.number(),
  max_billable_seconds: z.number(),
});
export type CreateSessionResponse = z.infer<typeof createSessionResponse>;

/** `POST /api/sessions/{id}/start`. */
export const startSessionResponse = z.object({
  session_id: uuid,
  status: z.literal('active'),
  /** When the session started (ISO 8601). */
  start_time: z.string(),
});
export type StartSessionResponse = z.infer<typeof startSessionResponse>;

export const metricsResponse = z.object({
  duration_seconds: z.number(),
  cost: z.number(),
  remaining: z.number(),
  completion_pct: z.number(),
  current_lecture: z.number().nullable(),
});
export type MetricsResponse = z.infer<typeof metricsResponse>;

export const completeResponse = z.object({
  session_id: uuid,
  status: z.literal('completed'),
  end_reason: endReason,
  duration_seconds: z.number(),
  cost: z.number(),
  refund: z.number(),
  teacher_earning: z.number(),
});
export type CompleteResponse = z.infer<typeof completeResponse>;

export const statusResponse = z.object({
  session_id: uuid,
  status: sessionStatus,
  end_reason: endReason.nullable(),
  duration_seconds: z.number(),
  cost: z.number(),
  remaining: z.number(),
  locked_amount: z.number(),
  completion_pct: z.number(),
  current_lecture: z.number().nullable(),
  content_progress: contentProgress,
});
export type StatusResponse = z.infer<typeof statusResponse>;

/**
 * One lecture of a course's `content_structure` (docs/rest-api.md "Endpoints", courses). Timestamps are seconds into
 * the course's video; `duration_minutes` may be fractional (the demo course's lectures last 0.5 min). Unknown keys
 * pass.
 */
// The database holds `content_structure` as JSONB without a schema of its own, so everything but the id is optional
// here: a catalogue entry with only ids (or only durations) still parses, and the player's lecture map
// (player/sdk/lecture-map.ts) lays such lectures end to end.
export const courseLecture = z.looseObject({
  id: lectureId,
  title: z.string().optional(),
  duration_minutes: z.number().finite().min(0).optional(),
  video_timestamp_start: z.number().finite().min(0).optional(),
  video_timestamp_end: z.number().finite().min(0).optional(),
});
export type CourseLecture = z.infer<typeof courseLecture>;

/** A course's `content_structure`: its lectures, and `video_url` (a path on the gateway) when it has a video to play. */
export const courseContentStructure = z.looseObject({
  lectures: z.array(courseLecture),
  video_url: z.string().min(1).optional(),
});
export type CourseContentStructure = z.infer<typeof courseContentStructure>;

export const course = z.looseObject({
  id: uuid,
  title: z.string(),
  description: z.string(),
  teacher_id: uuid,
  price_per_minute: z.number(),
  content_structure: courseContentStructure,
});
export type Course = z.infer<typeof course>;

/** `GET /api/courses`. */
export const coursesResponse = z.object({ courses: z.array(course) });
export type CoursesResponse = z.infer<typeof coursesResponse>;

/** `GET /api/wallet`: the spendable balance and the sum of open holds. */
export const walletResponse = z.object({ student_id: uuid, wallet_balance: z.number(), locked_balance: z.number() });
export type WalletResponse = z.infer<typeof walletResponse>;

/** `GET /api/teachers/{id}/earnings`. */
export const earningsResponse = z.object({ teacher_id: uuid, total_earnings: z.number() });
export type EarningsResponse = z.infer<typeof earningsResponse>;

/** `GET /healthz`: the process is up. */
export const healthResponse = z.object({ status: z.literal('ok') });
export type HealthResponse = z.infer<typeof healthResponse>;

/**
 * `GET /readyz`: 200 `ready` or 503 `not_ready`. Under production rules the status alone; otherwise also which
 * backing service answered and whether the gateway is draining (README "REST API").
 */
export const readinessResponse = z.object({
  status: z.enum(['ready', 'not_ready']),
  redis: z.boolean().optional(),
  postgres: z.boolean().optional(),
  draining: z.boolean().optional(),
});
export type ReadinessResponse = z.infer<typeof readinessResponse>;

// DEMO_MODE only: the development sign-in of the demo page (gateway/http/handlers/dev-*.ts).

/** `GET /api/dev/students`: seeded students to sign in as, the first by name. */
export const devStudentsResponse = z.object({
  students: z.array(z.object({ id: uuid, name: z.string(), wallet_balance: z.number() })),
});
export type DevStudentsResponse = z.infer<typeof devStudentsResponse>;

/** `POST /api/dev/token`. */
export const devTokenBody = z.strictObject({ student_id: uuid });
export type DevTokenBody = z.infer<typeof devTokenBody>;

/** A student token (HS256, as `npm run token` mints) and when it expires (ISO 8601). */
export const devTokenResponse = z.object({ token: z.string().min(1), expires_at: z.string() });
export type DevTokenResponse = z.infer<typeof devTokenResponse>;
