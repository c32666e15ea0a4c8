// Rebuilding a session that Redis lost (restart without persistence, failover) while Postgres says it is active:
// its live state is recreated from the worker's last checkpoint, so the player carries on and at most one
// checkpoint interval of billed time is lost, never added.
import { restoreIfStillActive } from '../../core/restore-live-session.js';
import type { SessionRow } from '../store/sessions.js';
import type { GatewayDeps } from '../deps.js';

/**
 * Returns true when the session has live state afterwards (restored here or by another gateway meanwhile), false
 * when it is not active (never started, or settled, possibly since `row` was read).
 * `ownerSocketId`: the socket on whose heartbeat the rebuild happens, made the owner in the same script.
 */
export async function restoreFromCheckpoint(deps: GatewayDeps, row: SessionRow, ownerSocketId = ''): Promise<boolean> {
  if (row.status !== 'active') return false;
  const { outcome, billedMs } = await restoreIfStillActive(deps.pool, deps.meter, row.id, ownerSocketId);
  if (outcome === 'restored') deps.log.warn({ sessionId: row.id, billedMs }, 'live state lost from Redis; rebuilt from the checkpoint');
  return outcome !== 'not_active';
}
