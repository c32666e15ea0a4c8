// A storm of joins past what one gateway admits (README "Joins under overload"), against a real gateway process with
// shedding on: every create and start is answered 2xx or 503 overloaded with Retry-After, never 500; a refused create
// locked nothing and a refused start started nothing; the money adds up; the watchers' heartbeats are all acked while
// it lasts. Then the same storm through the SDK's REST client: every join gets in by repeating after Retry-After.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRestClient, type RestError } from '../../player/sdk/index.js';
import { mintToken } from '../../core/auth/mint-token.js';
import { createKeys } from '../../core/redis/keys.js';
import { fundStudents } from '../helpers/funded-students.js';
import { assertMoneyInvariants, totalBalancesMinor } from '../helpers/money-invariants.js';
import { envFor, startProcess, stopAll, waitForLog, waitReady } from '../helpers/processes.js';
import { courseId, createTestEnv, TEST_JWT_SECRET, type TestEnv } from '../helpers/test-env.js';
import { closeAllSockets, heartbeat, openSocket, type TestSocket } from '../helpers/ws-client.js';

let env: TestEnv;
const port = 21_100 + Math.floor(Math.random() * 400);
const base = `http://127.0.0.1:${port}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const stormStudents = 300;
const watchers = 20;
const lockedAmount = 2;

const tokenOf = (sub: string) => mintToken({ secret: TEST_JWT_SECRET, sub, role: 'student', ttlSeconds: 600 });

async function post(path: string, sub: string, body?: unknown) {
  const res = await fetch(base + path, {
    method: 'POST',
    headers: { authorization: `Bearer ${await tokenOf(sub)}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: any;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, json, text, retryAfter: res.headers.get('retry-after') };
}

const answerOf = (r: { status: number; json: any }) => `${r.status}${r.json?.error?.code ? ` ${r.json.error.code}` : ''}`;
const tally = (answers: string[]) => answers.reduce<Record<string, number>>((t, a) => ({ ...t, [a]: (t[a] ?? 0) + 1 }), {});

/** Watchers heartbeating once a second until stopped: what they sent, what came back, and the slowest ack. */
async function watch(sockets: TestSocket[]) {
  let seq = 1;
  let running = true;
  const sent = { heartbeats: 0 };
  const acks: number[] = [];
  const errors: unknown[] = [];
  const loop = (async () => {
    while (running) {
      seq++;
      const at = performance.now();
      await Promise.all(sockets.map(async (s) => {
        s.send(heartbeat(seq));
        sent.heartbeats++;
        try {
          await s.ack(seq, 10_000);
          acks.push(performance.now() - at);
        } catch (err) {
          errors.push(err);
        }
        const refused = s.inbox.filter((m) => m.type === 'error');
        if (refused.length > 0) errors.push(...refused.splice(0));
      }));
      await sleep(1_000 - Math.min(1_000, performance.now() - at));
    }
  })();
  return { sent, acks, errors, stop: async () => { running = false; await loop; } };
}

beforeAll(async () => {
  // Shedding on, as shipped; the test env turns it off for every other test.
  env = await createTestEnv({ HEARTBEAT_INTERVAL_MS: '1000', DISCONNECT_GRACE_MS: '10000', JOIN_SHED_LOOP_LAG_MS: '25' });
  const gateway = startProcess('gateway/main.ts', envFor(env, { PORT: String(port), LOG_LEVEL: 'warn' }));
  const worker = startProcess('settlement-worker/main.ts', envFor(env));
  await waitReady(base);
  await waitForLog(worker, /settlement worker started/);
  void gateway;
}, 60_000);
afterAll(async () => { closeAllSockets(); stopAll(); await env?.cleanup(); });

