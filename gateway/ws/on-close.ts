// A socket closed (by the player, the network, or the gateway when its token expired). Unless it ended the session
// or was replaced, the session pauses with a grace deadline; a reconnect before it resumes
// (docs/websocket-protocol.md "Reconnect and resume").
import type { GatewayDeps } from '../deps.js';
import type { SocketRegistry } from './socket-registry.js';
import type { Exhaustion } from './on-message.js';
import type { MeteringSocket } from './socket-data.js';
import type { TokenExpiry } from './token-refresh.js';

export function createCloseHandler(deps: GatewayDeps, registry: SocketRegistry, exhaustion: Exhaustion, tokens: TokenExpiry) {
  return (ws: MeteringSocket, code: number): void => {
    const data = ws.getUserData();
    data.closed = true;
    // A paused session bills nothing: the funds cannot run out while no socket plays it.
    exhaustion.cancel(ws);
    tokens.forget(ws);
    registry.remove(ws);
    deps.metrics.socketsOpen.dec();
    data.log.info({ code }, 'socket closed');
    if (data.ending) return;
    void data.attached
      .then((attached) => (attached ? deps.meter.detachSocket(data.sessionId, data.socketId) : null))
      .catch((err: unknown) => {
        deps.metrics.countServiceError(err);
        data.log.warn({ err }, 'could not pause the session; the sweeper will settle it by its deadline');
      });
  };
}
