// Ends sessions whose deadline passed and re-sends settlements that were lost. The deadline sorted sets hold a
// lower bound (heartbeats never touch them); checkDeadline reads the truth from the session hash and decides:
//   gone       → the session was settled and forgotten: drop the deadline;
//   reschedule → still alive (or its settlement is recent): look again at the true deadline;
//   settle     → frozen as `disconnected` (or still `ending` long after it froze): enqueue the settlement, and
//                look again after settleRetryMs in case this entry is lost too.
// Several workers may sweep the same bucket at once: the script is atomic and settlement idempotent, so the
// worst case is a duplicate entry that settles as a no-op.
//
// After an outage (README "Redis: hangs and failovers"): when a pass could not reach Redis, the gateways most likely
// could not either, and their players' heartbeats went unrecorded although their sockets stayed open. Deadlines that
// passed meanwhile are then not a disconnect: for disconnectHoldMs after Redis answers again, a due live session is
// looked at again when the hold ends instead of settled, by which time every player still there has been heard from.
import { redisReconnectWaitMsMax, settleRetryMs, sweepBatchMax } from '../core/limits.js';
import { redisNowMs } from '../core/redis/connect.js';
import { backoffMsMax, pause } from './pause.js';
import { isUnavailableError } from '../core/unavailable.js';
import type { Config } from '../core/config.js';
import type { WorkerDeps } from './worker-deps.js';

/** Breath between passes while a backlog drains, so one loop never monopolises the event loop. */
const backlogPauseMs = 10;

type Deps = Pick<WorkerDeps, 'redis' | 'meter' | 'log' | 'metrics' | 'signal' | 'disconnectHoldMs'>;

/**
 * Two heartbeat intervals, two command bounds and twice the longest reconnect wait of a Redis client (connect.ts, a
 * margin for a gateway that reconnects a little after the worker): by then a player who kept its socket has sent a
 * heartbeat that reached Redis, and one whose socket closed meanwhile has had its close recorded.
 */
export const disconnectHoldMsOf = (config: Pick<Config, 'heartbeatIntervalMs' | 'redisCommandTimeoutMs'>): number =>
  2 * config.heartbeatIntervalMs + 2 * config.redisCommandTimeoutMs + 2 * redisReconnectWaitMsMax;

/** Whether the last pass was cut off from Redis, and until when (Redis time, ms) disconnects are held because of it. */
export interface OutageHold {
  cutOff: boolean;
  heldUntilMs: number;
}

export const noOutage = (): OutageHold => ({ cutOff: false, heldUntilMs: 0 });

async function sweepSession(deps: Deps, sessionId: string, nowMs: number, heldUntilMs: number): Promise<void> {
  const { meter } = deps;
  const check = await meter.checkDeadline(sessionId, heldUntilMs);
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
export async function sweepDeadlines(deps: Deps, buckets: readonly number[], hold: OutageHold = noOutage()): Promise<boolean> {
  const nowMs = await redisNowMs(deps.redis);
  if (hold.cutOff) {
    hold.cutOff = false;
    hold.heldUntilMs = nowMs + deps.disconnectHoldMs;
    deps.log.info({ heldForMs: deps.disconnectHoldMs }, 'Redis answers again after an outage; disconnects held while players are heard from again');
  }
  const dueByBucket = await Promise.all(buckets.map((bucket) =>
    deps.redis.zrangebyscore(deps.meter.keys.deadlines(bucket), '-inf', nowMs, 'LIMIT', 0, sweepBatchMax)));
  for (const due of dueByBucket) {
    if (deps.signal.aborted) break;
    if (due.length === 0) continue;
    deps.metrics.sweeperDue.inc(due.length);
    const results = await Promise.allSettled(due.map((id) => sweepSession(deps, id, nowMs, hold.heldUntilMs)));
    for (const [i, r] of results.entries()) {
      if (r.status !== 'rejected') continue;
      if (isUnavailableError(r.reason)) hold.cutOff = true;
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
export async function runSweepLoop(deps: Deps, buckets: readonly number[], intervalMs: number): Promise<void> {
  let failures = 0;
  const hold = noOutage();
  while (!deps.signal.aborted) {
    let more = false;
    try {
      more = await sweepDeadlines(deps, buckets, hold);
      failures = 0;
    } catch (err) {
      if (isUnavailableError(err)) hold.cutOff = true;
      deps.metrics.countServiceError(err);
      deps.log.warn({ err }, 'sweeping deadlines failed');
      failures++;
    }
    const waitMs = failures > 0 ? Math.min(intervalMs * 2 ** failures, backoffMsMax) : more ? backlogPauseMs : intervalMs;
    await pause(waitMs, deps.signal);
  }
}
