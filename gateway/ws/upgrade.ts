// Authorisation before the upgrade (docs/websocket-protocol.md "Upgrade and authorization"): bad token 401, someone
// else's session 403, unknown 404, not active/paused 409, Origin not allowed 403, too many sockets from one address
// 429. The same Redis call that authorises the socket claims the session for it (attachSocket-1.lua), so the socket
// opens already attached and its `ready` frame follows the 101 at once. Follows uWS's async-upgrade pattern: copy
// headers out of `req` at once, watch for abort, upgrade inside cork only if still connected; a claim whose client
// went away meanwhile is let go again (the session pauses, as on any disconnect).
import { newSocketId } from '../../core/socket-id.js';
import type { HttpRequest, HttpResponse, us_socket_context_t } from 'uWebSockets.js';
import { ApiError } from '../../core/errors.js';
import { uuid } from '../../core/protocol/common.js';
import { MeterRefusal } from '../../core/redis/meter.js';
import { assertMayActOn, refuseActingOn } from '../auth/authorize-session.js';
import { bearerToken, isPrivileged, type Caller } from '../auth/verify-token.js';
import { findSession, type SessionRow } from '../store/sessions.js';
import { restoreFromCheckpoint } from '../metering/restore-session.js';
import { toApiError } from '../api-error.js';
import { sendError } from '../http/respond.js';
import type { GatewayDeps } from '../deps.js';
import type { SocketRegistry } from './socket-registry.js';
import type { SocketClaim, SocketData } from './socket-data.js';

interface UpgradeRequest {
  sessionId: string;
  token: string | null;
  origin: string;
  remoteAddress: string;
}

function readUpgradeRequest(res: HttpResponse, req: HttpRequest): UpgradeRequest {
  const query = new URLSearchParams(req.getQuery() ?? '');
  return {
    sessionId: (req.getParameter(0) ?? '').toLowerCase(),
    token: bearerToken(req.getHeader('authorization')) ?? query.get('token'),
    origin: req.getHeader('origin'),
    remoteAddress: Buffer.from(res.getRemoteAddressAsText()).toString(),
  };
}

/** Why a session without live state refuses a socket, in words that tell the player what it can still do. */
function notConnectable(status: SessionRow['status']): string {
  if (status === 'locked') return 'the session is locked; start it before connecting';
  if (status === 'completed') return 'the session is completed; it cannot be connected to';
  return 'the session has just ended; it cannot be connected to';
}

/**
 * Claims the live session for the socket: its claim, or null when Redis has no live state for it. Refusals are the
 * upgrade's answers: another student's 403 (before the state is looked at), ending 409.
 */
async function claimSession(deps: GatewayDeps, caller: Caller, sessionId: string, socketId: string): Promise<SocketClaim | null> {
  try {
    return { kind: 'attached', attach: await deps.meter.attachSocket(sessionId, socketId, isPrivileged(caller) ? null : caller.userId) };
  } catch (err) {
    if (!(err instanceof MeterRefusal)) throw err;
    if (err.code === 'unknown_session') return null;
    if (err.code === 'not_owner') return refuseActingOn(caller);
    if (err.code === 'ending') throw new ApiError('wrong_state', 'the session has ended');
    // Paused past its grace: the socket opens to be told `ended expired` (docs/websocket-protocol.md "Close codes").
    if (err.code === 'expired') return { kind: 'expired' };
    throw err;
  }
}

async function authorizeUpgrade(deps: GatewayDeps, registry: SocketRegistry, u: UpgradeRequest): Promise<SocketData> {
  const { config } = deps;
  if (config.allowedOrigins.length > 0 && u.origin !== '' && !config.allowedOrigins.includes(u.origin)) {
    throw new ApiError('origin_not_allowed');
  }
  if (config.socketsPerIpMax > 0 && registry.socketsFrom(u.remoteAddress) >= config.socketsPerIpMax) {
    throw new ApiError('too_many_sockets');
  }
  const caller = await deps.verifyToken(u.token);
  if (!uuid.safeParse(u.sessionId).success) throw new ApiError('session_not_found');
  const socketId = newSocketId();
  let claim = await claimSession(deps, caller, u.sessionId, socketId);
  if (!claim) {
    const row = await findSession(deps.pool, u.sessionId);
    if (!row) throw new ApiError('session_not_found');
    // Before any live state is rebuilt: someone else's session is not restored into Redis on their behalf.
    assertMayActOn(caller, row.student_id);
    if (await restoreFromCheckpoint(deps, row)) claim = await claimSession(deps, caller, u.sessionId, socketId);
    if (!claim) throw new ApiError('wrong_state', notConnectable(row.status));
  }
  const attach = claim.kind === 'attached' ? claim.attach : null;
  return {
    sessionId: u.sessionId,
    socketId,
    studentId: attach?.studentId ?? '',
    tokenExpiresAtMs: caller.acceptedUntilMs,
    remoteAddress: u.remoteAddress,
    log: deps.log.child({ sessionId: u.sessionId, socketId }),
    claim,
    lastSeq: -1,
    lastBilledMs: attach?.billedMs ?? 0,
    lastLecture: null,
    lastPct: 0,
    lowFundsWarned: false,
    frameQueue: null,
    badFrameCount: 0,
    badFrameWindowStartMs: 0,
    attached: Promise.resolve(attach !== null),
    attachedOk: attach !== null,
    ending: false,
    closed: false,
  };
}

export function createUpgradeHandler(deps: GatewayDeps, registry: SocketRegistry) {
  return (res: HttpResponse, req: HttpRequest, context: us_socket_context_t): void => {
    const state = { aborted: false, done: false };
    res.onAborted(() => { state.aborted = true; });
    const key = req.getHeader('sec-websocket-key');
    const protocol = req.getHeader('sec-websocket-protocol');
    const extensions = req.getHeader('sec-websocket-extensions');
    const u = readUpgradeRequest(res, req);

    authorizeUpgrade(deps, registry, u)
      .then((data) => {
        if (state.aborted) {
          // The client left before its answer: the claim is let go as a disconnect would (the session pauses).
          if (data.attachedOk) {
            deps.meter.detachSocket(data.sessionId, data.socketId).catch((err: unknown) => {
              deps.metrics.countServiceError(err);
              data.log.warn({ err }, 'could not pause the session after an abandoned upgrade; the sweeper will settle it by its deadline');
            });
          }
          return;
        }
        state.done = true;
        res.cork(() => res.upgrade(data, key, protocol, extensions, context));
      })
      .catch((err: unknown) => {
        const apiErr = toApiError(err, deps, 'ws-upgrade');
        deps.metrics.upgradesRefused.inc({ status: String(apiErr.status) });
        deps.log.info({ code: apiErr.code, status: apiErr.status }, 'upgrade refused');
        sendError(res, state, apiErr);
      });
  };
}
