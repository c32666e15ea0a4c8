// A Postgres that hangs (README "Postgres that hangs"): the gateway and the worker reach Postgres through a TCP proxy
// that, from the moment the worker's settlement COMMIT has gone through, lets no byte back or forth for a while: the
// COMMIT commits and the worker never hears so. Meanwhile a create answers 503 `unavailable` within the query bound,
// /readyz fails, heartbeats go on (their path never reads Postgres). Afterwards the worker's retry finds the session
// settled: it is settled exactly once, and the books balance.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startProduct, type Product } from '../helpers/product.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { assertMoneyInvariants, totalBalancesMinor } from '../helpers/money-invariants.js';
import { closeAllSockets, heartbeat, openSocket } from '../helpers/ws-client.js';
import { courseId, DATABASE_URL, STUDENT } from '../helpers/test-env.js';

const queryTimeoutMs = 2_000;
const hangMs = 8_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let proxy: TcpProxy;
let p: Product;
let total0: number;

beforeAll(async () => {
  proxy = await startTcpProxy(5432);
  p = await startProduct({
    DATABASE_URL: `postgres://postgres@127.0.0.1:${proxy.port}/test`, DATABASE_QUERY_TIMEOUT_MS: String(queryTimeoutMs),
    HEARTBEAT_INTERVAL_MS: '1000',
    // No checkpoint commit in the way: the first COMMIT after the complete is the settlement's.
    CHECKPOINT_INTERVAL_MS: '3600000',
  });
  total0 = await totalBalancesMinor(p.env.pool);
}, 60_000);
afterAll(async () => {
  closeAllSockets();
  proxy?.resume();
  await p?.stop();
  await proxy?.close();
});

describe('a hung Postgres', () => {
  it('fails creates within the bound, keeps metering, and settles a session whose COMMIT reply was lost exactly once', async () => {
    const watched = await p.liveSession(5);
    const s = openSocket(`${p.wsUrl}/ws/sessions/${watched}?token=${await p.token()}`);
    await s.next('ready');
    const ending = await p.liveSession(5);
    await sleep(300);

    proxy.holdAfter((chunk) => chunk.includes('COMMIT'));
    const heldAt = Date.now();
    const completing = p.api('POST', `/api/sessions/${ending}/complete`, { body: {} });
    // Wait for the settlement's COMMIT to go through and the hold to start.
    while (!proxy.held) {
      if (Date.now() - heldAt > 10_000) throw new Error('no COMMIT went through the proxy');
      await sleep(20);
    }
    // Looked at directly, past the proxy: the held COMMIT was the settlement's, and it committed.
    const direct = new pg.Client({ connectionString: DATABASE_URL, options: `-c search_path=${p.env.schema}` });
    await direct.connect();
    try {
      await sleep(300);
      expect((await direct.query('SELECT status FROM sessions WHERE id = $1', [ending])).rows[0].status).toBe('completed');
    } finally {
      await direct.end();
    }

    const t0 = Date.now();
    const create = await p.api('POST', '/api/sessions/create', { body: { course_id: courseId(1), student_id: STUDENT, locked_amount: 1 } });
    const createMs = Date.now() - t0;
    expect(create.status).toBe(503);
    expect(create.json.error).toMatchObject({ code: 'unavailable', details: { retry_after_seconds: 1 } });
    // Within its bounds, never the whole hang (hangMs is longer than both): a wait for a pool connection (5 s at most;
    // the worker's retries hold some of the few there are) and the query bound.
    expect(createMs).toBeLessThan(5_000 + queryTimeoutMs);
    expect((await p.api('GET', '/readyz')).status).toBe(503);
    // Metering never reads Postgres.
    for (let seq = 1; seq <= 3; seq++) {
      s.send(heartbeat(seq));
      await s.ack(seq, 3_000);
      await sleep(300);
    }
    await sleep(hangMs - (Date.now() - heldAt));
    proxy.resume();

    const done = await completing;
    console.log(`complete during the hang answered ${done.status} ${done.json?.error?.code ?? ''} after ${Date.now() - heldAt} ms`);
    expect([200, 503]).toContain(done.status);
    // The worker's retry found the session settled: one settlement, whatever the gateway answered meanwhile.
    const until = Date.now() + 30_000;
    let status = '';
    while (Date.now() < until && status !== 'completed') {
      status = (await p.env.pool.query('SELECT status FROM sessions WHERE id = $1', [ending])).rows[0].status;
      if (status !== 'completed') await sleep(200);
    }
    expect(status).toBe('completed');
    const settles = await p.env.pool.query(
      `SELECT count(DISTINCT t.id)::int AS n FROM ledger_transactions t WHERE t.kind = 'settle' AND t.session_id = $1`, [ending]);
    expect(settles.rows[0].n).toBe(1);
    // And the product serves again.
    const again = await p.api('POST', '/api/sessions/create', { body: { course_id: courseId(1), student_id: STUDENT, locked_amount: 1 } });
    expect(again.status).toBe(201);
    s.send({ type: 'complete' });
    await s.next('ended', 20_000);
    await assertMoneyInvariants(p.env.pool, total0);
    expect(p.brokenInvariants).toEqual([]);
  }, 90_000);
});
