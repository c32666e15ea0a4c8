// The REST token bucket (takeTokens-1.lua) against the real local Redis: a full bucket gives `burst` tokens at once,
// then refuses with the wait until the next token; time refills it; principals have buckets of their own; an idle
// bucket's key expires. Redis's own clock is the script's: gaps are made by moving the stored `ms` back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../../test/helpers/test-env.js';
import { createRestBuckets, type RestBuckets } from './rest-buckets.js';

let env: TestEnv;
let buckets: RestBuckets;
/** One token's take as a wait: 0 when taken, else the ms until one will be there. */
let waitOf: (principal: string) => Promise<number>;
const burst = 5;
const perSecond = 2;

beforeAll(async () => {
  env = await createTestEnv();
  buckets = createRestBuckets(env.redis, env.keys, { burst, perSecond });
  const take = buckets.take.bind(buckets);
  waitOf = async (principal) => { const r = await take(principal); return r.taken === 1 ? 0 : r.waitMs; };
});
afterAll(async () => { await env?.cleanup(); });

describe('REST token bucket', () => {
  it('gives the burst at once, then refuses with the wait until the next token', async () => {
    const waits = [];
    for (let i = 0; i < burst + 1; i++) waits.push(await waitOf('user-a'));
    expect(waits.slice(0, burst)).toEqual(Array(burst).fill(0));
    // Less than one token left: the next comes in at most 1000 / perSecond ms.
    expect(waits[burst]).toBeGreaterThanOrEqual(1);
    expect(waits[burst]).toBeLessThanOrEqual(1_000 / perSecond);
    // A refusal takes nothing: asking again is refused again.
    expect(await waitOf('user-a')).toBeGreaterThanOrEqual(1);
  });

  it('refills with time, up to the burst and no further', async () => {
    for (let i = 0; i < burst; i++) expect(await waitOf('user-b')).toBe(0);
    expect(await waitOf('user-b')).toBeGreaterThan(0);
    // One second ago: perSecond tokens back.
    await env.redis.hincrby(env.keys.restBucket('user-b'), 'ms', -1_000);
    for (let i = 0; i < perSecond; i++) expect(await waitOf('user-b')).toBe(0);
    expect(await waitOf('user-b')).toBeGreaterThan(0);
    // An hour ago: a full bucket, not 7,200 tokens.
    await env.redis.hincrby(env.keys.restBucket('user-b'), 'ms', -3_600_000);
    for (let i = 0; i < burst; i++) expect(await waitOf('user-b')).toBe(0);
    expect(await waitOf('user-b')).toBeGreaterThan(0);
  });

  it('keeps one bucket per principal, under the prefix, expiring once it would be full again', async () => {
    for (let i = 0; i < burst; i++) await waitOf('user-c');
    expect(await waitOf('user-c')).toBeGreaterThan(0);
    expect(await waitOf('user-d')).toBe(0);
    const key = env.keys.restBucket('user-c');
    expect(key.startsWith(env.keys.prefix)).toBe(true);
    const ttl = await env.redis.pttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual((burst / perSecond) * 1_000);
  });

  it('takes several tokens at once, as many whole ones as are there, never more than wanted', async () => {
    expect(await buckets.take('user-e', 2)).toEqual({ taken: 2, waitMs: 0 });
    expect(await buckets.take('user-e', 2)).toEqual({ taken: 2, waitMs: 0 });
    // One whole token left (burst 5): a take of two gets that one, not a refusal.
    expect(await buckets.take('user-e', 2)).toEqual({ taken: 1, waitMs: 0 });
    const refused = await buckets.take('user-e', 2);
    expect(refused.taken).toBe(0);
    expect(refused.waitMs).toBeGreaterThanOrEqual(1);
    await expect(buckets.take('user-e', 0)).rejects.toThrow(/at least one token/);
  });
});
