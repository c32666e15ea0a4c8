// Abandoned holds end to end (gateway + worker, real Redis and Postgres): a session created but never started is
// settled `abandoned` after ABANDONED_HOLD_MS with its hold refunded in full, a started or young one is left alone,
// and a `start` racing the release either wins (the session runs) or gets 409, never both.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { InvariantError } from '../core/errors.js';
import { createLogger } from '../core/log.js';
import { numericToMinor } from '../core/money.js';
import { createPool, type Pool } from '../core/pg/pool.js';
import { startProduct, type ApiResult, type Product } from '../test/helpers/product.js';
import { assertMoneyInvariants, totalBalancesMinor } from '../test/helpers/money-invariants.js';
import { courseId, STUDENT } from '../test/helpers/test-env.js';
import { eventually, lockSession, readSessionRow, startLiveSession } from '../test/helpers/sessions.js';
import { frozenAbandoned, releaseAbandonedHolds } from './release-abandoned-holds.js';
import type { WorkerDeps } from './worker-deps.js';
import { settleOrSkip, settleSession } from './settle-session.js';
import type { SettledSession, SkippedSettlement } from './settlement-decision.js';
import { createWorkerMetrics } from './metrics.js';

const holdMs = 1_500;
let p: Product;
let total0: number;
let racePool: Pool;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cents = (x: number) => Math.round(x * 100);

beforeAll(async () => {
  // A 1.5 s hold (the worker scans every 1 s); a long grace keeps started-but-silent sessions `active` all file long.
  p = await startProduct({ ABANDONED_HOLD_MS: String(holdMs), DISCONNECT_GRACE_MS: '120000' });
  total0 = await totalBalancesMinor(p.env.pool);
  // Its own connections, so releases in the race never queue behind the gateway's queries on the shared pool.
  racePool = createPool(p.env.config, 10);
});
afterEach(async () => {
  await assertMoneyInvariants(p.env.pool, total0);
  expect(p.brokenInvariants).toEqual([]);
});
afterAll(async () => {
  await racePool?.end();
  await p?.stop();
});

const wallet = async () => {
  const w = (await p.api('GET', '/api/wallet')).json as { wallet_balance: number; locked_balance: number };
  return { balance: cents(w.wallet_balance), locked: cents(w.locked_balance) };
};

const releaseDeps = (): Pick<WorkerDeps, 'pool' | 'feeBps' | 'abandonedHoldMs' | 'log' | 'metrics' | 'signal'> => ({
  pool: racePool, feeBps: 0, abandonedHoldMs: holdMs, log: createLogger({ logLevel: 'silent', logPretty: false }, 'test'),
  metrics: createWorkerMetrics(), signal: new AbortController().signal,
});

/** Moves sessions' created_at `ageMs` into the past (Postgres time), as if they had waited that long unstarted. */
async function ageSessions(ids: string[], ageMs: number): Promise<void> {
  await p.env.pool.query(`UPDATE sessions SET created_at = now() - $2::bigint * interval '1 millisecond' WHERE id = ANY($1::uuid[])`,
    [ids, ageMs]);
}

interface Books {
  status: string;
  endReason: string | null;
  costMinor: number | null;
  refundMinor: number | null;
  lockedMinor: number;
  holdReleased: boolean;
  settleEntries: { account_type: string; amount: string }[];
}

/** What Postgres holds for one session: its row, its hold, and the entries of its settle transaction (if any). */
async function booksOf(id: string): Promise<Books> {
  const { rows } = await p.env.pool.query<{ status: string; end_reason: string | null; cost: string | null; refund: string | null;
    locked_amount: string; released: boolean }>(
    `SELECT s.status, s.end_reason, s.cost, s.refund, s.locked_amount, h.released_at IS NOT NULL AS released
     FROM sessions s JOIN holds h ON h.session_id = s.id WHERE s.id = $1`, [id]);
  const r = rows[0]!;
  const entries = await p.env.pool.query<{ account_type: string; amount: string }>(
    `SELECT e.account_type, e.amount FROM ledger_transactions t JOIN ledger_entries e ON e.transaction_id = t.id
     WHERE t.session_id = $1 AND t.kind = 'settle' ORDER BY e.account_type`, [id]);
  return {
    status: r.status, endReason: r.end_reason, lockedMinor: numericToMinor(r.locked_amount), holdReleased: r.released,
    costMinor: r.cost === null ? null : numericToMinor(r.cost), refundMinor: r.refund === null ? null : numericToMinor(r.refund),
    settleEntries: entries.rows,
  };
}

