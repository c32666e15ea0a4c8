// The money rules of docs/money.md as pure functions: exact minor units, floor rounding in the student's favour,
// conservation.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  amountToMinor,
  assertFiguresConserve,
  chargeWithCarry,
  costMinor,
  figuresOfCost,
  maxBillableMs,
  minorToAmount,
  minorToNumeric,
  numericToMinor,
  parseMinor,
  subMinorPerMinor,
} from './money.js';
import { amountMinorMax } from './limits.js';
import { InvariantError } from './errors.js';

/** Minor units → a 2-decimal text in one of the shapes a client may send ("12", "12.3", "12.30"). */
const minorText = (minor: number, shape: 0 | 1 | 2): string => {
  const whole = Math.trunc(minor / 100);
  const cents = minor % 100;
  if (shape === 2 || (shape === 1 && cents % 10 !== 0)) return `${whole}.${String(cents).padStart(2, '0')}`;
  if (shape === 1) return `${whole}.${cents / 10}`;
  return cents === 0 ? String(whole) : `${whole}.${String(cents).padStart(2, '0')}`;
};

describe('parseMinor', () => {
  it('parses decimal text with up to 2 decimals exactly', () => {
    // Proves every accepted shape maps to the exact cent count.
    expect(parseMinor('12.3')).toBe(1230);
    expect(parseMinor('12.30')).toBe(1230);
    expect(parseMinor('12')).toBe(1200);
    expect(parseMinor('0.07')).toBe(7);
    expect(parseMinor('0')).toBe(0);
  });

  it('refuses anything that is not a plain non-negative 2-decimal number', () => {
    // Proves malformed text is rejected rather than guessed at (no rounding, no sign, no exponent).
    for (const bad of ['1.234', '-5', '1e3', ' 1', '1 ', '1.', '.5', '', 'abc', '1,5', '+1', 'Infinity', 'NaN']) {
      expect(parseMinor(bad), bad).toBeNull();
    }
  });
});

