// The end-of-run money check over every session of the run, set-based and chunked: each check is a few SQL statements
// over chunks of the run's sessions, never one REST call per session. The run's sessions are those of its freshly funded students.
// Each check counts its violations and keeps a few examples; a clean run has none (docs/money.md "Invariants").
import type { Pool } from '../../core/pg/pool.js';
import type { SettledRow } from './child-protocol.js';

/** Examples kept per failed check. */
const examplesPerCheckMax = 5;
/**
 * Sessions (and viewer reports) per statement: each check runs over the run's sessions in chunks of this many, so no
 * statement grows with the run; 100,000 sessions are ten short statements per check.
 */
export const sessionsPerChunk = 10_000;
/** Students per statement of the wallet check. */
const studentsPerChunk = 1_000;
/** One statement may run this long on the server (the global views scan the whole schema's ledger). */
const checkStatementMs = 120_000;
/**
 * The client waits longer than the server may run, so a slow statement ends with the server's own error, never with
 * the pool's 15 s client read timeout (which is what ended the check at 20,000 sessions).
 */
const checkReadMs = checkStatementMs + 30_000;
/** How long the check waits for sessions of the run that are not settled yet (a viewer failed, the sweeper settles). */
export const settleWaitMs = 30_000;
/** Per-lecture watched time may differ from the billed duration by this much (as in the conformance suite). */
const progressSlackMs = 10;

export interface MoneyCheck {
  sessions: number;
  /** Per check: violations, a few examples, and the ms its statements took (all chunks). */
  checks: Record<string, { violations: number; examples: unknown[]; ms: number }>;
  violations: number;
}

/**
 * The run's sessions, numbered, in a temporary table of the check's connection: each session check reads one chunk
 * of them (`$1 < n <= $2`) through this CTE, by primary key.
 */
const chunkCte = `WITH chunk AS (SELECT s.* FROM run_sessions r JOIN sessions s ON s.id = r.id WHERE r.n > $1 AND r.n <= $2) `;

/** Each query returns the violating rows of one check (id first) among one chunk of the run's sessions. */
const sessionChecks: Record<string, string> = {
  settled: `SELECT id, status FROM chunk WHERE status <> 'completed'`,
  settled_exactly_once: `
    SELECT s.id, count(t.id) AS settle_transactions FROM chunk s
      LEFT JOIN ledger_transactions t ON t.session_id = s.id AND t.kind = 'settle'
     GROUP BY s.id HAVING count(t.id) <> 1`,
  locked_exactly_once: `
    SELECT s.id, count(t.id) AS lock_transactions FROM chunk s
      LEFT JOIN ledger_transactions t ON t.session_id = s.id AND t.kind = 'lock'
     GROUP BY s.id HAVING count(t.id) <> 1`,
  cost_plus_refund_is_locked: `
    SELECT id, locked_amount, cost, refund, teacher_earning, platform_fee FROM chunk
     WHERE status = 'completed'
       AND (cost + refund <> locked_amount OR teacher_earning + platform_fee <> cost OR cost < 0 OR refund < 0)`,
  // cost = floor((billed_ms × price_minor + carried in) / 60000), the rest carried out; a session that billed nothing
  // carries nothing (docs/money.md "Splitting a viewing"); funds_exhausted costs all of the locked amount.
  cost_formula: `
    SELECT id, end_reason, duration_ms, price_per_minute, locked_amount, cost, sub_minor_carried_in FROM chunk
     WHERE status = 'completed'
       AND cost * 100 <> CASE WHEN end_reason = 'funds_exhausted' THEN locked_amount * 100
                              ELSE least(floor((duration_ms * price_per_minute * 100 + coalesce(sub_minor_carried_in, 0)) / 60000),
                                         locked_amount * 100) END`,
  hold_released: `
    SELECT s.id, h.amount, h.released_at FROM chunk s LEFT JOIN holds h ON h.session_id = s.id
     WHERE h.session_id IS NULL OR h.released_at IS NULL OR h.amount <> s.locked_amount`,
  progress_sums_to_billed: `
    SELECT id, duration_ms, watched_ms FROM (
      SELECT s.id, s.duration_ms,
             (SELECT coalesce(sum(round((p.value->>'watched_seconds')::numeric * 1000)), 0)
                FROM jsonb_each(s.content_progress) p) AS watched_ms
        FROM chunk s WHERE s.status = 'completed') x
     WHERE abs(watched_ms - duration_ms) > ${progressSlackMs}`,
};

