// POST /api/sessions/{id}/start: locked → active in Postgres and the live metering state in Redis, both under the
// session row's lock (markStarted), so a racing complete, status, metrics update or socket sees either a locked
// session or a started one, never half of a start (docs/rest-api.md "Concurrent calls on one session").
import { ApiError } from '../../../core/errors.js';
import { MeterRefusal } from '../../../core/redis/meter.js';
import type { StartSessionResponse } from '../../../core/protocol/rest.js';
import { assertMayActOn } from '../../auth/authorize-session.js';
import { findSession, markStarted } from '../../store/sessions.js';
import type { GatewayDeps } from '../../deps.js';
import { isPrivileged, type Caller } from '../../auth/verify-token.js';
import type { HttpHandler, HttpResult } from '../route.js';
import { authenticate, sessionIdParam } from '../validate.js';

const startedMeanwhile = 'the session was started or settled meanwhile';

export const startSession = (deps: GatewayDeps): HttpHandler => async (ctx) => {
  deps.joinAdmission.refuseEarly('start');
  const caller = await authenticate(deps, ctx);
  const id = sessionIdParam(ctx);
  // A start is the second half of a join: it waits its turn, or is refused 503 overloaded having changed nothing.
  return deps.joinAdmission.admit(() => startAdmitted(deps, caller, id), 'start');
};

async function startAdmitted(deps: GatewayDeps, caller: Caller, id: string): Promise<HttpResult> {
  let started: Awaited<ReturnType<typeof markStarted>>;
  // Set once this start holds the row (locked, under its lock): from then on, live state in Redis is ours or refused.
  let ownsRow = false;
  try {
    // Who may start it is in the statement that starts it: a student's token changes only that student's row.
    started = await markStarted(deps.pool, id, isPrivileged(caller) ? null : caller.userId, async (live) => {
      ownsRow = true;
      await deps.meter.startSession(id, live);
    });
  } catch (err) {
    // Live state already there while the row was still locked under our lock: another request made it. It is
    // theirs, so it is left alone; the row stays as it was (rolled back).
    if (err instanceof MeterRefusal && err.code === 'already_started') throw new ApiError('wrong_state', startedMeanwhile);
    // Redis (or the COMMIT) failed after this start held the row: the row stays locked, so live state this start
    // may have written is no one's. Dropped, so a socket cannot meter a session Postgres never saw start and a retry
    // can start it. Before that point nothing of ours can be in Redis, and what is there belongs to someone else.
    if (ownsRow) await deps.meter.forgetSession(id).catch(() => undefined);
    throw err;
  }
  if (!started) throw await whyNotStarted(deps, caller, id);
  deps.log.info({ sessionId: id }, 'session started');
  const body: StartSessionResponse = { session_id: id, status: 'active', start_time: started.startTime.toISOString() };
  return { status: 200, body };
}

/** A start that changed nothing: the row says why, in the order a reader would check (404, 403, then 409). */
async function whyNotStarted(deps: GatewayDeps, caller: Caller, id: string): Promise<ApiError> {
  const row = await findSession(deps.pool, id);
  if (!row) return new ApiError('session_not_found');
  assertMayActOn(caller, row.student_id);
  if (row.status !== 'locked') return new ApiError('wrong_state', `the session is ${row.status}; only a locked session can start`);
  return new ApiError('wrong_state', startedMeanwhile);
}
