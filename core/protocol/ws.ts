// WebSocket protocol version 1 (docs/websocket-protocol.md). Client frames are parsed with these schemas; server frames
// are typed from them so the gateway and the client SDK agree by construction.
import { z } from 'zod';
import { completionPct, durationSeconds, lectureId, sessionStatus, uuid } from './common.js';

export const heartbeatFrame = z.strictObject({
  type: z.literal('heartbeat'),
  seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  /**
   * Where the player's video is, in seconds. Optional and informational: validated when present, never billed from
   * nor stored (billing follows the server's clock, `playing` and `duration_seconds`; docs/websocket-protocol.md).
   */
  position_seconds: z.number().finite().min(0).max(1e9).optional(),
  /** Whether the interval since the previous update was playing: what this heartbeat bills
   * (docs/liveness-and-billing.md "Billable time"). */
  playing: z.boolean(),
  /**
   * Whether the player is playing as it sends this frame, after any play/pause the frame reports. Optional; absent,
   * it is taken to equal `playing` (a timer-only client that played the last interval plays on). While it is true
   * and the funds run out before the next heartbeat could, the gateway ends the session at that moment.
   */
  playing_now: z.boolean().optional(),
  current_lecture: lectureId,
  completion_pct: completionPct,
  duration_seconds: durationSeconds.optional(),
});
export type HeartbeatFrame = z.infer<typeof heartbeatFrame>;

export const completeFrame = z.strictObject({ type: z.literal('complete') });

/** A new connection token for this socket (README "Token refresh"): verified like the upgrade's, for the same session. */
export const refreshFrame = z.strictObject({ type: z.literal('refresh'), token: z.string().min(1).max(8_192) });
export type RefreshFrame = z.infer<typeof refreshFrame>;

export const clientFrame = z.discriminatedUnion('type', [heartbeatFrame, completeFrame, refreshFrame]);
export type ClientFrame = z.infer<typeof clientFrame>;

const summary = z.object({ duration_seconds: z.number(), cost: z.number(), refund: z.number(), teacher_earning: z.number() });

export const readyFrame = z.object({
  type: z.literal('ready'),
  session_id: uuid,
  status: sessionStatus,
  duration_seconds: z.number(),
  cost: z.number(),
  remaining: z.number(),
  heartbeat_interval_ms: z.number(),
  max_billable_seconds: z.number(),
  resumed: z.boolean(),
});
export const ackFrame = z.object({
  type: z.literal('ack'),
  seq: z.number(),
  duration_seconds: z.number(),
  cost: z.number(),
  remaining: z.number(),
  completion_pct: z.number(),
  current_lecture: z.number().nullable(),
});
export const warningFrame = z.object({ type: z.literal('warning'), code: z.literal('low_funds'), remaining_seconds: z.number() });
export const endedFrame = z.object({
  type: z.literal('ended'),
  // 'abandoned' never comes over a socket (such a session was never started); the SDK reports it from REST status.
  reason: z.enum(['completed', 'funds_exhausted', 'replaced', 'expired', 'disconnected', 'abandoned']),
  summary: summary.optional(),
});
export const errorFrame = z.object({ type: z.literal('error'), code: z.string(), message: z.string(), seq: z.number().optional() });
/**
 * The socket's token expires soon: without a `refresh` the socket is closed with `closeCodeTokenExpired` at
 * `expires_at` (ISO 8601: the token's `exp` plus the gateway's clock skew allowance). Sent once per token.
 */
export const tokenExpiringFrame = z.object({ type: z.literal('token_expiring'), expires_at: z.string() });
/** A `refresh` was accepted: the socket now lives until `expires_at` (never earlier than before). */
export const refreshedFrame = z.object({ type: z.literal('refreshed'), expires_at: z.string() });

export const serverFrame = z.discriminatedUnion('type', [readyFrame, ackFrame, warningFrame, endedFrame, errorFrame, tokenExpiringFrame, refreshedFrame]);
export type ServerFrame = z.infer<typeof serverFrame>;
export type ReadyFrame = z.infer<typeof readyFrame>;
export type AckFrame = z.infer<typeof ackFrame>;
export type EndedFrame = z.infer<typeof endedFrame>;
export type TokenExpiringFrame = z.infer<typeof tokenExpiringFrame>;
export type RefreshedFrame = z.infer<typeof refreshedFrame>;

export { closeCodeTokenExpired } from './close-codes.js';
