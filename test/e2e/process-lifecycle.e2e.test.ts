// Real processes, real signals (README "When things fail"): SIGTERM on a gateway closes its sockets with 1012 and
// pauses their sessions, then exits 0; after SIGKILL of a gateway its players reconnect elsewhere and resume; SIGTERM
// on a worker finishes the settlement in hand and exits 0; after SIGKILL of a worker mid-settlement another worker
// settles it exactly once.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, courseId, STUDENT, type TestEnv } from '../helpers/test-env.js';
import { envFor, startProcess, stopAll, waitForLog, waitReady } from '../helpers/processes.js';
import { assertMoneyInvariants, totalBalancesMinor } from '../helpers/money-invariants.js';
import { closeAllSockets, heartbeat, openSocket } from '../helpers/ws-client.js';
import { mintToken } from '../../core/auth/mint-token.js';
import { settleGroup } from '../../core/redis/keys.js';
import { TEST_JWT_SECRET } from '../helpers/test-env.js';

let env: TestEnv;
let total0: number;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const portA = 19_100 + Math.floor(Math.random() * 400);
const portB = portA + 500;
const token = () => mintToken({ secret: TEST_JWT_SECRET, sub: STUDENT, role: 'student', ttlSeconds: 600 });

async function api(port: number, method: string, path: string, body?: unknown) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method, headers: { authorization: `Bearer ${await token()}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as any };
}
async function liveSession(port: number): Promise<string> {
  const id = (await api(port, 'POST', '/api/sessions/create', { course_id: courseId(1), student_id: STUDENT, locked_amount: 5 })).json.session_id;
  expect((await api(port, 'POST', `/api/sessions/${id}/start`)).status).toBe(200);
  return id;
}
async function statusOf(id: string) {
  const { rows } = await env.pool.query<{ status: string; end_reason: string | null; duration_ms: string }>('SELECT status, end_reason, duration_ms FROM sessions WHERE id = $1', [id]);
  return rows[0]!;
}

beforeAll(async () => {
  env = await createTestEnv({ HEARTBEAT_INTERVAL_MS: '1000', DISCONNECT_GRACE_MS: '5000' });
  total0 = await totalBalancesMinor(env.pool);
});
afterAll(async () => { closeAllSockets(); stopAll(); await env?.cleanup(); });
afterEach(async () => { closeAllSockets(); await assertMoneyInvariants(env.pool, total0); });

describe('gateway processes', () => {
  it('SIGTERM: sockets closed 1012, sessions paused, exit 0; SIGKILL: players resume on another gateway', async () => {
    const worker = startProcess('settlement-worker/main.ts', envFor(env));
    const a = startProcess('gateway/main.ts', envFor(env, { PORT: String(portA) }));
    const b = startProcess('gateway/main.ts', envFor(env, { PORT: String(portB) }));
    await Promise.all([waitReady(`http://127.0.0.1:${portA}`), waitReady(`http://127.0.0.1:${portB}`)]);
    await waitForLog(worker, /settlement worker started/);

    // Graceful: SIGTERM on gateway A.
    const id1 = await liveSession(portA);
    const s1 = openSocket(`ws://127.0.0.1:${portA}/ws/sessions/${id1}?token=${await token()}`);
    await s1.next('ready');
    await sleep(300);
    s1.send(heartbeat(1));
    const billed1 = (await s1.ack(1)).duration_seconds;
    const t0 = Date.now();
    a.child.kill('SIGTERM');
    expect((await s1.closed(10_000)).code).toBe(1012);
    expect(await a.exited).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect((await api(portB, 'GET', `/api/sessions/${id1}/status`)).json.status).toBe('paused');
    const r1 = openSocket(`ws://127.0.0.1:${portB}/ws/sessions/${id1}?token=${await token()}`);
    const ready1 = await r1.next('ready');
    expect(ready1).toMatchObject({ resumed: true, duration_seconds: billed1 });

    // Crash: SIGKILL on gateway B while it holds a socket; the player reconnects to a restarted A and resumes.
    const a2 = startProcess('gateway/main.ts', envFor(env, { PORT: String(portA) }));
    await waitReady(`http://127.0.0.1:${portA}`);
    await sleep(300);
    r1.send(heartbeat(1));
    const billed2 = (await r1.ack(1)).duration_seconds;
    b.child.kill('SIGKILL');
    await r1.closed(10_000);
    const r2 = openSocket(`ws://127.0.0.1:${portA}/ws/sessions/${id1}?token=${await token()}`);
    const ready2 = await r2.next('ready');
    expect(ready2).toMatchObject({ resumed: true, duration_seconds: billed2 });
    await sleep(300);
    r2.send(heartbeat(1));
    await r2.ack(1);
    r2.send({ type: 'complete' });
    const ended = await r2.next('ended', 15_000);
    expect(ended.reason).toBe('completed');
    expect((await statusOf(id1)).status).toBe('completed');
    a2.child.kill('SIGTERM');
    worker.child.kill('SIGTERM');
    expect(await a2.exited).toBe(0);
    expect(await worker.exited).toBe(0);
  }, 90_000);
});

