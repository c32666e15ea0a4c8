// `start` racing `complete`, `status` and the WebSocket upgrade on a locked session (docs/rest-api.md "Concurrent
// calls on one session"): over many rounds every call answers a documented status (start 200 or 409, complete and
// status 200, upgrade 101 or 409), no call reverts a state another one made, and nothing logs a false "lost from
// Redis" rebuild or an internal error.
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { productPerFile, type ApiResult } from '../helpers/product.js';
import { tryUpgrade } from '../helpers/raw-upgrade.js';
import { openSocket } from '../helpers/ws-client.js';
import { eventually, lockSession } from '../helpers/sessions.js';
import { courseId, STUDENT } from '../helpers/test-env.js';

const rounds = 40;
const lines: string[] = [];
const destination = new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } });
const p = productPerFile({ LOG_LEVEL: 'info' }, { logDestination: destination });

async function lockedSession(): Promise<string> {
  const created = await p.api('POST', '/api/sessions/create', { body: { course_id: courseId(1), student_id: STUDENT, locked_amount: 0.5 } });
  expect(created.status).toBe(201);
  return created.json.session_id as string;
}

const start = (id: string) => p.api('POST', `/api/sessions/${id}/start`);
const complete = (id: string) => p.api('POST', `/api/sessions/${id}/complete`, { body: {} });
const status = (id: string) => p.api('GET', `/api/sessions/${id}/status`);
const upgrade = async (id: string) => tryUpgrade(p.baseUrl, `/ws/sessions/${id}?token=${await p.token()}`);
const metrics = (id: string) => p.api('PATCH', `/api/sessions/${id}/metrics`, { body: { duration_seconds: 1, completion_pct: 1, current_lecture: 1 } });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Upgrades fired 0–`spreadMs` ms after the start, one per ms: the window in which start has written one store and not
 * yet the other is a round trip or two long, and a spread of attempts lands some of them inside it.
 */
const upgradesDuring = (id: string, spreadMs: number) =>
  Promise.all(Array.from({ length: spreadMs + 1 }, (_, ms) => sleep(ms).then(() => upgrade(id))));

async function rowStatus(id: string): Promise<string> {
  const { rows } = await p.env.pool.query<{ status: string }>('SELECT status FROM sessions WHERE id = $1', [id]);
  return rows[0]!.status;
}

const liveKeyExists = async (id: string) => (await p.env.redis.exists(p.env.keys.session(id))) === 1;

function expectStart(r: ApiResult): void {
  expect([200, 409], `start answered ${r.status} ${r.text}`).toContain(r.status);
  if (r.status === 409) expect(r.json.error.code, r.text).toBe('wrong_state');
}

function expectCompleted(r: ApiResult, id: string): void {
  expect(r.status, `complete answered ${r.status} ${r.text}`).toBe(200);
  expect(r.json).toMatchObject({ session_id: id, status: 'completed' });
}

/** After the session is settled its live state goes (the worker forgets it), and no socket can open on it. */
async function expectSettledForGood(id: string): Promise<void> {
  expect(await rowStatus(id)).toBe('completed');
  await eventually(async () => !(await liveKeyExists(id)), 5_000, `the live state of ${id} to be forgotten`);
  expect((await upgrade(id)).status).toBe(409);
}

type Attach = typeof p.deps.meter.attachSocket;

/** Runs `during` with the gateway's next session claim wrapped in `around` (given the real claim to call), then unwraps it. */
async function aroundNextAttach<T>(around: (attach: () => ReturnType<Attach>) => ReturnType<Attach>, during: () => Promise<T>): Promise<T> {
  const meter = p.deps.meter;
  const attachSocket = meter.attachSocket;
  meter.attachSocket = (...args) => {
    meter.attachSocket = attachSocket;
    return around(() => attachSocket.apply(meter, args));
  };
  try {
    return await during();
  } finally {
    meter.attachSocket = attachSocket;
  }
}

/** The warnings and errors that must never appear: a rebuild of a session Redis never lost, and any 500. */
function expectCleanLog(): void {
  const parsed = lines.map((l) => JSON.parse(l) as { level: number; msg: string });
  expect(parsed.filter((l) => /lost from Redis/.test(l.msg)).map((l) => l.msg)).toEqual([]);
  // The whole line, not just its message: an unexpected error is only worth a failure that says what it was.
  expect(parsed.filter((l) => l.level >= 50).map((l) => JSON.stringify(l))).toEqual([]);
}

/**
 * `rounds` times: a fresh locked session, `race` on it, then the session must end settled for good; afterwards the log
 * must be clean.
 */
async function eachRound(race: (id: string) => Promise<void>): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    const id = await lockedSession();
    await race(id);
    await expectSettledForGood(id);
  }
  expectCleanLog();
}

