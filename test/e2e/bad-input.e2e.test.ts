// Bad input anywhere gets a clear error (HTTP status + JSON code, or a WS error frame), moves no money, changes no
// metering state, and leaves the process up (docs/rest-api.md, docs/websocket-protocol.md).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { startProduct, type Product } from '../helpers/product.js';
import { assertMoneyInvariants, totalBalancesMinor } from '../helpers/money-invariants.js';
import { closeAllSockets, heartbeat, openSocket } from '../helpers/ws-client.js';
import { courseId, POOR_STUDENT, STUDENT } from '../helpers/test-env.js';

let p: Product;
let total0: number;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  p = await startProduct({ MAX_PAYLOAD_BYTES: '4096' });
  total0 = await totalBalancesMinor(p.env.pool);
});
afterAll(async () => { closeAllSockets(); await p?.stop(); });
afterEach(async () => {
  closeAllSockets();
  await assertMoneyInvariants(p.env.pool, total0);
  expect((await p.api('GET', '/healthz')).status).toBe(200);
});

function expectError(res: { status: number; json: any; text: string }, status: number, code: string) {
  expect(res.status, res.text).toBe(status);
  expect(res.json?.error?.code, res.text).toBe(code);
  expect(typeof res.json.error.message).toBe('string');
}

