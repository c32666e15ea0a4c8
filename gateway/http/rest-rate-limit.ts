// Each user's REST token bucket (README "Rate limits"), checked once a request's token has verified: a refused request
// costs no Postgres connection, so one user's flood cannot starve the others of the pool.
//   - The principal is the token's subject. Admin and service tokens are not metered: they act for many users (a
//     backend creating sessions for its students) and are the operator's own. Requests without a valid token never
//     get here: they are refused 401 before any store is touched.
//   - A user found out of tokens is remembered until the time Redis named, and refused without asking Redis again:
//     nothing but time adds tokens, so no request is refused that Redis would have let through, and a client that
//     ignores Retry-After costs the gateway no Redis round trip per request.
//   - Redis unreachable, or silent for restRateCheckMsMax: the request goes through unmetered (fail open), counted
//     and logged. A wallet read or a create must keep working from Postgres while Redis is down, and what the bucket
//     protects stays protected without it: a student's creates run one at a time per gateway
//     (one-create-per-student.ts) and its open holds are capped (store/sessions.ts).
import { InvariantError, RetryLaterError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { restRateCheckMsMax, restRateUncheckedLogMs, restRefusedUsersMax } from '../../core/limits.js';
import type { RestBuckets } from '../../core/redis/rest-buckets.js';
import { isPrivileged, type Caller } from '../auth/verify-token.js';
import type { GatewayMetrics } from '../metrics.js';

export type RestRateLimit = (caller: Caller) => Promise<void>;

class BucketCheckTimeout extends Error {
  override readonly name = 'BucketCheckTimeout';
}

/** The bucket's answer, or a BucketCheckTimeout after restRateCheckMsMax (the take may still land: one token spent). */
function withinCheckTime<T>(answer: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BucketCheckTimeout(`no answer from Redis within ${restRateCheckMsMax} ms`)), restRateCheckMsMax);
  });
  return Promise.race([answer, late]).finally(() => clearTimeout(timer));
}

export function createRestRateLimit(buckets: RestBuckets, deps: { log: Logger; metrics: GatewayMetrics }): RestRateLimit {
  const refusedUntilMs = new Map<string, number>();
  let warnedAtMs = 0;
  const refuse = (untilMs: number, nowMs: number): never => {
    deps.metrics.restRateChecks.refused.inc();
    throw new RetryLaterError('too_many_requests', untilMs - nowMs);
  };

  return async (caller) => {
    if (isPrivileged(caller)) return;
    const principal = caller.userId.toLowerCase();
    const nowMs = Date.now();
    const until = refusedUntilMs.get(principal);
    if (until !== undefined) {
      if (until > nowMs) refuse(until, nowMs);
      refusedUntilMs.delete(principal);
    }
    let waitMs: number;
    try {
      waitMs = await withinCheckTime(buckets.take(principal));
    } catch (err) {
      if (err instanceof InvariantError) throw err;
      deps.metrics.countServiceError(err);
      deps.metrics.restRateChecks.unchecked.inc();
      if (nowMs - warnedAtMs >= restRateUncheckedLogMs) {
        warnedAtMs = nowMs;
        deps.log.warn({ err: (err as Error).message }, 'REST rate limit not checked (Redis unavailable): requests pass unmetered');
      }
      return;
    }
    if (waitMs === 0) {
      deps.metrics.restRateChecks.allowed.inc();
      return;
    }
    // Oldest first: a Map iterates in insertion order, and an entry is only useful until its time has passed.
    if (refusedUntilMs.size >= restRefusedUsersMax) refusedUntilMs.delete(refusedUntilMs.keys().next().value as string);
    const afterMs = Date.now();
    refusedUntilMs.set(principal, afterMs + waitMs);
    refuse(afterMs + waitMs, afterMs);
  };
}
