// The SDK's reconnect policy is the protocol core's (protocol/reconnect-policy.ts); this path stays for its tests.
export { backoffDelayMs, reconnectCloseCodes, reconnectPolicyDefault, shouldReconnect, type ReconnectPolicy } from './protocol/reconnect-policy.js';