describe('a join storm past one gateway\'s capacity', () => {
  it('answers every join 2xx or 503 overloaded, moves no money for a refusal, and keeps the watchers\' acks', async () => {
    const watcherIds = await fundStudents(env.pool, watchers, 10_000);
    const sockets: TestSocket[] = [];
    for (const sub of watcherIds) {
      const created = await post('/api/sessions/create', sub, { course_id: courseId(1), student_id: sub, locked_amount: 50 });
      expect(created.status, created.text).toBe(201);
      expect((await post(`/api/sessions/${created.json.session_id}/start`, sub)).status).toBe(200);
      const s = openSocket(`ws://127.0.0.1:${port}/ws/sessions/${created.json.session_id}?token=${await tokenOf(sub)}`);
      await s.next('ready');
      sockets.push(s);
    }
    const watching = await watch(sockets);
    await sleep(1_500);

    const students = await fundStudents(env.pool, stormStudents, 1_000);
    const total = await totalBalancesMinor(env.pool);
    // Every student creates twice at once: twice as many creates as students, all in flight together.
    const creates = await Promise.all(students.flatMap((sub) => [0, 1].map(async () => ({
      sub, r: await post('/api/sessions/create', sub, { course_id: courseId(1), student_id: sub, locked_amount: lockedAmount }),
    }))));
    const createAnswers = tally(creates.map((c) => answerOf(c.r)));
    const createdIds = creates.filter((c) => c.r.status === 201).map((c) => ({ sub: c.sub, id: c.r.json.session_id as string }));
    const starts = await Promise.all(createdIds.map(async (c) => ({ ...c, r: await post(`/api/sessions/${c.id}/start`, c.sub) })));
    const startAnswers = tally(starts.map((s) => answerOf(s.r)));
    await sleep(1_500);
    await watching.stop();

    expect(Object.keys(createAnswers).every((a) => ['201', '503 overloaded'].includes(a)), JSON.stringify(createAnswers)).toBe(true);
    expect(Object.keys(startAnswers).every((a) => ['200', '503 overloaded'].includes(a)), JSON.stringify(startAnswers)).toBe(true);
    expect(createAnswers['503 overloaded'] ?? 0, 'the storm went past what the gateway admits').toBeGreaterThan(0);
    expect(createAnswers['201'] ?? 0, 'and joins still got in').toBeGreaterThan(0);
    const refusal = creates.find((c) => c.r.status === 503)!.r;
    // Whole seconds, 1 to 10 (longer while the gateway refuses more), the same in the body for pages on other origins.
    expect(refusal.retryAfter).toMatch(/^([1-9]|10)$/);
    expect(refusal.json.error.details.retry_after_seconds).toBe(Number(refusal.retryAfter));

    // A refused create locked nothing: each student's sessions and holds are exactly its 201s.
    const { rows } = await env.pool.query<{ sessions: number; held: string; balance: string }>(
      `SELECT (SELECT count(*)::int FROM sessions WHERE student_id = ANY($1::uuid[])) AS sessions,
              (SELECT coalesce(sum(amount), 0)::text FROM holds WHERE student_id = ANY($1::uuid[]) AND released_at IS NULL) AS held,
              (SELECT sum(balance)::text FROM wallets WHERE student_id = ANY($1::uuid[])) AS balance`, [students]);
    expect(rows[0]!.sessions).toBe(createdIds.length);
    expect(Number(rows[0]!.held)).toBeCloseTo(createdIds.length * lockedAmount, 6);
    expect(Number(rows[0]!.balance)).toBeCloseTo(stormStudents * 10 - createdIds.length * lockedAmount, 6);
    // A refused start started nothing: still locked in Postgres, no live state in Redis; an admitted one is active.
    const keys = createKeys(env.config.redisKeyPrefix);
    for (const s of starts) {
      const { rows: [row] } = await env.pool.query<{ status: string }>('SELECT status FROM sessions WHERE id = $1', [s.id]);
      const live = await env.redis.exists(keys.session(s.id));
      expect(`${s.r.status} ${row!.status} ${live}`).toBe(s.r.status === 200 ? '200 active 1' : '503 locked 0');
    }

    // The watchers: every heartbeat of the storm answered with an ack, no error frame, within the ack wait.
    expect(watching.errors).toEqual([]);
    expect(watching.acks.length).toBe(watching.sent.heartbeats);
    const slowest = Math.max(...watching.acks);
    console.log(`join storm: creates ${JSON.stringify(createAnswers)}, starts ${JSON.stringify(startAnswers)}; watchers' ${watching.acks.length} acks, slowest ${slowest.toFixed(0)} ms`);

    // Everything the storm left open is completed, refunded or settled, and the books still balance.
    for (const s of starts) expect((await post(`/api/sessions/${s.id}/complete`, s.sub, {})).status).toBe(200);
    for (const s of sockets) {
      s.send({ type: 'complete' });
      await s.next('ended', 15_000);
    }
    await assertMoneyInvariants(env.pool, total);
  }, 120_000);

  it('lets every join in through the SDK, which repeats refused ones after Retry-After plus jitter', async () => {
    const students = await fundStudents(env.pool, stormStudents, 1_000);
    const total = await totalBalancesMinor(env.pool);
    const refusals: string[] = [];
    const joined = await Promise.all(students.map(async (sub) => {
      const rest = createRestClient({ baseUrl: base, token: await tokenOf(sub), joinRetryHooks: { onRefused: (err: RestError) => { refusals.push(err.code); } } });
      const created = await rest.createSession({ course_id: courseId(1), student_id: sub, locked_amount: lockedAmount }, { idempotencyKey: `storm-${sub}` });
      await rest.startSession(created.session_id);
      return { sub, id: created.session_id, rest };
    }));
    expect(joined).toHaveLength(stormStudents);
    expect(refusals.length, 'the storm was refused in part, and repeated').toBeGreaterThan(0);
    expect(new Set(refusals)).toEqual(new Set(['overloaded']));
    const { rows } = await env.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM sessions WHERE student_id = ANY($1::uuid[]) AND status = 'active'`, [students]);
    expect(rows[0]!.n, 'one active session per student: no join counted twice').toBe(stormStudents);
    for (const j of joined) await j.rest.completeSession(j.id);
    await assertMoneyInvariants(env.pool, total);
  }, 120_000);
});
