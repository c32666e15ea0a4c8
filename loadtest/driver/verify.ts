// The checks the driver applies to every answer, in integer minor units and milliseconds (docs/money.md,
// docs/websocket-protocol.md). Pure: each returns the failures it found; the caller counts them and the run exits
// non-zero if there are any.
import { amountToMinor, costMinor } from '../../core/money.js';
import type { AckFrame, EndedFrame, ReadyFrame } from '../../core/protocol/ws.js';

export interface Failure {
  check: string;
  detail: string;
}

export interface SessionTerms {
  lockedMinor: number;
  priceMinor: number;
  maxBillableMs: number;
}

/** What the driver sent with one heartbeat. */
export interface SentHeartbeat {
  seq: number;
  sentAtMs: number;
  lecture: number;
  completionPct: number;
}

export type Summary = NonNullable<EndedFrame['summary']>;
export type EndReason = EndedFrame['reason'];

/** Timer and loopback slack when billed time is compared with wall-clock time measured here. */
export const wallClockSlackMs = 5;

/** duration_seconds is billable_ms / 1000: back to whole ms, or null when it is not at millisecond precision. */
export function durationToMs(seconds: number): number | null {
  const ms = Math.round(seconds * 1000);
  return Math.abs(seconds * 1000 - ms) < 1e-6 && ms >= 0 ? ms : null;
}

/** An amount of the API → minor units, or null when it is not a non-negative amount with at most 2 decimals. */
export const toMinor = (amount: number): number | null => amountToMinor(amount);

/**
 * `carriedUnit`: a settled cost may be one unit above the session's own floor, the sub-minor remainder its student's
 * earlier sessions on the course carried in (docs/money.md "Splitting a viewing"); the end-of-run money check verifies
 * that carry exactly.
 */
function moneyFailures(where: string, terms: SessionTerms, ms: number, cost: number, remainingOrRefund: number,
  opts: { exhausted: boolean; label: string; carriedUnit?: boolean }): Failure[] {
  const c = toMinor(cost);
  const r = toMinor(remainingOrRefund);
  if (c === null || r === null) return [{ check: `${where}_amounts`, detail: `cost ${cost} / ${opts.label} ${remainingOrRefund} are not 2-decimal amounts` }];
  const out: Failure[] = [];
  if (c + r !== terms.lockedMinor) {
    out.push({ check: `${where}_cost_plus_${opts.label}`, detail: `cost ${cost} + ${opts.label} ${remainingOrRefund} ≠ locked ${terms.lockedMinor / 100}` });
  }
  const expected = opts.exhausted ? terms.lockedMinor : costMinor(ms, terms.priceMinor, terms.lockedMinor);
  if (c !== expected && !(opts.carriedUnit && !opts.exhausted && c === expected + 1)) {
    out.push({ check: `${where}_cost_formula`, detail: `cost ${cost} ≠ ${expected / 100} = floor(${ms} ms × ${terms.priceMinor} / 60000)${opts.exhausted ? ' (exhausted: locked)' : ''}` });
  }
  return out;
}

/**
 * Follows one session across its sockets: duration never decreases, each credit is bounded by wall-clock time and by
 * two server heartbeat intervals, and every figure obeys the money rules.
 */
export class SessionVerifier {
  lastDurationMs = 0;
  private lastAckedSeq = 0;
  /** Send time of the last acknowledged update (or of the socket's opening): the server's last_ms is after it. */
  private anchorMs = 0;
  private serverHeartbeatMs = 0;
  /**
   * Heartbeats answered `unavailable` since the last ack: the answer of an update Redis applied can be what was lost
   * (README "Redis: hangs and failovers"), so each may have earned its own credit before the next ack.
   */
  private maybeApplied = 0;

  constructor(readonly terms: SessionTerms) {}

  /** A heartbeat answered `unavailable`: applied or not, nobody knows. */
  onUnavailable(): void {
    this.maybeApplied += 1;
  }

