// Releases abandoned holds: a session created (funds locked) but not started within ABANDONED_HOLD_MS is settled
// as `abandoned` (0 ms, cost 0, the whole hold back in the wallet) by the same one-transaction settlement as every
// other session, so its ledger, hold release and refund are written exactly alike. Only Postgres is involved: a
// session that was never started has nothing in Redis.
// Racing a `start` is safe: settleOrSkip decides under the session's row lock and skips a session that is no longer
// `locked`; a start that comes after the release finds the session `completed` and is refused (409 wrong_state).
// Several workers may run this at once: the row lock and the one-settlement-per-session index make a second release
// of the same session a no-op that returns the stored figures.
import { abandonedBatchMax } from '../core/limits.js';
import type { Config } from '../core/config.js';
import type { FrozenSession } from '../core/protocol/settlement.js';
import { backoffMs, pause } from './pause.js';
import { permanentReason } from './process-entry.js';
import { settleOrSkip } from './settle-session.js';
import { recordSettlement } from './record-settlement.js';
import type { WorkerDeps } from './worker-deps.js';

/** Breath between pages while a backlog drains, so the loop never monopolises the event loop or the pool. */
const backlogPauseMs = 10;

type Deps = Pick<WorkerDeps, 'pool' | 'feeBps' | 'abandonedHoldMs' | 'log' | 'metrics' | 'signal'>;

/** Where the scan goes on: the last session of a full page, in (created_at, id) order. */
export interface ReleaseCursor {
  /** Postgres text of created_at: a JS Date would drop its microseconds and revisit or skip rows. */
  createdAt: string;
  id: string;
}

export interface ReleasePage {
  released: number;
  /** A `start` won the race: the session is active, its hold stays until it ends. */
  skipped: number;
  /** Settled meanwhile by something else (`complete`, another worker): nothing moved. */
  alreadySettled: number;
  /** Sessions that cannot be settled (a broken invariant, a refused row): logged, retried next scan. */
  failed: number;
  /** Non-null when the page was full: more may be due right now. */
  next: ReleaseCursor | null;
}

/** A tenth of the hold time, at least 1 s: a hold is released at most 10 % late, and an idle scan costs little. */
export function releaseIntervalMs(config: Pick<Config, 'abandonedHoldMs'>): number {
  return Math.max(1_000, Math.floor(config.abandonedHoldMs / 10));
}

/** A session that was never started, frozen as the meter would freeze one: no time billed, no lecture. */
export function frozenAbandoned(sessionId: string): FrozenSession {
  return { sessionId, endReason: 'abandoned', billedMs: 0, completionPct: '0', currentLecture: null, progressMs: {} };
}

/**
 * Locked sessions created more than abandonedHoldMs ago, oldest first, after `cursor`. The age is measured in
 * Postgres time on both sides (created_at is its now() too), so worker and database clocks need not agree.
 */
async function dueLockedSessions(deps: Deps, cursor: ReleaseCursor | null): Promise<ReleaseCursor[]> {
  const { rows } = await deps.pool.query<ReleaseCursor>(
    `SELECT id, created_at::text AS "createdAt" FROM sessions
      WHERE status = 'locked' AND created_at < now() - $1::bigint * interval '1 millisecond'
        AND ($3::timestamptz IS NULL OR (created_at, id) > ($3::timestamptz, $4::uuid))
      ORDER BY created_at, id LIMIT $2`,
    [deps.abandonedHoldMs, abandonedBatchMax, cursor?.createdAt ?? null, cursor?.id ?? null]);
  return rows;
}

/**
 * One page: at most abandonedBatchMax sessions, settled one transaction each. An operating error (Postgres
 * unreachable) ends the page by throwing; a session that cannot be settled is logged and passed over.
 */
export async function releaseAbandonedHolds(deps: Deps, cursor: ReleaseCursor | null): Promise<ReleasePage> {
  const due = await dueLockedSessions(deps, cursor);
  const page: ReleasePage = { released: 0, skipped: 0, alreadySettled: 0, failed: 0, next: null };
  for (const { id } of due) {
    if (deps.signal.aborted) return page;
    const log = deps.log.child({ sessionId: id });
    try {
      const outcome = await settleOrSkip(deps.pool, frozenAbandoned(id), deps.feeBps);
      if ('skipped' in outcome) {
        page.skipped++;
        log.info({ status: outcome.status }, 'abandoned hold not released: the session was started meanwhile');
      } else if (outcome.alreadySettled) {
        page.alreadySettled++;
        log.debug({ endReason: outcome.endReason }, 'abandoned hold already settled');
      } else {
        page.released++;
        // The `session settled` line (record-settlement.ts) says it all: end_reason abandoned, refund the hold.
        recordSettlement(deps, outcome, null, Date.now());
      }
    } catch (err) {
      const reason = permanentReason(err);
      if (reason === null) throw err;
      // Our bug or bad data, not a passing outage: shout, and keep releasing the others.
      page.failed++;
      log.error({ err, reason }, 'abandoned hold could not be released');
    }
  }
  const last = due[due.length - 1];
  if (due.length === abandonedBatchMax && last) page.next = last;
  return page;
}

/**
 * Runs until `signal` aborts: a scan at once, then every `intervalMs`; pages follow each other at once while a
 * backlog drains, and a failing Postgres is retried with back-off from where the scan stood.
 */
export async function runReleaseLoop(deps: Deps, intervalMs: number): Promise<void> {
  let cursor: ReleaseCursor | null = null;
  let failures = 0;
  while (!deps.signal.aborted) {
    try {
      const page = await releaseAbandonedHolds(deps, cursor);
      cursor = page.next;
      failures = 0;
    } catch (err) {
      deps.metrics.countServiceError(err);
      deps.log.warn({ err: (err as Error).message }, 'releasing abandoned holds failed; retrying with backoff');
      failures++;
    }
    await pause(failures > 0 ? backoffMs(failures - 1) : cursor !== null ? backlogPauseMs : intervalMs, deps.signal);
  }
}
