// The end-of-run money check over every session of the run, set-based: a handful of SQL statements whatever the
// number of sessions, never one REST call per session. The run's sessions are those of its freshly funded students.
// Each check counts its violations and keeps a few examples; a clean run has none (DESIGN §3).
import type { Pool, PoolClient } from '../../shared/pg/pool.js';
import type { SettledRow } from './child-protocol.js';

/** Examples kept per failed check. */
const examplesPerCheckMax = 5;
/** One statement of the check may run this long: a 100k-session run scans a few hundred thousand ledger rows. */
const checkStatementMs = 120_000;
/** How long the check waits for sessions of the run that are not settled yet (a viewer failed, the sweeper settles). */
export const settleWaitMs = 30_000;
/** Per-lecture watched time may differ from the billed duration by this much (as in the conformance suite). */
const progressSlackMs = 10;

export interface MoneyCheck {
  sessions: number;
  checks: Record<string, { violations: number; examples: unknown[] }>;
  violations: number;
}

/** Each query returns the violating rows of one check (id first); `$1` is the run's student ids. */
const sessionChecks: Record<string, string> = {
  settled: `SELECT id, status FROM sessions WHERE student_id = ANY($1) AND status <> 'completed'`,
  settled_exactly_once: `
    SELECT s.id, count(t.id) AS settle_transactions FROM sessions s
      LEFT JOIN ledger_transactions t ON t.session_id = s.id AND t.kind = 'settle'
     WHERE s.student_id = ANY($1) GROUP BY s.id HAVING count(t.id) <> 1`,
  locked_exactly_once: `
    SELECT s.id, count(t.id) AS lock_transactions FROM sessions s
      LEFT JOIN ledger_transactions t ON t.session_id = s.id AND t.kind = 'lock'
     WHERE s.student_id = ANY($1) GROUP BY s.id HAVING count(t.id) <> 1`,
  cost_plus_refund_is_locked: `
    SELECT id, locked_amount, cost, refund, teacher_earning, platform_fee FROM sessions
     WHERE student_id = ANY($1) AND status = 'completed'
       AND (cost + refund <> locked_amount OR teacher_earning + platform_fee <> cost OR cost < 0 OR refund < 0)`,
  // cost = floor((billed_ms × price_minor + carried in) / 60000), the rest carried out; a session that billed nothing
  // carries nothing (README "Money"); funds_exhausted costs all of the locked amount.
  cost_formula: `
    SELECT id, end_reason, duration_ms, price_per_minute, locked_amount, cost, sub_minor_carried_in FROM sessions
     WHERE student_id = ANY($1) AND status = 'completed'
       AND cost * 100 <> CASE WHEN end_reason = 'funds_exhausted' THEN locked_amount * 100
                              ELSE least(floor((duration_ms * price_per_minute * 100 + coalesce(sub_minor_carried_in, 0)) / 60000),
                                         locked_amount * 100) END`,
  hold_released: `
    SELECT s.id, h.amount, h.released_at FROM sessions s LEFT JOIN holds h ON h.session_id = s.id
     WHERE s.student_id = ANY($1) AND (h.session_id IS NULL OR h.released_at IS NULL OR h.amount <> s.locked_amount)`,
  progress_sums_to_billed: `
    SELECT id, duration_ms, watched_ms FROM (
      SELECT s.id, s.duration_ms,
             (SELECT coalesce(sum(round((p.value->>'watched_seconds')::numeric * 1000)), 0)
                FROM jsonb_each(s.content_progress) p) AS watched_ms
        FROM sessions s WHERE s.student_id = ANY($1) AND s.status = 'completed') x
     WHERE abs(watched_ms - duration_ms) > ${progressSlackMs}`,
  // Each student of the run: what it was funded with, less what its sessions cost and what they still hold, is its
  // balance (a session still open, e.g. a create the viewer gave up on, holds its lock until it is settled).
  wallet_is_funding_less_costs_and_holds: `
    SELECT w.student_id, w.balance, $2::numeric - coalesce(sum(coalesce(s.cost, 0)), 0)
                                   - coalesce(sum(CASE WHEN s.status <> 'completed' THEN s.locked_amount ELSE 0 END), 0) AS expected
      FROM wallets w LEFT JOIN sessions s ON s.student_id = w.student_id
     WHERE w.student_id = ANY($1) GROUP BY w.student_id, w.balance
    HAVING w.balance <> $2::numeric - coalesce(sum(coalesce(s.cost, 0)), 0)
                       - coalesce(sum(CASE WHEN s.status <> 'completed' THEN s.locked_amount ELSE 0 END), 0)`,
};

/** Over the whole schema: the product's own invariant views, always empty. */
const globalChecks: Record<string, string> = {
  ledger_imbalances: 'SELECT * FROM ledger_imbalances',
  balance_mismatches: 'SELECT * FROM balance_mismatches',
};

/** What each viewer was told (ended frame or REST complete) against the books: $1 ids, $2 ms, $3 cost minor, $4 reason. */
const viewerSawTheBooksSql = `
  SELECT v.id, v.billed_ms, v.cost_minor, v.end_reason, s.duration_ms, s.cost, s.end_reason AS books_end_reason
    FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::text[]) AS v(id, billed_ms, cost_minor, end_reason)
    LEFT JOIN sessions s ON s.id = v.id
   WHERE s.id IS NULL OR s.duration_ms <> v.billed_ms OR s.cost * 100 <> v.cost_minor OR s.end_reason <> v.end_reason`;

export async function waitForRunSettled(pool: Pool, studentIds: readonly string[], timeoutMs = settleWaitMs): Promise<number> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM sessions WHERE student_id = ANY($1) AND status <> 'completed'`, [studentIds]);
    const open = Number(rows[0]!.n);
    if (open === 0 || Date.now() > until) return open;
    await new Promise((r) => setTimeout(r, 500));
  }
}

export async function checkRunMoney(pool: Pool, studentIds: readonly string[], fundMinor: number, settled: readonly SettledRow[]): Promise<MoneyCheck> {
  const client = await pool.connect();
  try {
    await client.query(`SET statement_timeout = ${checkStatementMs}`);
    const fund = (fundMinor / 100).toFixed(2);
    const checks: MoneyCheck['checks'] = {};
    const count = await client.query<{ n: string }>('SELECT count(*) AS n FROM sessions WHERE student_id = ANY($1)', [studentIds]);
    for (const [name, sql] of Object.entries(sessionChecks)) {
      checks[name] = await violations(client, sql, name === 'wallet_is_funding_less_costs_and_holds' ? [studentIds, fund] : [studentIds]);
    }
    for (const [name, sql] of Object.entries(globalChecks)) checks[name] = await violations(client, sql, []);
    checks.viewer_saw_the_books = await violations(client, viewerSawTheBooksSql, [
      settled.map((r) => r[0]), settled.map((r) => r[1]), settled.map((r) => r[2]), settled.map((r) => r[3])]);
    const total = Object.values(checks).reduce((n, c) => n + c.violations, 0);
    return { sessions: Number(count.rows[0]!.n), checks, violations: total };
  } finally {
    client.release(true); // the raised statement_timeout stays with this connection: do not hand it back
  }
}

async function violations(client: PoolClient, sql: string, params: unknown[]): Promise<{ violations: number; examples: unknown[] }> {
  const { rows } = await client.query(sql, params);
  return { violations: rows.length, examples: rows.slice(0, examplesPerCheckMax) };
}
