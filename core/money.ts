// Money is integer minor units (cents) everywhere in code. Amounts cross the API as JSON numbers in major units
// with at most two decimals, and cross Postgres as NUMERIC strings; both are converted by parsing decimal text,
// never by multiplying floats.
import { amountMinorMax } from './limits.js';
import { invariant } from './errors.js';

const decimalText = /^(\d{1,15})(?:\.(\d{1,2}))?$/;

/** "12.3" | "12.30" | "12" → 1230. Returns null for anything that is not such a decimal. */
export function parseMinor(text: string): number | null {
  const m = decimalText.exec(text);
  if (!m) return null;
  const minor = Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'));
  return Number.isSafeInteger(minor) ? minor : null;
}

/**
 * A JSON number in major units → minor units. `String(n)` is the shortest text that round-trips to n,
 * so 1.1 → "1.1" → 110 exactly, while 1.234, 1e300, NaN and negatives are refused.
 */
export function amountToMinor(value: number): number | null {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) return null;
  const minor = parseMinor(String(value));
  if (minor === null || minor > amountMinorMax) return null;
  return minor;
}

/**
 * A JSON number literal exactly as written ("12.30", "1230e-2", "0.1e1") → minor units, read from its digits, never
 * through a float. Null unless it is a whole number of minor units within limits: "0.99999999999999999" parses to the
 * float 1, but it is not 1.00 and must not lock 1.00.
 */
export function amountLiteralToMinor(literal: string): number | null {
  const m = /^(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d{1,4}))?$/.exec(literal);
  if (!m) return null;
  const digits = BigInt(`${m[1]}${m[2] ?? ''}`);
  const shift = 2 - (m[2]?.length ?? 0) + Number(m[3] ?? '0');
  if (digits === 0n) return 0;
  if (shift > 20) return null; // far above amountMinorMax
  const unit = 10n ** BigInt(Math.abs(shift));
  if (shift < 0 && digits % unit !== 0n) return null;
  const minor = shift < 0 ? digits / unit : digits * unit;
  return minor <= BigInt(amountMinorMax) ? Number(minor) : null;
}

/** Postgres NUMERIC text (e.g. "1000000.00", "-3.5") → minor units. */
export function numericToMinor(text: string): number {
  const negative = text.startsWith('-');
  const minor = parseMinor(negative ? text.slice(1) : text);
  invariant(minor !== null, `not a money value from Postgres: ${text}`);
  return negative ? -minor : minor;
}

