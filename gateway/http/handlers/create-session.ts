// POST /api/sessions/create: lock funds (wallet → hold) for a new `locked` session.
import { ApiError } from '../../../core/errors.js';
import { amountLiteralToMinor, amountToMinor, minorToAmount, msToSeconds } from '../../../core/money.js';
import { createSessionBody, idempotencyKey, type CreateSessionBody, type CreateSessionResponse } from '../../../core/protocol/rest.js';
import { isPrivileged, type Caller } from '../../auth/verify-token.js';
import { lockFunds, restCreateLimits } from '../../store/sessions.js';
import { numberLiteralOf } from '../read-json-body.js';
import { createOneCreatePerStudent } from '../one-create-per-student.js';
import type { GatewayDeps } from '../../deps.js';
import type { HttpHandler } from '../route.js';
import { authenticate, parseBody } from '../validate.js';

/**
 * The student whose funds are locked (README "REST API"). A student token may leave `student_id` out: it is the token's
 * subject; when given, it must be that subject. Admin and service tokens act for many students, so they must name one;
 * so must a teacher, who has no wallet to lock from.
 */
function fundsOwner(caller: Caller, body: CreateSessionBody): string {
  if (body.student_id === undefined) {
    if (caller.role !== 'student') {
      throw new ApiError('invalid_body', `student_id is required for a ${caller.role} token: name the student whose funds are locked`);
    }
    return caller.userId;
  }
  const studentId = body.student_id.toLowerCase();
  if (caller.userId !== studentId && !isPrivileged(caller)) throw new ApiError('forbidden', 'a student may lock only their own funds');
  return studentId;
}

export const createSession = (deps: GatewayDeps): HttpHandler => {
  const oneAtATime = createOneCreatePerStudent();
  return async (ctx) => {
    // Under a storm most creates are refused: before the token check, so a refusal costs next to nothing.
    deps.joinAdmission.refuseEarly();
    const caller = await authenticate(deps, ctx);
    const body = parseBody(createSessionBody, ctx.json());
    const lockedMinor = amountToMinor(body.locked_amount);
    // The float must also be what the client wrote: 0.99999999999999999 parses to 1 but is not 1.00 (docs/money.md
    // "Parsing").
    const literal = numberLiteralOf(ctx.text(), 'locked_amount');
    if (lockedMinor === null || lockedMinor === 0 || literal === null || amountLiteralToMinor(literal) !== lockedMinor) {
      throw new ApiError('invalid_amount');
    }
    const studentId = fundsOwner(caller, body);
    const key = ctx.idempotencyKey;
    // A key uWS trimmed to nothing (it was all non-ASCII bytes) is not "no key": taken as none, a retried create would
    // lock the funds twice. See protocol/rest.ts for the bytes no server code can see.
    if (ctx.idempotencyKeySent || key !== '') {
      const checked = idempotencyKey.safeParse(key);
      if (!checked.success) throw new ApiError('invalid_body', checked.error.issues[0]?.message ?? 'invalid Idempotency-Key');
    }
    // The student's line first, then the gateway's admission: one student's burst waits in its own line and holds at
    // most one of the gateway's join slots, so it cannot take the others' (README "Joins under overload").
    const created = await oneAtATime(studentId, () => deps.joinAdmission.admit(() => lockFunds(deps.pool, {
      studentId, courseId: body.course_id.toLowerCase(), lockedMinor, idempotencyKey: key || null,
    }, restCreateLimits)));
    deps.log.info({ sessionId: created.sessionId, replayed: created.replayed }, 'session created');
    const answer: CreateSessionResponse = {
      session_id: created.sessionId,
      status: 'locked',
      locked_amount: minorToAmount(created.lockedMinor),
      price_per_minute: minorToAmount(created.priceMinor),
      max_billable_seconds: msToSeconds(created.maxBillableMs),
    };
    return { status: 201, body: answer };
  };
};