describe('worker processes', () => {
  it('SIGTERM finishes the settlement in hand; SIGKILL mid-settlement is reclaimed and settled exactly once', async () => {
    const gateway = startProcess('gateway/main.ts', envFor(env, { PORT: String(portA) }));
    await waitReady(`http://127.0.0.1:${portA}`);
    const workerEnv = envFor(env, { SETTLE_CLAIM_IDLE_MS: '1000', LOG_LEVEL: 'debug' });

    for (const [signal, id] of [['SIGTERM', await liveSession(portA)], ['SIGKILL', await liveSession(portA)]] as const) {
      const w1 = startProcess('settlement-worker/main.ts', workerEnv);
      await waitForLog(w1, /settlement worker started/);
      // Hold the session row so the worker's settlement blocks inside its transaction.
      const blocker = await env.pool.connect();
      await blocker.query('BEGIN');
      await blocker.query('SELECT 1 FROM sessions WHERE id = $1 FOR UPDATE', [id]);
      const complete = api(portA, 'POST', `/api/sessions/${id}/complete`, {});
      const stream = env.keys.settleStream(env.keys.bucketOf(id));
      for (let i = 0; i < 100 && ((await env.redis.xpending(stream, settleGroup)) as [number])[0] === 0; i++) await sleep(50);
      expect(((await env.redis.xpending(stream, settleGroup)) as [number])[0]).toBe(1); // delivered, not acked
      w1.child.kill(signal);
      await sleep(300);
      await blocker.query('COMMIT');
      blocker.release();
      if (signal === 'SIGTERM') {
        expect(await w1.exited).toBe(0);
        expect((await statusOf(id)).status).toBe('completed'); // it finished the one in hand before exiting
      } else {
        expect(await w1.exited).toBe('SIGKILL');
        expect((await statusOf(id)).status).not.toBe('completed');
        const w2 = startProcess('settlement-worker/main.ts', workerEnv);
        for (let i = 0; i < 100 && (await statusOf(id)).status !== 'completed'; i++) await sleep(100);
        expect((await statusOf(id)).status).toBe('completed');
        w2.child.kill('SIGTERM');
        expect(await w2.exited).toBe(0);
      }
      expect((await complete).status).toBe(200);
      const settles = await env.pool.query(`SELECT count(*)::int AS n FROM ledger_transactions WHERE session_id = $1 AND kind = 'settle'`, [id]);
      expect(settles.rows[0].n).toBe(1);
      expect(((await env.redis.xpending(stream, settleGroup)) as [number])[0]).toBe(0);
    }
    gateway.child.kill('SIGTERM');
    expect(await gateway.exited).toBe(0);
  }, 90_000);
});
