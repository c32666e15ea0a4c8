// Every server frame goes out through here: typed from the zod schemas, never sent on a closed socket, and the
// send result read so slow consumers are seen (uWS closes them at maxBackpressure).
import type { ServerFrame } from '../../core/protocol/ws.js';
import { sendBufferBytesMax } from '../../core/limits.js';
import type { GatewayMetrics } from '../metrics.js';
import type { MeteringSocket } from './socket-data.js';

const sendDropped = 2;

/**
 * RFC 6455's Policy Violation: the client broke a rule of the protocol. The gateway closes with it after too many bad
 * frames, for a socket opened on a session that is ending, and for a client that does not read what it is sent
 * (README "WebSocket protocol (version 1)": close codes).
 */
export const closePolicyViolation = 1008;

export function sendFrame(ws: MeteringSocket, frame: ServerFrame, metrics?: GatewayMetrics): boolean {
  const data = ws.getUserData();
  if (data.closed) return false;
  const result = ws.send(JSON.stringify(frame), false);
  if (frame.type === 'error') metrics?.wsErrorFrames.inc({ code: frame.code });
  if (result === sendDropped) {
    data.log.warn({ type: frame.type }, 'frame dropped: client is not reading');
    closeSocket(ws, closePolicyViolation, 'not reading');
    return false;
  }
  return true;
}

/** A client whose unread output reached the bound is closed: memory per socket stays bounded. Returns true if closed. */
export function closeIfNotReading(ws: MeteringSocket): boolean {
  const data = ws.getUserData();
  if (data.closed) return true;
  if (ws.getBufferedAmount() < sendBufferBytesMax) return false;
  data.log.warn({ buffered: ws.getBufferedAmount() }, 'closing a socket that does not read');
  closeSocket(ws, closePolicyViolation, 'not reading');
  return true;
}

/** Closes with a code and short reason; safe to call on a socket that is already closed. */
export function closeSocket(ws: MeteringSocket, code: number, reason: string): void {
  const data = ws.getUserData();
  if (data.closed) return;
  data.closed = true;
  ws.end(code, reason);
}
