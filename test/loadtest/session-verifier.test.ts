// The driver's per-session checks around a heartbeat answered `unavailable`: its update may have been applied with
// only its answer lost (README "Redis: hangs and failovers"), so the next ack may carry the credit of two updates.
import { describe, expect, it } from 'vitest';
import { SessionVerifier } from '../../loadtest/driver/verify.js';

const terms = { lockedMinor: 100_000, priceMinor: 10, maxBillableMs: 10_000_000 };
const heartbeatMs = 5_000;

function readyVerifier(): SessionVerifier {
  const v = new SessionVerifier(terms);
  v.onReady({ type: 'ready', session_id: 'x', status: 'active', resumed: false, duration_seconds: 0, cost: 0, remaining: 1000,
    heartbeat_interval_ms: heartbeatMs } as never, false, 0);
  return v;
}

/** An ack of `durationMs` in all, for heartbeat 1 sent at `sentAtMs`, received 5 ms later. */
function ackAt(v: SessionVerifier, durationMs: number, sentAtMs: number): string[] {
  const cost = Math.floor((durationMs * terms.priceMinor) / 60_000) / 100;
  return v.onAck({ type: 'ack', seq: 1, duration_seconds: durationMs / 1000, cost, remaining: terms.lockedMinor / 100 - cost,
    current_lecture: 1, completion_pct: 1 } as never, { seq: 1, sentAtMs, lecture: 1, completionPct: 1 }, sentAtMs + 5).map((f) => f.check);
}

describe('SessionVerifier credit bound', () => {
  it('refuses an ack crediting more than two heartbeat intervals after one update', () => {
    expect(ackAt(readyVerifier(), 2 * heartbeatMs, 30_000)).toEqual([]);
    expect(ackAt(readyVerifier(), 2 * heartbeatMs + 1, 30_000)).toContain('credit_within_max');
  });

  it('allows one more update\'s credit per heartbeat answered unavailable since the last ack, and only until that ack', () => {
    const v = readyVerifier();
    v.onUnavailable();
    expect(ackAt(v, 4 * heartbeatMs, 30_000)).toEqual([]);
    // The next ack is back to one update's bound.
    const next = v.onAck({ type: 'ack', seq: 2, duration_seconds: (6 * heartbeatMs + 1) / 1000, cost: 0.05, remaining: 999.95,
      current_lecture: 1, completion_pct: 1 } as never, { seq: 2, sentAtMs: 60_000, lecture: 1, completionPct: 1 }, 60_005);
    expect(next.map((f) => f.check)).toContain('credit_within_max');
    const twice = readyVerifier();
    twice.onUnavailable();
    expect(ackAt(twice, 4 * heartbeatMs + 1, 30_000)).toContain('credit_within_max');
  });
});
