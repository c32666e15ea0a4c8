// Settles one session in ONE Postgres transaction, exactly once (docs/money.md "Settlement"): the session row becomes
// `completed` with its final figures, the hold is released, the cost goes to the teacher (minus the platform fee), the
// rest goes back to the student's wallet, and a balanced ledger transaction records it. The cost takes in the sub-minor
// remainder the student's earlier sessions on the course left, and carries the new one out (docs/money.md
// "Splitting a viewing"). A second settle of the same session moves no money and returns the stored figures.
//
// One session is a batch of one: the figures are decided by settlement-decision.ts and written by the batch's
// set-based statements (settle-batch.ts), so the one-by-one path (a lone entry, the fallback from a refused batch, an
// abandoned hold) cannot write the books differently from the batched one.
import type { Pool } from '../core/pg/pool.js';
import { invariant } from '../core/errors.js';
import type { FrozenSession } from '../core/protocol/settlement.js';
import { settleBatch } from './settle-batch.js';
import type { SettledSession, SettleOutcome } from './settlement-decision.js';

/** Settles any frozen session; an `abandoned` one must find the session still `locked`, or this is a bug upstream. */
export async function settleSession(pool: Pool, frozen: FrozenSession, feeBps: number): Promise<SettledSession> {
  const outcome = await settleOrSkip(pool, frozen, feeBps);
  // Only the abandoned-hold loop asks for `abandoned`, and it calls settleOrSkip, which reports the skip. A settle
  // entry naming it for a started session is a broken invariant: refused (dead-lettered), never acked as settled.
  invariant(!('skipped' in outcome), `session ${frozen.sessionId}: an 'abandoned' settlement of a started session`);
  return outcome;
}

/**
 * settleSession, except that an `abandoned` request for a session no longer `locked` moves no money and returns a
 * SkippedSettlement. The check is made under the row lock, so it is decided against the gateway's
 * `UPDATE … SET status = 'active' … WHERE status = 'locked'`: whichever commits first wins, the other sees its result.
 */
export async function settleOrSkip(pool: Pool, frozen: FrozenSession, feeBps: number): Promise<SettleOutcome> {
  const [outcome] = await settleBatch(pool, [frozen], feeBps, { refuseSkips: false });
  return outcome!;
}