/** The books of a session released as abandoned: cost 0, the whole hold back in the wallet, one balanced settle. */
function expectAbandoned(b: Books, what: string): void {
  expect(b, what).toMatchObject({ status: 'completed', endReason: 'abandoned', costMinor: 0, refundMinor: b.lockedMinor, holdReleased: true });
  expect(b.settleEntries.map((e) => [e.account_type, numericToMinor(e.amount)]), what)
    .toEqual([['hold', -b.lockedMinor], ['wallet', b.lockedMinor]]);
}

describe('abandoned holds', () => {
  it('releases a never-started session after ABANDONED_HOLD_MS: wallet restored, hold released, shown as abandoned', async () => {
    // Proves the whole path through the API: create → no start → the worker's loop settles `abandoned`, cost 0.
    const w0 = await wallet();
    const created = await p.api('POST', '/api/sessions/create', { body: { course_id: courseId(1), student_id: STUDENT, locked_amount: 12.34 } });
    expect(created.status).toBe(201);
    const id = created.json.session_id as string;
    expect(await wallet()).toEqual({ balance: w0.balance - 1_234, locked: w0.locked + 1_234 });

    await eventually(async () => (await readSessionRow(p.env.pool, id))?.status === 'completed', 6_000, 'abandoned hold released');

    expectAbandoned(await booksOf(id), 'released session');
    expect(await wallet()).toEqual(w0);
    const aged = await p.env.pool.query<{ ms: number }>(
      'SELECT extract(epoch FROM ended_at - created_at) * 1000 AS ms FROM sessions WHERE id = $1', [id]);
    expect(Number(aged.rows[0]!.ms)).toBeGreaterThanOrEqual(holdMs);
    const status = await p.api('GET', `/api/sessions/${id}/status`);
    expect(status.status).toBe(200);
    expect(status.json).toMatchObject({
      session_id: id, status: 'completed', end_reason: 'abandoned', duration_seconds: 0, cost: 0, remaining: 12.34, locked_amount: 12.34,
    });
    const done = await p.api('POST', `/api/sessions/${id}/complete`, { body: {} });
    expect(done.status).toBe(200);
    expect(done.json).toEqual({
      session_id: id, status: 'completed', end_reason: 'abandoned', duration_seconds: 0, cost: 0, refund: 12.34, teacher_earning: 0,
    });
    expect(await wallet()).toEqual(w0);
  });

  it('refuses a start after the release with 409 wrong_state and moves no money', async () => {
    // Proves the reverse order of the race: once released, the session cannot be started (its hold is gone).
    const s = await lockSession(p.env.pool, { studentId: STUDENT, courseId: courseId(2), lockedMinor: 500 });
    await ageSessions([s.sessionId], holdMs + 1_000);
    await eventually(async () => (await readSessionRow(p.env.pool, s.sessionId))?.status === 'completed', 5_000, 'released');
    const w0 = await wallet();

    const start = await p.api('POST', `/api/sessions/${s.sessionId}/start`);

    expect(start.status).toBe(409);
    expect(start.json.error.code).toBe('wrong_state');
    expectAbandoned(await booksOf(s.sessionId), 'after the refused start');
    expect(await p.deps.meter.readSession(s.sessionId)).toBeNull();
    expect(await wallet()).toEqual(w0);
  });

  it('keeps a young locked session until it reaches the age, then releases it', async () => {
    // Proves the cut-off: younger than ABANDONED_HOLD_MS is never picked, even by a scan made right then.
    const t0 = Date.now();
    const s = await lockSession(p.env.pool, { studentId: STUDENT, courseId: courseId(3), lockedMinor: 700 });
    await releaseAbandonedHolds(releaseDeps(), null);
    expect((await booksOf(s.sessionId)).status).toBe('locked');
    await sleep(t0 + holdMs - 400 - Date.now()); // 1.1 s old: the worker's own scan (every 1 s) ran meanwhile
    expect((await booksOf(s.sessionId)).status).toBe('locked');

    await eventually(async () => (await readSessionRow(p.env.pool, s.sessionId))?.status === 'completed', 5_000, 'released');
    expectAbandoned(await booksOf(s.sessionId), 'once old enough');
  });

  it('never releases a started session, however old its creation', async () => {
    // Proves a started session keeps its hold: the scan skips it, and so does the settlement's own row-lock check.
    const s = await lockSession(p.env.pool, { studentId: STUDENT, courseId: courseId(4), lockedMinor: 900 });
    expect((await p.api('POST', `/api/sessions/${s.sessionId}/start`)).status).toBe(200);
    await ageSessions([s.sessionId], 3_600_000);
    const w0 = await wallet();

    await sleep(2_200); // two of the worker's scans
    const direct = await settleOrSkip(racePool, frozenAbandoned(s.sessionId), 0);

    expect(direct).toEqual({ sessionId: s.sessionId, skipped: true, status: 'active' });
    await expect(settleSession(racePool, frozenAbandoned(s.sessionId), 0)).rejects.toBeInstanceOf(InvariantError);
    expect(await booksOf(s.sessionId)).toMatchObject({ status: 'active', endReason: null, holdReleased: false, settleEntries: [] });
    expect((await p.deps.meter.readSession(s.sessionId))?.status).toBe('active');
    expect(await wallet()).toEqual(w0);
    // It ends as any started session does: `complete` settles it `completed`.
    const done = await p.api('POST', `/api/sessions/${s.sessionId}/complete`, { body: {} });
    expect(done.json).toMatchObject({ status: 'completed', end_reason: 'completed' });
    expect(cents(done.json.cost) + cents(done.json.refund)).toBe(900);
  });

  it('start racing the release, 200 times at the age limit: each session is started or released, never both', async () => {
    // Proves the race safety: the row lock orders `start` and the release; the loser sees the winner's result.
    const rounds = 8;
    const perRound = 25;
    const jitter = () => sleep(Math.floor(Math.random() * 8));
    let startedCount = 0;
    let releasedCount = 0;
    for (let round = 0; round < rounds; round++) {
      const sessions = await Promise.all(Array.from({ length: perRound },
        () => lockSession(p.env.pool, { studentId: STUDENT, courseId: courseId(1 + (round % 10)), lockedMinor: 300 + round })));
      // Right at the limit: due for this test's releases and for the worker's own scan alike.
      await ageSessions(sessions.map((s) => s.sessionId), holdMs);
      const pageRun = jitter().then(() => releaseAbandonedHolds(releaseDeps(), null));
      const raced = await Promise.all(sessions.map(async (s) => {
        const [start, release] = await Promise.all([
          jitter().then(() => p.api('POST', `/api/sessions/${s.sessionId}/start`)),
          jitter().then(() => settleOrSkip(racePool, frozenAbandoned(s.sessionId), 0)),
        ]);
        return { id: s.sessionId, start, release };
      }));
      await pageRun;

      for (const { id, start, release } of raced) {
        const what = `round ${round}, session ${id}`;
        const books = await booksOf(id);
        const live = await p.deps.meter.readSession(id);
        if (start.status === 200) {
          startedCount++;
          expectStartedNotReleased(books, release, what);
          expect(live?.status, what).toBe('active');
        } else {
          releasedCount++;
          expectRefusedStart(start, what);
          expectAbandoned(books, what);
          expect(live, what).toBeNull();
          expect('skipped' in release, what).toBe(false);
        }
      }
      await assertMoneyInvariants(p.env.pool, total0);
    }
    // Both orders happened, so the race was really run, not won the same way every time.
    expect(startedCount).toBeGreaterThan(0);
    expect(releasedCount).toBeGreaterThan(0);
    expect(startedCount + releasedCount).toBe(rounds * perRound);
  });
});

function expectStartedNotReleased(b: Books, release: SettledSession | SkippedSettlement, what: string): void {
  expect(b, what).toMatchObject({ status: 'active', endReason: null, costMinor: null, refundMinor: null, holdReleased: false, settleEntries: [] });
  expect(release, what).toMatchObject({ skipped: true, status: 'active' });
}

function expectRefusedStart(start: ApiResult, what: string): void {
  expect(start.status, `${what}: ${start.text}`).toBe(409);
  expect(start.json.error.code, what).toBe('wrong_state');
}
