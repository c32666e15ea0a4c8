// Each user's REST token bucket (README "Rate limits"), checked once a request's token has verified: a refused request
// costs no Postgres connection, so one user's flood cannot starve the others of the pool.
//   - The principal is the token's subject. Admin and service tokens are not metered: they act for many users (a
//     backend creating sessions for its students) and are the operator's own. Requests without a valid token never
//     get here: they are refused 401 before any store is touched.
//   - One take in flight per user per gateway. It asks for restTokensPerTake tokens, or for as many as requests are
//     waiting, whichever is more. The tokens serve the waiting requests in arrival order. Requests that arrive while it
//     is in flight wait for it and are served by it or by the next take. A spare token is spent on the same user's next
//     request here within restTokenLeaseMs. So a join (create, then start) asks Redis once, not twice, and a burst of
//     one user's concurrent requests costs a few round trips, not one each. Every request still spends a token taken
//     from the shared bucket. A spare not spent in time is lost, never given back, so across gateways the allowance
//     can only come out stricter.
//   - A user found out of tokens is remembered until the time Redis named, and refused without asking Redis again:
//     nothing but time adds tokens, so no request is refused that Redis would have let through, and a client that
//     ignores Retry-After costs the gateway no Redis round trip per request.
//   - Redis unreachable, or silent for restRateCheckMsMax: the request goes through unmetered (fail open), counted
//     and logged. A wallet read or a create must keep working from Postgres while Redis is down, and what the bucket
//     protects stays protected without it: a student's creates run one at a time per gateway
//     (one-create-per-student.ts) and its open holds are capped (store/sessions.ts).
import { InvariantError, RetryLaterError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import {
  restLeasesMax, restRateCheckMsMax, restRateUncheckedLogMs, restRefusedUsersMax, restTokenLeaseMs, restTokensPerTake,
} from '../../core/limits.js';
import type { RestBuckets, TakeResult } from '../../core/redis/rest-buckets.js';
import { isPrivileged, type Caller } from '../auth/verify-token.js';
import type { GatewayMetrics } from '../metrics.js';

export type RestRateLimit = (caller: Caller) => Promise<void>;

class BucketCheckTimeout extends Error {
  override readonly name = 'BucketCheckTimeout';
}

/** The bucket's answer, or a BucketCheckTimeout after restRateCheckMsMax (the take may still land: its tokens spent). */
function withinCheckTime<T>(answer: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BucketCheckTimeout(`no answer from Redis within ${restRateCheckMsMax} ms`)), restRateCheckMsMax);
  });
  return Promise.race([answer, late]).finally(() => clearTimeout(timer));
}

/** Tokens a gateway took ahead for one user, spendable until `untilMs` (Date.now() ms). */
interface Lease {
  tokens: number;
  untilMs: number;
}

/** A request waiting for its user's take in flight. */
interface Waiter {
  allow(): void;
  refuse(err: unknown): void;
}

export function createRestRateLimit(buckets: RestBuckets, deps: { log: Logger; metrics: GatewayMetrics }): RestRateLimit {
  const refusedUntilMs = new Map<string, number>();
  const leases = new Map<string, Lease>();
  /** Users with a take in flight, and the requests waiting for it in arrival order (the one that started it first). */
  const inFlight = new Map<string, Waiter[]>();
  let warnedAtMs = 0;

  const refusal = (untilMs: number, nowMs: number): RetryLaterError => {
    deps.metrics.restRateChecks.refused.inc();
    return new RetryLaterError('too_many_requests', untilMs - nowMs);
  };

  /** Spends one token this gateway took ahead for `principal`, if it holds one still in time. */
  const spendLeased = (principal: string, nowMs: number): boolean => {
    const lease = leases.get(principal);
    if (lease === undefined) return false;
    if (lease.untilMs <= nowMs) {
      leases.delete(principal);
      return false;
    }
    lease.tokens -= 1;
    if (lease.tokens === 0) leases.delete(principal);
    return true;
  };

  const keepLeased = (principal: string, tokens: number, nowMs: number): void => {
    // Oldest first: a Map iterates in insertion order, and a lease is only useful for restTokenLeaseMs.
    if (leases.size >= restLeasesMax) leases.delete(leases.keys().next().value as string);
    leases.set(principal, { tokens, untilMs: nowMs + restTokenLeaseMs });
  };

  const passUnchecked = (waiters: Waiter[], err: unknown): void => {
    deps.metrics.countServiceError(err);
    deps.metrics.restRateChecks.unchecked.inc(waiters.length);
    const nowMs = Date.now();
    if (nowMs - warnedAtMs >= restRateUncheckedLogMs) {
      warnedAtMs = nowMs;
      deps.log.warn({ err: (err as Error).message }, 'REST rate limit not checked (Redis unavailable): requests pass unmetered');
    }
    for (const w of waiters) w.allow();
  };

  /** Takes tokens for the requests waiting on `principal` (a list that grows while the take is in flight). */
  const takeFor = async (principal: string, waiters: Waiter[]): Promise<void> => {
    let answer: TakeResult;
    try {
      answer = await withinCheckTime(buckets.take(principal, Math.max(restTokensPerTake, waiters.length)));
    } catch (err) {
      inFlight.delete(principal);
      if (err instanceof InvariantError) for (const w of waiters) w.refuse(err);
      else passUnchecked(waiters, err);
      return;
    }
    const nowMs = Date.now();
    if (answer.taken === 0) {
      inFlight.delete(principal);
      // Oldest first, as for leases.
      if (refusedUntilMs.size >= restRefusedUsersMax) refusedUntilMs.delete(refusedUntilMs.keys().next().value as string);
      refusedUntilMs.set(principal, nowMs + answer.waitMs);
      for (const w of waiters) w.refuse(refusal(nowMs + answer.waitMs, nowMs));
      return;
    }
    const served = waiters.splice(0, answer.taken);
    deps.metrics.restRateChecks.allowed.inc(served.length);
    for (const w of served) w.allow();
    if (waiters.length > 0) {
      // More arrived meanwhile than this take got: the next take is theirs, still in arrival order.
      void takeFor(principal, waiters);
      return;
    }
    inFlight.delete(principal);
    if (answer.taken > served.length) keepLeased(principal, answer.taken - served.length, nowMs);
  };

  return async (caller) => {
    if (isPrivileged(caller)) return;
    const principal = caller.userId.toLowerCase();
    const nowMs = Date.now();
    const until = refusedUntilMs.get(principal);
    if (until !== undefined) {
      if (until > nowMs) throw refusal(until, nowMs);
      refusedUntilMs.delete(principal);
    }
    if (spendLeased(principal, nowMs)) {
      deps.metrics.restRateChecks.allowed.inc();
      return;
    }
    await new Promise<void>((allow, refuse) => {
      const waiting = inFlight.get(principal);
      if (waiting !== undefined) {
        waiting.push({ allow, refuse });
        return;
      }
      const waiters: Waiter[] = [{ allow, refuse }];
      inFlight.set(principal, waiters);
      void takeFor(principal, waiters);
    });
  };
}
