// A socket opened, already the session's one socket (the upgrade claimed the session for it, upgrade.ts): send
// `ready` right behind the 101, and end the older socket if any. A socket whose session was paused past its grace is told `ended expired`.
import { msToSeconds } from '../../core/money.js';
import { liveFigures, lowFundsWarning } from '../metering/figures.js';
import { lowFundsWarnBelowMs } from '../../core/meter-limits.js';
import type { AttachResult } from '../../core/redis/meter.js';
import type { GatewayDeps } from '../deps.js';
import type { SocketRegistry } from './socket-registry.js';
import { closeSocket, sendFrame } from './send-frame.js';
import type { MeteringSocket, SocketData } from './socket-data.js';
import type { TokenExpiry } from './token-refresh.js';

export function createOpenHandler(deps: GatewayDeps, registry: SocketRegistry, tokens: TokenExpiry) {
  return (ws: MeteringSocket): void => {
    const data = ws.getUserData();
    const claim = data.claim;
    data.claim = null;
    registry.add(ws);
    // The token that opened the socket bounds it (docs/websocket-protocol.md "Token refresh").
    tokens.track(ws, data.tokenExpiresAtMs);
    deps.metrics.socketsOpen.inc();
    if (claim?.kind !== 'attached') data.ending = true;
    // Not from inside the open handler: it runs within the upgrade's cork, and a frame sent there could reach the wire
    // before the 101 answer (seen about once in a few hundred upgrades: the client drops the connection, 1006). A
    // microtask runs once the cork has written the 101.
    queueMicrotask(() => {
      if (data.closed) return;
      if (claim?.kind === 'attached') greet(ws, data, claim.attach);
      else {
        sendFrame(ws, { type: 'ended', reason: 'expired' });
        closeSocket(ws, 1000, 'expired');
      }
    });
  };

  function greet(ws: MeteringSocket, data: SocketData, r: AttachResult): void {
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
      registry.replace(deps.redis, r.previousOwner).catch((err: unknown) => data.log.warn({ err }, 'replace signal failed'));
    }
  }
}
