// The driver's end-of-run money check over sessions written straight into a private schema (the books balanced as
// the product keeps them): clean books pass every check, chunk boundaries included, and each kind of damage is
// found by its own check whichever chunk it is in.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';
import { checkRunMoney } from '../../loadtest/driver/money-check.js';
import { createSettledSessions, type SettledFixture } from '../../loadtest/driver/settled-sessions-fixture.js';

let env: TestEnv;
let fx: SettledFixture;
const sessions = 2_500;
const chunk = 1_000; // three chunks, the last one partial

beforeAll(async () => {
  env = await createTestEnv();
  fx = await createSettledSessions(env.pool, 'money-check-test', 7, sessions);
}, 60_000);

afterAll(async () => {
  await env?.cleanup();
});

const violationsOf = async (settled = fx.settled) => {
  const m = await checkRunMoney(env.pool, fx.studentIds, fx.fundMinor, settled, { sessionsPerChunk: chunk });
  return { m, by: Object.fromEntries(Object.entries(m.checks).filter(([, c]) => c.violations > 0).map(([k, c]) => [k, c.violations])) };
};

describe('money check', () => {
  it('passes clean books in chunks, every check run over every session', async () => {
    const { m, by } = await violationsOf();
    expect(m.sessions).toBe(sessions);
    expect(by).toEqual({});
    expect(Object.keys(m.checks).sort()).toEqual([
      'balance_mismatches', 'cost_formula', 'cost_plus_refund_is_locked', 'hold_released', 'ledger_imbalances',
      'locked_exactly_once', 'progress_sums_to_billed', 'settled', 'settled_exactly_once', 'viewer_saw_the_books',
      'wallet_is_funding_less_costs_and_holds',
    ]);
  });

  it('finds what a viewer was told that the books disagree with, in any chunk', async () => {
    const settled = fx.settled.map((r, i) => (i === 1_500 || i === 2_400 ? [r[0], r[1] + 1, r[2], r[3]] as typeof r : r));
    const { m, by } = await violationsOf(settled);
    expect(by).toEqual({ viewer_saw_the_books: 2 });
    expect(m.checks.viewer_saw_the_books!.examples).toHaveLength(2);
  });

  it('finds a wrong cost, an unreleased hold and a missing lock in the last chunk', async () => {
    // The wrong cost goes to a session whose cost is below its hold: ten more minutes must then change what the
    // formula gives. (One already charged its whole hold, on a 5.00 a minute course, would still be right.)
    const { rows: [cheap] } = await env.pool.query<{ id: string; later: string }>(
      `SELECT s.id, (SELECT count(*) FROM sessions l WHERE l.student_id = ANY($1) AND l.id > s.id) AS later
         FROM sessions s WHERE s.student_id = ANY($1) AND s.cost < s.locked_amount ORDER BY s.id DESC LIMIT 1`, [fx.studentIds]);
    const a = cheap!.id;
    expect(Number(cheap!.later), 'the corrupted session is in the last chunk').toBeLessThan(sessions % chunk);
    const { rows } = await env.pool.query<{ id: string }>(
      'SELECT s.id FROM sessions s WHERE s.student_id = ANY($1) AND s.id <> $2 ORDER BY s.id DESC LIMIT 2', [fx.studentIds, a]);
    const [b, c] = rows.map((r) => r.id);
    await env.pool.query('UPDATE sessions SET duration_ms = duration_ms + 600000 WHERE id = $1', [a]);
    await env.pool.query('UPDATE holds SET released_at = NULL WHERE session_id = $1', [b]);
    await env.pool.query(`UPDATE ledger_transactions SET kind = 'deposit' WHERE session_id = $1 AND kind = 'lock'`, [c]);
    const { by } = await violationsOf(fx.settled.filter((r) => r[0] !== a));
    expect(by).toMatchObject({ cost_formula: 1, progress_sums_to_billed: 1, hold_released: 1, locked_exactly_once: 1 });
    // The unreleased hold is money the books say is held but the ledger released.
    expect(by.balance_mismatches).toBeGreaterThanOrEqual(1);
    // The view names that hold: its book (held) differs from its ledger total (released), the rest balance.
    const view = await env.pool.query<{ account_type: string; account_id: string; book: string; ledger: string }>('SELECT * FROM balance_mismatches');
    expect(view.rows).toEqual([expect.objectContaining({ account_type: 'hold', account_id: b })]);
  });
});
