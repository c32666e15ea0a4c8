// Which live sessions' billed time moved since the worker last checkpointed them: one Redis set per bucket
// (`dirty:{d<b>}`), so a checkpoint pass costs in proportion to what changed, not to every live session.
//
// The gateway marks a session when an update credited it. Marks are buffered in memory and flushed (one SADD per
// bucket) every dirtyFlushMs: a heartbeat pays no extra Redis command, and the update script stays within its one
// session's Cluster slot (a bucket's set lives in another slot, so the script could not add to it itself). The worker
// takes ids with SPOP, a batch at a time, and puts them back if writing their checkpoint failed.
//
// What a lost mark costs: a gateway that dies holds at most dirtyFlushMs of marks; those sessions are marked again by
// their next credited update (on whichever gateway the player reconnects to). Only a Redis data loss in the same
// window turns a lost mark into lost billed time, and then no more than one checkpoint interval plus the flush period.
import type { RedisClient } from './connect.js';
import type { Keys } from './keys.js';

export interface DirtySessions {
  /** Buffers `sessionId` as moved (gateway side). */
  mark(sessionId: string): void;
  /**
   * Writes the buffered marks to Redis; marks whose write failed stay buffered for the next flush. Never throws:
   * resolves with the error of a failed write (for the caller's error counter), or null.
   */
  flush(): Promise<unknown>;
  /** Sessions buffered and not yet flushed (for tests and metrics). */
  buffered(): number;
  /** Takes up to `count` marked sessions of one bucket (worker side). */
  take(bucket: number, count: number): Promise<string[]>;
  /** Marks sessions again in Redis at once (a checkpoint write that failed). */
  putBack(bucket: number, sessionIds: readonly string[]): Promise<void>;
  /** How many sessions of one bucket are marked in Redis. */
  count(bucket: number): Promise<number>;
}

export function createDirtySessions(redis: RedisClient, keys: Keys): DirtySessions {
  let pending = new Map<number, Set<string>>();

  return {
    mark(sessionId) {
      const bucket = keys.bucketOf(sessionId);
      let set = pending.get(bucket);
      if (!set) pending.set(bucket, (set = new Set()));
      set.add(sessionId);
    },

    async flush() {
      if (pending.size === 0) return null;
      const flushing = pending;
      pending = new Map();
      let failure: unknown = null;
      await Promise.all([...flushing].map(async ([bucket, ids]) => {
        try {
          await redis.sadd(keys.dirty(bucket), ...ids);
        } catch (err) {
          // Redis unreachable: keep them for the next flush (bounded by the sessions this gateway meters).
          failure = err;
          for (const id of ids) this.mark(id);
        }
      }));
      return failure;
    },

    buffered: () => [...pending.values()].reduce((n, s) => n + s.size, 0),

    async take(bucket, count) {
      const r = await redis.spop(keys.dirty(bucket), count);
      return r ?? [];
    },

    async putBack(bucket, sessionIds) {
      if (sessionIds.length > 0) await redis.sadd(keys.dirty(bucket), ...sessionIds);
    },

    count: (bucket) => redis.scard(keys.dirty(bucket)),
  };
}
