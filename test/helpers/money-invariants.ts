// The money invariants of docs/money.md "Invariants", checked over a whole schema. Every test file calls this after
// each test.
import { expect } from 'vitest';
import type { Pool } from '../../core/pg/pool.js';
import { numericToMinor } from '../../core/money.js';

/** Total of every balance the system holds (wallets, open holds, teacher earnings, platform). */
export async function totalBalancesMinor(pool: Pool): Promise<number> {
  const { rows } = await pool.query<{ total: string }>(`
    SELECT ((SELECT coalesce(sum(balance), 0) FROM wallets)
          + (SELECT coalesce(sum(amount), 0) FROM holds WHERE released_at IS NULL)
          + (SELECT coalesce(sum(total_earnings), 0) FROM teachers)
          + (SELECT balance FROM platform_account))::numeric(16,2)::text AS total`);
  return numericToMinor(rows[0]!.total);
}

export async function assertMoneyInvariants(pool: Pool, expectedTotalMinor?: number): Promise<void> {
  const imbalanced = await pool.query('SELECT * FROM ledger_imbalances');
  expect(imbalanced.rows, 'every ledger transaction sums to zero').toEqual([]);

  const badSessions = await pool.query(`
    SELECT id FROM sessions WHERE status = 'completed'
      AND (cost + refund <> locked_amount OR teacher_earning + platform_fee <> cost OR cost < 0 OR refund < 0)`);
  expect(badSessions.rows, 'cost + refund = locked and teacher + fee = cost').toEqual([]);

  // A settlement that carried a sub-minor remainder charged exactly the whole units of its own billed time plus what
  // it took in, keeping what it left out (docs/money.md "Splitting a viewing").
  const carryMismatch = await pool.query(`
    SELECT id FROM sessions WHERE status = 'completed' AND sub_minor_carried_in IS NOT NULL AND end_reason <> 'funds_exhausted'
      AND cost * 6000000 <> duration_ms * price_per_minute * 100 + sub_minor_carried_in - sub_minor_carried_out`);
  expect(carryMismatch.rows, 'cost × 60000 = billed ms × price + carried in − carried out').toEqual([]);

  const doubleSettled = await pool.query(`
    SELECT session_id FROM ledger_transactions WHERE kind = 'settle' GROUP BY session_id HAVING count(*) > 1`);
  expect(doubleSettled.rows, 'each session settled at most once').toEqual([]);

  const unsettledCompleted = await pool.query(`
    SELECT s.id FROM sessions s
    WHERE (s.status = 'completed') <> EXISTS (SELECT 1 FROM ledger_transactions t WHERE t.session_id = s.id AND t.kind = 'settle')`);
  expect(unsettledCompleted.rows, 'a session is completed exactly when it has a settle transaction').toEqual([]);

  const openHoldMismatch = await pool.query(`
    SELECT s.id FROM sessions s JOIN holds h ON h.session_id = s.id
    WHERE (s.status = 'completed') <> (h.released_at IS NOT NULL) OR h.amount <> s.locked_amount`);
  expect(openHoldMismatch.rows, 'a hold is released exactly when its session is completed').toEqual([]);

  // Each balance equals what the ledger says it is.
  const ledgerMismatch = await pool.query('SELECT * FROM balance_mismatches');
  expect(ledgerMismatch.rows, 'every balance equals the sum of its ledger entries').toEqual([]);

  if (expectedTotalMinor !== undefined) {
    expect(await totalBalancesMinor(pool), 'the sum of all balances never changes').toBe(expectedTotalMinor);
  }
}
