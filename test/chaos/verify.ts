// The end-of-run checks. Each failed check is a Violation (with enough detail to find the session); a clean run has
// none. Money: docs/money.md "Invariants" over the whole private database, the same queries as
// test/helpers/money-invariants.ts but counted instead of thrown, plus that helper itself as a cross-check.
// Billing: every session's billed time against its player's true playing time.
import type pg from 'pg';
import { numericToMinor as minor, subMinorPerMinor } from '../../core/money.js';
import { assertMoneyInvariants, totalBalancesMinor } from '../helpers/money-invariants.js';
import type { FaultRecord } from './faults.js';
import { sweeperWaitMs, type PlayerResult } from './players.js';

export interface Violation {
  /** invariant: money, exactly-once, billing bounds, figures (must never happen). availability: a player could not
   *  get or finish its session within the retry window (the product stayed unusable too long, or a harness limit). */
  kind: 'invariant' | 'availability';
  check: string;
  sessionId: string | null;
  detail: string;
}

export interface SessionRow {
  id: string;
  status: string;
  end_reason: string | null;
  duration_ms: string;
  locked_amount: string;
  cost: string | null;
  price_per_minute: string;
  max_billable_ms: string;
  /** Sub-minor units this session took from its (student, course) remainder; null when it billed nothing. */
  sub_minor_carried_in: string | null;
}

export interface BillingBounds {
  heartbeatMs: number;
  checkpointMs: number;
  slackMs: number;
}

export interface SessionBilling {
  sessionId: string;
  billedMs: number;
  trueMs: number;
  trueUpperMs: number;
  /** Redis wipes between its create and the player's end. */
  redisWipes: number;
  /** min(true, max billable) − billed: time the product did not bill (positive) or billed extra (negative). */
  lossMs: number;
  lossBoundMs: number;
  /** The strict bound, max(1, wipes) × (CHECKPOINT + 2 × HEARTBEAT) + slack: reported, not checked (see billingOf). */
  strictLossBoundMs: number;
  /** billed − min(trueUpper, max billable): the checked over-billing. */
  overMs: number;
  /** billed − min(true, max billable): over-billing against the player's own intervals (informational). */
  overTrueMs: number;
}

/** Polls until no session is left unsettled, or the bound passes. Returns the ids still open. */
export async function waitForSettlement(pool: pg.Pool, timeoutMs: number, signal: AbortSignal): Promise<string[]> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    let open: string[] | null = null;
    try {
      open = (await pool.query<{ id: string }>(`SELECT id FROM sessions WHERE status <> 'completed' ORDER BY id`)).rows.map((r) => r.id);
    } catch {
      open = null; // Postgres blinked; ask again
    }
    if (open !== null && (open.length === 0 || Date.now() > until || signal.aborted)) return open;
    if (open === null && Date.now() > until) return ['(Postgres did not answer)'];
    await new Promise((r) => setTimeout(r, 250));
  }
}

const rowsToViolations = (check: string, rows: Record<string, unknown>[], idKey: string | null) =>
  rows.map((row): Violation => ({ kind: 'invariant', check, sessionId: idKey ? String(row[idKey]) : null, detail: JSON.stringify(row) }));

export async function checkMoney(pool: pg.Pool, totalBeforeMinor: number): Promise<Violation[]> {
  const out: Violation[] = [];
  const q = async (check: string, sql: string, idKey: string | null) => out.push(...rowsToViolations(check, (await pool.query(sql)).rows, idKey));
  await q('ledger transaction does not sum to zero', 'SELECT * FROM ledger_imbalances', 'session_id');
  await q('cost + refund = locked, teacher + fee = cost', `
    SELECT id, locked_amount, cost, refund, teacher_earning, platform_fee FROM sessions WHERE status = 'completed'
      AND (cost + refund <> locked_amount OR teacher_earning + platform_fee <> cost OR cost < 0 OR refund < 0)`, 'id');
  await q('settled exactly once (one settle transaction per completed session)', `
    SELECT s.id, s.status, count(t.id) AS settle_transactions FROM sessions s
      LEFT JOIN ledger_transactions t ON t.session_id = s.id AND t.kind = 'settle'
     GROUP BY s.id, s.status
    HAVING count(t.id) <> CASE WHEN s.status = 'completed' THEN 1 ELSE 0 END`, 'id');
  await q('hold released exactly when settled', `
    SELECT s.id, s.status, h.released_at, h.amount, s.locked_amount FROM sessions s JOIN holds h ON h.session_id = s.id
     WHERE (s.status = 'completed') <> (h.released_at IS NOT NULL) OR h.amount <> s.locked_amount`, 'id');
  await q('balance equals its ledger', 'SELECT * FROM balance_mismatches', null);
  const totalAfter = await totalBalancesMinor(pool);
  if (totalAfter !== totalBeforeMinor) {
    out.push({ kind: 'invariant', check: 'sum of all balances unchanged', sessionId: null, detail: `before ${totalBeforeMinor}, after ${totalAfter} (minor units)` });
  }
  try {
    await assertMoneyInvariants(pool, totalBeforeMinor);
  } catch (err) {
    if (out.length === 0) out.push({ kind: 'invariant', check: 'assertMoneyInvariants', sessionId: null, detail: (err as Error).message.split('\n')[0]! });
  }
  return out;
}

export async function sessionRows(pool: pg.Pool): Promise<Map<string, SessionRow>> {
  const { rows } = await pool.query<SessionRow>(`
    SELECT id, status, end_reason, duration_ms, locked_amount, cost, price_per_minute, max_billable_ms, sub_minor_carried_in FROM sessions`);
  return new Map(rows.map((r) => [r.id, r]));
}

