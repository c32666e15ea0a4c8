// A session hash (sess:{id}, fields in the headers of core/redis/scripts/*.lua) read as typed figures, and the
// deadline the sweeper holds it to, by the same rule as checkDeadline-2.lua.
import type { Config } from '../core/config.js';
import { settleRetryMs } from '../core/limits.js';
import { costMinor, minorToNumeric } from '../core/money.js';

export type LiveStatus = 'active' | 'paused' | 'ending';

/**
 * Which rule sets the deadline (checkDeadline-2.lua): `idle` an active session whose gateway may have died
 * (seen_ms + socket idle + grace), `grace` a paused one whose player may not come back (paused_ms + grace),
 * `retry` an ending one whose settle entry may have been lost (ended_ms + settlement retry).
 */
export type DeadlineKind = 'idle' | 'grace' | 'retry';

export interface LiveState {
  status: LiveStatus;
  student_id: string | null;
  course_id: string | null;
  billed_ms: number;
  max_ms: number | null;
  locked_minor: number | null;
  price_minor: number | null;
  /** Exact cost so far in minor units (core/money.ts costMinor), null when the hash lacks price or locked. */
  cost_minor: number | null;
  /** Major units as exact decimal text ("0.42"). */
  cost: string | null;
  /** Redis time of the last heartbeat or metrics update (or of the socket's attach). */
  seen_ms: number | null;
  /** The socket that owns the session ('' while paused or ending): a socket id, not a gateway name. */
  owner: string;
  end_reason: string | null;
  lecture: string | null;
  pct: string | null;
  deadline_kind: DeadlineKind;
  /** When the sweeper settles it (or, for `retry`, enqueues it again), by the hash; null if a time field is missing. */
  rule_deadline_ms: number | null;
}

const int = (text: string | undefined): number | null => {
  if (text === undefined || text === '') return null;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : null;
};

const kindOf: Record<LiveStatus, DeadlineKind> = { active: 'idle', paused: 'grace', ending: 'retry' };

/** Null for an empty hash (no live state) or one whose status is not a live status. */
export function readLiveState(hash: Record<string, string>, config: Pick<Config, 'socketIdleMs' | 'disconnectGraceMs'>): LiveState | null {
  const status = hash.status;
  if (status !== 'active' && status !== 'paused' && status !== 'ending') return null;
  const billed = int(hash.billed_ms) ?? 0;
  const locked = int(hash.locked);
  const price = int(hash.price);
  const cost = locked !== null && price !== null && price > 0 ? costMinor(billed, price, locked) : null;
  const seen = int(hash.seen_ms);
  const base = status === 'active' ? seen : status === 'paused' ? int(hash.paused_ms) : int(hash.ended_ms);
  const after = status === 'active' ? config.socketIdleMs + config.disconnectGraceMs
    : status === 'paused' ? config.disconnectGraceMs : settleRetryMs;
  return {
    status,
    student_id: hash.student_id ?? null,
    course_id: hash.course_id ?? null,
    billed_ms: billed,
    max_ms: int(hash.max_ms),
    locked_minor: locked,
    price_minor: price,
    cost_minor: cost,
    cost: cost === null ? null : minorToNumeric(cost),
    seen_ms: seen,
    owner: hash.owner ?? '',
    end_reason: hash.end_reason || null,
    lecture: hash.lecture || null,
    pct: hash.pct ?? null,
    deadline_kind: kindOf[status],
    rule_deadline_ms: base === null ? null : base + after,
  };
}

/**
 * When the sweeper will act: it looks only once the sorted-set score is due, and then acts only if the hash's rule
 * says so; so the later of the two (the score is a lower bound that heartbeats never move).
 */
export function effectiveDeadlineMs(scoreMs: number | null, state: LiveState | null): number | null {
  if (state?.rule_deadline_ms == null) return scoreMs;
  return scoreMs === null ? state.rule_deadline_ms : Math.max(scoreMs, state.rule_deadline_ms);
}
