// Repeating a join (create or start) the gateway refused for now (README "Joins under overload"): `503 overloaded` and
// `429 too_many_requests` both say "nothing was done, come back after Retry-After". Each wait is Retry-After (or a
// backoff step, if longer) plus a random part of it, so players refused in the same second spread over the next one
// instead of coming back together and being refused together again.
import { RestError } from './rest-error.js';

export interface RetryPolicy {
  /** Calls in all, the first included. */
  attemptsMax: number;
  /** Wait before the first repeat when the answer names no Retry-After; doubled for each further repeat. */
  baseDelayMs: number;
  /** Longest wait before jitter. */
  maxDelayMs: number;
}

// Ten calls, each after the gateway's Retry-After (1–10 s, longer while it refuses more) plus up to as much again: a
// player keeps trying for one to a few minutes of a storm, about what a student waits for a lecture to open.
export const joinRetryPolicyDefault: RetryPolicy = Object.freeze({ attemptsMax: 10, baseDelayMs: 500, maxDelayMs: 8_000 });

/** Codes that promise nothing was done: safe to repeat even without an Idempotency-Key. */
const refusedForNowCodes: ReadonlySet<string> = new Set(['overloaded', 'too_many_requests']);

export function isRefusedForNow(err: unknown): err is RestError {
  return err instanceof RestError && refusedForNowCodes.has(err.code);
}

/** The server's Retry-After, in ms, from `details.retry_after_seconds` (a page on another origin cannot read headers). */
export function retryAfterMsOf(err: RestError): number | null {
  const s = (err.details as { retry_after_seconds?: unknown } | undefined)?.retry_after_seconds;
  return typeof s === 'number' && Number.isFinite(s) && s >= 0 ? s * 1000 : null;
}

/** Wait before repeat `attempt` (0 = the first repeat): the larger of Retry-After and the backoff step, plus up to as much again. */
export function retryDelayMs(attempt: number, retryAfterMs: number | null, policy: RetryPolicy = joinRetryPolicyDefault, random: () => number = Math.random): number {
  const step = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(Math.max(0, Math.floor(attempt)), 30));
  const floor = Math.max(step, retryAfterMs ?? 0);
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.floor(floor + r * floor);
}

export interface RetryHooks {
  /** Told of each refusal that will be repeated, with the wait before the repeat. */
  onRefused?(err: RestError, delayMs: number): void;
  sleep?(ms: number): Promise<void>;
  random?(): number;
}

/** Calls `call` until it answers, fails another way, or the policy's attempts are spent (the last refusal is thrown). */
export async function withJoinRetry<T>(call: () => Promise<T>, policy: RetryPolicy = joinRetryPolicyDefault, hooks: RetryHooks = {}): Promise<T> {
  const sleep = hooks.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (!isRefusedForNow(err) || attempt + 1 >= policy.attemptsMax) throw err;
      const delayMs = retryDelayMs(attempt, retryAfterMsOf(err), policy, hooks.random);
      hooks.onRefused?.(err, delayMs);
      await sleep(delayMs);
    }
  }
}
