// The protocol core every client of the gateway's WebSocket shares (the player SDK, the load driver, the chaos
// players; k6 keeps its own, it runs inside k6): frames built, encoded, parsed and checked, heartbeat sequencing,
// the reconnect policy and resume. No DOM, no socket library, no zod: each client brings its own socket.
export { buildHeartbeat, completeText, heartbeatIsValid, heartbeatText, refreshText, type Playback } from './client-frames.js';
export { checkServerFrame, parseServerFrame, type ParsedFrame } from './server-frames.js';
export { SentBySeq, seqOf } from './sent-by-seq.js';
export {
  backoffDelayMs, reconnectCloseCodes, ReconnectAttempts, reconnectPolicyDefault, resumeExpected, shouldReconnect, type ReconnectPolicy,
} from './reconnect-policy.js';
export { wsUrlFor } from './ws-url.js';
export { closeCodeTokenExpired } from '../../../core/protocol/close-codes.js';
