// Settles one session in ONE Postgres transaction, exactly once (docs/money.md "Settlement"): the session row becomes
// `completed` with its final figures, the hold is released, the cost goes to the teacher (minus the platform fee), the
// rest goes back to the student's wallet, and a balanced ledger transaction records it. The cost takes in the sub-minor
// remainder the student's earlier sessions on the course left, and carries the new one out (docs/money.md
// "Splitting a viewing"). A second settle of the same session moves no money and returns the stored figures.
import { withTransaction, type Pool, type PoolClient } from '../core/pg/pool.js';
import { invariant } from '../core/errors.js';
import {
  assertFiguresConserve, chargeWithCarry, figuresOfCost, minorToNumeric, numericToMinor, type SettlementFigures,
} from '../core/money.js';
import { endReason as endReasonSchema, type ContentProgress, type EndReason } from '../core/protocol/common.js';
import type { FrozenSession } from '../core/protocol/settlement.js';
import { lockRemainders, pairKey, saveRemainders, type RemainderPair } from './billing-remainders.js';
import { creditAccounts } from './credit-accounts.js';

export interface SettledSession {
  sessionId: string;
  endReason: EndReason;
  durationMs: number;
  costMinor: number;
  refundMinor: number;
  teacherEarningMinor: number;
  platformFeeMinor: number;
  /** true when an earlier settlement had already committed: this call moved no money. */
  alreadySettled: boolean;
}

/** The stream named a session Postgres does not know: retrying cannot help, so the entry is dead-lettered. */
export class SessionNotFoundError extends Error {
  override readonly name = 'SessionNotFoundError';
  constructor(readonly sessionId: string) {
    super(`session ${sessionId} does not exist in Postgres`);
  }
}

export interface SessionForSettle {
  id: string;
  student_id: string;
  course_id: string;
  teacher_id: string;
  status: 'locked' | 'active' | 'completed';
  locked_amount: string;
  price_per_minute: string;
  max_billable_ms: string;
  duration_ms: string;
  cost: string | null;
  refund: string | null;
  teacher_earning: string | null;
  platform_fee: string | null;
  end_reason: string | null;
}

export interface LedgerEntry {
  accountType: 'wallet' | 'hold' | 'teacher' | 'platform';
  accountId: string | null;
  amountMinor: number;
}

/** An `abandoned` settlement that found the session started under its row lock (a `start` won): nothing moved. */
export interface SkippedSettlement {
  sessionId: string;
  skipped: true;
  status: 'active';
}

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
export async function settleOrSkip(pool: Pool, frozen: FrozenSession, feeBps: number): Promise<SettledSession | SkippedSettlement> {
  return withTransaction(pool, async (tx) => {
    // The row lock serialises concurrent settlements of one session: the second waits, then sees `completed`.
    const { rows } = await tx.query<SessionForSettle>(
      `SELECT id, student_id, course_id, teacher_id, status, locked_amount, price_per_minute, max_billable_ms,
              duration_ms, cost, refund, teacher_earning, platform_fee, end_reason
       FROM sessions WHERE id = $1 FOR UPDATE`, [frozen.sessionId]);
    const row = rows[0];
    if (!row) throw new SessionNotFoundError(frozen.sessionId);
    const pair = remainderPairOf(row, frozen);
    const owed = pair ? await lockRemainders(tx, [pair]) : new Map<string, number>();
    const decision = decideSettlement(row, frozen, feeBps, pair ? owed.get(pairKey(pair))! : null);
    if (decision.kind !== 'write') return decision.outcome;
    const { lockedMinor, figures, carry } = decision;
    await completeSessionRow(tx, frozen, figures, carry);
    if (pair && carry) await saveRemainders(tx, new Map([[pairKey(pair), { pair, subMinor: carry.subMinorCarriedOut }]]));
    await releaseHold(tx, row.id, lockedMinor);
    await writeLedger(tx, row, lockedMinor, figures);
    // Last: the shared teacher and platform rows are held from here to COMMIT (credit-accounts.ts).
    await creditAccounts(tx, {
      refunds: [{ id: row.student_id, amountMinor: figures.refundMinor }],
      earnings: [{ id: row.teacher_id, amountMinor: figures.teacherEarningMinor }],
      platformFeeMinor: figures.platformFeeMinor,
    });
    return { sessionId: row.id, endReason: frozen.endReason, durationMs: frozen.billedMs, ...figures, alreadySettled: false };
  });
}

