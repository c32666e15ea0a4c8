// What the settlement worker's parts run on, built once by worker.ts and shared by every loop. Each part takes the
// members it uses (a `Pick` of WorkerDeps), so a test or a bench builds only those, and no part sees what it has no
// use for.
import type { Logger } from '../core/log.js';
import type { Pool } from '../core/pg/pool.js';
import type { RedisClient } from '../core/redis/connect.js';
import type { Meter } from '../core/redis/meter.js';
import type { WorkerMetrics } from './metrics.js';
import type { StreamEntry } from './stream-reply.js';

export type EntryOutcome = 'settled' | 'dead_lettered' | 'retry';

/** What happens to settle-stream entries, whichever loop delivered them (process-entry.ts builds it). */
export interface EntryProcessor {
  process(bucket: number, entry: StreamEntry): Promise<EntryOutcome>;
  /** Entries of one bucket (at most settleBatchMax), settled in one transaction; one outcome per entry, in order. */
  processBatch(bucket: number, entries: readonly StreamEntry[]): Promise<EntryOutcome[]>;
  deadLetter(bucket: number, entry: StreamEntry, reason: string): Promise<void>;
}

export interface WorkerDeps {
  pool: Pool;
  /** Shared connection for non-blocking commands; each settle-stream reader has its own blocking one. */
  redis: RedisClient;
  meter: Meter;
  log: Logger;
  metrics: WorkerMetrics;
  /** Aborted by stop(): every loop finishes what it has in hand and returns. */
  signal: AbortSignal;
  /** This worker's name in the `settlers` consumer group. */
  consumer: string;
  /** The platform's share of a cost, in basis points (PLATFORM_FEE_BPS). */
  feeBps: number;
  /** How long an entry stays pending with a silent consumer before another worker claims it (SETTLE_CLAIM_IDLE_MS). */
  claimIdleMs: number;
  /** How long a hold may wait unstarted before it is released as `abandoned` (ABANDONED_HOLD_MS). */
  abandonedHoldMs: number;
  /** How long after an outage due live sessions are held (disconnectHoldMsOf in sweep-deadlines.ts). */
  disconnectHoldMs: number;
  /** Settles delivered entries, for the readers and the reclaim loop. */
  processor: EntryProcessor;
}
