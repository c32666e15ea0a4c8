// Every authentication and authorisation failure of docs/rest-api.md and docs/websocket-protocol.md (WS upgrade): clear
// status and error code, and no money moves.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes, randomUUID, createHmac, generateKeyPairSync } from 'node:crypto';
import http from 'node:http';
import { SignJWT } from 'jose';
import { startProduct, type Product } from '../helpers/product.js';
import { assertMoneyInvariants, totalBalancesMinor } from '../helpers/money-invariants.js';
import { courseId, STUDENT, STUDENT_2, TEACHER, TEST_JWT_SECRET } from '../helpers/test-env.js';

let p: Product;
let total0: number;

beforeAll(async () => {
  p = await startProduct();
  total0 = await totalBalancesMinor(p.env.pool);
});
afterAll(async () => { await p?.stop(); });
afterEach(async () => { await assertMoneyInvariants(p.env.pool, total0); });

const b64 = (x: string | Buffer) => Buffer.from(x).toString('base64url');
function handMadeToken(header: object, payload: object, secret = TEST_JWT_SECRET): string {
  const h = b64(JSON.stringify(header));
  const body = b64(JSON.stringify(payload));
  return `${h}.${body}.${b64(createHmac('sha256', secret).update(`${h}.${body}`).digest())}`;
}
const now = () => Math.floor(Date.now() / 1000);

function upgradeStatus(path: string, headers: Record<string, string> = {}, base = p.baseUrl): Promise<number> {
  return new Promise((resolve, reject) => {
    const u = new URL(base + path);
    const req = http.request({
      host: u.hostname, port: u.port, path: u.pathname + u.search,
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': randomBytes(16).toString('base64'), ...headers },
    });
    req.on('upgrade', (_res, socket) => { socket.destroy(); resolve(101); });
    req.on('response', (res) => { res.resume(); resolve(res.statusCode ?? 0); });
    req.on('error', reject);
    req.end();
  });
}

async function badTokens(): Promise<[string, string | null][]> {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return [
    ['missing', null],
    ['garbage', 'garbage'],
    ['forged (wrong secret)', await p.token({}, { secret: 'not-the-secret-at-all-123' })],
    ['expired beyond the clock skew', await p.token({}, { expInSeconds: -30 })],
    ['alg none', `${b64(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${b64(JSON.stringify({ sub: STUDENT, exp: now() + 60 }))}.`],
    ['RS256 where HS256 is pinned', await new SignJWT({ role: 'student' }).setProtectedHeader({ alg: 'RS256' }).setSubject(STUDENT).setExpirationTime(now() + 60).sign(privateKey)],
    ['HS512 where HS256 is pinned', handMadeToken({ alg: 'HS512', typ: 'JWT' }, { sub: STUDENT, exp: now() + 60 })],
    ['no exp', handMadeToken({ alg: 'HS256', typ: 'JWT' }, { sub: STUDENT })],
    ['nbf in the future', handMadeToken({ alg: 'HS256', typ: 'JWT' }, { sub: STUDENT, exp: now() + 600, nbf: now() + 300 })],
    ['sub not a UUID', handMadeToken({ alg: 'HS256', typ: 'JWT' }, { sub: 'alice', exp: now() + 60 })],
    ['unknown role', handMadeToken({ alg: 'HS256', typ: 'JWT' }, { sub: STUDENT, exp: now() + 60, role: 'root' })],
  ];
}

describe('REST authentication', () => {
  it('every bad token gets 401 unauthorized on every endpoint and locks nothing', async () => {
    const body = { course_id: courseId(1), student_id: STUDENT, locked_amount: 1 };
    const id = randomUUID();
    for (const [what, token] of await badTokens()) {
      for (const [method, path, b] of [
        ['POST', '/api/sessions/create', body], ['POST', `/api/sessions/${id}/start`, undefined],
        ['PATCH', `/api/sessions/${id}/metrics`, { duration_seconds: 1, completion_pct: 1, current_lecture: 1 }],
        ['POST', `/api/sessions/${id}/complete`, {}], ['GET', `/api/sessions/${id}/status`, undefined],
        ['GET', '/api/courses', undefined], ['GET', '/api/wallet', undefined], ['GET', `/api/teachers/${TEACHER}/earnings`, undefined],
      ] as const) {
        const res = await p.api(method, path, { token, ...(b === undefined ? {} : { body: b }) });
        expect(res.status, `${what} on ${method} ${path}`).toBe(401);
        expect(res.json.error.code).toBe('unauthorized');
      }
    }
  });

  it('a token within the allowed clock skew is accepted', async () => {
    const token = handMadeToken({ alg: 'HS256', typ: 'JWT' }, { sub: STUDENT, exp: now() - 2, nbf: now() + 2 });
    expect((await p.api('GET', '/api/courses', { token })).status).toBe(200);
  });

  it("a student cannot act on another student's session, funds or wallet (403)", async () => {
    const created = await p.api('POST', '/api/sessions/create', { body: { course_id: courseId(1), student_id: STUDENT, locked_amount: 1 } });
    const id = created.json.session_id;
    const other = await p.token({ sub: STUDENT_2 });
    const refused = [
      await p.api('POST', '/api/sessions/create', { token: other, body: { course_id: courseId(1), student_id: STUDENT, locked_amount: 1 } }),
      await p.api('POST', `/api/sessions/${id}/start`, { token: other }),
      await p.api('GET', `/api/sessions/${id}/status`, { token: other }),
      await p.api('POST', `/api/sessions/${id}/complete`, { token: other, body: {} }),
      await p.api('GET', `/api/wallet?student_id=${STUDENT}`, { token: other }),
      await p.api('GET', `/api/teachers/${TEACHER}/earnings`, { token: other }),
    ];
    for (const r of refused) {
      expect(r.status).toBe(403);
      expect(r.json.error.code).toBe('forbidden');
    }
    expect((await p.api('POST', `/api/sessions/${id}/start`)).status).toBe(200);
    expect((await p.api('PATCH', `/api/sessions/${id}/metrics`, { token: other, body: { duration_seconds: 1, completion_pct: 1, current_lecture: 1 } })).status).toBe(403);
    expect((await p.api('POST', `/api/sessions/${id}/complete`, { body: {} })).status).toBe(200);
  });

  it('admin and service tokens may read any wallet and earnings', async () => {
    const admin = await p.token({ sub: randomUUID(), role: 'admin' });
    expect((await p.api('GET', `/api/wallet?student_id=${STUDENT_2}`, { token: admin })).json.wallet_balance).toBe(500);
    expect((await p.api('GET', `/api/teachers/${TEACHER}/earnings`, { token: admin })).status).toBe(200);
    expect((await p.api('GET', `/api/teachers/${randomUUID()}/earnings`, { token: admin })).status).toBe(404);
  });
});

