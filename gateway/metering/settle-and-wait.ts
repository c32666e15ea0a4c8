// Ending a session: freeze its figures in Redis, enqueue the settlement for the worker, and wait until the worker
// has committed it in Postgres, so `complete` answers with final figures (docs/rest-api.md "Endpoints") and never with
// a guess.
import { ApiError } from '../../core/errors.js';
import { settleWaitMsMax } from '../../core/limits.js';
import { numericToMinor, minorToAmount, msToSeconds } from '../../core/money.js';
import { MeterRefusal } from '../../core/redis/meter.js';
import type { EndReason } from '../../core/protocol/common.js';
import type { FrozenSession } from '../../core/protocol/settlement.js';
import type { CompleteResponse } from '../../core/protocol/rest.js';
import { findSession, type SessionRow } from '../store/sessions.js';
import type { GatewayDeps } from '../deps.js';
import { checkpointOf } from '../../core/live-session.js';

/** What `complete` answers: the settled figures, typed from the wire schema. */
export type FinalFigures = CompleteResponse;

export function finalFigures(row: SessionRow): FinalFigures {
  return {
    session_id: row.id,
    status: 'completed',
    end_reason: row.end_reason ?? 'completed',
    duration_seconds: msToSeconds(Number(row.duration_ms)),
    cost: minorToAmount(numericToMinor(row.cost ?? '0')),
    refund: minorToAmount(numericToMinor(row.refund ?? '0')),
    teacher_earning: minorToAmount(numericToMinor(row.teacher_earning ?? '0')),
  };
}

/** A session that was never started has nothing in Redis and costs 0. */
export function frozenUnstarted(sessionId: string): FrozenSession {
  return { sessionId, endReason: 'completed', billedMs: 0, completionPct: '0', currentLecture: null, progressMs: {} };
}

/**
 * Freezes (idempotently) and enqueues. A session whose live state is gone from Redis is settled from what
 * Postgres knows, in the student's favour (no billed time beyond the last checkpoint).
 */
export async function freezeAndEnqueue(deps: GatewayDeps, row: Pick<SessionRow, 'id' | 'status'>, reason: EndReason, claimedMs: number | null): Promise<void> {
  let frozen: FrozenSession;
  if (row.status === 'locked') {
    frozen = frozenUnstarted(row.id);
  } else {
    try {
      frozen = await deps.meter.finishSession(row.id, reason, claimedMs);
    } catch (err) {
      if (!(err instanceof MeterRefusal && err.code === 'unknown_session')) throw err;
      const again = await findSession(deps.pool, row.id);
      if (!again || again.status === 'completed') return;
      // Redis lost the live state: settle what the last checkpoint holds.
      const c = checkpointOf(again);
      frozen = { sessionId: row.id, endReason: reason, billedMs: c.billedMs, completionPct: c.completionPct, currentLecture: c.currentLecture, progressMs: c.progressMs };
    }
  }
  await deps.meter.enqueueSettlement(frozen);
}

/**
 * Waits until the session's settlement has committed (the worker's notice, or the safety-net poll: see
 * settlement-waiters.ts); 503 settlement_pending after settleWaitMsMax.
 */
export async function awaitSettlement(deps: GatewayDeps, sessionId: string): Promise<SessionRow> {
  const row = await deps.settlements.wait(sessionId, settleWaitMsMax);
  if (row === null) {
    deps.metrics.settlementWaits.timeout.inc();
    throw new ApiError('settlement_pending');
  }
  deps.metrics.settlementWaits.committed.inc();
  return row;
}

export async function settleAndWait(deps: GatewayDeps, row: SessionRow, reason: EndReason, claimedMs: number | null): Promise<FinalFigures> {
  if (row.status === 'completed') return finalFigures(row);
  await freezeAndEnqueue(deps, row, reason, claimedMs);
  return finalFigures(await awaitSettlement(deps, row.id));
}
