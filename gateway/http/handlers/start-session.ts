// POST /api/sessions/{id}/start: locked → active in Postgres, then the live metering state in Redis.
import { ApiError } from '../../../shared/errors.js';
import { assertMayActOn } from '../../auth/authorize-session.js';
import { findSession, liveStateOf, markStarted, unmarkStarted } from '../../store/sessions.js';
import type { GatewayDeps } from '../../deps.js';
import type { HttpHandler } from '../route.js';
import { authenticate, sessionIdParam } from '../validate.js';

export const startSession = (deps: GatewayDeps): HttpHandler => async (ctx) => {
  const caller = await authenticate(deps, ctx);
  const id = sessionIdParam(ctx);
  const row = await findSession(deps.pool, id);
  if (!row) throw new ApiError('session_not_found');
  assertMayActOn(caller, row.student_id);
  if (row.status !== 'locked') throw new ApiError('wrong_state', `the session is ${row.status}; only a locked session can start`);
  const started = await markStarted(deps.pool, id);
  if (!started) throw new ApiError('wrong_state', 'the session was started or settled meanwhile');
  try {
    await deps.meter.startSession(id, liveStateOf(row, started.course));
  } catch (err) {
    // Keep the two stores in step: a start that did not reach Redis did not happen.
    await unmarkStarted(deps.pool, id).catch(() => undefined);
    throw err;
  }
  deps.log.info({ sessionId: id }, 'session started');
  return { status: 200, body: { session_id: id, status: 'active', start_time: started.startTime.toISOString() } };
};
