// The SDK's frame functions are the protocol core's (protocol/); this path stays for the SDK's own modules and tests.
export { buildHeartbeat, parseServerFrame, wsUrlFor, type ParsedFrame, type Playback } from './protocol/index.js';
