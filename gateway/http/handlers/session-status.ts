// GET /api/sessions/{id}/status: live figures from Redis while the session runs, settled figures from Postgres after.
// Read-only, so the teacher of the session's course may read it too (authorize-session.ts).
import { ApiError } from '../../../core/errors.js';
import { minorToAmount, msToSeconds, numericToMinor } from '../../../core/money.js';
import type { StatusResponse } from '../../../core/protocol/rest.js';
import { assertMayRead } from '../../auth/authorize-session.js';
import { findSession, type SessionRow } from '../../store/sessions.js';
import { liveFigures, progressToApi } from '../../metering/figures.js';
import type { LiveSessionState } from '../../../core/redis/meter.js';
import type { GatewayDeps } from '../../deps.js';
import type { HttpHandler } from '../route.js';
import { authenticate, sessionIdParam } from '../validate.js';

function fromRow(row: SessionRow): StatusResponse {
  const lockedMinor = numericToMinor(row.locked_amount);
  const costMinor = row.cost === null ? 0 : numericToMinor(row.cost);
  return {
    session_id: row.id,
    status: row.status,
    end_reason: row.end_reason,
    duration_seconds: msToSeconds(Number(row.duration_ms)),
    cost: minorToAmount(costMinor),
    remaining: minorToAmount(lockedMinor - costMinor),
    locked_amount: minorToAmount(lockedMinor),
    completion_pct: Number(row.completion_pct),
    current_lecture: row.current_lecture,
    content_progress: row.content_progress,
  };
}

function fromLive(row: SessionRow, live: LiveSessionState): StatusResponse {
  // `ending` is an internal step (figures frozen, settlement queued): to the API the session is still running.
  const status = live.status === 'paused' ? 'paused' : 'active';
  return {
    session_id: row.id,
    status,
    end_reason: live.endReason,
    ...liveFigures(live, live.endReason === 'funds_exhausted'),
    locked_amount: minorToAmount(live.lockedMinor),
    completion_pct: live.completionPct,
    current_lecture: live.currentLecture,
    content_progress: progressToApi(live.progressMs),
  };
}

export const sessionStatus = (deps: GatewayDeps): HttpHandler => async (ctx) => {
  const caller = await authenticate(deps, ctx);
  const id = sessionIdParam(ctx);
  const row = await findSession(deps.pool, id);
  if (!row) throw new ApiError('session_not_found');
  assertMayRead(caller, { studentId: row.student_id, teacherId: row.teacher_id });
  if (row.status === 'active') {
    const live = await deps.meter.readSession(id);
    if (live) return { status: 200, body: fromLive(row, live) };
    // Settled between the two reads, or live state lost: Postgres is the truth.
    const again = await findSession(deps.pool, id);
    return { status: 200, body: fromRow(again ?? row) };
  }
  return { status: 200, body: fromRow(row) };
};