/** Minor units → NUMERIC text for Postgres ("-12.05"). */
export function minorToNumeric(minor: number): string {
  invariant(Number.isSafeInteger(minor), `money must be an integer of minor units, got ${minor}`);
  const sign = minor < 0 ? '-' : '';
  const abs = Math.abs(minor);
  return `${sign}${Math.trunc(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

/** Minor units → JSON number in major units (1230 → 12.3). Exact: the nearest double to a 2-decimal value. */
export function minorToAmount(minor: number): number {
  return Number(minorToNumeric(minor));
}

/** cost_minor = floor(billable_ms × price_per_minute_minor / 60000), capped at the locked amount (docs/money.md
 * "Rounding"). */
export function costMinor(billableMs: number, pricePerMinuteMinor: number, lockedMinor: number): number {
  invariant(Number.isSafeInteger(billableMs) && billableMs >= 0, `billable ms must be a non-negative integer, got ${billableMs}`);
  const product = billableMs * pricePerMinuteMinor;
  // Every heartbeat's ack computes this: doubles while the product is exact (below 2^53, that is over 28 years of
  // billed time at a 100.00/min price), where `%` and the division of an exact multiple are exact too; BigInt beyond.
  const cost = Number.isSafeInteger(product)
    ? (product - (product % 60_000)) / 60_000
    : Number((BigInt(billableMs) * BigInt(pricePerMinuteMinor)) / 60_000n);
  return Math.min(cost, lockedMinor);
}

/** max_billable_ms = floor(locked_minor × 60000 / price_per_minute_minor) (docs/money.md "Rounding"). */
export function maxBillableMs(lockedMinor: number, pricePerMinuteMinor: number): number {
  invariant(pricePerMinuteMinor > 0, 'price per minute must be positive');
  return Number((BigInt(lockedMinor) * 60_000n) / BigInt(pricePerMinuteMinor));
}

/** Milliseconds → the API's duration_seconds (millisecond precision). */
export const msToSeconds = (ms: number): number => ms / 1000;

export interface SettlementFigures {
  costMinor: number;
  refundMinor: number;
  teacherEarningMinor: number;
  platformFeeMinor: number;
}

/**
 * Sub-minor units: 60,000 make one minor unit, one per billed ms at a price of one minor unit per minute. A session's
 * exact cost, billable_ms × price_per_minute_minor, is a whole number of them, so remainders stay exact integers.
 */
export const subMinorPerMinor = 60_000;

/** What one settlement charges, and the fraction of a minor unit it leaves owed for the next
 * (docs/money.md "Splitting a viewing"). */
export interface SessionCharge {
  costMinor: number;
  subMinorCarriedOut: number;
}

/**
 * The charge of one session that carries the sub-minor remainder of the student's earlier sessions on the course:
 * cost = floor((billable_ms × price + carried_in) / 60000), and what is left below one minor unit is carried out.
 * Splitting a viewing into sessions therefore charges, in total, exactly what one session of the whole billed time
 * would (the floor of the sum, never the sum of floors). With nothing carried in this is costMinor.
 *
 * The cap at the locked amount never binds: billed ms ≤ max_billable_ms = floor(locked × 60000 / price), so
 * billed × price ≤ locked × 60000, and a carry below 60000 cannot add a whole unit beyond it.
 *
 * `funds_exhausted` keeps its own rule, the whole locked amount (docs/money.md "Rounding"): it charges more than the
 * exact cost by less than one millisecond's price (max billable time is rounded down), and that overpayment pays off
 * what was carried in; a carried remainder larger than it stays.
 */
export function chargeWithCarry(input: {
  billableMs: number;
  pricePerMinuteMinor: number;
  lockedMinor: number;
  endReason: string;
  subMinorCarriedIn: number;
}): SessionCharge {
  const { billableMs, pricePerMinuteMinor, lockedMinor, subMinorCarriedIn } = input;
  invariant(Number.isSafeInteger(billableMs) && billableMs >= 0, `billable ms must be a non-negative integer, got ${billableMs}`);
  invariant(Number.isSafeInteger(subMinorCarriedIn) && subMinorCarriedIn >= 0 && subMinorCarriedIn < subMinorPerMinor,
    `a carried remainder must be a whole number of sub-minor units below one minor unit, got ${subMinorCarriedIn}`);
  const owed = BigInt(billableMs) * BigInt(pricePerMinuteMinor) + BigInt(subMinorCarriedIn);
  const unit = BigInt(subMinorPerMinor);
  if (input.endReason === 'funds_exhausted') {
    const left = owed - BigInt(lockedMinor) * unit;
    return { costMinor: lockedMinor, subMinorCarriedOut: left > 0n ? Number(left) : 0 };
  }
  const costMinor = Number(owed / unit);
  invariant(costMinor <= lockedMinor, `cost ${costMinor} exceeds the locked ${lockedMinor}: billed beyond max billable`);
  return { costMinor, subMinorCarriedOut: Number(owed % unit) };
}

/**
 * The figures of one settlement of `costMinor` out of `lockedMinor`. The platform fee is rounded down, in the
 * teacher's favour. Asserts conservation before anything is written.
 */
export function figuresOfCost(costMinor: number, lockedMinor: number, feeBps: number): SettlementFigures {
  const platformFee = Math.floor((costMinor * feeBps) / 10_000);
  const figures = {
    costMinor,
    refundMinor: lockedMinor - costMinor,
    teacherEarningMinor: costMinor - platformFee,
    platformFeeMinor: platformFee,
  };
  assertFiguresConserve(figures, lockedMinor);
  return figures;
}

export function assertFiguresConserve(f: SettlementFigures, lockedMinor: number): void {
  invariant(f.costMinor >= 0 && f.refundMinor >= 0 && f.teacherEarningMinor >= 0 && f.platformFeeMinor >= 0, `negative settlement figure: ${JSON.stringify(f)}`);
  invariant(f.costMinor + f.refundMinor === lockedMinor, `cost + refund != locked: ${JSON.stringify(f)} locked ${lockedMinor}`);
  invariant(f.teacherEarningMinor + f.platformFeeMinor === f.costMinor, `teacher + fee != cost: ${JSON.stringify(f)}`);
}