describe('start racing other calls on a locked session', () => {
  it('start ∥ start: one 200, the other 409, and the session runs once', () => eachRound(async (id) => {
    const both = await Promise.all([start(id), start(id)]);
    both.forEach(expectStart);
    expect(both.map((r) => r.status).sort()).toEqual([200, 409]);
    expect(await rowStatus(id)).toBe('active');
    expect(await liveKeyExists(id)).toBe(true);
    expectCompleted(await complete(id), id);
  }));

  it('start ∥ complete: start 200 or 409, complete 200, the session ends settled', () => eachRound(async (id) => {
    const [s, c] = await Promise.all([start(id), complete(id)]);
    expectStart(s);
    expectCompleted(c, id);
  }));

  it('start ∥ status ∥ complete: status always 200 with a state the session was in', () => eachRound(async (id) => {
    const [s, st, c] = await Promise.all([start(id), status(id), complete(id)]);
    expectStart(s);
    expect(st.status, st.text).toBe(200);
    expect(['locked', 'active', 'completed']).toContain(st.json.status);
    expectCompleted(c, id);
  }));

  it('start ∥ upgrade: the upgrade opens only on a started session, and a 200 start stays started', () => eachRound(async (id) => {
    const [s, us] = await Promise.all([start(id), upgradesDuring(id, 4)]);
    expectStart(s);
    for (const u of us) expect([101, 409], `upgrade answered ${u.status}`).toContain(u.status);
    // Nothing else ends the session here, so start must have won: the row stays active with its live state.
    expect(s.status).toBe(200);
    expect(await rowStatus(id)).toBe('active');
    expect(await liveKeyExists(id)).toBe(true);
    expectCompleted(await complete(id), id);
  }));

  it('start ∥ metrics updates: each update 409 before the start commits, 200 after; none rebuilds the session', () => eachRound(async (id) => {
    const [s, ms] = await Promise.all([start(id),
      Promise.all([0, 1, 2, 3, 4].map((d) => sleep(d).then(() => metrics(id))))]);
    expect(s.status, s.text).toBe(200);
    for (const m of ms) {
      expect([200, 409], `metrics answered ${m.status} ${m.text}`).toContain(m.status);
      if (m.status === 409) expect(m.json.error.code).toBe('wrong_state');
    }
    expect(await rowStatus(id)).toBe('active');
    expectCompleted(await complete(id), id);
  }));

  it('start ∥ upgrade ∥ complete: every answer documented, the session ends settled', () => eachRound(async (id) => {
    const [s, us, c] = await Promise.all([start(id), upgradesDuring(id, 4), complete(id)]);
    expectStart(s);
    for (const u of us) expect([101, 409], `upgrade answered ${u.status}`).toContain(u.status);
    expectCompleted(c, id);
  }));
});

describe('an upgrade whose session is settled as it is claimed', () => {
  it('is answered 409 wrong_state with no socket, and nothing is logged as an error or a rebuild', async () => {
    const id = await lockedSession();
    expect((await start(id)).status).toBe(200);
    // The upgrade authorises and claims the session in one Redis call (docs/websocket-protocol.md "Upgrade and
    // authorization"): the session settled and forgotten just before it, the claim finds no live state and the row
    // says why.
    const refused = await aroundNextAttach(async (attach) => {
      expectCompleted(await complete(id), id);
      await p.deps.meter.forgetSession(id);
      return attach();
    }, () => upgrade(id));
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('wrong_state');
    expect(await rowStatus(id)).toBe('completed');
    expect(await liveKeyExists(id)).toBe(false);
    expectCleanLog();
  });
});

describe('an upgrade whose client leaves before its answer', () => {
  it('lets the session go again: paused with its grace, owned by no socket', async () => {
    const id = await lockedSession();
    expect((await start(id)).status).toBe(200);
    let claimed!: () => void;
    const claimedNow = new Promise<void>((r) => { claimed = r; });
    let leave!: () => void;
    const left = new Promise<void>((r) => { leave = r; });
    await aroundNextAttach(async (attach) => {
      const r = await attach();
      claimed();
      await left; // the answer waits until the client has gone
      return r;
    }, async () => {
      const u = new URL(p.baseUrl);
      const socket = net.connect(Number(u.port), u.hostname);
      await new Promise((r) => socket.once('connect', r));
      socket.write(`GET /ws/sessions/${id}?token=${await p.token()} HTTP/1.1\r\nHost: ${u.host}\r\nConnection: Upgrade\r\n`
        + `Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n\r\n`);
      await claimedNow;
      expect(await p.env.redis.hget(p.env.keys.session(id), 'status')).toBe('active');
      socket.destroy();
      await sleep(50);
      leave();
      await eventually(async () => (await p.env.redis.hget(p.env.keys.session(id), 'status')) === 'paused', 5_000, 'the session to pause');
      expect(await p.env.redis.hget(p.env.keys.session(id), 'owner')).toBe('');
    });
    expectCompleted(await complete(id), id);
    expectCleanLog();
  });
});

describe('a start that finds live state it did not make', () => {
  it('answers 409 wrong_state and changes neither the row nor the live state', async () => {
    // Live state for a session whose row is still locked: another request's (a start whose rollback could not
    // drop it, say). It is not this start's to take over or delete.
    const s = await lockSession(p.env.pool, { studentId: STUDENT, courseId: courseId(1), lockedMinor: 50 });
    await p.deps.meter.startSession(s.sessionId, s);
    const before = await p.env.redis.hgetall(p.env.keys.session(s.sessionId));
    const r = await start(s.sessionId);
    expect(r.status, r.text).toBe(409);
    expect(r.json.error.code).toBe('wrong_state');
    expect(await rowStatus(s.sessionId)).toBe('locked');
    expect(await p.env.redis.hgetall(p.env.keys.session(s.sessionId))).toEqual(before);
    await p.deps.meter.forgetSession(s.sessionId);
    expectCleanLog();
  });
});
