// Per-socket state: one small typed struct, set at upgrade and owned by the uWS socket.
import type { WebSocket } from 'uWebSockets.js';
import type { Logger } from '../../core/log.js';
import type { AttachResult } from '../../core/redis/meter.js';

/**
 * What the upgrade's claim of the session got (upgrade.ts): the socket attached (it owns the session), or the session
 * paused past its grace (the socket opens to be told `ended expired`).
 */
export type SocketClaim = { kind: 'attached'; attach: AttachResult } | { kind: 'expired' };

export interface SocketData {
  sessionId: string;
  /** Random id of this socket; Redis records which socket owns the session (newest wins). */
  socketId: string;
  studentId: string;
  /**
   * Until when (Date.now() ms) the socket's connection token is accepted: the upgrade's token, then each accepted
   * `refresh`. Past it, a socket that was not refreshed is closed (token-refresh.ts).
   */
  tokenExpiresAtMs: number;
  remoteAddress: string;
  log: Logger;
  /** The upgrade's claim, read once by the open handler, then null. */
  claim: SocketClaim | null;
  /** Highest heartbeat seq seen on this socket (-1 before the first). */
  lastSeq: number;
  /** Billed ms in the last ack: asserted never to decrease. */
  lastBilledMs: number;
  /** Lecture and completion of the last ack: what an update at the funds-exhaustion deadline credits. */
  lastLecture: number | null;
  lastPct: number;
  /** The low-funds warning went out on this socket (at ready): the one Redis flags on an update is not repeated. */
  lowFundsWarned: boolean;
  /**
   * Frame work waiting behind the frame being handled (in-frame-order.ts), so replies go out in frame order; null
   * while no frame is being handled.
   */
  frameQueue: (() => unknown)[] | null;
  badFrameCount: number;
  badFrameWindowStartMs: number;
  /** Whether Redis knows this socket owns the session (settled at the upgrade, which claims the session). */
  attached: Promise<boolean>;
  /** What `attached` resolved to, once it has: a heartbeat then goes on without waiting a turn for it. */
  attachedOk: boolean | null;
  /** Set when the session is ending through this socket (complete or funds exhausted); frames are ignored. */
  ending: boolean;
  closed: boolean;
}

export type MeteringSocket = WebSocket<SocketData>;