/** The sub-minor remainder a settlement took in and left behind (docs/money.md "Splitting a viewing"). */
export interface CarriedRemainder {
  subMinorCarriedIn: number;
  subMinorCarriedOut: number;
}

/** What settling one session does, decided from its locked row: the one rule the single and the batched paths share. */
export type SettleDecision =
  | { kind: 'done'; outcome: SettledSession | SkippedSettlement }
  | { kind: 'write'; lockedMinor: number; figures: SettlementFigures; carry: CarriedRemainder | null };

/**
 * The (student, course) whose carried remainder this settlement reads and writes, or null when it has none to take
 * part in: a session already settled, or one that billed nothing (an abandoned hold, a session never played), whose
 * settlement changes no remainder and so need not lock one.
 */
export function remainderPairOf(row: SessionForSettle, frozen: FrozenSession): RemainderPair | null {
  if (row.status === 'completed' || frozen.endReason === 'abandoned' || frozen.billedMs === 0) return null;
  return { studentId: row.student_id, courseId: row.course_id };
}

/**
 * `subMinorCarriedIn`: the pair's remainder as the settlements before this one left it, or null when
 * remainderPairOf gave no pair.
 */
export function decideSettlement(row: SessionForSettle, frozen: FrozenSession, feeBps: number,
  subMinorCarriedIn: number | null): SettleDecision {
  if (row.status === 'completed') return { kind: 'done', outcome: storedSettlement(row) };
  // A hold is abandoned only while nobody has started its session; once started, it settles as it ends.
  if (frozen.endReason === 'abandoned' && row.status !== 'locked') {
    return { kind: 'done', outcome: { sessionId: row.id, skipped: true, status: row.status } };
  }
  const lockedMinor = numericToMinor(row.locked_amount);
  assertFrozenFits(frozen, Number(row.max_billable_ms));
  invariant((subMinorCarriedIn === null) === (remainderPairOf(row, frozen) === null),
    `session ${row.id}: its carried remainder was ${subMinorCarriedIn === null ? 'not read' : 'read needlessly'}`);
  // A session without a pair billed nothing (or is an abandoned hold): with nothing carried in it charges what it
  // always did, and nothing is carried out.
  const charge = chargeWithCarry({
    billableMs: frozen.billedMs, pricePerMinuteMinor: numericToMinor(row.price_per_minute), lockedMinor,
    endReason: frozen.endReason, subMinorCarriedIn: subMinorCarriedIn ?? 0,
  });
  return {
    kind: 'write', lockedMinor, figures: figuresOfCost(charge.costMinor, lockedMinor, feeBps),
    carry: subMinorCarriedIn === null ? null : { subMinorCarriedIn, subMinorCarriedOut: charge.subMinorCarriedOut },
  };
}

/** The figures an earlier settlement committed, checked for conservation on the way back out. */
export function storedSettlement(row: SessionForSettle): SettledSession {
  invariant(row.cost !== null && row.refund !== null && row.teacher_earning !== null && row.platform_fee !== null,
    `completed session ${row.id} has no figures`);
  const figures: SettlementFigures = {
    costMinor: numericToMinor(row.cost),
    refundMinor: numericToMinor(row.refund),
    teacherEarningMinor: numericToMinor(row.teacher_earning),
    platformFeeMinor: numericToMinor(row.platform_fee),
  };
  assertFiguresConserve(figures, numericToMinor(row.locked_amount));
  return {
    sessionId: row.id,
    endReason: endReasonSchema.parse(row.end_reason),
    durationMs: Number(row.duration_ms),
    ...figures,
    alreadySettled: true,
  };
}

/**
 * The meter clamps billed time to max_billable_ms, credits every ms to one lecture, and ends a session as
 * funds_exhausted exactly when billed time reaches max_billable_ms; a frozen session that breaks any of these is
 * a bug upstream. Clamping here would hide it; refusing keeps the money untouched.
 */
export function assertFrozenFits(frozen: FrozenSession, maxBillableMs: number): void {
  invariant(Number.isSafeInteger(frozen.billedMs) && frozen.billedMs >= 0, `billed ms is not a non-negative integer: ${frozen.billedMs}`);
  const progressSum = Object.values(frozen.progressMs).reduce((sum, ms) => sum + ms, 0);
  invariant(progressSum === frozen.billedMs,
    `session ${frozen.sessionId}: lecture progress sums to ${progressSum} ms, billed ${frozen.billedMs} ms`);
  invariant(frozen.billedMs <= maxBillableMs,
    `session ${frozen.sessionId}: billed ${frozen.billedMs} ms exceeds max billable ${maxBillableMs} ms`);
  // funds_exhausted charges the whole locked amount, which is only right when the whole of it was watched.
  invariant(frozen.endReason !== 'funds_exhausted' || frozen.billedMs === maxBillableMs,
    `session ${frozen.sessionId}: funds_exhausted after ${frozen.billedMs} ms of ${maxBillableMs} ms`);
}

