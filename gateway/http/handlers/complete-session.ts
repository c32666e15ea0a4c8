// POST /api/sessions/{id}/complete: end and settle; answers with the final figures once committed in Postgres.
// A repeat answers the same figures and moves no money.
import { ApiError } from '../../../core/errors.js';
import { completeBody } from '../../../core/protocol/rest.js';
import { assertMayActOn } from '../../auth/authorize-session.js';
import { findSession } from '../../store/sessions.js';
import { settleAndWait } from '../../metering/settle-and-wait.js';
import type { GatewayDeps } from '../../deps.js';
import type { HttpHandler } from '../route.js';
import { authenticate, parseBody, sessionIdParam } from '../validate.js';

export const completeSession = (deps: GatewayDeps): HttpHandler => async (ctx) => {
  const caller = await authenticate(deps, ctx);
  const id = sessionIdParam(ctx);
  const body = parseBody(completeBody, ctx.json() ?? {});
  if (body.session_id !== undefined && body.session_id.toLowerCase() !== id) {
    throw new ApiError('invalid_body', 'session_id in the body differs from the one in the path');
  }
  const row = await findSession(deps.pool, id);
  if (!row) throw new ApiError('session_not_found');
  assertMayActOn(caller, row.student_id);
  const claimedMs = body.duration_seconds === undefined ? null : Math.round(body.duration_seconds * 1000);
  const figures = await settleAndWait(deps, row, 'completed', claimedMs);
  return { status: 200, body: figures };
};
