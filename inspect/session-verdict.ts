// The one line `inspect session` leads with: where the session is (Redis, Postgres, both, neither) and what that
// means, so the operator need not read both sides to know whether anything is wrong.
import { duration, dueIn } from './format.js';
import type { LiveState } from './live-state.js';
import type { PgSession } from './session-postgres.js';

export interface VerdictInput {
  live: LiveState | null;
  pg: PgSession | null;
  /** The sweeper's deadline, in ms from now (negative: overdue), if the session has one. */
  deadlineInMs: number | null;
  nowMs: number;
}

/** null: the session is in neither Redis nor Postgres (unknown id, or the wrong prefix or schema). */
export function verdict({ live, pg, deadlineInMs, nowMs }: VerdictInput): string | null {
  if (!live && !pg) return null;
  if (!live) {
    if (pg!.status === 'completed') return `settled ${pg!.end_reason} (cost ${pg!.cost} of ${pg!.locked_amount}); not in Redis`;
    if (pg!.status === 'locked') return 'created (funds locked), never started; not in Redis';
    return 'active in Postgres but not in Redis: live state lost; the worker\'s reconcile pass rebuilds it from the checkpoint';
  }
  if (!pg) return `${live.status} in Redis but no Postgres row: check DATABASE_SCHEMA`;
  if (pg.status === 'completed') {
    return `settled ${pg.end_reason} in Postgres; Redis still holds its live state (${live.status}), deleted once the settlement is acknowledged`;
  }
  if (pg.status === 'locked') return `${live.status} in Redis but still locked in Postgres (start not committed?)`;
  const due = deadlineInMs === null ? 'no deadline scheduled' : `${live.deadline_kind} deadline ${dueIn(deadlineInMs)}`;
  if (live.status === 'ending') {
    return `ending in Redis (${live.end_reason}), settlement not committed yet; ${due}`;
  }
  const behind = live.billed_ms - pg.duration_ms;
  const checkpoint = behind === 0 ? 'checkpoint up to date' : `checkpoint ${duration(behind)} behind`;
  const how = live.status === 'active'
    ? (live.owner ? 'active, socket attached' : 'active, no socket yet')
    : `paused, player's socket gone${live.seen_ms === null ? '' : `, last heartbeat ${duration(nowMs - live.seen_ms)} ago`}`;
  return `live in Redis (${how}), ${checkpoint}; ${due}`;
}
