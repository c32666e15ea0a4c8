// Building blocks for the hostile-input property tests: fast-check arbitraries for JSON texts a client might send
// (exact number literals such as -0, 1e999 or 0.1e1, strings no schema expects), a raw JSON object writer that keeps
// those literals as written, an exact decimal reading of a number literal, and a snapshot of the books.
import fc from 'fast-check';
import { expect } from 'vitest';
import type { Pool } from '../../core/pg/pool.js';
import { errorTable } from '../../core/errors.js';
import { numericToMinor } from '../../core/money.js';
import { totalBalancesMinor } from './money-invariants.js';

export const errorCodes = Object.keys(errorTable);

/** A JSON object written from [key, raw value text] pairs, so literals like `-0` or `1e999` reach the server as written. */
export function rawObject(pairs: readonly (readonly [string, string])[]): string {
  return `{${pairs.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;
}

/** Strings of any code points (astral planes, lone surrogates, controls, RTL marks, BOM…). */
export const anyString = (maxLength = 40) => fc.string({ unit: 'binary', maxLength });

/** Number literals that JSON allows, written as a client might: exponents, -0, long fractions, huge and tiny. */
export const numberLiteral: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('-0', '0', '0.0', '1e308', '-1e308', '1e999', '-1e999', '5e-324', '-5e-324', '1e-400', '0.001', '1.005',
    '0.30000000000000004', '1.0000000000000001', '0.99999999999999999', '9007199254740993', '123456789012345678901234567890',
    '1E2', '0.1e1', '100e-2', '2147483648', '-2147483649', '315360000.001', '100.0000000001'),
  fc.tuple(fc.boolean(), fc.stringMatching(/^(0|[1-9][0-9]{0,16})$/), fc.option(fc.stringMatching(/^[0-9]{1,20}$/), { nil: undefined }),
    fc.option(fc.tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), fc.integer({ min: 0, max: 30 })), { nil: undefined }))
    .map(([neg, int, frac, exp]) => `${neg ? '-' : ''}${int}${frac === undefined ? '' : `.${frac}`}${exp ? `${exp[0]}${exp[1]}${exp[2]}` : ''}`),
  fc.double().filter(Number.isFinite).map((n) => JSON.stringify(n)),
  fc.integer().map(String),
);

/** Raw JSON values of every type except numbers: the wrong type for a numeric or boolean field. */
export const nonNumberValue: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('null', 'true', 'false', '[]', '{}', '""', '"1"', '"1.5"', '"NaN"', '"Infinity"', '"-0"', '"\\ud800"', '"\\u0000"',
    '[1]', '{"$gt":0}', '{"__proto__":{"admin":true}}'),
  anyString().map((s) => JSON.stringify(s)),
  fc.jsonValue({ maxDepth: 3 }).filter((v) => typeof v !== 'number').map((v) => JSON.stringify(v)),
);

/**
 * The exact value of a JSON number literal in minor units (hundredths), or null when it is not a whole number of
 * hundredths. Read from the text with BigInt, never through a float: this is the oracle for "exact cents parsing".
 */
export function exactHundredths(literal: string): bigint | null {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(literal);
  if (!m) return null;
  const digits = BigInt(`${m[2]}${m[3] ?? ''}`);
  if (digits === 0n) return 0n;
  const shift = 2 - (m[3]?.length ?? 0) + Number(m[4] ?? '0');
  if (shift > 40) return null; // far beyond any amount limit: not a value worth building
  const sign = m[1] === '-' ? -1n : 1n;
  if (shift >= 0) return sign * digits * 10n ** BigInt(shift);
  const unit = 10n ** BigInt(-shift);
  return digits % unit === 0n ? sign * (digits / unit) : null;
}

export interface Books {
  totalMinor: number;
  walletMinor: number;
  heldMinor: number;
  sessions: number;
  ledgerTransactions: number;
}

/** Every figure a stray request could move: all balances, one student's wallet and holds, and row counts. */
export async function readBooks(pool: Pool, studentId: string): Promise<Books> {
  const { rows } = await pool.query<{ wallet: string; held: string; sessions: string; txns: string }>(`
    SELECT (SELECT balance::text FROM wallets WHERE student_id = $1) AS wallet,
           (SELECT coalesce(sum(amount), 0)::numeric(16,2)::text FROM holds WHERE student_id = $1 AND released_at IS NULL) AS held,
           (SELECT count(*) FROM sessions)::text AS sessions,
           (SELECT count(*) FROM ledger_transactions)::text AS txns`, [studentId]);
  const r = rows[0]!;
  return {
    totalMinor: await totalBalancesMinor(pool),
    walletMinor: numericToMinor(r.wallet),
    heldMinor: numericToMinor(r.held),
    sessions: Number(r.sessions),
    ledgerTransactions: Number(r.txns),
  };
}

/** A refusal in the documented REST format: `{"error":{"code","message"}}`, the code's own status from the table. */
export function expectApiError(res: { status: number; json: any; text: string }, what: string): string {
  expect([400, 401, 402, 403, 404, 405, 409, 413, 415, 429], `${what}: ${res.status} ${res.text.slice(0, 300)}`).toContain(res.status);
  expect(res.json, `${what}: the body is JSON`).toBeTypeOf('object');
  expect(Object.keys(res.json), what).toEqual(['error']);
  const { code, message } = res.json.error;
  expect(errorCodes, `${what}: ${res.text.slice(0, 300)}`).toContain(code);
  expect(errorTable[code as keyof typeof errorTable].status, `${what}: status of ${code}`).toBe(res.status);
  expect(message, what).toBeTypeOf('string');
  return code as string;
}
