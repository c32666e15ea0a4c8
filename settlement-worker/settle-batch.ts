// Settles many sessions in ONE Postgres transaction, with the same outcome as settling them one by one in order
// (settle-session.ts): each session still gets its own balanced `settle` ledger transaction, the same figures and the
// same idempotency (a session already completed, or settled earlier in this batch, returns its stored figures and
// moves no money). What changes is the shape of the SQL: a few set-based statements per batch (`unnest` arrays)
// instead of a handful per session, and one COMMIT (one WAL flush) for the lot. That is what lets a burst of ended
// sessions drain in seconds. What each session comes to is decided by settlement-decision.ts (no I/O); this module
// locks, reads and writes. One session (settle-session.ts) is written by the same statements, as a batch of one.
//
// Locks are taken in one global order, by every settlement path: session rows (by id), then billing remainders (by
// student and course), then wallets (by student id), then teachers (by id), then the platform row. Two batches that
// share sessions, students or teachers therefore wait for each other but cannot deadlock, and the hot shared rows
// (teacher, platform) are locked last, by the one call that credits them (credit-accounts.ts), just before COMMIT,
// so they are held for one round trip.
import { withTransaction, type Pool, type PoolClient } from '../core/pg/pool.js';
import { invariant } from '../core/errors.js';
import { settleBatchMax } from '../core/limits.js';
import { minorToNumeric, numericToMinor } from '../core/money.js';
import type { ContentProgress } from '../core/protocol/common.js';
import type { FrozenSession } from '../core/protocol/settlement.js';
import {
  ledgerEntriesOf, planBatch, remainderPairOf, SessionNotFoundError,
  type SessionForSettle, type SettleOutcome, type SettleWrite,
} from './settlement-decision.js';
import { lockRemainders, saveRemainders } from './billing-remainders.js';
import { creditAccounts, type SettlementCredits } from './credit-accounts.js';

export interface SettleBatchOptions {
  /**
   * true for stream entries: an `abandoned` request for a started session is a broken invariant there (see
   * settleSession), so it aborts the whole transaction and the caller falls back to one entry at a time, which
   * dead-letters that entry alone. false for the abandoned-holds scan, which expects such skips (settleOrSkip).
   */
  refuseSkips: boolean;
}

/**
 * Settles `batch` (at most settleBatchMax frozen sessions, duplicates allowed) in one transaction. Returns one
 * outcome per input, in input order. Throws, with nothing written, when any entry cannot be settled: the caller
 * decides whether to retry the batch (an operating error) or settle its entries one by one (a data error).
 */
export async function settleBatch(pool: Pool, batch: readonly FrozenSession[], feeBps: number,
  opts: SettleBatchOptions): Promise<SettleOutcome[]> {
  invariant(batch.length <= settleBatchMax, `a settle batch of ${batch.length} exceeds settleBatchMax ${settleBatchMax}`);
  if (batch.length === 0) return [];
  return withTransaction(pool, async (tx) => {
    const rows = await lockSessionRows(tx, batch.map((f) => f.sessionId));
    const pairs = batch.flatMap((f) => remainderPairOf(rows.get(f.sessionId)!, f) ?? []);
    const owed = await lockRemainders(tx, pairs);
    const { outcomes, writes, remainders } = planBatch(batch, rows, feeBps, owed);
    if (opts.refuseSkips) {
      const skip = outcomes.find((o) => 'skipped' in o);
      invariant(skip === undefined, `session ${skip?.sessionId}: an 'abandoned' settlement of a started session`);
    }
    if (writes.length > 0) {
      await completeSessionRows(tx, writes);
      await saveRemainders(tx, remainders);
      await releaseHolds(tx, writes);
      await writeLedger(tx, writes);
      await creditAccounts(tx, creditsOf(writes));
    }
    return outcomes;
  });
}

/** Every named session, locked in id order (deadlock-free against any other settlement); missing ones refused. */
async function lockSessionRows(tx: PoolClient, ids: readonly string[]): Promise<Map<string, SessionForSettle>> {
  const unique = [...new Set(ids)];
  const { rows } = await tx.query<SessionForSettle>(
    `SELECT id, student_id, course_id, teacher_id, status, locked_amount, price_per_minute, max_billable_ms,
            duration_ms, cost, refund, teacher_earning, platform_fee, end_reason
       FROM sessions WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE`, [unique]);
  const byId = new Map(rows.map((r) => [r.id, r]));
  const missing = unique.find((id) => !byId.has(id));
  if (missing !== undefined) throw new SessionNotFoundError(missing);
  return byId;
}

/** A session row's content_progress: keyed by lecture id, each with the billed seconds attributed to it. */
export function toContentProgress(progressMs: FrozenSession['progressMs']): ContentProgress {
  const out: ContentProgress = {};
  for (const [lecture, ms] of Object.entries(progressMs)) out[lecture] = { watched_seconds: ms / 1000 };
  return out;
}

