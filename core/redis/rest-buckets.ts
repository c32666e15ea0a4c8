// The one typed choke point for the REST token buckets in Redis (takeToken-1.lua): one bucket per principal, shared
// by every gateway, so the limit holds however the load balancer spreads a client's requests.
import type { RedisClient } from './connect.js';
import type { Keys } from './keys.js';
import { invariant } from '../errors.js';

export interface RestBucketLimits {
  /** Tokens a full bucket holds: the burst a principal may send at once. */
  burst: number;
  /** Tokens added per second: the sustained rate. */
  perSecond: number;
}

export interface RestBuckets {
  /** Takes one token of `principal`'s bucket: 0 when taken, else the ms until one will be there (≥ 1). */
  take(principal: string): Promise<number>;
}

type TakeToken = (key: string, burst: number, perSecond: number) => Promise<[number, number]>;

export function createRestBuckets(redis: RedisClient, keys: Keys, limits: RestBucketLimits): RestBuckets {
  invariant(limits.burst >= 1 && limits.perSecond > 0, 'a REST bucket holds at least one token and refills');
  const takeToken = (redis as unknown as { takeToken: TakeToken }).takeToken.bind(redis);
  return {
    async take(principal) {
      const [taken, waitMs] = await takeToken(keys.restBucket(principal), limits.burst, limits.perSecond);
      const wait = Number(waitMs);
      invariant(Number(taken) === 1 ? wait === 0 : Number.isSafeInteger(wait) && wait >= 1, `unexpected takeToken reply ${taken}, ${waitMs}`);
      return wait;
    },
  };
}
