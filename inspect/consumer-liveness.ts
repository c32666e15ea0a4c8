// Whether a consumer of the `settlers` group is alive, from what Redis tells about it. Every live worker re-issues
// XREADGROUP … BLOCK on every bucket at least every readBlockMs; what that leaves visible depends on the server:
//   Redis 7.2+ (XINFO CONSUMERS reports `inactive`): `idle` restarts at every read attempt, even one that returns
//     nothing, so a freshest idle (over all buckets) above the threshold means the worker stopped reading.
//   Redis < 7.2: `idle` restarts only when entries are delivered to the consumer; an empty read does not even create
//     the consumer on that bucket. A fresh idle still proves it alive; a stale one proves nothing on its own, unless
//     some bucket has had an entry waiting unread longer than the threshold: every live worker reads every bucket,
//     so then no consumer with a stale idle is reading; or unless no worker has a reader connection to this Redis at
//     all (CLIENT LIST, reader-connections.ts).
import { readBlockMs } from '../settlement-worker/consume-settlements.js';
import { backoffMsMax } from '../settlement-worker/pause.js';

/**
 * Idle (or unread-entry age) above which a reader is taken to have stopped: a live reader is back in XREADGROUP within
 * one block (readBlockMs) plus, after a failed read, one back-off (backoffMsMax); twice that leaves room for a slow batch.
 */
export const aliveIdleMsMax = 2 * (readBlockMs + backoffMsMax);

export type Liveness = 'alive' | 'dead' | 'unknown';

export interface LivenessInput {
  /** The consumer's smallest idle over the buckets it appears on. */
  freshestIdleMs: number;
  /** Whether the server's idle counts every read attempt (Redis 7.2+: XINFO CONSUMERS has `inactive`). */
  idleCountsEveryRead: boolean;
  /** Age of the oldest entry no consumer has been given, over all buckets (null: none waiting). */
  oldestUnreadAgeMs: number | null;
  /** Whether any worker holds settle-reader connections to this Redis (null: CLIENT LIST refused). */
  readersConnected: boolean | null;
}

export function liveness({ freshestIdleMs, idleCountsEveryRead, oldestUnreadAgeMs, readersConnected }: LivenessInput): Liveness {
  if (freshestIdleMs <= aliveIdleMsMax) return 'alive';
  if (idleCountsEveryRead || readersConnected === false) return 'dead';
  return oldestUnreadAgeMs !== null && oldestUnreadAgeMs > aliveIdleMsMax ? 'dead' : 'unknown';
}
