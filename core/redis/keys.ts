// Every Redis key and channel name is built here, and only here. Keys of one session share the hash tag
// {<session id>} (one Cluster slot); global structures are split into buckets, each with its own tag.
import { bucketCount } from '../limits.js';

export interface Keys {
  readonly prefix: string;
  session(id: string): string;
  lectures(id: string): string;
  deadlines(bucket: number): string;
  /** Sessions whose billed time moved since their last checkpoint (dirty-sessions.ts); same slot as deadlines. */
  dirty(bucket: number): string;
  /** A key the worker keeps set: finding it gone tells that Redis lost its data (reconcile at once). */
  epoch(): string;
  /** One principal's REST token bucket (rest-rate-limit.ts): its own slot, like a session's keys. */
  restBucket(principal: string): string;
  settleStream(bucket: number): string;
  deadLetters(): string;
  replacedChannel(): string;
  settledChannel(bucket: number): string;
  bucketOf(sessionId: string): number;
  buckets(): number[];
}

export const settleGroup = 'settlers';

export function createKeys(prefix: string): Keys {
  return Object.freeze({
    prefix,
    session: (id: string) => `${prefix}sess:{${id}}`,
    lectures: (id: string) => `${prefix}sess:{${id}}:lectures`,
    deadlines: (bucket: number) => `${prefix}deadlines:{d${bucket}}`,
    dirty: (bucket: number) => `${prefix}dirty:{d${bucket}}`,
    epoch: () => `${prefix}epoch`,
    restBucket: (principal: string) => `${prefix}rest-rate:{${principal}}`,
    settleStream: (bucket: number) => `${prefix}settle:{s${bucket}}`,
    deadLetters: () => `${prefix}settle-dead`,
    replacedChannel: () => `${prefix}socket-replaced`,
    // Carries the ids of sessions whose settlement has committed, after COMMIT, so a waiting `complete` reads Postgres
    // once instead of polling it. Tagged like the bucket's settle stream: sharded pub/sub (SPUBLISH) could use it as is.
    settledChannel: (bucket: number) => `${prefix}settled:{s${bucket}}`,
    // A UUID's last 8 hex digits are uniformly distributed (v4 random bits), so this spreads sessions evenly.
    bucketOf: (sessionId: string) => Number.parseInt(sessionId.slice(-8), 16) % bucketCount,
    buckets: () => Array.from({ length: bucketCount }, (_, i) => i),
  });
}