/**
 * Each student of the run ($1: a chunk of them): what it was funded with ($2), less what its sessions cost and what
 * they still hold, is its balance (a session still open, e.g. a create the viewer gave up on, holds its lock until it
 * is settled).
 */
const walletCheckSql = `
    SELECT w.student_id, w.balance, $2::numeric - coalesce(sum(coalesce(s.cost, 0)), 0)
                                   - coalesce(sum(CASE WHEN s.status <> 'completed' THEN s.locked_amount ELSE 0 END), 0) AS expected
      FROM wallets w LEFT JOIN sessions s ON s.student_id = w.student_id
     WHERE w.student_id = ANY($1) GROUP BY w.student_id, w.balance
    HAVING w.balance <> $2::numeric - coalesce(sum(coalesce(s.cost, 0)), 0)
                       - coalesce(sum(CASE WHEN s.status <> 'completed' THEN s.locked_amount ELSE 0 END), 0)`;

/** Over the whole schema: the product's own invariants, always empty. */
const globalChecks: Record<string, string> = {
  ledger_imbalances: 'SELECT * FROM ledger_imbalances',
  // The product's view (sql/migrations/0006 makes it a hash join: it was quadratic in sessions).
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

type Tally = MoneyCheck['checks'][string];

export async function checkRunMoney(pool: Pool, studentIds: readonly string[], fundMinor: number, settled: readonly SettledRow[],
  o: { sessionsPerChunk?: number } = {}): Promise<MoneyCheck> {
  const chunkSize = o.sessionsPerChunk ?? sessionsPerChunk;
  const client = await pool.connect();
  const run = <R extends object>(text: string, values: unknown[]) => client.query<R>({ text, values, query_timeout: checkReadMs } as never);
  try {
    await run(`SET statement_timeout = ${checkStatementMs}`, []);
    await run('DROP TABLE IF EXISTS pg_temp.run_sessions', []);
    await run('CREATE TEMPORARY TABLE run_sessions (n integer PRIMARY KEY, id uuid NOT NULL)', []);
    const filled = await run('INSERT INTO run_sessions SELECT row_number() OVER (ORDER BY id), id FROM sessions WHERE student_id = ANY($1)', [studentIds]);
    await run('ANALYZE run_sessions', []);
    const sessions = filled.rowCount ?? 0;
    const fund = (fundMinor / 100).toFixed(2);
    const checks: MoneyCheck['checks'] = {};
    const tally = (name: string): Tally => (checks[name] ??= { violations: 0, examples: [], ms: 0 });
    const add = async (name: string, sql: string, params: unknown[]) => {
      const t0 = performance.now();
      const { rows } = await run(sql, params);
      const t = tally(name);
      t.ms += Math.round(performance.now() - t0);
      t.violations += rows.length;
      t.examples.push(...rows.slice(0, Math.max(0, examplesPerCheckMax - t.examples.length)));
    };
    for (const [name, sql] of Object.entries(sessionChecks)) {
      tally(name);
      for (let from = 0; from < sessions; from += chunkSize) await add(name, chunkCte + sql, [from, from + chunkSize]);
    }
    tally('wallet_is_funding_less_costs_and_holds');
    for (let i = 0; i < studentIds.length; i += studentsPerChunk) {
      await add('wallet_is_funding_less_costs_and_holds', walletCheckSql, [studentIds.slice(i, i + studentsPerChunk), fund]);
    }
    for (const [name, sql] of Object.entries(globalChecks)) await add(name, sql, []);
    tally('viewer_saw_the_books');
    for (let i = 0; i < settled.length; i += chunkSize) {
      const part = settled.slice(i, i + chunkSize);
      await add('viewer_saw_the_books', viewerSawTheBooksSql, [part.map((r) => r[0]), part.map((r) => r[1]), part.map((r) => r[2]), part.map((r) => r[3])]);
    }
    const total = Object.values(checks).reduce((n, c) => n + c.violations, 0);
    return { sessions, checks, violations: total };
  } finally {
    client.release(true); // the raised statement_timeout and the temporary table stay with this connection: do not hand it back
  }
}
