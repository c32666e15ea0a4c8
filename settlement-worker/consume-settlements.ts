// One reader per settle-stream bucket: XREADGROUP … BLOCK on its own connection (a blocked connection cannot
// serve anything else), up to settleBatchMax entries at a time, settled in one transaction. Blocking reads, not
// polling, so `complete` sees its settlement within milliseconds of the enqueue; batches, so a burst of ended
// sessions costs one commit per batch rather than one per session. With bucketCount readers per worker process,
// bucketCount batches are in flight at once per process; more worker processes add more consumers to the group.
import { settleBatchMax, settleDeliveriesMax } from '../core/limits.js';
import type { RedisClient } from '../core/redis/connect.js';
import { settleGroup } from '../core/redis/keys.js';
import { backoffMs, pause } from './pause.js';
import { entriesOfRead, type StreamEntry } from './stream-reply.js';
import type { WorkerDeps } from './worker-deps.js';

/** How long one XREADGROUP blocks: also the longest a stop() waits for an idle reader. */
export const readBlockMs = 1_000;

type Deps = Pick<WorkerDeps, 'meter' | 'processor' | 'consumer' | 'log' | 'metrics' | 'signal'>;

/** `blocking`: a connection this loop alone uses. Runs until `signal` aborts. Never rejects: every failure is logged and retried after a back-off. */
export async function consumeSettlements(deps: Deps, blocking: RedisClient, bucket: number): Promise<void> {
  const stream = deps.meter.keys.settleStream(bucket);
  const log = deps.log.child({ bucket });
  let failures = 0;
  while (!deps.signal.aborted) {
    let entries: StreamEntry[];
    try {
      entries = entriesOfRead(await blocking.xreadgroup('GROUP', settleGroup, deps.consumer,
        'COUNT', settleBatchMax, 'BLOCK', readBlockMs, 'STREAMS', stream, '>'));
      failures = 0;
    } catch (err) {
      if (deps.signal.aborted) break;
      deps.metrics.countServiceError(err);
      log.warn({ err }, 'reading the settle stream failed; backing off');
      // The stream or its group was deleted (by hand, or a flushed Redis): make them again rather than spin.
      if (String((err as Error).message).includes('NOGROUP')) await deps.meter.ensureSettleGroups().catch(() => undefined);
      await pause(backoffMs(failures++), deps.signal);
      continue;
    }
    // Entries already delivered to us are finished even while stopping: the batch is one transaction, and leaving
    // them pending would delay their settlement until another worker reclaims them.
    if (entries.length > 0) await settleWithRetries(deps, bucket, entries);
  }
}

/**
 * Retries the entries whose settlement failed for an operating reason (Postgres down, …), backing off each time.
 * After settleDeliveriesMax attempts, or when stopping, they are left pending: the reclaim loop takes it from there,
 * and the bucket's other entries are not held up behind them forever.
 */
async function settleWithRetries(deps: Deps, bucket: number, entries: readonly StreamEntry[]): Promise<void> {
  let pending = entries;
  for (let attempt = 0; attempt < settleDeliveriesMax; attempt++) {
    const outcomes = await deps.processor.processBatch(bucket, pending);
    pending = pending.filter((_, i) => outcomes[i] === 'retry');
    if (pending.length === 0 || deps.signal.aborted) return;
    await pause(backoffMs(attempt), deps.signal);
  }
  deps.log.warn({ bucket, entries: pending.length }, 'settle entries left pending for reclaim after repeated failures');
}
