// The seed's checklist over REST (create 750.0 → start → metrics → complete) against the real gateway, worker,
// Redis and Postgres, plus the clamp and idempotency rules as a client sees them.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { startProduct, type Product } from '../helpers/product.js';
import { assertMoneyInvariants, totalBalancesMinor } from '../helpers/money-invariants.js';
import { courseId, STUDENT, STUDENT_2, TEACHER } from '../helpers/test-env.js';

let p: Product;
let total0: number;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cents = (x: number) => Math.round(x * 100);

beforeAll(async () => {
  p = await startProduct();
  total0 = await totalBalancesMinor(p.env.pool);
});
afterAll(async () => { await p?.stop(); });
afterEach(async () => {
  await assertMoneyInvariants(p.env.pool, total0);
  expect(p.brokenInvariants).toEqual([]);
});

/** The caller's wallet in cents, so the test compares integers. */
const wallet = async () => {
  const w = (await p.api('GET', '/api/wallet')).json as { wallet_balance: number; locked_balance: number };
  return { balance: cents(w.wallet_balance), locked: cents(w.locked_balance) };
};
const earnings = async () => (await p.api('GET', `/api/teachers/${TEACHER}/earnings`, { token: await p.token({ sub: TEACHER, role: 'teacher' }) })).json.total_earnings as number;
const create = (body: Record<string, unknown>, headers?: Record<string, string>) => p.api('POST', '/api/sessions/create', { body, ...(headers ? { headers } : {}) });

