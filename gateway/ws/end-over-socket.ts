// Ending a session through its socket (`complete`, or funds exhausted on a heartbeat): settle, then send `ended` with
// the committed figures and close 1000.
import type { EndReason } from '../../core/protocol/common.js';
import { awaitSettlement, finalFigures, freezeAndEnqueue } from '../metering/settle-and-wait.js';
import { toApiError } from '../api-error.js';
import type { GatewayDeps } from '../deps.js';
import { closeSocket, sendFrame } from './send-frame.js';
import type { MeteringSocket } from './socket-data.js';

export async function endOverSocket(deps: GatewayDeps, ws: MeteringSocket, reason: EndReason): Promise<void> {
  const data = ws.getUserData();
  if (data.ending) return;
  data.ending = true;
  try {
    await freezeAndEnqueue(deps, { id: data.sessionId, status: 'active' }, reason, null);
    const f = finalFigures(await awaitSettlement(deps, data.sessionId));
    sendFrame(ws, {
      type: 'ended',
      reason: f.end_reason,
      summary: { duration_seconds: f.duration_seconds, cost: f.cost, refund: f.refund, teacher_earning: f.teacher_earning },
    });
    closeSocket(ws, 1000, f.end_reason);
    data.log.info({ reason: f.end_reason, cost: f.cost }, 'session ended over socket');
  } catch (err) {
    const apiErr = toApiError(err, deps, 'ws-end');
    sendFrame(ws, { type: 'error', code: apiErr.code, message: apiErr.message }, deps.metrics);
    // The settlement is queued and will commit; the player learns the figures over REST status.
    closeSocket(ws, 1011, apiErr.code);
  }
}
