// Per-socket state: one small typed struct, set at upgrade and owned by the uWS socket.
import type { WebSocket } from 'uWebSockets.js';
import type { Logger } from '../../shared/log.js';

export interface SocketData {
  sessionId: string;
  /** Random id of this socket; Redis records which socket owns the session (newest wins). */
  socketId: string;
  studentId: string;
  remoteAddress: string;
  log: Logger;
  /** Highest heartbeat seq seen on this socket (-1 before the first). */
  lastSeq: number;
  /** Billed ms in the last ack: asserted never to decrease. */
  lastBilledMs: number;
  badFrameCount: number;
  badFrameWindowStartMs: number;
  /** Resolves once Redis knows this socket owns the session (or refused it). */
  attached: Promise<boolean>;
  /** Set when the session is ending through this socket (complete or funds exhausted); frames are ignored. */
  ending: boolean;
  closed: boolean;
}

export type MeteringSocket = WebSocket<SocketData>;
