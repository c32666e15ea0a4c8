// Reconnecting after a dropped socket: which closes are worth a retry, how long to wait before each one, when to give
// up, and what the resumed socket must say. Shared by the SDK, the load driver and the chaos players, so all of them
// come back the same way.
import { closeCodeTokenExpired } from '../../../core/protocol/close-codes.js';

export interface ReconnectPolicy {
  /** First delay before jitter. */
  baseDelayMs: number;
  /** Largest delay before jitter. */
  maxDelayMs: number;
  /** Consecutive failed attempts before giving up (state `failed`). Reset after an acknowledged heartbeat. */
  maxAttempts: number;
}

// Eight attempts with a 15 s cap span about a minute: the default DISCONNECT_GRACE_MS, after which the session is
// settled anyway.
export const reconnectPolicyDefault: ReconnectPolicy = Object.freeze({ baseDelayMs: 500, maxDelayMs: 15_000, maxAttempts: 8 });

/**
 * Delay before reconnect attempt `attempt` (0 = the first retry): exponential, capped, with "equal jitter" —
 * half of the step fixed, half random — so thousands of players dropped by one gateway restart do not come back
 * in the same millisecond, yet none retries instantly.
 */
export function backoffDelayMs(attempt: number, policy: ReconnectPolicy = reconnectPolicyDefault, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(0, Math.floor(attempt)), 30);
  const step = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** exponent);
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.floor(step / 2 + r * (step / 2));
}

/**
 * Close codes after which the player comes back: going away (1001), abnormal / no close frame (1006), server error
 * (1011), service restart (1012, the gateway's SIGTERM), try again later (1013), bad gateway (1014), and the token
 * expired without a refresh (4401: back with a new token).
 * Not after 1000 (normal, e.g. after `ended`), 1008 (policy: abuse), 1009 (too big) or other 4xxx (refusals).
 */
export const reconnectCloseCodes: ReadonlySet<number> = new Set([1001, 1006, 1011, 1012, 1013, 1014, closeCodeTokenExpired]);

export function shouldReconnect(closeCode: number): boolean {
  return reconnectCloseCodes.has(closeCode);
}


/**
 * The attempts of one player to come back under a policy: the delay before each, until `maxAttempts` in a row have
 * failed. A player whose heartbeat was acknowledged calls linkProven(): the link worked, the budget is whole again.
 */
export class ReconnectAttempts {
  private n = 0;

  constructor(private readonly policy: ReconnectPolicy = reconnectPolicyDefault, private readonly random: () => number = Math.random) {}

  /** Attempts made since the budget was last whole. */
  get count(): number {
    return this.n;
  }

  get spent(): boolean {
    return this.n >= this.policy.maxAttempts;
  }

  /** Counts one more attempt and gives the wait before it, or null when the budget is spent. */
  next(): number | null {
    if (this.spent) return null;
    const delayMs = backoffDelayMs(this.n, this.policy, this.random);
    this.n += 1;
    return delayMs;
  }

  linkProven(): void {
    this.n = 0;
  }
}

/**
 * Whether the next socket's `ready` must say `resumed` (README "WebSocket protocol": a reconnect within the grace
 * period resumes): true after a `ready` on an earlier socket, false before any handshake succeeded, null (either is
 * right) when a socket opened but closed before its `ready` came: the gateway may or may not have attached it.
 */
export function resumeExpected(hadReady: boolean, handshakes: number): boolean | null {
  return hadReady ? true : handshakes === 0 ? false : null;
}