/**
 * The billing bound of one session: billed ∈
 *   [min(true, max) − loss bound − slack,  min(trueUpper, max) + slack],
 *   loss bound = CHECKPOINT + 2 × HEARTBEAT when the session lived through no Redis wipe, else the sum over its wipes
 *   of (CHECKPOINT + 2 × HEARTBEAT + the wipe's outage, from the kill until Redis answered again).
 * A wipe loses what was billed since the last checkpoint (one checkpoint interval) and, because a rebuilt session
 * counts time from the rebuild, the playing time of every heartbeat acknowledged between the kill and the rebuild:
 * heartbeats that waited in the gateway's Redis client during the outage are applied (and acked) after the rebuild
 * with little or no credit. The strict bound has 2 heartbeat intervals for that, which holds when the outage is
 * shorter than a heartbeat; the outage term covers longer ones. The strict bound is still reported (strict).
 * The upper side uses trueUpper (players.ts): `true` widened by the processing delay the player measured on each
 * heartbeat, since the server bills from when it applies an update, not from when the player sent it.
 */
export function billingOf(p: PlayerResult, row: SessionRow, faults: readonly FaultRecord[], b: BillingBounds): SessionBilling {
  const from = p.createdAtMs ?? 0;
  const to = p.doneAtMs ?? Number.POSITIVE_INFINITY;
  const wipes = faults.filter((f) => f.kind === 'redis_restart_empty' && f.atMs >= from - 1_000 && f.atMs <= to);
  const billedMs = Number(row.duration_ms);
  const maxMs = Number(row.max_billable_ms);
  const perWipeMs = b.checkpointMs + 2 * b.heartbeatMs;
  const lossBoundMs = (wipes.length === 0 ? perWipeMs
    : wipes.reduce((sum, f) => sum + perWipeMs + ((f.recoveredAtMs ?? to) - f.atMs), 0)) + b.slackMs;
  return {
    sessionId: row.id, billedMs, trueMs: Math.round(p.trueMs), trueUpperMs: Math.round(p.trueUpperMs), redisWipes: wipes.length,
    lossMs: Math.round(Math.min(p.trueMs, maxMs) - billedMs), lossBoundMs: Math.round(lossBoundMs),
    strictLossBoundMs: Math.max(1, wipes.length) * perWipeMs + b.slackMs,
    overMs: Math.round(billedMs - Math.min(p.trueUpperMs, maxMs)),
    overTrueMs: Math.round(billedMs - Math.min(p.trueMs, maxMs)),
  };
}

/** Per-session checks: settled, billed within bounds, the answered figures equal the books, cost by the formula. */
export function checkSessions(players: readonly PlayerResult[], rows: Map<string, SessionRow>, faults: readonly FaultRecord[],
  b: BillingBounds): { violations: Violation[]; billing: SessionBilling[] } {
  const violations: Violation[] = [];
  const billing: SessionBilling[] = [];
  const v = (check: string, sessionId: string | null, detail: string, kind: Violation['kind'] = 'invariant') =>
    violations.push({ kind, check, sessionId, detail });
  for (const p of players) {
    if (p.sessionId === null) {
      v('player got a session', null, `player ${p.index}: ${p.failure ?? 'no session'}`, 'availability');
      continue;
    }
    if (p.abandonedUnsettled) {
      v('the product settles a session its player left (docs/liveness-and-billing.md)', p.sessionId,
        `player ${p.index} left; still unsettled ${sweeperWaitMs / 1000} s later (the player then completed it over REST)`);
    }
    const row = rows.get(p.sessionId);
    if (!row) { v('session exists in Postgres', p.sessionId, `player ${p.index}`); continue; }
    if (row.status !== 'completed') { v('session settled', p.sessionId, `status ${row.status} (player ${p.index}: ${p.failure ?? 'no failure'})`); continue; }
    const bill = billingOf(p, row, faults, b);
    billing.push(bill);
    if (bill.lossMs > bill.lossBoundMs) v('billed ≥ true − bound', p.sessionId, `billed ${bill.billedMs} ms, true ${bill.trueMs} ms, lost ${bill.lossMs} > ${bill.lossBoundMs} ms (${bill.redisWipes} Redis wipes)`);
    if (bill.overMs > b.slackMs) v('billed ≤ true + slack', p.sessionId, `billed ${bill.billedMs} ms, true at most ${bill.trueUpperMs} ms: ${bill.overMs} ms over (slack ${b.slackMs})`);
    // The carry its student's earlier sessions on the course left (docs/money.md "Splitting a viewing") adds at most
    // one unit; the row says how much it took in, so the cost is checked exactly.
    const carriedIn = BigInt(row.sub_minor_carried_in ?? 0);
    const expectedCost = Math.min(minor(row.locked_amount),
      Number((BigInt(bill.billedMs) * BigInt(minor(row.price_per_minute)) + carriedIn) / BigInt(subMinorPerMinor)));
    const cost = row.cost === null ? null : minor(row.cost);
    if (row.end_reason === 'funds_exhausted' ? cost !== minor(row.locked_amount) : cost !== expectedCost) {
      v('cost by docs/money.md "Rounding"', p.sessionId, `cost ${row.cost}, billed ${bill.billedMs} ms at ${row.price_per_minute}/min, ${row.end_reason}`);
    }
    if (p.reportedBilledMs !== null && (p.reportedBilledMs !== bill.billedMs || p.reportedCostMinor !== cost)) {
      v('answered figures = settled figures', p.sessionId, `answered ${p.reportedBilledMs} ms / ${p.reportedCostMinor} via ${p.endedVia}, settled ${bill.billedMs} ms / ${cost}`);
    }
    if (p.failure !== null && !p.abandonedUnsettled) v('player finished', p.sessionId, `player ${p.index}: ${p.failure}`, 'availability');
  }
  return { violations, billing };
}