async function completeSessionRows(tx: PoolClient, writes: readonly SettleWrite[]): Promise<void> {
  const { rowCount } = await tx.query(
    `UPDATE sessions s
        SET status = 'completed', duration_ms = v.ms, cost = v.cost, refund = v.refund, teacher_earning = v.earning,
            platform_fee = v.fee, completion_pct = v.pct, current_lecture = v.lecture, content_progress = v.progress,
            end_reason = v.reason, end_time = now(), ended_at = now(), sub_minor_carried_in = v.carried_in,
            sub_minor_carried_out = v.carried_out
       FROM unnest($1::uuid[], $2::bigint[], $3::numeric[], $4::numeric[], $5::numeric[], $6::numeric[], $7::numeric[],
                   $8::int[], $9::jsonb[], $10::text[], $11::bigint[], $12::bigint[])
            AS v(id, ms, cost, refund, earning, fee, pct, lecture, progress, reason, carried_in, carried_out)
      WHERE s.id = v.id`,
    [writes.map((w) => w.row.id), writes.map((w) => w.frozen.billedMs),
      writes.map((w) => minorToNumeric(w.figures.costMinor)), writes.map((w) => minorToNumeric(w.figures.refundMinor)),
      writes.map((w) => minorToNumeric(w.figures.teacherEarningMinor)), writes.map((w) => minorToNumeric(w.figures.platformFeeMinor)),
      writes.map((w) => w.frozen.completionPct), writes.map((w) => w.frozen.currentLecture),
      writes.map((w) => JSON.stringify(toContentProgress(w.frozen.progressMs))), writes.map((w) => w.frozen.endReason),
      writes.map((w) => w.carry?.subMinorCarriedIn ?? null), writes.map((w) => w.carry?.subMinorCarriedOut ?? null)]);
  invariant(rowCount === writes.length, `completing ${writes.length} session rows updated ${rowCount}`);
}

/** Every session has exactly one hold, open until this moment; anything else means money was already moved. */
async function releaseHolds(tx: PoolClient, writes: readonly SettleWrite[]): Promise<void> {
  const { rows } = await tx.query<{ session_id: string; amount: string }>(
    `UPDATE holds h SET released_at = now() FROM unnest($1::uuid[]) AS v(id)
      WHERE h.session_id = v.id AND h.released_at IS NULL RETURNING h.session_id, h.amount`,
    [writes.map((w) => w.row.id)]);
  const released = new Map(rows.map((r) => [r.session_id, numericToMinor(r.amount)]));
  for (const w of writes) {
    const amount = released.get(w.row.id);
    invariant(amount !== undefined, `session ${w.row.id}: expected one open hold, found none`);
    invariant(amount === w.lockedMinor, `session ${w.row.id}: hold amount differs from locked amount`);
  }
  invariant(rows.length === writes.length, `releasing ${writes.length} holds released ${rows.length}`);
}

/**
 * One `settle` ledger transaction per session (the unique index admits one) and all their entries, in one statement:
 * each entry finds its transaction by session id.
 */
async function writeLedger(tx: PoolClient, writes: readonly SettleWrite[]): Promise<void> {
  const sessionIds: string[] = [];
  const types: string[] = [];
  const accounts: (string | null)[] = [];
  const amounts: string[] = [];
  for (const w of writes) {
    for (const e of ledgerEntriesOf(w.row, w.lockedMinor, w.figures)) {
      sessionIds.push(w.row.id);
      types.push(e.accountType);
      accounts.push(e.accountId);
      amounts.push(minorToNumeric(e.amountMinor));
    }
  }
  const { rows } = await tx.query<{ transactions: number; entries: number }>(
    `WITH txns AS (
       INSERT INTO ledger_transactions (kind, session_id)
       SELECT 'settle', v.id FROM unnest($1::uuid[]) WITH ORDINALITY AS v(id, n) ORDER BY v.n
       RETURNING id, session_id
     ), entries AS (
       INSERT INTO ledger_entries (transaction_id, account_type, account_id, amount)
       SELECT t.id, e.account_type, e.account_id, e.amount
         FROM unnest($2::uuid[], $3::text[], $4::uuid[], $5::numeric[]) AS e(session_id, account_type, account_id, amount)
         JOIN txns t ON t.session_id = e.session_id
       RETURNING 1
     )
     SELECT (SELECT count(*) FROM txns)::int AS transactions, (SELECT count(*) FROM entries)::int AS entries`,
    [writes.map((w) => w.row.id), sessionIds, types, accounts, amounts]);
  invariant(rows[0]!.transactions === writes.length, `inserting ${writes.length} settle transactions made ${rows[0]!.transactions}`);
  invariant(rows[0]!.entries === amounts.length, `inserting ${amounts.length} ledger entries made ${rows[0]!.entries}`);
}

/** The batch's credits, each account's summed over the batch's sessions. */
function creditsOf(writes: readonly SettleWrite[]): SettlementCredits {
  return {
    refunds: writes.map((w) => ({ id: w.row.student_id, amountMinor: w.figures.refundMinor })),
    earnings: writes.map((w) => ({ id: w.row.teacher_id, amountMinor: w.figures.teacherEarningMinor })),
    platformFeeMinor: writes.reduce((sum, w) => sum + w.figures.platformFeeMinor, 0),
  };
}