  /**
   * A new socket: seq starts again, and time is counted from the attach, which happened after `openedAtMs`.
   * `expectResumed` null: either answer is right.
   */
  onReady(f: ReadyFrame, expectResumed: boolean | null, openedAtMs: number): Failure[] {
    this.lastAckedSeq = 0;
    this.maybeApplied = 0;
    this.anchorMs = openedAtMs;
    this.serverHeartbeatMs = f.heartbeat_interval_ms;
    const out: Failure[] = [];
    if (f.status !== 'active') out.push({ check: 'ready_status', detail: `ready.status ${f.status}, expected active` });
    if (expectResumed !== null && f.resumed !== expectResumed) out.push({ check: 'ready_resumed', detail: `ready.resumed ${f.resumed}, expected ${expectResumed}` });
    const ms = durationToMs(f.duration_seconds);
    if (ms === null) return [...out, { check: 'ready_duration_precision', detail: `duration_seconds ${f.duration_seconds}` }];
    if (ms < this.lastDurationMs) out.push({ check: 'duration_monotonic', detail: `ready ${ms} ms after ack ${this.lastDurationMs} ms` });
    this.lastDurationMs = Math.max(this.lastDurationMs, ms);
    return [...out, ...moneyFailures('ready', this.terms, ms, f.cost, f.remaining, { exhausted: false, label: 'remaining' })];
  }

  onAck(ack: AckFrame, sent: SentHeartbeat | undefined, receivedAtMs: number): Failure[] {
    const out: Failure[] = [];
    if (sent === undefined || ack.seq <= this.lastAckedSeq) {
      out.push({ check: 'ack_seq', detail: `ack seq ${ack.seq} answers no outstanding heartbeat (last acked ${this.lastAckedSeq})` });
    }
    const ms = durationToMs(ack.duration_seconds);
    if (ms === null) return [...out, { check: 'ack_duration_precision', detail: `duration_seconds ${ack.duration_seconds}` }];
    const credit = ms - this.lastDurationMs;
    if (credit < 0) out.push({ check: 'duration_monotonic', detail: `ack ${ack.seq}: ${ms} ms after ${this.lastDurationMs} ms` });
    if (sent !== undefined) {
      const wall = receivedAtMs - this.anchorMs + wallClockSlackMs;
      if (credit > wall) out.push({ check: 'credit_within_wall_clock', detail: `ack ${ack.seq}: credit ${credit} ms in ${Math.round(wall)} ms of wall clock` });
      const updatesMax = 1 + this.maybeApplied;
      if (this.serverHeartbeatMs > 0 && credit > updatesMax * 2 * this.serverHeartbeatMs) {
        out.push({ check: 'credit_within_max', detail: `ack ${ack.seq}: credit ${credit} ms > ${updatesMax} update(s) × 2 × ${this.serverHeartbeatMs} ms` });
      }
      this.maybeApplied = 0;
      if (ack.current_lecture !== sent.lecture) out.push({ check: 'ack_lecture', detail: `ack ${ack.seq}: lecture ${ack.current_lecture}, sent ${sent.lecture}` });
      if (ack.completion_pct !== sent.completionPct) out.push({ check: 'ack_completion_pct', detail: `ack ${ack.seq}: ${ack.completion_pct}, sent ${sent.completionPct}` });
      this.anchorMs = sent.sentAtMs;
      this.lastAckedSeq = ack.seq;
    }
    if (ms > this.terms.maxBillableMs) out.push({ check: 'duration_cap', detail: `ack ${ack.seq}: ${ms} ms > max ${this.terms.maxBillableMs} ms` });
    this.lastDurationMs = Math.max(this.lastDurationMs, ms);
    return [...out, ...moneyFailures('ack', this.terms, ms, ack.cost, ack.remaining, { exhausted: false, label: 'remaining' })];
  }

  /** The settlement's figures (from `ended` or REST complete); `wallMs` is the time from start request to now. */
  onSummary(s: Summary, reason: EndReason, wallMs: number): Failure[] {
    const ms = durationToMs(s.duration_seconds);
    if (ms === null) return [{ check: 'summary_duration_precision', detail: `duration_seconds ${s.duration_seconds}` }];
    const out: Failure[] = [];
    if (ms < this.lastDurationMs) out.push({ check: 'duration_monotonic', detail: `summary ${ms} ms after ack ${this.lastDurationMs} ms` });
    if (ms > wallMs + wallClockSlackMs) out.push({ check: 'summary_within_wall_clock', detail: `${ms} ms billed in ${Math.round(wallMs)} ms` });
    out.push(...moneyFailures('summary', this.terms, ms, s.cost, s.refund, { exhausted: reason === 'funds_exhausted', label: 'refund', carriedUnit: true }));
    const cost = toMinor(s.cost);
    const teacher = toMinor(s.teacher_earning);
    if (cost !== null && (teacher === null || teacher > cost)) {
      out.push({ check: 'summary_teacher_earning', detail: `teacher_earning ${s.teacher_earning} with cost ${s.cost}` });
    }
    return out;
  }
}