describe('REST bad input', () => {
  it('create: each bad body gets its code and locks nothing', async () => {
    const ok = { course_id: courseId(1), student_id: STUDENT, locked_amount: 1 };
    const cases: [unknown, number, string][] = [
      [{ ...ok, locked_amount: 'abc' }, 400, 'invalid_body'],
      [{ ...ok, locked_amount: -5 }, 400, 'invalid_body'],
      [{ ...ok, locked_amount: 0 }, 400, 'invalid_body'],
      [{ ...ok, locked_amount: 1.234 }, 400, 'invalid_amount'],
      [{ ...ok, locked_amount: 1e300 }, 400, 'invalid_amount'],
      [{ ...ok, locked_amount: 1_000_000_001 }, 400, 'invalid_amount'],
      [{ ...ok, course_id: 'x' }, 400, 'invalid_body'],
      [{ ...ok, extra: 1 }, 400, 'invalid_body'],
      [{ course_id: courseId(1), student_id: STUDENT }, 400, 'invalid_body'],
      [[], 400, 'invalid_body'],
      [null, 400, 'invalid_body'],
      [{ ...ok, course_id: randomUUID() }, 404, 'course_not_found'],
      [{ ...ok, student_id: randomUUID() }, 403, 'forbidden'],
      [{ ...ok, locked_amount: 999_999_999 }, 402, 'insufficient_funds'],
    ];
    for (const [body, status, code] of cases) expectError(await p.api('POST', '/api/sessions/create', { body }), status, code);
    expectError(await p.api('POST', '/api/sessions/create', { body: '{"course_id":' }), 400, 'invalid_json');
    expectError(await p.api('POST', '/api/sessions/create', { body: 'course_id=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 415, 'unsupported_media_type');
    expectError(await p.api('POST', '/api/sessions/create', { body: { ...ok, pad: 'x'.repeat(5000) } }), 413, 'payload_too_large');
    expectError(await p.api('POST', '/api/sessions/create', { body: ok, headers: { 'idempotency-key': 'k'.repeat(201) } }), 400, 'invalid_body');
    const poor = await p.token({ sub: POOR_STUDENT });
    expectError(await p.api('POST', '/api/sessions/create', { token: poor, body: { ...ok, student_id: POOR_STUDENT, locked_amount: 2.01 } }), 402, 'insufficient_funds');
  });

  it('routes, methods and ids: 404 / 405 / 404 session_not_found', async () => {
    expectError(await p.api('GET', '/api/nope'), 404, 'not_found');
    expectError(await p.api('DELETE', '/api/courses'), 405, 'method_not_allowed');
    expectError(await p.api('POST', '/api/sessions/not-a-uuid/start'), 404, 'session_not_found');
    expectError(await p.api('GET', `/api/sessions/${randomUUID()}/status`), 404, 'session_not_found');
    expectError(await p.api('POST', `/api/sessions/${randomUUID()}/complete`, { body: {} }), 404, 'session_not_found');
  });

  it('wrong state: start twice, metrics before start and after complete (409)', async () => {
    const id = (await p.api('POST', '/api/sessions/create', { body: { course_id: courseId(1), student_id: STUDENT, locked_amount: 1 } })).json.session_id;
    const m = { duration_seconds: 1, completion_pct: 1, current_lecture: 1 };
    expectError(await p.api('PATCH', `/api/sessions/${id}/metrics`, { body: m }), 409, 'wrong_state');
    await p.api('POST', `/api/sessions/${id}/start`);
    expectError(await p.api('POST', `/api/sessions/${id}/start`), 409, 'wrong_state');
    await p.api('POST', `/api/sessions/${id}/complete`, { body: {} });
    expectError(await p.api('PATCH', `/api/sessions/${id}/metrics`, { body: m }), 409, 'wrong_state');
    expectError(await p.api('POST', `/api/sessions/${id}/start`), 409, 'wrong_state');
  });

  it('metrics: bad bodies, unknown lecture and rate limit change nothing', async () => {
    const id = await p.liveSession(2);
    const before = await p.api('GET', `/api/sessions/${id}/status`);
    for (const body of [{ duration_seconds: -1, completion_pct: 1, current_lecture: 1 }, { duration_seconds: 1, completion_pct: 101, current_lecture: 1 },
      { duration_seconds: 'x' }, { duration_seconds: 1, completion_pct: 1, current_lecture: 1.5 }]) {
      expectError(await p.api('PATCH', `/api/sessions/${id}/metrics`, { body }), 400, 'invalid_body');
    }
    expectError(await p.api('PATCH', `/api/sessions/${id}/metrics`, { body: { duration_seconds: 1, completion_pct: 1, current_lecture: 99 } }), 400, 'unknown_lecture');
    expect((await p.api('GET', `/api/sessions/${id}/status`)).json).toEqual(before.json);
    expectError(await p.api('POST', `/api/sessions/${id}/complete`, { body: { session_id: randomUUID() } }), 400, 'invalid_body');
    // A burst far above 10/s: some are answered 429 rate_limited, and the billed time still never exceeds wall time.
    const t0 = Date.now();
    const burst = await Promise.all(Array.from({ length: 40 }, () =>
      p.api('PATCH', `/api/sessions/${id}/metrics`, { body: { duration_seconds: 1000, completion_pct: 1, current_lecture: 1 } })));
    const limited = burst.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    for (const r of limited) expect(r.json.error.code).toBe('rate_limited');
    const st = await p.api('GET', `/api/sessions/${id}/status`);
    expect(st.json.duration_seconds).toBeLessThanOrEqual((Date.now() - t0) / 1000 + 1);
    await p.api('POST', `/api/sessions/${id}/complete`, { body: {} });
  });
});

describe('WebSocket bad frames', () => {
  it('each bad frame gets one error frame with its code; nothing is billed for them', async () => {
    const id = await p.liveSession(2);
    const s = openSocket(`${p.wsUrl}/ws/sessions/${id}?token=${await p.token()}`);
    await s.next('ready');
    await sleep(200);
    s.send(heartbeat(5));
    const a5 = await s.ack(5);
    const cases: [unknown, string][] = [
      ['not json', 'invalid_message'], ['[]', 'invalid_message'], ['null', 'invalid_message'], [{ type: 'nope' }, 'invalid_message'],
      [{ type: 'heartbeat', seq: -1 }, 'invalid_message'], [heartbeat(6, { position_seconds: 'x' }), 'invalid_message'],
      [heartbeat(6, { completion_pct: 1000 }), 'invalid_message'], [heartbeat(6, { duration_seconds: 1e12 }), 'invalid_message'],
      [heartbeat(6, { playing: 'yes' }), 'invalid_message'], [heartbeat(6, { extra: 1 }), 'invalid_message'],
      [heartbeat(4), 'stale_seq'], [heartbeat(5), 'stale_seq'], [heartbeat(7, { current_lecture: 99 }), 'unknown_lecture'],
    ];
    for (const [frame, code] of cases) {
      s.send(frame);
      const err = await s.next('error');
      expect(err.code, JSON.stringify(frame)).toBe(code);
    }
    await sleep(200);
    s.send(heartbeat(8, { playing: false }));
    expect((await s.ack(8)).duration_seconds).toBe(a5.duration_seconds);
    s.send({ type: 'complete' });
    await s.next('ended');
  });

  it('a heartbeat flood is answered rate_limited; more than 20 bad frames in 10 s closes 1008', async () => {
    const id = await p.liveSession(2);
    const s = openSocket(`${p.wsUrl}/ws/sessions/${id}?token=${await p.token()}`);
    await s.next('ready');
    for (let seq = 1; seq <= 30; seq++) s.send(heartbeat(seq));
    await s.waitFor((m) => m.type === 'error' && m.code === 'rate_limited', 3000, 'a rate_limited error');
    for (let i = 0; i < 25; i++) s.send('garbage');
    expect((await s.closed()).code).toBe(1008);
    expect((await p.api('POST', `/api/sessions/${id}/complete`, { body: {} })).status).toBe(200);
  });

  it('a frame over MAX_PAYLOAD_BYTES closes that socket only', async () => {
    const id = await p.liveSession(2);
    const s = openSocket(`${p.wsUrl}/ws/sessions/${id}?token=${await p.token()}`);
    await s.next('ready');
    s.send('x'.repeat(5000));
    expect([1006, 1009]).toContain((await s.closed()).code);
    const done = await p.api('POST', `/api/sessions/${id}/complete`, { body: {} });
    expect(done.status).toBe(200);
  });
});
