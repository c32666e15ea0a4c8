// The one error table: code → HTTP status and default message. REST answers
// {"error":{"code","message"}}; WS sends {"type":"error","code","message"}. docs/rest-api.md "Errors" lists every
// code (core/errors.test.ts holds it to this table).

export const errorTable = {
  invalid_json: { status: 400, message: 'the body is not valid JSON' },
  invalid_body: { status: 400, message: 'the body does not match the schema' },
  invalid_query: { status: 400, message: 'a query parameter is missing or malformed' },
  invalid_amount: { status: 400, message: 'the amount is not a positive number with at most 2 decimals within limits' },
  invalid_message: { status: 400, message: 'the frame does not match the protocol' },
  stale_seq: { status: 400, message: 'seq must increase on a socket' },
  unknown_lecture: { status: 400, message: 'current_lecture is not a lecture of this course' },
  unauthorized: { status: 401, message: 'missing, invalid or expired token' },
  refresh_invalid_token: { status: 401, message: 'the refresh token is missing, invalid or expired; the socket keeps its old expiry' },
  insufficient_funds: { status: 402, message: 'the wallet balance is lower than the amount to lock' },
  forbidden: { status: 403, message: 'this token may not act on that resource' },
  refresh_wrong_subject: { status: 403, message: 'the refresh token may not act on this session; the socket keeps its old expiry' },
  origin_not_allowed: { status: 403, message: 'the Origin is not in ALLOWED_ORIGINS' },
  not_found: { status: 404, message: 'no such route' },
  session_not_found: { status: 404, message: 'no such session' },
  course_not_found: { status: 404, message: 'no such course' },
  teacher_not_found: { status: 404, message: 'no such teacher' },
  wallet_not_found: { status: 404, message: 'no wallet for this user' },
  student_not_found: { status: 404, message: 'no such student' },
  method_not_allowed: { status: 405, message: 'method not allowed on this route' },
  wrong_state: { status: 409, message: 'the session is not in a state that allows this' },
  idempotency_key_reused: { status: 409, message: 'this Idempotency-Key was used with a different body' },
  too_many_open_holds: { status: 409, message: 'too many sessions created and not started; start or complete one first' },
  payload_too_large: { status: 413, message: 'the body is larger than MAX_PAYLOAD_BYTES' },
  unsupported_media_type: { status: 415, message: 'send the body as application/json' },
  rate_limited: { status: 429, message: 'too many updates for this session; slow down' },
  too_many_sockets: { status: 429, message: 'too many sockets from this address' },
  too_many_requests: { status: 429, message: 'too many requests from this user; retry after Retry-After seconds' },
  internal: { status: 500, message: 'internal error' },
  unavailable: { status: 503, message: 'a backing service is unavailable; retry shortly' },
  overloaded: { status: 503, message: 'this gateway is taking as many joins as it can; retry after Retry-After seconds' },
  settlement_pending: { status: 503, message: 'the settlement is queued but not committed yet; repeat the request' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof errorTable;

/** An expected, client-visible failure. Anything else reaching the edge is a bug (500). */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message?: string,
    readonly details?: unknown,
  ) {
    super(message ?? errorTable[code].message);
    this.status = errorTable[code].status;
  }

  toBody(): { error: { code: ErrorCode; message: string; details?: unknown } } {
    return { error: { code: this.code, message: this.message, ...(this.details === undefined ? {} : { details: this.details }) } };
  }
}

/**
 * A refusal the client may repeat after a known wait: answered with `Retry-After` (whole seconds, at least 1) and the
 * same number in `details.retry_after_seconds`, which a browser page on another origin can read (CORS hides headers).
 */
export class RetryLaterError extends ApiError {
  readonly retryAfterSeconds: number;
  constructor(code: ErrorCode, waitMs: number, message?: string) {
    const seconds = Math.max(1, Math.ceil(waitMs / 1000));
    super(code, message, { retry_after_seconds: seconds });
    this.retryAfterSeconds = seconds;
  }
}

/** A broken invariant: a programmer error. Never caught to carry on (TigerBeetle: crash loudly). */
export class InvariantError extends Error {
  override readonly name = 'InvariantError';
}

export function invariant(condition: unknown, message: string): asserts condition {
  if (!condition) throw new InvariantError(message);
}
