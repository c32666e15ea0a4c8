// What settling a session does to the money, decided from its locked row and nothing else (no I/O): the cost of the
// billed time at the row's price, taking in the sub-minor remainder carried from the student's earlier sessions on
// the course and carrying the new one out; the teacher's share and the platform fee; the refund of the rest of the
// hold; the ledger legs; or, for a session already settled, the figures it committed (README "Money and metering
// rules", "Settlement, exactly once"). Both settlement paths, one session and a batch, write what this decides
// (settle-batch.ts), so they cannot disagree.
import { invariant } from '../core/errors.js';
import {
  assertFiguresConserve, chargeWithCarry, figuresOfCost, numericToMinor, type SettlementFigures,
} from '../core/money.js';
import { endReason as endReasonSchema, type EndReason } from '../core/protocol/common.js';
import type { FrozenSession } from '../core/protocol/settlement.js';
import { pairKey, type RemainderPair } from './billing-remainders.js';

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

/** What settling one frozen session came to, in either path. */
export type SettleOutcome = SettledSession | SkippedSettlement;

/** One session a settlement moves money for: what settle-batch.ts writes for it. */
export interface SettleWrite {
  frozen: FrozenSession;
  row: SessionForSettle;
  lockedMinor: number;
  figures: SettlementFigures;
  carry: CarriedRemainder | null;
}

/** The sub-minor remainder a settlement took in and left behind (README "Money": splitting a viewing). */
export interface CarriedRemainder {
  subMinorCarriedIn: number;
  subMinorCarriedOut: number;
}

/** What settling one session does, decided from its locked row: the one rule the single and the batched paths share. */
export type SettleDecision =
  | { kind: 'done'; outcome: SettleOutcome }
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

/**
 * Decides, in input order and without touching the database, what settling the batch one by one would do: the first
 * settlement of a session computes its figures; a repeat (in this batch or committed before) returns those figures.
 * Sessions of one student on one course chain their carried remainder in input order, as one by one they would.
 * `owed`: each pair's remainder as locked before the batch. Returns the remainders the batch leaves, per pair.
 */
export function planBatch(batch: readonly FrozenSession[], rows: ReadonlyMap<string, SessionForSettle>, feeBps: number,
  owed: ReadonlyMap<string, number>):
  { outcomes: SettleOutcome[]; writes: SettleWrite[]; remainders: Map<string, { pair: RemainderPair; subMinor: number }> } {
  const settledHere = new Map<string, SettledSession>();
  const remainders = new Map<string, { pair: RemainderPair; subMinor: number }>();
  const writes: SettleWrite[] = [];
  const outcomes = batch.map((frozen): SettleOutcome => {
    const row = rows.get(frozen.sessionId);
    if (!row) throw new SessionNotFoundError(frozen.sessionId);
    const earlier = settledHere.get(row.id);
    if (earlier) return { ...earlier, alreadySettled: true };
    const pair = remainderPairOf(row, frozen);
    const key = pair && pairKey(pair);
    const carriedIn = key === null ? null : remainders.get(key)?.subMinor ?? owed.get(key);
    invariant(carriedIn !== undefined, `session ${row.id}: its billing remainder was not locked`);
    const decision = decideSettlement(row, frozen, feeBps, carriedIn);
    if (decision.kind !== 'write') return decision.outcome;
    const { lockedMinor, figures, carry } = decision;
    if (pair && key && carry) remainders.set(key, { pair, subMinor: carry.subMinorCarriedOut });
    writes.push({ frozen, row, lockedMinor, figures, carry });
    const settled: SettledSession = { sessionId: row.id, endReason: frozen.endReason, durationMs: frozen.billedMs, ...figures, alreadySettled: false };
    settledHere.set(row.id, settled);
    return settled;
  });
  return { outcomes, writes, remainders };
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
