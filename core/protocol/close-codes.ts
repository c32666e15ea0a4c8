// WebSocket close codes of protocol version 1 that clients act on (README "WebSocket protocol"). Plain constants in a
// module of their own, so a client can import them without the zod schemas of ws.ts.

/**
 * Close code of a socket whose connection token expired without a `refresh` (private range; 4401 echoes HTTP 401).
 * The session pauses as on any disconnect; the player reconnects with a fresh token within the grace period.
 */
export const closeCodeTokenExpired = 4401;
