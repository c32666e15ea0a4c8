// A gateway's REST rate check against the real local Redis: it takes restTokensPerTake tokens in one call and spends
// the spare on the same user's next request within restTokenLeaseMs, so a join's create and start ask Redis once; a
// spare is never spent late, never lets through a request the shared bucket could not pay for, and two gateways on
// one bucket together let through no more than the bucket holds.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestEnv, type TestEnv } from '../../test/helpers/test-env.js';
import { createRestBuckets, type RestBuckets } from '../../core/redis/rest-buckets.js';
import { createLogger } from '../../core/log.js';
import { restTokenLeaseMs, restTokensPerTake } from '../../core/limits.js';
import { RetryLaterError } from '../../core/errors.js';
import { createGatewayMetrics } from '../metrics.js';
import { createRestRateLimit, type RestRateLimit } from './rest-rate-limit.js';
import type { Caller } from '../auth/verify-token.js';

let env: TestEnv;
const log = createLogger({ logLevel: 'silent', logPretty: false }, 'rest-rate-limit-test');

beforeAll(async () => { env = await createTestEnv(); });
afterAll(async () => { await env?.cleanup(); });
afterEach(() => { vi.restoreAllMocks(); });

const student = (userId: string): Caller => ({ userId, role: 'student', acceptedUntilMs: Date.now() + 3_600_000 });

/** A gateway's check over a bucket of `burst` tokens refilling `perSecond`, and how many times it asked Redis. */
function gatewayCheck(burst: number, perSecond: number): { check: RestRateLimit; takes: () => number } {
  const buckets = createRestBuckets(env.redis, env.keys, { burst, perSecond });
  let takes = 0;
  const counted: RestBuckets = { take: (principal, wanted) => { takes += 1; return buckets.take(principal, wanted); } };
  return { check: createRestRateLimit(counted, { log, metrics: createGatewayMetrics() }), takes: () => takes };
}

async function outcome(check: RestRateLimit, caller: Caller): Promise<'allowed' | 'refused'> {
  try {
    await check(caller);
    return 'allowed';
  } catch (err) {
    if (err instanceof RetryLaterError) return 'refused';
    throw err;
  }
}

const tokensLeft = async (user: string) => Number(await env.redis.hget(env.keys.restBucket(user), 'tokens'));

describe('REST rate check with tokens taken ahead', () => {
  it('asks Redis once for a create and the start that follows', async () => {
    expect(restTokensPerTake).toBeGreaterThanOrEqual(2);
    const { check, takes } = gatewayCheck(60, 1);
    const caller = student('11111111-1111-4111-8111-000000000001');
    await check(caller);
    expect(takes()).toBe(1);
    expect(await tokensLeft(caller.userId)).toBeCloseTo(60 - restTokensPerTake, 1);
    await check(caller);
    expect(takes()).toBe(1);
    // The spare is spent: the next request asks again.
    for (let i = 2; i < restTokensPerTake; i++) await check(caller);
    await check(caller);
    expect(takes()).toBe(2);
  });

  it('does not spend a spare after restTokenLeaseMs: the request asks Redis again', async () => {
    const { check, takes } = gatewayCheck(60, 1);
    const caller = student('11111111-1111-4111-8111-000000000002');
    await check(caller);
    const later = Date.now() + restTokenLeaseMs + 1;
    vi.spyOn(Date, 'now').mockReturnValue(later);
    await check(caller);
    expect(takes()).toBe(2);
  });

  it('never lets through a request the bucket could not pay for', async () => {
    // One token in the bucket: a take of two gets one, keeps no spare, and the next request is refused.
    const { check, takes } = gatewayCheck(1, 1);
    const caller = student('11111111-1111-4111-8111-000000000003');
    expect(await outcome(check, caller)).toBe('allowed');
    expect(await outcome(check, caller)).toBe('refused');
    expect(takes()).toBe(2);
  });

  it('two gateways on one bucket let through at most the burst between them', async () => {
    const burst = 9;
    const a = gatewayCheck(burst, 1);
    const b = gatewayCheck(burst, 1);
    const caller = student('11111111-1111-4111-8111-000000000004');
    const outcomes: string[] = [];
    // Alternating, as a load balancer spreading one client's requests would: each gateway's spare is used or lost.
    for (let i = 0; i < 3 * burst; i++) outcomes.push(await outcome(i % 2 === 0 ? a.check : b.check, caller));
    const allowed = outcomes.filter((o) => o === 'allowed').length;
    expect(allowed).toBeGreaterThan(0);
    expect(allowed).toBeLessThanOrEqual(burst + 1); // the bucket refills 1/s while the loop runs
    expect(outcomes.at(-1)).toBe('refused');
  });

  it("lets a burst of one user's concurrent requests use the whole bucket, in a few round trips", async () => {
    const burst = 60;
    const { check, takes } = gatewayCheck(burst, 1);
    const caller = student('11111111-1111-4111-8111-000000000005');
    const outcomes = await Promise.all(Array.from({ length: 200 }, () => outcome(check, caller)));
    const allowed = outcomes.filter((o) => o === 'allowed').length;
    // Every token the bucket had went to a request: none was taken ahead and lost while others were refused.
    expect(allowed).toBeGreaterThanOrEqual(burst);
    expect(allowed).toBeLessThanOrEqual(burst + 1);
    expect(takes()).toBeLessThanOrEqual(4);
  });
});
