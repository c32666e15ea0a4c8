// A socket lives only as long as its connection token (README "Token refresh"): the gateway warns the player before
// the token expires (`token_expiring`), takes a new token in a `refresh` frame, and closes a socket that was not
// refreshed in time with closeCodeTokenExpired. That close goes through the usual close path: the session pauses into
// the disconnect grace, as on any dropped socket, and is never settled early.
import { ApiError } from '../../core/errors.js';
import { closeCodeTokenExpired, type RefreshFrame } from '../../core/protocol/ws.js';
import { assertMayActOn } from '../auth/authorize-session.js';
import type { Caller } from '../auth/verify-token.js';
import type { GatewayDeps } from '../deps.js';
import type { GatewayMetrics } from '../metrics.js';
import { inFrameOrder } from './in-frame-order.js';
import { closeSocket, sendFrame } from './send-frame.js';
import type { MeteringSocket } from './socket-data.js';
import { createTokenDeadlines, type TokenDeadlines } from './token-deadlines.js';

export type TokenExpiry = TokenDeadlines<MeteringSocket>;

/** The one sweep of every socket's token (token-deadlines.ts), with what the gateway does at each moment. */
export function createTokenExpiry(metrics: GatewayMetrics): TokenExpiry {
  return createTokenDeadlines<MeteringSocket>({
    expiring(ws, expiresAtMs) {
      const data = ws.getUserData();
      if (data.ending || data.closed) return;
      metrics.socketTokens.expiring.inc();
      sendFrame(ws, { type: 'token_expiring', expires_at: new Date(expiresAtMs).toISOString() });
    },
    // Behind the socket's frames: a `refresh` that arrived before the deadline, still being verified, wins.
    expired: (ws) => inFrameOrder(ws, () => closeUnlessRefreshed(ws, metrics)),
  });
}

function closeUnlessRefreshed(ws: MeteringSocket, metrics: GatewayMetrics): void {
  const data = ws.getUserData();
  if (data.ending || data.closed || data.tokenExpiresAtMs > Date.now()) return;
  metrics.socketTokens.expired.inc();
  data.log.info({ expiredAt: new Date(data.tokenExpiresAtMs).toISOString() }, 'closing a socket whose token expired');
  closeSocket(ws, closeCodeTokenExpired, 'token expired');
}

/**
 * A `refresh` frame: the new token is verified like an upgrade's, and must be allowed on this session by the same
 * rule (its student, or an admin/service token). Accepted, the socket lives until the later of the two expiries and
 * hears `refreshed`; refused, the error is returned for the caller to send, and nothing changes.
 */
export async function applyRefresh(deps: GatewayDeps, tokens: TokenExpiry, ws: MeteringSocket, frame: RefreshFrame): Promise<ApiError | null> {
  const data = ws.getUserData();
  let caller: Caller;
  try {
    caller = await deps.verifyToken(frame.token);
  } catch (err) {
    if (err instanceof ApiError) return new ApiError('refresh_invalid_token', `the refresh token was refused: ${err.message}`);
    throw err;
  }
  try {
    assertMayActOn(caller, data.studentId);
  } catch (err) {
    if (err instanceof ApiError) return new ApiError('refresh_wrong_subject', `the refresh token was refused: ${err.message}`);
    throw err;
  }
  if (data.ending || data.closed) return null;
  // A token that expires sooner than the one the socket holds shortens nothing (and restarts no warning).
  if (caller.acceptedUntilMs > data.tokenExpiresAtMs) {
    data.tokenExpiresAtMs = caller.acceptedUntilMs;
    tokens.track(ws, data.tokenExpiresAtMs);
  }
  deps.metrics.socketTokens.refreshed.inc();
  sendFrame(ws, { type: 'refreshed', expires_at: new Date(data.tokenExpiresAtMs).toISOString() });
  data.log.debug({ expiresAt: new Date(data.tokenExpiresAtMs).toISOString() }, 'socket token refreshed');
  return null;
}
