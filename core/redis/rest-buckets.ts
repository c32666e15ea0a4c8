// The one typed choke point for the REST token buckets in Redis (takeTokens-1.lua): one bucket per principal, shared
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

/** What one take got: `taken` tokens (0 when refused), and when refused the ms until one will be there (≥ 1). */
export interface TakeResult {
  taken: number;
  waitMs: number;
}

export interface RestBuckets {
  /** Takes up to `wanted` tokens (default 1) of `principal`'s bucket: at least one, or none and the wait. */
  take(principal: string, wanted?: number): Promise<TakeResult>;
}

type TakeTokens = (key: string, burst: number, perSecond: number, wanted: number) => Promise<[number, number]>;

export function createRestBuckets(redis: RedisClient, keys: Keys, limits: RestBucketLimits): RestBuckets {
  invariant(limits.burst >= 1 && limits.perSecond > 0, 'a REST bucket holds at least one token and refills');
  const takeTokens = (redis as unknown as { takeTokens: TakeTokens }).takeTokens.bind(redis);
  return {
    async take(principal, wanted = 1) {
      invariant(Number.isSafeInteger(wanted) && wanted >= 1, `a take wants at least one token, not ${wanted}`);
      const [takenRaw, waitRaw] = await takeTokens(keys.restBucket(principal), limits.burst, limits.perSecond, wanted);
      const taken = Number(takenRaw);
      const waitMs = Number(waitRaw);
      invariant(taken >= 1 ? taken <= wanted && waitMs === 0 : taken === 0 && Number.isSafeInteger(waitMs) && waitMs >= 1,
        `unexpected takeTokens reply ${takenRaw}, ${waitRaw} for ${wanted} wanted`);
      return { taken, waitMs };
    },
  };
}
