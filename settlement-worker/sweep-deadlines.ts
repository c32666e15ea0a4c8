// Ends sessions whose deadline passed and re-sends settlements that were lost. The deadline sorted sets hold a
// lower bound (heartbeats never touch them); checkDeadline reads the truth from the session hash and decides:
//   gone       → the session was settled and forgotten: drop the deadline;
//   reschedule → still alive (or its settlement is recent): look again at the true deadline;
//   settle     → frozen as `disconnected` (or still `ending` long after it froze): enqueue the settlement, and
//                look again after settleRetryMs in case this entry is lost too.
// Several workers may sweep the same bucket at once: the script is atomic and settlement idempotent, so the
// worst case is a duplicate entry that settles as a no-op.
import { settleRetryMs, sweepBatchMax } from '../shared/limits.js';
import type { Logger } from '../shared/log.js';
import { redisNowMs, type RedisClient } from '../shared/redis/connect.js';
import type { Meter } from '../shared/redis/meter.js';
import { backoffMsMax, pause } from './pause.js';
import type { WorkerMetrics } from './metrics.js';

/** Breath between passes while a backlog drains, so one loop never monopolises the event loop. */
const backlogPauseMs = 10;

export interface SweepDeps {
  redis: RedisClient;
  meter: Meter;
  log: Logger;
  metrics: WorkerMetrics;
  signal: AbortSignal;
}


async function sweepSession(deps: SweepDeps, sessionId: string, nowMs: number): Promise<void> {
  const { meter } = deps;
  const check = await meter.checkDeadline(sessionId);
  if (check.kind === 'gone') {
    await deps.redis.zrem(meter.keys.deadlines(meter.keys.bucketOf(sessionId)), sessionId);
  } else if (check.kind === 'reschedule') {
    await meter.rescheduleDeadline(sessionId, check.deadlineMs, nowMs);
  } else {
    await meter.enqueueSettlement(check.frozen);
    deps.metrics.sweeperEnqueued.inc();
    await meter.rescheduleDeadline(sessionId, nowMs + settleRetryMs, nowMs);
    deps.log.info({ sessionId, endReason: check.frozen.endReason }, 'deadline passed; settlement enqueued');
  }
}

/**
 * One pass: at most sweepBatchMax due sessions per bucket, checked concurrently (pipelined on one connection), one
 * bucket after another so a backlog reaches Redis in batches of that size. The buckets' due lists are read together,
 * in one round trip rather than one each: the pass runs twice a second in every worker, whether anything is due or
 * not. Returns true when some bucket had a full batch, i.e. more may be due right now.
 */
export async function sweepDeadlines(deps: SweepDeps, buckets: readonly number[]): Promise<boolean> {
  const nowMs = await redisNowMs(deps.redis);
  const dueByBucket = await Promise.all(buckets.map((bucket) =>
    deps.redis.zrangebyscore(deps.meter.keys.deadlines(bucket), '-inf', nowMs, 'LIMIT', 0, sweepBatchMax)));
  for (const due of dueByBucket) {
    if (deps.signal.aborted) break;
    if (due.length === 0) continue;
    deps.metrics.sweeperDue.inc(due.length);
    const results = await Promise.allSettled(due.map((id) => sweepSession(deps, id, nowMs)));
    for (const [i, r] of results.entries()) {
      if (r.status !== 'rejected') continue;
      deps.metrics.countServiceError(r.reason);
      deps.log.warn({ err: r.reason, sessionId: due[i] }, 'sweeping a deadline failed');
    }
  }
  return dueByBucket.some((due) => due.length === sweepBatchMax);
}

/**
 * Runs until `signal` aborts. Sweeps again almost at once while there is a backlog, else every `intervalMs`,
 * and backs off (up to backoffMsMax) while Redis keeps failing.
 */
export async function runSweepLoop(deps: SweepDeps, buckets: readonly number[], intervalMs: number): Promise<void> {
  let failures = 0;
  while (!deps.signal.aborted) {
    let more = false;
    try {
      more = await sweepDeadlines(deps, buckets);
      failures = 0;
    } catch (err) {
      deps.metrics.countServiceError(err);
      deps.log.warn({ err }, 'sweeping deadlines failed');
      failures++;
    }
    const waitMs = failures > 0 ? Math.min(intervalMs * 2 ** failures, backoffMsMax) : more ? backlogPauseMs : intervalMs;
    await pause(waitMs, deps.signal);
  }
}
