// The settlement decision without a database: what a session's locked row and its frozen end come to (figures,
// carried remainder, ledger legs), and that a batch decides exactly what the same sessions decided one by one would.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { InvariantError } from '../core/errors.js';
import { maxBillableMs, minorToNumeric, subMinorPerMinor } from '../core/money.js';
import type { FrozenSession } from '../core/protocol/settlement.js';
import { frozenSession } from '../test/helpers/sessions.js';
import { pairKey } from './billing-remainders.js';
import {
  decideSettlement, ledgerEntriesOf, planBatch, remainderPairOf, SessionNotFoundError,
  type SessionForSettle, type SettleDecision,
} from './settlement-decision.js';

const STUDENT = randomUUID();
const COURSE = randomUUID();
const TEACHER = randomUUID();

/** A session row as the settlement reads it under its lock: started (`active`) unless told otherwise. */
function sessionRow(lockedMinor: number, priceMinor: number, over: Partial<SessionForSettle> = {}): SessionForSettle {
  return {
    id: randomUUID(), student_id: STUDENT, course_id: COURSE, teacher_id: TEACHER, status: 'active',
    locked_amount: minorToNumeric(lockedMinor), price_per_minute: minorToNumeric(priceMinor),
    max_billable_ms: String(maxBillableMs(lockedMinor, priceMinor)), duration_ms: '0',
    cost: null, refund: null, teacher_earning: null, platform_fee: null, end_reason: null,
    ...over,
  };
}

function written(decision: SettleDecision): Extract<SettleDecision, { kind: 'write' }> {
  if (decision.kind !== 'write') throw new Error(`expected a write, got ${JSON.stringify(decision)}`);
  return decision;
}

describe('decideSettlement', () => {
  it('charges the billed time at the row price, floors it, splits the fee and refunds the rest', () => {
    // 90 s at 1.00 a minute with 0.5 of a minor unit carried in: 150.5 minor units owed, 150 charged, 0.5 carried on.
    const row = sessionRow(1_000, 100);
    const frozen = frozenSession(row.id, { billedMs: 90_000 });
    const d = written(decideSettlement(row, frozen, 250, 30_000));
    expect(d.lockedMinor).toBe(1_000);
    expect(d.figures).toEqual({ costMinor: 150, refundMinor: 850, teacherEarningMinor: 147, platformFeeMinor: 3 });
    expect(d.carry).toEqual({ subMinorCarriedIn: 30_000, subMinorCarriedOut: 30_000 });
  });

  it('charges the whole locked amount when funds ran out, and only when the whole of it was watched', () => {
    const row = sessionRow(1_000, 100);
    const max = Number(row.max_billable_ms);
    const d = written(decideSettlement(row, frozenSession(row.id, { billedMs: max, endReason: 'funds_exhausted' }), 0, 0));
    expect(d.figures).toMatchObject({ costMinor: 1_000, refundMinor: 0, teacherEarningMinor: 1_000 });
    expect(() => decideSettlement(row, frozenSession(row.id, { billedMs: max - 1, endReason: 'funds_exhausted' }), 0, 0))
      .toThrow(InvariantError);
  });

  it('returns the stored figures of a session already settled, and moves nothing', () => {
    const row = sessionRow(1_000, 100, {
      status: 'completed', duration_ms: '90000', cost: '1.50', refund: '8.50', teacher_earning: '1.47', platform_fee: '0.03',
      end_reason: 'completed',
    });
    const frozen = frozenSession(row.id, { billedMs: 120_000 });
    expect(remainderPairOf(row, frozen)).toBeNull();
    expect(decideSettlement(row, frozen, 250, null)).toEqual({ kind: 'done', outcome: {
      sessionId: row.id, endReason: 'completed', durationMs: 90_000, costMinor: 150, refundMinor: 850,
      teacherEarningMinor: 147, platformFeeMinor: 3, alreadySettled: true,
    } });
  });

  it('skips an abandoned hold whose session started, and refunds one that did not in full', () => {
    const started = sessionRow(1_000, 100);
    const abandoned = (id: string) => frozenSession(id, { endReason: 'abandoned' });
    expect(decideSettlement(started, abandoned(started.id), 0, null))
      .toEqual({ kind: 'done', outcome: { sessionId: started.id, skipped: true, status: 'active' } });
    const unstarted = sessionRow(1_000, 100, { status: 'locked' });
    expect(remainderPairOf(unstarted, abandoned(unstarted.id))).toBeNull();
    const d = written(decideSettlement(unstarted, abandoned(unstarted.id), 250, null));
    expect(d.figures).toEqual({ costMinor: 0, refundMinor: 1_000, teacherEarningMinor: 0, platformFeeMinor: 0 });
    expect(d.carry).toBeNull();
  });

  it('refuses a frozen session that does not fit its row, and a remainder read when it should not be (or not read)', () => {
    const row = sessionRow(1_000, 100);
    const max = Number(row.max_billable_ms);
    const overBilled = frozenSession(row.id, { billedMs: max + 1 });
    expect(() => decideSettlement(row, overBilled, 0, 0)).toThrow(/exceeds max billable/);
    const progressOff = { ...frozenSession(row.id, { billedMs: 1_000 }), progressMs: { '1': 999 } };
    expect(() => decideSettlement(row, progressOff, 0, 0)).toThrow(/progress sums to 999/);
    expect(() => decideSettlement(row, frozenSession(row.id, { billedMs: 1_000 }), 0, null)).toThrow(/not read/);
    expect(() => decideSettlement(row, frozenSession(row.id, { billedMs: 0 }), 0, 0)).toThrow(/read needlessly/);
  });
});

