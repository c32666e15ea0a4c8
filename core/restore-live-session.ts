// Rebuilds a session's live Redis state from its Postgres checkpoint when Redis has lost it (a restart without
// persistence, a failover): by the gateway on the player's next call, by the worker's reconcile pass for players gone.
//
// The rebuild runs under the same guard a settlement takes, the session row's FOR UPDATE lock, and re-reads the row
// under it. A settlement commits `completed` and only then deletes the live state; without the lock, a caller that
// read `active` before that commit and found no state after the delete would bring a settled session back to life
// (it then looked live for a minute and was swept again as `disconnected`). Under the lock, either the settlement
// committed first and this sees `completed`, or this commits first and the settlement deletes what it rebuilt.
import { withTransaction, type Pool } from './pg/pool.js';
import { checkpointOf, startInputOf, type SessionRowForMeter } from './live-session.js';
import type { Meter } from './redis/meter.js';

/** restored: rebuilt here; exists: live state was there (another process rebuilt it); not_active: settled or unknown. */
export type RestoreOutcome = 'restored' | 'exists' | 'not_active';

type LockedRow = SessionRowForMeter & { status: string; lecture_ids: number[] | null };

export async function restoreIfStillActive(pool: Pool, meter: Meter, sessionId: string, ownerSocketId = ''): Promise<{ outcome: RestoreOutcome; billedMs: number }> {
  return withTransaction(pool, async (tx) => {
    const { rows } = await tx.query<LockedRow>(
      `SELECT s.*, (SELECT array_agg((l->>'id')::int) FROM jsonb_array_elements(c.content_structure->'lectures') l) AS lecture_ids
         FROM sessions s JOIN courses c ON c.id = s.course_id
        WHERE s.id = $1 FOR UPDATE OF s`, [sessionId]);
    const row = rows[0];
    if (!row || row.status !== 'active') return { outcome: 'not_active', billedMs: 0 };
    const checkpoint = checkpointOf(row);
    const restored = await meter.restoreSession(row.id, { ...startInputOf(row, row.lecture_ids ?? []), ...checkpoint }, ownerSocketId);
    return { outcome: restored ? 'restored' : 'exists', billedMs: checkpoint.billedMs };
  });
}
