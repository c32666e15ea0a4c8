// A socket opened: make it the session's one socket (resuming a paused session), end the older socket if any,
// and send `ready`.
import { MeterRefusal } from '../../core/redis/meter.js';
import { msToSeconds } from '../../core/money.js';
import { liveFigures, lowFundsWarning } from '../metering/figures.js';
import { lowFundsWarnBelowMs } from '../../core/meter-limits.js';
import { toApiError } from '../api-error.js';
import type { GatewayDeps } from '../deps.js';
import type { SocketRegistry } from './socket-registry.js';
import { closePolicyViolation, closeSocket, sendFrame } from './send-frame.js';
import type { MeteringSocket } from './socket-data.js';
import type { TokenExpiry } from './token-refresh.js';

export function createOpenHandler(deps: GatewayDeps, registry: SocketRegistry, tokens: TokenExpiry) {
  return (ws: MeteringSocket): void => {
    const data = ws.getUserData();
    registry.add(ws);
    // The token that opened the socket bounds it (docs/websocket-protocol.md "Token refresh").
    tokens.track(ws, data.tokenExpiresAtMs);
    deps.metrics.socketsOpen.inc();
    const attaching = deps.meter.attachSocket(data.sessionId, data.socketId).then(
      async (r) => {
        data.lastBilledMs = r.billedMs;
        sendFrame(ws, {
          type: 'ready',
          session_id: data.sessionId,
          status: 'active',
          ...liveFigures(r),
          heartbeat_interval_ms: deps.config.heartbeatIntervalMs,
          max_billable_seconds: msToSeconds(r.maxBillableMs),
          resumed: r.resumed,
        });
        // A session that connects already low on funds is told at once, not on its first heartbeat.
        if (r.maxBillableMs - r.billedMs <= lowFundsWarnBelowMs(deps.config)) {
          data.lowFundsWarned = true;
          sendFrame(ws, lowFundsWarning(r));
        }
        data.log.info({ resumed: r.resumed }, 'socket attached');
        if (r.previousOwner !== '' && r.previousOwner !== data.socketId) {
          await registry.replace(deps.redis, r.previousOwner).catch((err: unknown) => data.log.warn({ err }, 'replace signal failed'));
        }
        return true;
      },
      (err: unknown) => {
        if (err instanceof MeterRefusal && err.code === 'expired') {
          data.ending = true;
          sendFrame(ws, { type: 'ended', reason: 'expired' });
          closeSocket(ws, 1000, 'expired');
          return false;
        }
        // `unknown_session` here is the same ending one step later: the upgrade found the session live, then a
        // complete froze it, the worker settled it and its live state was forgotten before this socket opened
        // (docs/websocket-protocol.md "Close codes"). A Redis that lost the session meanwhile would look alike; its
        // player's next session call rebuilds it, and until then the worker's reconcile pass brings it back.
        if (err instanceof MeterRefusal && (err.code === 'ending' || err.code === 'unknown_session')) {
          data.log.info({ refusal: err.code }, 'socket opened on a session that has ended');
          sendFrame(ws, { type: 'error', code: 'wrong_state', message: 'the session has ended' }, deps.metrics);
          closeSocket(ws, closePolicyViolation, 'session ended');
          return false;
        }
        const apiErr = toApiError(err, deps, 'ws-open');
        sendFrame(ws, { type: 'error', code: apiErr.code, message: apiErr.message }, deps.metrics);
        closeSocket(ws, 1011, apiErr.code);
        return false;
      },
    );
    data.attached = attaching.then((ok) => {
      data.attachedOk = ok;
      return ok;
    });
  };
}
