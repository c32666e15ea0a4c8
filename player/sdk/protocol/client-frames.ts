// What a client sends: heartbeat frames built from a player's state and checked against the protocol's bounds, and
// every client frame's text. Without zod (see server-frames.ts for why); client-frames.test.ts holds these checks to
// core/protocol/ws.ts' heartbeatFrame schema, the single truth.
import type { HeartbeatFrame } from '../../../core/protocol/ws.js';
import { claimedSecondsMax } from '../../../core/limits.js';

/** What the player reports about itself at a heartbeat; the shape of a heartbeat frame without `type` and `seq`. */
/** The SDK always knows where its video is, so it always sends `position_seconds` (optional on the wire). */
export type Playback = Omit<HeartbeatFrame, 'type' | 'seq' | 'playing_now' | 'position_seconds'> & { position_seconds: number };

/** The bounds of heartbeatFrame in core/protocol/ws.ts and core/protocol/common.ts. */
const positionSecondsMax = 1e9;
const lectureIdMax = 2_147_483_647;

const inRange = (v: number, min: number, max: number): boolean => Number.isFinite(v) && v >= min && v <= max;

/** Whether a heartbeat frame is one the gateway accepts (README "WebSocket protocol"). */
export function heartbeatIsValid(f: HeartbeatFrame): boolean {
  return Number.isInteger(f.seq) && inRange(f.seq, 0, Number.MAX_SAFE_INTEGER)
    && (f.position_seconds === undefined || inRange(f.position_seconds, 0, positionSecondsMax))
    && typeof f.playing === 'boolean'
    && (f.playing_now === undefined || typeof f.playing_now === 'boolean')
    && Number.isInteger(f.current_lecture) && inRange(f.current_lecture, 0, lectureIdMax)
    && inRange(f.completion_pct, 0, 100)
    && (f.duration_seconds === undefined || inRange(f.duration_seconds, 0, claimedSecondsMax));
}

/**
 * A heartbeat frame from the player's state. `playing` is passed separately because it describes the interval
 * the heartbeat closes, not the state now (see IntervalTracker). Small slips (a negative position, 100.0001 %, a
 * fractional lecture) are clamped; anything still invalid gives null and is not sent.
 */
export function buildHeartbeat(seq: number, playback: Playback, intervalPlaying: boolean): HeartbeatFrame | null {
  const frame: HeartbeatFrame = {
    type: 'heartbeat',
    seq,
    position_seconds: Math.max(0, playback.position_seconds),
    playing: intervalPlaying,
    playing_now: playback.playing,
    current_lecture: Math.trunc(playback.current_lecture),
    completion_pct: Math.min(100, Math.max(0, playback.completion_pct)),
    ...(playback.duration_seconds === undefined ? {} : { duration_seconds: Math.max(0, playback.duration_seconds) }),
  };
  return heartbeatIsValid(frame) ? frame : null;
}

/**
 * A heartbeat frame's text: the same JSON as JSON.stringify(frame) for a frame built here (same keys, same order,
 * numbers printed the same way), without walking the object: the load driver sends thousands a second.
 */
export function heartbeatText(f: HeartbeatFrame): string {
  return `{"type":"heartbeat","seq":${f.seq}${f.position_seconds === undefined ? '' : `,"position_seconds":${f.position_seconds}`}`
    + `,"playing":${f.playing}${f.playing_now === undefined ? '' : `,"playing_now":${f.playing_now}`}`
    + `,"current_lecture":${f.current_lecture},"completion_pct":${f.completion_pct}`
    + `${f.duration_seconds === undefined ? '' : `,"duration_seconds":${f.duration_seconds}`}}`;
}

/** `complete`: end and settle the session; answered with `ended`, or an error frame without a seq. */
export const completeText = '{"type":"complete"}';

/** `refresh`: a new token for this socket (README "Token refresh"). */
export function refreshText(token: string): string {
  return JSON.stringify({ type: 'refresh', token });
}