describe('amountToMinor', () => {
  it('converts JSON numbers in major units to exact minor units', () => {
    // Proves the float→cents conversion is by parsing (1.1 would be 110.00000000000001 if multiplied).
    expect(amountToMinor(1.1)).toBe(110);
    expect(amountToMinor(750.0)).toBe(75_000);
    expect(amountToMinor(0.07)).toBe(7);
    expect(amountToMinor(0.29)).toBe(29);
    expect(amountToMinor(4.35)).toBe(435);
    expect(amountToMinor(1_000_000)).toBe(100_000_000);
  });

  it('refuses more than 2 decimals, negatives and non-finite values', () => {
    // Proves amounts that are not exact cents, or not amounts at all, are refused instead of rounded.
    for (const bad of [1.234, -5, -0.01, NaN, Infinity, -Infinity, 1e300, 0.1 + 0.2, 1e-7]) {
      expect(amountToMinor(bad), String(bad)).toBeNull();
    }
  });

  it('refuses amounts above amountMinorMax and accepts the maximum itself', () => {
    // Proves the upper bound that keeps locked × 60000 an exact integer is enforced at the edge.
    expect(amountToMinor(amountMinorMax / 100)).toBe(amountMinorMax);
    expect(amountToMinor(amountMinorMax / 100 + 0.01)).toBeNull();
    expect(amountToMinor(amountMinorMax)).toBeNull();
  });

  it('agrees with parseMinor on the text of any 2-decimal amount (property)', () => {
    // Proves a JSON number that a client wrote as a 2-decimal amount converts to exactly the cents it wrote.
    fc.assert(
      fc.property(fc.integer({ min: 0, max: amountMinorMax }), fc.constantFrom<0 | 1 | 2>(0, 1, 2), (minor, shape) => {
        const text = minorText(minor, shape);
        expect(parseMinor(text)).toBe(minor);
        expect(amountToMinor(Number(text))).toBe(parseMinor(text));
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('numericToMinor / minorToNumeric', () => {
  it('converts NUMERIC text both ways, negatives included', () => {
    // Proves Postgres NUMERIC text is read and written exactly, including the sign of sub-unit negatives.
    expect(minorToNumeric(0)).toBe('0.00');
    expect(minorToNumeric(5)).toBe('0.05');
    expect(minorToNumeric(-5)).toBe('-0.05');
    expect(minorToNumeric(-105)).toBe('-1.05');
    expect(minorToNumeric(100_000_000)).toBe('1000000.00');
    expect(numericToMinor('1000000.00')).toBe(100_000_000);
    expect(numericToMinor('-3.5')).toBe(-350);
    expect(numericToMinor('-0.05')).toBe(-5);
    expect(numericToMinor('12')).toBe(1200);
    expect(minorToAmount(1230)).toBe(12.3);
    expect(minorToAmount(-7)).toBe(-0.07);
  });

  it('crashes on values that are not money (programmer errors)', () => {
    // Proves a non-money value from Postgres or a fractional minor amount is an invariant failure, not a guess.
    expect(() => numericToMinor('1.234')).toThrow(InvariantError);
    expect(() => numericToMinor('abc')).toThrow(InvariantError);
    expect(() => minorToNumeric(1.5)).toThrow(InvariantError);
    expect(() => minorToNumeric(Number.NaN)).toThrow(InvariantError);
  });

  it('round-trips every safe minor amount, negatives included (property)', () => {
    // Proves minor → NUMERIC text → minor and minor → JSON amount → minor are lossless.
    fc.assert(
      fc.property(fc.integer({ min: -amountMinorMax * 10, max: amountMinorMax * 10 }), (minor) => {
        expect(numericToMinor(minorToNumeric(minor))).toBe(minor);
        if (minor >= 0 && minor <= amountMinorMax) expect(amountToMinor(minorToAmount(minor))).toBe(minor);
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('costMinor and maxBillableMs', () => {
  it('floors the cost in the student\'s favour', () => {
    // Proves cost = floor(ms × price / 60000): a partial cent is never charged.
    expect(costMinor(60_000, 100, 1_000_000)).toBe(100);
    expect(costMinor(59_999, 100, 1_000_000)).toBe(99);
    expect(costMinor(599, 100, 1_000_000)).toBe(0);
    expect(costMinor(600, 100, 1_000_000)).toBe(1);
    expect(costMinor(0, 500, 1_000)).toBe(0);
    expect(costMinor(8_571, 7, 1)).toBe(0);
  });

  it('floors exactly at any size, on both sides of the exact-double range', () => {
    // Proves the double fast path and the BigInt path agree with exact integer arithmetic, for products below 2^53
    // (doubles) and above it (BigInt).
    const exact = (ms: number, price: number) => Number((BigInt(ms) * BigInt(price)) / 60_000n);
    fc.assert(fc.property(
      fc.oneof(fc.integer({ min: 0, max: 10_000_000 }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })),
      fc.integer({ min: 1, max: 1_000_000 }),
      (ms, price) => costMinor(ms, price, Infinity) === exact(ms, price)),
    { numRuns: 5_000 });
    // The largest product the double path takes, and the first one it leaves to BigInt.
    const edge = 2 ** 53 - 1;
    expect(costMinor(edge, 1, Infinity)).toBe(exact(edge, 1));
    expect(costMinor(edge, 2, Infinity)).toBe(exact(edge, 2));
  });

  it('caps the cost at the locked amount', () => {
    // Proves no session can cost more than was locked, however long it was billed.
    expect(costMinor(600_000, 100, 500)).toBe(500);
    expect(costMinor(Number.MAX_SAFE_INTEGER, 500, 75_000)).toBe(75_000);
  });

  it('refuses negative or fractional billable time', () => {
    // Proves billable time must be whole non-negative milliseconds.
    expect(() => costMinor(-1, 100, 100)).toThrow(InvariantError);
    expect(() => costMinor(1.5, 100, 100)).toThrow(InvariantError);
  });

  it('computes max billable time as floor(locked × 60000 / price)', () => {
    // Proves the funds limit in ms, including the rounding down of a partial millisecond.
    expect(maxBillableMs(75_000, 50)).toBe(90_000_000);
    expect(maxBillableMs(1, 7)).toBe(8_571);
    expect(maxBillableMs(100, 100)).toBe(60_000);
    expect(maxBillableMs(amountMinorMax, 1)).toBe(amountMinorMax * 60_000);
    expect(() => maxBillableMs(100, 0)).toThrow(InvariantError);
  });

  it('max billable time is the largest time the locked amount pays for (property)', () => {
    // Proves maxBillableMs × price ≤ locked × 60000 < (maxBillableMs + 1) × price, in exact integers.
    fc.assert(
      fc.property(fc.integer({ min: 1, max: amountMinorMax }), fc.integer({ min: 1, max: 500 }), (locked, price) => {
        const max = BigInt(maxBillableMs(locked, price));
        expect(max * BigInt(price) <= BigInt(locked) * 60_000n).toBe(true);
        expect((max + 1n) * BigInt(price) > BigInt(locked) * 60_000n).toBe(true);
        expect(costMinor(Number(max) + 1, price, locked)).toBe(locked);
      }),
      { numRuns: 1_000 },
    );
  });
});

/** One session's figures with nothing carried in: what settlement computes for a session alone. */
const settlementFigures = (i: { billableMs: number; pricePerMinuteMinor: number; lockedMinor: number; feeBps: number; endReason: string }) =>
  figuresOfCost(chargeWithCarry({ ...i, subMinorCarriedIn: 0 }).costMinor, i.lockedMinor, i.feeBps);

describe('settlement figures of one session', () => {
  it('conserves money with no platform fee', () => {
    // Proves cost + refund = locked and the teacher gets the whole cost at 0 bps.
    expect(settlementFigures({ billableMs: 90_000, pricePerMinuteMinor: 100, lockedMinor: 1_000, feeBps: 0, endReason: 'completed' }))
      .toEqual({ costMinor: 150, refundMinor: 850, teacherEarningMinor: 150, platformFeeMinor: 0 });
  });

  it('takes a 250 bps fee rounded down, in the teacher\'s favour', () => {
    // Proves fee = floor(cost × bps / 10000) and teacher + fee = cost.
    expect(settlementFigures({ billableMs: 90_000, pricePerMinuteMinor: 100, lockedMinor: 1_000, feeBps: 250, endReason: 'completed' }))
      .toEqual({ costMinor: 150, refundMinor: 850, teacherEarningMinor: 147, platformFeeMinor: 3 });
  });

  it('charges exactly the locked amount for funds_exhausted', () => {
    // Proves funds_exhausted costs the locked amount even when floor rounding of the billed time gives less.
    const locked = 1;
    const price = 7;
    const billable = maxBillableMs(locked, price);
    expect(costMinor(billable, price, locked)).toBe(0);
    for (const feeBps of [0, 250]) {
      const f = settlementFigures({ billableMs: billable, pricePerMinuteMinor: price, lockedMinor: locked, feeBps, endReason: 'funds_exhausted' });
      expect(f.costMinor).toBe(locked);
      expect(f.refundMinor).toBe(0);
      expect(f.teacherEarningMinor + f.platformFeeMinor).toBe(locked);
    }
    expect(settlementFigures({ billableMs: 0, pricePerMinuteMinor: 100, lockedMinor: 1_000, feeBps: 250, endReason: 'funds_exhausted' }))
      .toEqual({ costMinor: 1_000, refundMinor: 0, teacherEarningMinor: 975, platformFeeMinor: 25 });
  });

  it('refuses a completed session billed beyond its locked amount instead of charging it', () => {
    // Proves billing beyond the funds (which Redis never allows) is a broken invariant, never a charge above locked.
    expect(() => settlementFigures({ billableMs: 10 * 60_000, pricePerMinuteMinor: 100, lockedMinor: 500, feeBps: 0, endReason: 'completed' }))
      .toThrow(InvariantError);
  });

  it('assertFiguresConserve rejects figures that do not add up', () => {
    // Proves the conservation check itself can fail (it guards every write of a settlement).
    expect(() => assertFiguresConserve({ costMinor: 100, refundMinor: 1, teacherEarningMinor: 100, platformFeeMinor: 0 }, 100)).toThrow(InvariantError);
    expect(() => assertFiguresConserve({ costMinor: 100, refundMinor: 0, teacherEarningMinor: 99, platformFeeMinor: 0 }, 100)).toThrow(InvariantError);
    expect(() => assertFiguresConserve({ costMinor: 101, refundMinor: -1, teacherEarningMinor: 101, platformFeeMinor: 0 }, 100)).toThrow(InvariantError);
  });

  it('conserves money and bounds the cost for any locked, price, time and fee (property)', () => {
    // Proves cost ≤ locked, cost + refund = locked, teacher + fee = cost, and cost never falls as time grows.
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: amountMinorMax }),
        fc.integer({ min: 1, max: 500 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 0, max: 10_000 }),
        fc.constantFrom('completed', 'disconnected', 'funds_exhausted'),
        (locked, price, u, v, feeBps, endReason) => {
          const max = maxBillableMs(locked, price);
          const a = Math.floor(u * max);
          const b = Math.floor(v * max);
          const [lo, hi] = a <= b ? [a, b] : [b, a];
          const cost = costMinor(hi, price, locked);
          expect(cost).toBeLessThanOrEqual(locked);
          expect(costMinor(lo, price, locked)).toBeLessThanOrEqual(cost);
          const f = settlementFigures({ billableMs: hi, pricePerMinuteMinor: price, lockedMinor: locked, feeBps, endReason });
          expect(f.costMinor).toBe(endReason === 'funds_exhausted' ? locked : cost);
          expect(f.costMinor + f.refundMinor).toBe(locked);
          expect(f.teacherEarningMinor + f.platformFeeMinor).toBe(f.costMinor);
          expect(f.platformFeeMinor).toBe(Math.floor((f.costMinor * feeBps) / 10_000));
        },
      ),
      { numRuns: 2_000 },
    );
  });
});

describe('chargeWithCarry: splitting a viewing into sessions', () => {
  /** Cuts `totalMs` into `parts` positive-or-zero pieces at the given fractions. */
  const splitAt = (totalMs: number, fractions: number[]): number[] => {
    const cuts = fractions.map((f) => Math.floor(f * totalMs)).sort((a, b) => a - b);
    return [...cuts, totalMs].map((cut, i) => cut - (i === 0 ? 0 : cuts[i - 1]!));
  };

  it('charges a split exactly what one session of the whole billed time costs, and the teacher no less (property)', () => {
    // Proves the README's split rule: over 1–20 sessions, total charged is the floor of the whole, never more than one
    // unit above it; teacher + fee = charged per session; each session's ledger legs sum to zero; the teacher earns at
    // least what one session would have paid.
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 600_000 }), // billed ms of the whole viewing
        fc.integer({ min: 1, max: 100_000 }), // price per minute, minor units
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 0, maxLength: 19 }),
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 0, max: 3 }), // spare minor units each session locks beyond what it needs
        (totalMs, price, fractions, feeBps, spareMinor) => {
          let carried = 0;
          let charged = 0;
          let teacher = 0;
          for (const billedMs of splitAt(totalMs, fractions)) {
            // Enough locked that the session's own max billable time covers its piece (as the meter guarantees).
            const locked = Math.ceil((billedMs * price) / 60_000) + spareMinor + 1;
            expect(maxBillableMs(locked, price)).toBeGreaterThanOrEqual(billedMs);
            const charge = chargeWithCarry({ billableMs: billedMs, pricePerMinuteMinor: price, lockedMinor: locked, endReason: 'completed', subMinorCarriedIn: carried });
            expect(charge.subMinorCarriedOut).toBeGreaterThanOrEqual(0);
            expect(charge.subMinorCarriedOut).toBeLessThan(subMinorPerMinor);
            const f = figuresOfCost(charge.costMinor, locked, feeBps);
            expect(f.teacherEarningMinor + f.platformFeeMinor).toBe(f.costMinor);
            const legs = [-locked, f.refundMinor, f.teacherEarningMinor, f.platformFeeMinor];
            expect(legs.reduce((a, b) => a + b, 0)).toBe(0);
            carried = charge.subMinorCarriedOut;
            charged += f.costMinor;
            teacher += f.teacherEarningMinor;
          }
          const whole = costMinor(totalMs, price, Number.MAX_SAFE_INTEGER);
          expect(charged).toBeGreaterThanOrEqual(whole);
          expect(charged).toBeLessThanOrEqual(whole + 1);
          expect(teacher).toBeGreaterThanOrEqual(whole - Math.floor((whole * feeBps) / 10_000));
        },
      ),
      { numRuns: 3_000 },
    );
  });

  it('reproduces the three 4.9 s sessions at 0.10 a minute: 0, then 1, then 1 cent, where per-session floors gave 0', () => {
    // Proves the reported free-viewing split is closed: 14.77 s at 10 minor units a minute owes 2.46 units, 2 charged.
    const pieces = [4_930, 4_920, 4_920];
    let carried = 0;
    const costs = pieces.map((billableMs) => {
      const c = chargeWithCarry({ billableMs, pricePerMinuteMinor: 10, lockedMinor: 1, endReason: 'completed', subMinorCarriedIn: carried });
      carried = c.subMinorCarriedOut;
      return c.costMinor;
    });
    expect(pieces.map((ms) => costMinor(ms, 10, 1))).toEqual([0, 0, 0]);
    expect(costs).toEqual([0, 1, 1]);
    expect(carried).toBe((14_770 * 10) % 60_000);
  });

  it('funds_exhausted charges the locked amount and its overpayment pays off what was carried in', () => {
    // Proves the one-session rule is unchanged and the carry never goes negative: max billable 5999 ms at 10/min owes
    // 59,990 of a locked 60,000 sub-minor units; a 9,000 carry in leaves 8,990 still owed, a 5 carry leaves nothing.
    expect(chargeWithCarry({ billableMs: 5_999, pricePerMinuteMinor: 10, lockedMinor: 1, endReason: 'funds_exhausted', subMinorCarriedIn: 9_000 }))
      .toEqual({ costMinor: 1, subMinorCarriedOut: 8_990 });
    expect(chargeWithCarry({ billableMs: 5_999, pricePerMinuteMinor: 10, lockedMinor: 1, endReason: 'funds_exhausted', subMinorCarriedIn: 5 }))
      .toEqual({ costMinor: 1, subMinorCarriedOut: 0 });
  });

  it('refuses a carried remainder that is not below one minor unit, or a billed time beyond what was locked', () => {
    // Proves the guards: a corrupt remainder or an over-billed session is a bug upstream, never a charge.
    expect(() => chargeWithCarry({ billableMs: 1, pricePerMinuteMinor: 10, lockedMinor: 1, endReason: 'completed', subMinorCarriedIn: 60_000 })).toThrow(InvariantError);
    expect(() => chargeWithCarry({ billableMs: 1, pricePerMinuteMinor: 10, lockedMinor: 1, endReason: 'completed', subMinorCarriedIn: -1 })).toThrow(InvariantError);
    expect(() => chargeWithCarry({ billableMs: 18_000, pricePerMinuteMinor: 10, lockedMinor: 2, endReason: 'completed', subMinorCarriedIn: 0 })).toThrow(InvariantError);
  });
});
