// Rebuilding a session that Redis lost (restart without persistence, failover) while Postgres says it is active:
// its live state is recreated from the worker's last checkpoint, so the player carries on and at most one
// checkpoint interval of billed time is lost, never added.
import { invariant } from '../../shared/errors.js';
import { checkpointOf } from '../../shared/live-session.js';
import type { CourseRow } from '../store/courses.js';
import { liveStateOf, type SessionRow } from '../store/sessions.js';
import type { GatewayDeps } from '../deps.js';

/**
 * Returns true when the session has live state afterwards (restored here or by another gateway meanwhile).
 * `ownerSocketId`: the socket on whose heartbeat the rebuild happens, made the owner in the same script.
 */
export async function restoreFromCheckpoint(deps: GatewayDeps, row: SessionRow, ownerSocketId = ''): Promise<boolean> {
  if (row.status !== 'active') return false;
  const course = (await deps.pool.query<CourseRow>('SELECT * FROM courses WHERE id = $1', [row.course_id])).rows[0];
  invariant(course, `session ${row.id} has no course`);
  const checkpoint = checkpointOf(row);
  const restored = await deps.meter.restoreSession(row.id, { ...liveStateOf(row, course), ...checkpoint }, ownerSocketId);
  if (restored) deps.log.warn({ sessionId: row.id, billedMs: checkpoint.billedMs }, 'live state lost from Redis; rebuilt from the checkpoint');
  return true;
}