describe('WebSocket upgrade authorisation', () => {
  it('401 bad token, 403 other student, 404 unknown, 409 not started or settled, 101 for the owner', async () => {
    const id = (await p.api('POST', '/api/sessions/create', { body: { course_id: courseId(1), student_id: STUDENT, locked_amount: 1 } })).json.session_id;
    const path = `/ws/sessions/${id}`;
    expect(await upgradeStatus(`${path}?token=${await p.token()}`)).toBe(409); // locked, not started
    await p.api('POST', `/api/sessions/${id}/start`);
    for (const [what, token] of await badTokens()) {
      expect(await upgradeStatus(token === null ? path : `${path}?token=${encodeURIComponent(token)}`), what).toBe(401);
    }
    expect(await upgradeStatus(`${path}?token=${await p.token({ sub: STUDENT_2 })}`)).toBe(403);
    expect(await upgradeStatus(`/ws/sessions/${randomUUID()}?token=${await p.token()}`)).toBe(404);
    expect(await upgradeStatus(`/ws/sessions/not-a-uuid?token=${await p.token()}`)).toBe(404);
    expect(await upgradeStatus(path, { authorization: `Bearer ${await p.token()}` })).toBe(101);
    expect((await p.api('POST', `/api/sessions/${id}/complete`, { body: {} })).status).toBe(200);
    expect(await upgradeStatus(`${path}?token=${await p.token()}`)).toBe(409); // settled
  });
});

describe('Origin allow-list and sockets per IP', () => {
  let q: Product;
  beforeAll(async () => { q = await startProduct({ ALLOWED_ORIGINS: 'https://player.example', MAX_SOCKETS_PER_IP: '1' }); });
  afterAll(async () => { await q?.stop(); });

  it('refuses an Origin outside ALLOWED_ORIGINS (403) and a second socket from one address (429)', async () => {
    const id = (await q.api('POST', '/api/sessions/create', { body: { course_id: courseId(1), student_id: STUDENT, locked_amount: 1 } })).json.session_id;
    await q.api('POST', `/api/sessions/${id}/start`);
    const path = `/ws/sessions/${id}?token=${await q.token()}`;
    expect(await upgradeStatus(path, { origin: 'https://evil.example' }, q.baseUrl)).toBe(403);
    const first = new WebSocket(q.wsUrl + path, { headers: { origin: 'https://player.example' } } as never);
    await new Promise((r) => first.addEventListener('open', r, { once: true }));
    expect(await upgradeStatus(path, { origin: 'https://player.example' }, q.baseUrl)).toBe(429);
    first.close();
    await new Promise((r) => setTimeout(r, 200));
    expect((await q.api('POST', `/api/sessions/${id}/complete`, { body: {} })).status).toBe(200);
  });
});

describe('issuer and audience', () => {
  let q: Product;
  beforeAll(async () => { q = await startProduct({ JWT_ISSUER: 'https://auth.example', JWT_AUDIENCE: 'metering' }); });
  afterAll(async () => { await q?.stop(); });

  it('when JWT_ISSUER / JWT_AUDIENCE are set, tokens must carry them', async () => {
    const sign = (claims: Record<string, unknown>) => new SignJWT({ role: 'student', ...claims }).setProtectedHeader({ alg: 'HS256' })
      .setSubject(STUDENT).setExpirationTime(now() + 60).sign(new TextEncoder().encode(TEST_JWT_SECRET));
    expect((await q.api('GET', '/api/courses', { token: await sign({}) })).status).toBe(401);
    expect((await q.api('GET', '/api/courses', { token: await sign({ iss: 'https://evil.example', aud: 'metering' }) })).status).toBe(401);
    expect((await q.api('GET', '/api/courses', { token: await sign({ iss: 'https://auth.example', aud: 'other' }) })).status).toBe(401);
    expect((await q.api('GET', '/api/courses', { token: await sign({ iss: 'https://auth.example', aud: 'metering' }) })).status).toBe(200);
  });
});