describe('ledgerEntriesOf', () => {
  it('leaves out zero legs and balances', () => {
    const row = sessionRow(1_000, 100);
    expect(ledgerEntriesOf(row, 1_000, { costMinor: 0, refundMinor: 1_000, teacherEarningMinor: 0, platformFeeMinor: 0 })).toEqual([
      { accountType: 'hold', accountId: row.id, amountMinor: -1_000 },
      { accountType: 'wallet', accountId: STUDENT, amountMinor: 1_000 },
    ]);
    expect(() => ledgerEntriesOf(row, 1_000, { costMinor: 10, refundMinor: 991, teacherEarningMinor: 10, platformFeeMinor: 0 }))
      .toThrow(/do not sum to zero/);
  });
});

describe('planBatch', () => {
  it('settles a session named twice once, and refuses a session it has no row for', () => {
    const row = sessionRow(1_000, 100);
    const frozen = frozenSession(row.id, { billedMs: 60_000 });
    const rows = new Map([[row.id, row]]);
    const owed = new Map([[pairKey({ studentId: STUDENT, courseId: COURSE }), 0]]);
    const { outcomes, writes } = planBatch([frozen, frozen], rows, 0, owed);
    expect(writes).toHaveLength(1);
    expect(outcomes[0]).toMatchObject({ costMinor: 100, alreadySettled: false });
    expect(outcomes[1]).toEqual({ ...outcomes[0], alreadySettled: true });
    const missing = frozenSession(randomUUID());
    expect(() => planBatch([frozen, missing], rows, 0, owed)).toThrow(SessionNotFoundError);
  });
});

