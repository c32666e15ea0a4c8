// Takes over settle entries that another consumer read but never acknowledged (it crashed, or its retries ran
// out): XAUTOCLAIM hands us entries idle for longer than SETTLE_CLAIM_IDLE_MS, and they are processed like fresh
// ones. An entry delivered more than settleDeliveriesMax times is poison (it keeps failing wherever it goes), so it
// is dead-lettered instead of being tried again forever.
import type { Config } from '../core/config.js';
import { settleBatchMax, settleDeliveriesMax } from '../core/limits.js';
import { settleGroup } from '../core/redis/keys.js';
import { pause } from './pause.js';
import { deliveriesOfPending, partsOfAutoclaim, type StreamEntry } from './stream-reply.js';
import type { WorkerDeps } from './worker-deps.js';

type Deps = Pick<WorkerDeps, 'pool' | 'redis' | 'meter' | 'processor' | 'consumer' | 'claimIdleMs' | 'log' | 'metrics' | 'signal'>;

/** Often enough that a claimable entry waits at most half its idle time again; at least every 5 s. */
export function reclaimIntervalMs(config: Pick<Config, 'settleClaimIdleMs'>): number {
  return Math.min(5_000, Math.max(250, Math.floor(config.settleClaimIdleMs / 2)));
}

/** One bounded pass over one bucket: at most settleBatchMax entries. Returns how many were claimed. */
export async function reclaimPending(deps: Deps, bucket: number): Promise<number> {
  const stream = deps.meter.keys.settleStream(bucket);
  const { entries } = partsOfAutoclaim(await deps.redis.xautoclaim(stream, settleGroup, deps.consumer,
    deps.claimIdleMs, '0-0', 'COUNT', settleBatchMax));
  const first = entries[0];
  const last = entries[entries.length - 1];
  if (!first || !last) return 0;
  deps.metrics.entriesReclaimed.inc(entries.length);
  // XAUTOCLAIM does not report delivery counts; XPENDING over exactly the claimed range does (one round trip).
  const deliveries = deliveriesOfPending(await deps.redis.xpending(stream, settleGroup, first.id, last.id,
    entries.length, deps.consumer));
  const fresh: StreamEntry[] = [];
  for (const entry of entries) {
    const count = deliveries.get(entry.id) ?? 1;
    if (count > settleDeliveriesMax) {
      await deps.processor.deadLetter(bucket, entry, `delivered ${count} times (more than ${settleDeliveriesMax})`);
      continue;
    }
    fresh.push(entry);
  }
  if (fresh.length > 0) {
    deps.log.info({ bucket, entries: fresh.length, first: fresh[0]!.id }, 'reclaimed pending settle entries');
    // On 'retry' an entry stays pending under our name; it is claimable again after the idle time.
    await deps.processor.processBatch(bucket, fresh);
  }
  return entries.length;
}

/**
 * Claiming counts as a delivery, and delivery counts decide what is poison; so while Postgres is down nothing is
 * claimed, or a long outage would push every pending entry past settleDeliveriesMax into the dead letters.
 */
async function postgresAnswers(deps: Deps): Promise<boolean> {
  try {
    await deps.pool.query('SELECT 1');
    return true;
  } catch (err) {
    deps.metrics.countServiceError(err);
    return false;
  }
}

/** Runs until `signal` aborts, visiting every bucket each interval. Never rejects. */
export async function runReclaimLoop(deps: Deps, buckets: readonly number[], intervalMs: number): Promise<void> {
  while (!deps.signal.aborted) {
    if (await postgresAnswers(deps)) {
      for (const bucket of buckets) {
        if (deps.signal.aborted) break;
        try {
          await reclaimPending(deps, bucket);
        } catch (err) {
          deps.metrics.countServiceError(err);
          deps.log.warn({ err, bucket }, 'reclaiming pending settle entries failed');
        }
      }
    } else {
      deps.log.warn('Postgres does not answer; pending settle entries are not reclaimed until it does');
    }
    await pause(intervalMs, deps.signal);
  }
}