describe('REST lifecycle', () => {
  it('create 750.0 → start → metrics → complete moves exactly the cost, once', async () => {
    // The seed's testing checklist, with money checked at every step.
    const w0 = await wallet();
    const e0 = await earnings();
    const created = await create({ course_id: courseId(1), student_id: STUDENT, locked_amount: 750.0 });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ status: 'locked', locked_amount: 750, price_per_minute: 0.5, max_billable_seconds: 90_000 });
    const id = created.json.session_id as string;
    expect(await wallet()).toEqual({ balance: w0.balance - 75_000, locked: w0.locked + 75_000 });

    const t0 = Date.now();
    const started = await p.api('POST', `/api/sessions/${id}/start`);
    expect(started.status).toBe(200);
    expect(started.json.status).toBe('active');
    await sleep(1200);
    const m = await p.api('PATCH', `/api/sessions/${id}/metrics`, { body: { duration_seconds: 1.2, completion_pct: 12.5, current_lecture: 2 } });
    expect(m.status).toBe(200);
    expect(m.json.duration_seconds).toBeGreaterThan(1);
    expect(m.json.duration_seconds).toBeLessThanOrEqual((Date.now() - t0) / 1000);
    expect(m.json).toMatchObject({ completion_pct: 12.5, current_lecture: 2 });
    expect(cents(m.json.cost)).toBe(Math.floor((Math.round(m.json.duration_seconds * 1000) * 50) / 60000));

    const status = await p.api('GET', `/api/sessions/${id}/status`);
    expect(status.json).toMatchObject({ status: 'active', current_lecture: 2, completion_pct: 12.5, locked_amount: 750 });
    expect(status.json.content_progress['2'].watched_seconds).toBe(m.json.duration_seconds);

    const done = await p.api('POST', `/api/sessions/${id}/complete`, { body: { session_id: id } });
    expect(done.status).toBe(200);
    expect(done.json).toMatchObject({ session_id: id, status: 'completed', end_reason: 'completed' });
    expect(cents(done.json.cost) + cents(done.json.refund)).toBe(75_000);
    expect(done.json.teacher_earning).toBe(done.json.cost);
    expect(await wallet()).toEqual({ balance: w0.balance - cents(done.json.cost), locked: w0.locked });
    expect(cents(await earnings())).toBe(cents(e0) + cents(done.json.teacher_earning));

    const again = await p.api('POST', `/api/sessions/${id}/complete`, { body: {} });
    expect(again.json).toEqual(done.json);
    expect(await wallet()).toEqual({ balance: w0.balance - cents(done.json.cost), locked: w0.locked });

    const settled = await p.api('GET', `/api/sessions/${id}/status`);
    expect(settled.json).toMatchObject({ status: 'completed', end_reason: 'completed', completion_pct: 12.5, current_lecture: 2 });
    expect(settled.json.content_progress['2'].watched_seconds).toBe(done.json.duration_seconds);
  });

  it('clamps inflated claims to wall time and never rewinds', async () => {
    // A claimed 600 s right after start bills at most the wall time; a smaller claim later does not decrease it.
    const id = (await create({ course_id: courseId(2), student_id: STUDENT, locked_amount: 10 })).json.session_id;
    const t0 = Date.now();
    await p.api('POST', `/api/sessions/${id}/start`);
    const inflated = await p.api('PATCH', `/api/sessions/${id}/metrics`, { body: { duration_seconds: 600, completion_pct: 1, current_lecture: 1 } });
    expect(inflated.json.duration_seconds).toBeLessThanOrEqual((Date.now() - t0) / 1000);
    await sleep(500);
    const more = await p.api('PATCH', `/api/sessions/${id}/metrics`, { body: { duration_seconds: 600, completion_pct: 1, current_lecture: 1 } });
    const rewound = await p.api('PATCH', `/api/sessions/${id}/metrics`, { body: { duration_seconds: 0, completion_pct: 1, current_lecture: 1 } });
    expect(more.json.duration_seconds).toBeLessThanOrEqual((Date.now() - t0) / 1000);
    expect(rewound.json.duration_seconds).toBe(more.json.duration_seconds);
    const done = await p.api('POST', `/api/sessions/${id}/complete`, { body: {} });
    expect(done.json.duration_seconds).toBeGreaterThanOrEqual(rewound.json.duration_seconds);
  });

  it('a session never started costs nothing and refunds everything', async () => {
    const w0 = await wallet();
    const id = (await create({ course_id: courseId(3), student_id: STUDENT, locked_amount: 3.5 })).json.session_id;
    const done = await p.api('POST', `/api/sessions/${id}/complete`, { body: {} });
    expect(done.json).toMatchObject({ cost: 0, refund: 3.5, duration_seconds: 0, end_reason: 'completed' });
    expect(await wallet()).toEqual(w0);
  });

  it('Idempotency-Key: a retried create locks once; the same key with another body is refused', async () => {
    const w0 = await wallet();
    const key = randomUUID();
    const body = { course_id: courseId(4), student_id: STUDENT, locked_amount: 1.25 };
    const [a, b] = await Promise.all([create(body, { 'idempotency-key': key }), create(body, { 'idempotency-key': key })]);
    expect(a.status).toBe(201);
    expect(b.json.session_id).toBe(a.json.session_id);
    expect((await wallet()).balance).toBe(w0.balance - 125);
    const other = await create({ ...body, locked_amount: 2 }, { 'idempotency-key': key });
    expect(other.status).toBe(409);
    expect(other.json.error.code).toBe('idempotency_key_reused');
    await p.api('POST', `/api/sessions/${a.json.session_id}/complete`, { body: {} });
    expect(await wallet()).toEqual(w0);
  });

  it('a service token may act on any session; a teacher may not act on a student session', async () => {
    const id = (await create({ course_id: courseId(5), student_id: STUDENT, locked_amount: 1 })).json.session_id;
    const teacher = await p.token({ sub: TEACHER, role: 'teacher' });
    expect((await p.api('POST', `/api/sessions/${id}/start`, { token: teacher })).status).toBe(403);
    const service = await p.token({ sub: randomUUID(), role: 'service' });
    expect((await p.api('POST', `/api/sessions/${id}/start`, { token: service })).status).toBe(200);
    expect((await p.api('POST', `/api/sessions/${id}/complete`, { token: service, body: {} })).status).toBe(200);
  });

  it('a start decides who may start in its own statement: another student 403, unknown 404, started 409, and a refusal starts nothing', async () => {
    const id = (await create({ course_id: courseId(5), student_id: STUDENT, locked_amount: 1 })).json.session_id as string;
    const other = await p.token({ sub: STUDENT_2, role: 'student' });
    const refused = await p.api('POST', `/api/sessions/${id}/start`, { token: other });
    expect(refused.status).toBe(403);
    expect(refused.json.error.code).toBe('forbidden');
    // Nothing started: the row is still locked, and Redis holds no live state nor a deadline for it.
    expect((await p.env.pool.query('SELECT status, start_time FROM sessions WHERE id = $1', [id])).rows[0]).toEqual({ status: 'locked', start_time: null });
    expect(await p.env.redis.exists(p.env.keys.session(id))).toBe(0);
    expect(await p.env.redis.zscore(p.env.keys.deadlines(p.env.keys.bucketOf(id)), id)).toBeNull();
    const unknown = await p.api('POST', `/api/sessions/${randomUUID()}/start`);
    expect([unknown.status, unknown.json.error.code]).toEqual([404, 'session_not_found']);
    expect((await p.api('POST', `/api/sessions/${id}/start`)).status).toBe(200);
    const again = await p.api('POST', `/api/sessions/${id}/start`);
    expect([again.status, again.json.error.code]).toEqual([409, 'wrong_state']);
    expect(again.json.error.message).toContain('the session is active');
    // Someone else's started session: still 403, not 409 (who may act is told before the state).
    expect((await p.api('POST', `/api/sessions/${id}/start`, { token: other })).status).toBe(403);
    expect((await p.api('POST', `/api/sessions/${id}/complete`, { body: {} })).status).toBe(200);
  });

  it('catalogue, wallet and earnings read endpoints', async () => {
    const courses = await p.api('GET', '/api/courses');
    expect(courses.json.courses).toHaveLength(11); // the 10 seed courses and the demo course
    for (const c of courses.json.courses) {
      expect(c.price_per_minute).toBeGreaterThanOrEqual(0.1);
      expect(c.price_per_minute).toBeLessThanOrEqual(5);
      expect(c.content_structure.lectures.length).toBeGreaterThanOrEqual(3);
    }
    expect((await p.api('GET', '/healthz')).status).toBe(200);
    expect((await p.api('GET', '/readyz')).json).toMatchObject({ redis: true, postgres: true });
    const metrics = await p.api('GET', '/metrics');
    expect(metrics.text).toContain('gateway_http_requests_total');
  });
});
