// The wire side of the socket: where it is, what the server may send (validated with the shared zod schemas) and
// the heartbeat frame built from the player's state. Pure functions, no I/O.
import { serverFrame, heartbeatFrame, type HeartbeatFrame, type ServerFrame } from '../../core/protocol/ws.js';
import { joinUrl } from './rest-client.js';

/** `http(s)://host[:port][/prefix]` → `ws(s)://host[:port][/prefix]/ws/sessions/{id}`. */
export function wsUrlFor(baseUrl: string, sessionId: string): string {
  const url = new URL(joinUrl(baseUrl, `ws/sessions/${encodeURIComponent(sessionId)}`));
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new Error(`baseUrl must be http(s) or ws(s), got ${baseUrl}`);
  return url.toString();
}

export type ParsedFrame = { ok: true; frame: ServerFrame } | { ok: false; reason: string };

/** One received message → a validated server frame. Never throws. */
export function parseServerFrame(data: unknown): ParsedFrame {
  if (typeof data !== 'string') return { ok: false, reason: 'binary frame (the protocol is JSON text)' };
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  const parsed = serverFrame.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    return { ok: false, reason: `not a server frame${first ? `: ${first.path.join('.') || '(root)'} ${first.message}` : ''}` };
  }
  return { ok: true, frame: parsed.data };
}

/** What the player reports about itself at a heartbeat; the shape of a heartbeat frame without `type` and `seq`. */
/** The SDK always knows where its video is, so it always sends `position_seconds` (optional on the wire). */
export type Playback = Omit<HeartbeatFrame, 'type' | 'seq' | 'playing_now' | 'position_seconds'> & { position_seconds: number };

/**
 * A heartbeat frame from the player's state. `playing` is passed separately because it describes the interval
 * the heartbeat closes, not the state now (see IntervalTracker). Small slips (a negative position, 100.0001 %, a
 * fractional lecture) are clamped; anything still invalid gives null and is not sent.
 */
export function buildHeartbeat(seq: number, playback: Playback, intervalPlaying: boolean): HeartbeatFrame | null {
  const candidate = {
    type: 'heartbeat' as const,
    seq,
    position_seconds: Math.max(0, playback.position_seconds),
    playing: intervalPlaying,
    playing_now: playback.playing,
    current_lecture: Math.trunc(playback.current_lecture),
    completion_pct: Math.min(100, Math.max(0, playback.completion_pct)),
    ...(playback.duration_seconds === undefined ? {} : { duration_seconds: Math.max(0, playback.duration_seconds) }),
  };
  const parsed = heartbeatFrame.safeParse(candidate);
  return parsed.success ? parsed.data : null;
}
