// Authorisation before the upgrade (docs/websocket-protocol.md "Upgrade and authorization"): bad token 401, someone
// else's session 403, unknown 404, not active/paused 409, Origin not allowed 403, too many sockets from one address
// 429. Follows uWS's async-upgrade pattern: copy headers out of `req` at once, watch for abort, upgrade inside cork
// only if still connected.
import { newSocketId } from '../../core/socket-id.js';
import type { HttpRequest, HttpResponse, us_socket_context_t } from 'uWebSockets.js';
import { ApiError } from '../../core/errors.js';
import { uuid } from '../../core/protocol/common.js';
import { assertMayActOn } from '../auth/authorize-session.js';
import { bearerToken } from '../auth/verify-token.js';
import { findSession, type SessionRow } from '../store/sessions.js';
import { restoreFromCheckpoint } from '../metering/restore-session.js';
import { toApiError } from '../api-error.js';
import { sendError } from '../http/respond.js';
import type { GatewayDeps } from '../deps.js';
import type { SocketRegistry } from './socket-registry.js';
import type { SocketData } from './socket-data.js';

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
  let live = await deps.meter.readSession(u.sessionId);
  if (!live) {
    const row = await findSession(deps.pool, u.sessionId);
    if (!row) throw new ApiError('session_not_found');
    assertMayActOn(caller, row.student_id);
    if (await restoreFromCheckpoint(deps, row)) live = await deps.meter.readSession(u.sessionId);
    if (!live) throw new ApiError('wrong_state', notConnectable(row.status));
  }
  assertMayActOn(caller, live.studentId);
  if (live.status === 'ending') throw new ApiError('wrong_state', 'the session has ended');
  const socketId = newSocketId();
  return {
    sessionId: u.sessionId,
    socketId,
    studentId: live.studentId,
    tokenExpiresAtMs: caller.acceptedUntilMs,
    remoteAddress: u.remoteAddress,
    log: deps.log.child({ sessionId: u.sessionId, socketId }),
    lastSeq: -1,
    lastBilledMs: live.billedMs,
    lastLecture: null,
    lastPct: 0,
    lowFundsWarned: false,
    frameQueue: null,
    badFrameCount: 0,
    badFrameWindowStartMs: 0,
    attached: Promise.resolve(false),
    attachedOk: null,
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
        if (state.aborted) return;
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