/** docs/liveness-and-billing.md "Per-lecture progress": content_progress keyed by lecture id, each with the billed
 * seconds attributed to it. */
export function toContentProgress(progressMs: FrozenSession['progressMs']): ContentProgress {
  const out: ContentProgress = {};
  for (const [lecture, ms] of Object.entries(progressMs)) out[lecture] = { watched_seconds: ms / 1000 };
  return out;
}

async function completeSessionRow(tx: PoolClient, frozen: FrozenSession, f: SettlementFigures,
  carry: CarriedRemainder | null): Promise<void> {
  const { rowCount } = await tx.query(
    `UPDATE sessions SET status = 'completed', duration_ms = $2, cost = $3, refund = $4, teacher_earning = $5,
            platform_fee = $6, completion_pct = $7, current_lecture = $8, content_progress = $9::jsonb,
            end_reason = $10, end_time = now(), ended_at = now(), sub_minor_carried_in = $11,
            sub_minor_carried_out = $12
     WHERE id = $1`,
    [frozen.sessionId, frozen.billedMs, minorToNumeric(f.costMinor), minorToNumeric(f.refundMinor),
      minorToNumeric(f.teacherEarningMinor), minorToNumeric(f.platformFeeMinor), frozen.completionPct,
      frozen.currentLecture, JSON.stringify(toContentProgress(frozen.progressMs)), frozen.endReason,
      carry?.subMinorCarriedIn ?? null, carry?.subMinorCarriedOut ?? null]);
  invariant(rowCount === 1, `session ${frozen.sessionId}: completing the row updated ${rowCount} rows`);
}

/** Every session has exactly one hold, open until this moment; anything else means money was already moved. */
async function releaseHold(tx: PoolClient, sessionId: string, lockedMinor: number): Promise<void> {
  const { rows } = await tx.query<{ amount: string }>(
    'UPDATE holds SET released_at = now() WHERE session_id = $1 AND released_at IS NULL RETURNING amount', [sessionId]);
  invariant(rows.length === 1, `session ${sessionId}: expected one open hold, found ${rows.length}`);
  invariant(numericToMinor(rows[0]!.amount) === lockedMinor, `session ${sessionId}: hold amount differs from locked amount`);
}

/** One `settle` transaction (the unique index admits one per session) whose entries sum to zero. */
async function writeLedger(tx: PoolClient, row: SessionForSettle, lockedMinor: number, f: SettlementFigures): Promise<void> {
  const entries = ledgerEntriesOf(row, lockedMinor, f);
  const txn = await tx.query<{ id: string }>(
    `INSERT INTO ledger_transactions (kind, session_id) VALUES ('settle', $1) RETURNING id`, [row.id]);
  await tx.query(
    `INSERT INTO ledger_entries (transaction_id, account_type, account_id, amount)
     SELECT $1, t.account_type, t.account_id, t.amount
     FROM unnest($2::text[], $3::uuid[], $4::numeric[]) AS t(account_type, account_id, amount)`,
    [txn.rows[0]!.id, entries.map((e) => e.accountType), entries.map((e) => e.accountId),
      entries.map((e) => minorToNumeric(e.amountMinor))]);
}

/** The legs of one session's `settle` transaction, zero legs left out; asserted to sum to zero. */
export function ledgerEntriesOf(row: Pick<SessionForSettle, 'id' | 'student_id' | 'teacher_id'>, lockedMinor: number,
  f: SettlementFigures): LedgerEntry[] {
  const all: LedgerEntry[] = [
    { accountType: 'hold', accountId: row.id, amountMinor: -lockedMinor },
    { accountType: 'wallet', accountId: row.student_id, amountMinor: f.refundMinor },
    { accountType: 'teacher', accountId: row.teacher_id, amountMinor: f.teacherEarningMinor },
    { accountType: 'platform', accountId: null, amountMinor: f.platformFeeMinor },
  ];
  // The schema refuses zero entries (CHECK amount <> 0): a free session has no teacher or platform leg.
  const entries = all.filter((e) => e.amountMinor !== 0);
  invariant(entries.reduce((sum, e) => sum + e.amountMinor, 0) === 0, `session ${row.id}: ledger entries do not sum to zero`);
  return entries;
}
