// No token or secret reaches the logs (README "Logs"; STYLE: redaction, serializers that never log headers): with
// LOG_LEVEL=debug and every gateway and worker line captured, requests carrying valid, forged, expired and garbage
// tokens — in Authorization headers, in ?token= on accepted and refused WebSocket upgrades, in paths, bodies, headers
// and frames — leave no token, no token signature and no JWT secret in any line.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import { Writable } from 'node:stream';
import { startProduct, type Product } from '../helpers/product.js';
import { assertMoneyInvariants, totalBalancesMinor } from '../helpers/money-invariants.js';
import { closeAllSockets, heartbeat, openSocket } from '../helpers/ws-client.js';
import { courseId, STUDENT, STUDENT_2, TEST_JWT_SECRET } from '../helpers/test-env.js';

let p: Product;
let total0: number;
const lines: string[] = [];

beforeAll(async () => {
  const destination = new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } });
  p = await startProduct({ LOG_LEVEL: 'debug' }, { logDestination: destination });
  total0 = await totalBalancesMinor(p.env.pool);
});
afterAll(async () => { closeAllSockets(); await p?.stop(); });
afterEach(async () => {
  closeAllSockets();
  await assertMoneyInvariants(p.env.pool, total0);
});

/** Every token minted here carries a random jti, so each string is unique and a match in the logs is a real leak. */
async function tokens() {
  const mint = (claims: Record<string, unknown> = {}, o: Parameters<Product['token']>[1] = {}) => p.token({ jti: randomUUID(), ...claims }, o);
  return {
    valid: await mint(),
    service: await mint({ sub: '00000000-0000-0000-0000-00000000a11e', role: 'service' }),
    otherStudent: await mint({ sub: STUDENT_2 }),
    expired: await mint({}, { expInSeconds: -120 }),
    forged: await mint({}, { secret: 'a-different-secret-0123456789' }),
    garbage: `garbage-${randomBytes(24).toString('base64url')}`,
    notAJwt: `eyJhbGciOiJIUzI1NiJ9.${randomBytes(30).toString('base64url')}.${randomBytes(32).toString('base64url')}`,
  };
}

function upgradeStatus(path: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port: p.gateway.port, path,
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': randomBytes(16).toString('base64'), ...headers },
    });
    req.on('upgrade', (_res, socket) => { socket.destroy(); resolve(101); });
    req.on('response', (res) => { res.resume(); resolve(res.statusCode ?? 0); });
    req.on('error', reject);
    req.end();
  });
}

describe('log redaction', () => {
  it('no captured log line contains a token, a token signature or the JWT secret', async () => {
    const t = await tokens();
    const all = Object.values(t);
    const body = { course_id: courseId(1), student_id: STUDENT, locked_amount: 1 };

    // REST with every token, in the Authorization header and everywhere else a client could put one.
    const unknown = randomUUID();
    for (const token of all) {
      await p.api('GET', '/api/courses', { token });
      await p.api('GET', `/api/wallet?token=${token}`, { token });
      await p.api('POST', '/api/sessions/create', { token, body, headers: { 'idempotency-key': token } });
      await p.api('POST', '/api/sessions/create', { token, body: { ...body, course_id: token } });
      await p.api('GET', `/api/sessions/${token}/status`, { token });
      await p.api('PATCH', `/api/sessions/${unknown}/metrics?token=${token}`, { token, body: { duration_seconds: 1, completion_pct: 1, current_lecture: 1, token } });
      await p.api('POST', `/api/sessions/${unknown}/complete`, { token, body: { session_id: token } });
      await p.api('GET', `/api/nope/${token}`, { token, headers: { 'x-api-key': token, cookie: `session=${token}` } });
    }

    // A real session, driven by the valid token: create, start, socket, frames, complete (the worker logs too).
    const created = await p.api('POST', '/api/sessions/create', { token: t.valid, body: { ...body, locked_amount: 3 } });
    expect(created.status).toBe(201);
    const id = created.json.session_id as string;
    expect((await p.api('POST', `/api/sessions/${id}/start`, { token: t.valid })).status).toBe(200);

    // Refused upgrades: each bad token by query and by header, someone else's session, an unknown one, a token as id.
    for (const token of [t.expired, t.forged, t.garbage, t.notAJwt]) {
      expect(await upgradeStatus(`/ws/sessions/${id}?token=${token}`)).toBe(401);
      expect(await upgradeStatus(`/ws/sessions/${id}`, { authorization: `Bearer ${token}` })).toBe(401);
    }
    expect(await upgradeStatus(`/ws/sessions/${id}?token=${t.otherStudent}`)).toBe(403);
    expect(await upgradeStatus(`/ws/sessions/${randomUUID()}?token=${t.valid}`)).toBe(404);
    expect(await upgradeStatus(`/ws/sessions/${t.valid}?token=${t.valid}`)).toBe(404);
    expect(await upgradeStatus(`/ws/sessions/${id}?token=${t.valid}`, { origin: `https://${t.garbage}.example` })).toBe(101);

    // Accepted upgrades by query and by header; frames that carry tokens as keys and values.
    const s = openSocket(`${p.wsUrl}/ws/sessions/${id}?token=${t.valid}&again=${t.service}`);
    await s.next('ready');
    s.send(heartbeat(1));
    await s.ack(1);
    s.send({ ...heartbeat(2), token: t.valid });
    expect((await s.next('error')).code).toBe('invalid_message');
    s.send({ ...heartbeat(3), [t.forged]: 1 });
    expect((await s.next('error')).code).toBe('invalid_message');
    s.send(t.valid);
    expect((await s.next('error')).code).toBe('invalid_message');
    expect(await upgradeStatus(`/ws/sessions/${id}`, { authorization: `Bearer ${t.service}` })).toBe(101);
    s.close();

    const done = await p.api('POST', `/api/sessions/${id}/complete`, { token: t.service, body: {} });
    expect(done.status, done.text).toBe(200);
    // A probe, with a token it does not need: its access line is one of the debug lines.
    expect((await p.api('GET', `/healthz?token=${t.valid}`, { token: t.valid })).status).toBe(200);

    // The capture saw the paths these requests took (so a clean result means something)…
    const messages = new Set(lines.map((l) => JSON.parse(l).msg as string));
    for (const m of ['request', 'upgrade refused', 'session created', 'session started', 'socket attached', 'socket closed']) {
      expect(messages, `captured '${m}'`).toContain(m);
    }
    expect(lines.some((l) => JSON.parse(l).level === 20), 'debug lines were captured').toBe(true);

    // …and no line holds a token, the signature part of one, or the secret.
    const secrets = [TEST_JWT_SECRET, ...all, ...all.map((token) => token.split('.')[2]).filter((sig): sig is string => !!sig && sig.length > 20)];
    for (const line of lines) {
      for (const secret of secrets) expect(line.includes(secret), `a log line leaks ${secret.slice(0, 12)}…: ${line.slice(0, 300)}`).toBe(false);
    }
  });
});
