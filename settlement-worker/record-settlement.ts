// What the worker records about each settlement it committed, whichever path wrote it (a batch, one entry at a
// time, an abandoned hold): one `info` line with the figures and the counters and latency of README "Metrics".
// A repeat of an earlier settlement moved no money and is not recorded here.
import { minorToNumeric } from '../core/money.js';
import type { SettledSession } from './settlement-decision.js';
import type { WorkerDeps } from './worker-deps.js';

type Deps = Pick<WorkerDeps, 'log' | 'metrics'>;

/**
 * `endedMs`: when the session ended (its settle entry's enqueued_ms, the gateway's clock), or null when it has no
 * end moment (an abandoned hold). `committedMs`: when COMMIT returned, on this worker's clock.
 */
export function recordSettlement(deps: Deps, s: SettledSession, endedMs: number | null, committedMs: number): void {
  // Clocks of two hosts: a small negative difference is skew, not time travel.
  const endToCommitMs = endedMs === null ? null : Math.max(0, committedMs - endedMs);
  deps.metrics.settlements[s.endReason].inc();
  if (endToCommitMs !== null) deps.metrics.settlementLatencySeconds.observe(endToCommitMs / 1000);
  // Amounts as exact decimal text in major units, never floats.
  deps.log.info({
    session_id: s.sessionId,
    end_reason: s.endReason,
    billed_ms: s.durationMs,
    cost: minorToNumeric(s.costMinor),
    refund: minorToNumeric(s.refundMinor),
    teacher_earning: minorToNumeric(s.teacherEarningMinor),
    platform_fee: minorToNumeric(s.platformFeeMinor),
    end_to_commit_ms: endToCommitMs,
  }, 'session settled');
}
