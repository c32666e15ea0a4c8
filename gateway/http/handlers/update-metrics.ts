// PATCH /api/sessions/{id}/metrics: the seed's REST metering update, same clamp rule as a heartbeat (playing).
import { ApiError } from '../../../core/errors.js';
import { metricsBody, type MetricsResponse } from '../../../core/protocol/rest.js';
import { MeterRefusal } from '../../../core/redis/meter.js';
import { assertMayActOn } from '../../auth/authorize-session.js';
import { findSession } from '../../store/sessions.js';
import { liveFigures } from '../../metering/figures.js';
import { freezeAndEnqueue } from '../../metering/settle-and-wait.js';
import { refusalToApiError } from '../../metering/refusals.js';
import { restoreFromCheckpoint } from '../../metering/restore-session.js';
import type { GatewayDeps } from '../../deps.js';
import type { HttpHandler } from '../route.js';
import { authenticate, parseBody, sessionIdParam } from '../validate.js';

export const updateMetrics = (deps: GatewayDeps): HttpHandler => async (ctx) => {
  const caller = await authenticate(deps, ctx);
  const id = sessionIdParam(ctx);
  const body = parseBody(metricsBody, ctx.json());
  // Authorised from Redis: a metering update never touches Postgres unless the session has no live state.
  let owner = await deps.meter.ownerOf(id);
  if (!owner) {
    const row = await findSession(deps.pool, id);
    if (!row) throw new ApiError('session_not_found');
    assertMayActOn(caller, row.student_id);
    if (!(await restoreFromCheckpoint(deps, row))) {
      throw new ApiError('wrong_state', `the session is ${row.status}; metrics need an active session`);
    }
    owner = row.student_id;
  }
  assertMayActOn(caller, owner);
  let r;
  try {
    r = await deps.meter.applyUpdate(id, {
      socketId: '', playing: true, claimedMs: Math.round(body.duration_seconds * 1000),
      lecture: body.current_lecture, completionPct: body.completion_pct,
    });
  } catch (err) {
    if (err instanceof MeterRefusal) throw refusalToApiError(err);
    throw err;
  }
  if (r.exhausted) await freezeAndEnqueue(deps, { id, status: 'active' }, 'funds_exhausted', null);
  const answer: MetricsResponse = { ...liveFigures(r, r.exhausted), completion_pct: r.completionPct, current_lecture: r.currentLecture };
  return { status: 200, body: answer };
};