describe('settlement decision properties', () => {
  const session = fc.record({
    lockedMinor: fc.integer({ min: 1, max: 10_000_000 }),
    priceMinor: fc.integer({ min: 1, max: 50_000 }),
    watchedFraction: fc.double({ min: 0, max: 1, noNaN: true }),
    endReason: fc.constantFrom('completed', 'disconnected', 'funds_exhausted') as fc.Arbitrary<FrozenSession['endReason']>,
    feeBps: fc.integer({ min: 0, max: 10_000 }),
    carriedIn: fc.integer({ min: 0, max: subMinorPerMinor - 1 }),
  });

  it('conserves money: cost + refund = locked, teacher + fee = cost, the fee floored, the ledger balanced', () => {
    // Proves, for any price, hold, fee and carried remainder, that no minor unit is made or lost and that the cost
    // is the exact charge: cost × 60000 + carried out = billed ms × price + carried in (funds_exhausted aside).
    fc.assert(fc.property(session, ({ lockedMinor, priceMinor, watchedFraction, endReason, feeBps, carriedIn }) => {
      const row = sessionRow(lockedMinor, priceMinor);
      const max = Number(row.max_billable_ms);
      const billedMs = endReason === 'funds_exhausted' ? max : Math.floor(max * watchedFraction);
      const frozen = frozenSession(row.id, { billedMs, endReason });
      const pair = remainderPairOf(row, frozen);
      const d = written(decideSettlement(row, frozen, feeBps, pair ? carriedIn : null));
      const f = d.figures;
      expect(f.costMinor + f.refundMinor).toBe(lockedMinor);
      expect(f.teacherEarningMinor + f.platformFeeMinor).toBe(f.costMinor);
      expect(f.platformFeeMinor).toBe(Math.floor((f.costMinor * feeBps) / 10_000));
      expect(Math.min(f.costMinor, f.refundMinor, f.teacherEarningMinor, f.platformFeeMinor)).toBeGreaterThanOrEqual(0);
      expect(ledgerEntriesOf(row, d.lockedMinor, f).reduce((sum, e) => sum + e.amountMinor, 0)).toBe(0);
      if (d.carry === null) {
        expect(billedMs).toBe(0);
        expect(f.costMinor).toBe(0);
      } else if (endReason !== 'funds_exhausted') {
        expect(d.carry.subMinorCarriedOut).toBeLessThan(subMinorPerMinor);
        expect(BigInt(f.costMinor) * BigInt(subMinorPerMinor) + BigInt(d.carry.subMinorCarriedOut))
          .toBe(BigInt(billedMs) * BigInt(priceMinor) + BigInt(carriedIn));
      }
    }));
  });

  it('decides a batch exactly as the same sessions one by one, and charges a split viewing what one session would', () => {
    // Proves the batch plan threads one (student, course) remainder through its sessions in input order, as the
    // one-by-one path does across transactions, and that the total is the floor of the whole, not a sum of floors.
    const split = fc.record({
      priceMinor: fc.integer({ min: 1, max: 50_000 }),
      feeBps: fc.integer({ min: 0, max: 10_000 }),
      piecesMs: fc.array(fc.integer({ min: 0, max: 600_000 }), { minLength: 1, maxLength: 20 }),
    });
    fc.assert(fc.property(split, ({ priceMinor, feeBps, piecesMs }) => {
      const rows = piecesMs.map((ms) => sessionRow(Math.ceil((ms * priceMinor) / 60_000) + 1, priceMinor));
      const frozen = piecesMs.map((ms, i) => frozenSession(rows[i]!.id, { billedMs: ms }));
      const key = pairKey({ studentId: STUDENT, courseId: COURSE });

      const planned = planBatch(frozen, new Map(rows.map((r) => [r.id, r])), feeBps, new Map([[key, 0]]));

      let carried = 0;
      const oneByOne = frozen.map((f, i) => {
        const pair = remainderPairOf(rows[i]!, f);
        const d = written(decideSettlement(rows[i]!, f, feeBps, pair ? carried : null));
        if (d.carry) carried = d.carry.subMinorCarriedOut;
        return d.figures;
      });
      expect(planned.outcomes).toEqual(
        oneByOne.map((figures, i) => ({ sessionId: rows[i]!.id, endReason: 'completed', durationMs: piecesMs[i], ...figures, alreadySettled: false })));
      const totalMs = piecesMs.reduce((sum, ms) => sum + ms, 0);
      expect(oneByOne.reduce((sum, f) => sum + f.costMinor, 0)).toBe(Math.floor((totalMs * priceMinor) / 60_000));
      const left = planned.remainders.get(key)?.subMinor ?? 0;
      expect(left).toBe(carried);
      expect(left).toBe((totalMs * priceMinor) % 60_000);
    }));
  });
});
