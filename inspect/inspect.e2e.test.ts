// `npm run inspect` against a live product: one session active with its socket, one paused after its socket closed,
// one settled; each subcommand run as a child process, its --json and its text checked.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { productPerFile } from '../test/helpers/product.js';
import { closeAllSockets, heartbeat, openSocket, type TestSocket } from '../test/helpers/ws-client.js';
import { runInspect } from '../test/helpers/inspect-cli.js';
import { STUDENT, courseId } from '../test/helpers/test-env.js';

// A long grace (10 min) keeps the paused session paused for the whole file, however loaded the machine; heartbeats every
// 2 s make the idle deadline near.
const p = productPerFile({ DISCONNECT_GRACE_MS: '600000', HEARTBEAT_INTERVAL_MS: '2000' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let active: string;
let paused: string;
let settled: string;
let activeSocket: TestSocket;

async function until(what: string, check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`${what} did not happen within ${ms} ms`);
    await sleep(50);
  }
}

async function playing(id: string): Promise<TestSocket> {
  const s = openSocket(`${p.wsUrl}/ws/sessions/${id}?token=${await p.token()}`);
  await s.next('ready');
  await sleep(300);
  s.send(heartbeat(1));
  await s.ack(1);
  return s;
}

beforeAll(async () => {
  [active, paused, settled] = await Promise.all([p.liveSession(5, 1), p.liveSession(5, 2), p.liveSession(5, 3)]);
  activeSocket = await playing(active);
  const leaving = await playing(paused);
  leaving.close();
  await until('the paused session', async () => (await p.env.redis.hget(p.env.keys.session(paused), 'status')) === 'paused');
  const finishing = await playing(settled);
  finishing.send({ type: 'complete' });
  expect((await finishing.next('ended', 10_000)).reason).toBe('completed');
  await until('the settled session leaving Redis', async () => (await p.env.redis.exists(p.env.keys.session(settled))) === 0);
});
afterAll(() => closeAllSockets());

describe('inspect sessions', () => {
  it('lists the live sessions with status, billed time, cost, heartbeat age, owner and deadline', async () => {
    const run = await runInspect(p.env, ['sessions', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const r = run.json();
    expect(r).toMatchObject({ limit: 500, total: 2, shown: 2 });
    expect(typeof r.redis_now_ms).toBe('number');
    const byId = Object.fromEntries(r.sessions.map((s: any) => [s.session_id, s]));
    expect(Object.keys(byId).sort()).toEqual([active, paused].sort());
    expect(byId[active]).toMatchObject({ status: 'active', student_id: STUDENT, course_id: courseId(1), deadline_kind: 'idle' });
    expect(byId[active].owner).toMatch(/^[^/]+:\d+\/[0-9a-f-]{36}$/);
    expect(byId[active].owner_gateway).toBe(`${hostname()}:${process.pid}`); // the in-process gateway of this test
    expect(byId[active].billed_ms).toBeGreaterThan(0);
    expect(byId[active].cost).toMatch(/^\d+\.\d\d$/);
    expect(byId[active].heartbeat_age_ms).toBeGreaterThanOrEqual(0);
    expect(byId[active].heartbeat_age_ms).toBeLessThan(30_000);
    expect(byId[paused]).toMatchObject({ status: 'paused', owner: null, deadline_kind: 'grace', course_id: courseId(2) });
    expect(byId[paused].deadline_in_ms).toBeGreaterThan(30_000);
    // Soonest deadline first: the active one (idle 8 s + grace after its heartbeat) comes after the paused one.
    expect(r.sessions.map((s: any) => s.deadline_ms)).toEqual([...r.sessions.map((s: any) => s.deadline_ms)].sort((a: number, b: number) => a - b));

    const text = await runInspect(p.env, ['sessions']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^SESSION\s+STUDENT\s+COURSE\s+STATUS\s+BILLED\s+COST\s+HEARTBEAT\s+GATEWAY\s+DEADLINE/);
    expect(text.stdout).toMatch(new RegExp(`${active}.*active\\s+00:0\\d\\.\\d{3}\\s+0\\.\\d\\d\\s+[\\d.]+ (ms|s) ago\\s+[^\\s/]+:\\d+\\s+idle in`));
    expect(text.stdout).toMatch(new RegExp(`${paused}.*paused .* - +grace in`));
    expect(text.stdout).toContain('2 live sessions shown (limit 500): ');
    expect(text.stdout).not.toContain(settled);
  });

  it('bounds the list with --limit and says so', async () => {
    const r = (await runInspect(p.env, ['sessions', '--limit', '1', '--json'])).json();
    expect(r).toMatchObject({ total: 2, shown: 1, limit: 1 });
    expect((await runInspect(p.env, ['sessions', '--limit', '1'])).stdout).toContain('1 of 2 live sessions shown, soonest deadline first (limit 1; --limit N for more)');
  });

  it('says so plainly when there are none', async () => {
    const empty = { REDIS_KEY_PREFIX: `test:inspect-empty-${randomUUID()}:` };
    const text = await runInspect(p.env, ['sessions'], empty);
    expect(text.code).toBe(0);
    expect(text.stdout.trim()).toBe('no live sessions (the deadline sets of all 8 buckets are empty)');
    expect((await runInspect(p.env, ['sessions', '--json'], empty)).json()).toMatchObject({ total: 0, shown: 0, sessions: [] });
  });
});

describe('inspect session <id>', () => {
  it('shows a live session from both sides with a verdict', async () => {
    const run = await runInspect(p.env, ['session', active, '--json']);
    expect(run.code, run.stderr).toBe(0);
    const r = run.json();
    expect(r.verdict).toMatch(/^live in Redis \(active, socket attached\), checkpoint (up to date|[\d.]+ (ms|s) behind); idle deadline in /);
    expect(r.redis.hash).toMatchObject({ status: 'active', student_id: STUDENT });
    expect(r.redis.live).toMatchObject({ status: 'active', deadline_kind: 'idle' });
    expect(r.redis.lectures_ms['1']).toBeGreaterThan(0);
    expect(r.redis.deadline.kind).toBe('idle');
    expect(typeof r.redis.deadline.deadline_in_ms).toBe('number');
    expect(r.postgres.session).toMatchObject({ status: 'active', locked_amount: '5.00', student_id: STUDENT });
    expect(typeof r.postgres.session.duration_ms).toBe('number');
    expect(r.postgres.hold).toMatchObject({ amount: '5.00', released_at: null });
    expect(r.postgres.settlement).toBeNull();

    const text = (await runInspect(p.env, ['session', active])).stdout;
    expect(text).toContain(`session ${active}  bucket ${r.bucket}`);
    expect(text).toMatch(/^verdict: live in Redis \(active, socket attached\)/m);
    expect(text).toMatch(/^status\s+active\s+active$/m);
    expect(text).toMatch(/^LECTURE\s+REDIS\s+POSTGRES$/m);
    expect(text).toContain('hold: 5.00 since');
    expect(text).toContain('ledger: no settle transaction');
  });

  it('shows a paused session as paused, on its grace deadline', async () => {
    const r = (await runInspect(p.env, ['session', paused, '--json'])).json();
    expect(r.verdict).toMatch(/^live in Redis \(paused, player's socket gone, last heartbeat .* ago\), .*; grace deadline in /);
  });

  it('shows a settled session from Postgres, with its ledger entries', async () => {
    const run = await runInspect(p.env, ['session', settled, '--json']);
    expect(run.code, run.stderr).toBe(0);
    const r = run.json();
    expect(r.verdict).toMatch(/^settled completed \(cost \d+\.\d\d of 5\.00\); not in Redis$/);
    expect(r.redis).toMatchObject({ hash: {}, live: null, deadline: null });
    expect(r.postgres.session).toMatchObject({ status: 'completed', end_reason: 'completed' });
    expect(r.postgres.hold.released_at).not.toBeNull();
    expect(r.postgres.settlement.entries.map((e: any) => e.account_type)).toContain('hold');
    const text = (await runInspect(p.env, ['session', settled])).stdout;
    expect(text).toMatch(/^verdict: settled completed .*; not in Redis$/m);
    expect(text).toMatch(/^ledger: settle transaction \d+ at /m);
    expect(text).toMatch(/^ {2}hold\s/m);
  });

  it('exits 1 with a clear line on stderr for an id in neither Redis nor Postgres', async () => {
    const unknown = randomUUID();
    for (const args of [['session', unknown], ['session', unknown, '--json']]) {
      const run = await runInspect(p.env, args);
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr).toContain(`inspect: session ${unknown} is in neither Redis`);
    }
  });

  it('exits 2 with the usage for something that is not a session id', async () => {
    const run = await runInspect(p.env, ['session', 'not-a-uuid']);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('not a session id (a UUID): not-a-uuid');
    expect(run.stderr).toContain('usage: npm run -s inspect');
    expect((await runInspect(p.env, ['session'])).code).toBe(2);
    expect((await runInspect(p.env, ['frobnicate'])).code).toBe(2);
    expect((await runInspect(p.env, ['streams', '--within', '5'])).code).toBe(2);
  });
});

describe('inspect streams and consumers', () => {
  it('shows every bucket\'s stream, lag and pending entries, and the dead letters', async () => {
    const run = await runInspect(p.env, ['streams', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const r = run.json();
    expect(r.buckets).toHaveLength(8);
    for (const b of r.buckets) {
      expect(b).toMatchObject({ exists: true, oldest_pending: null, oldest_pending_age_ms: null, oldest_undelivered: null });
      expect(b.group).toMatchObject({ pending: 0 });
      expect(typeof b.length).toBe('number');
    }
    // The settled session went through its bucket: read there by the worker, acknowledged, nothing left behind.
    const read = r.buckets[p.env.keys.bucketOf(settled)];
    expect(read.group.entries_read).toBeGreaterThanOrEqual(1);
    expect(read.group.lag).toBe(0);
    expect(read.consumers.map((c: any) => c.name)).toContain(p.worker!.consumerName);
    expect(r.dead_letters).toMatchObject({ length: 0, latest: [] });

    const text = (await runInspect(p.env, ['streams'])).stdout;
    expect(text).toMatch(/^B\s+STREAM\s+LENGTH\s+LAG\s+READ\s+OLDEST UNREAD\s+PENDING\s+OLDEST PENDING$/m);
    expect(text).toContain(p.env.keys.settleStream(7));
    expect(text).toContain('pending per consumer: none');
    expect(text).toContain(`dead letters ${p.env.keys.deadLetters()}: 0`);
    expect(text).not.toContain('CONSUMERS');
  });

  it('tells a live worker by its freshest idle over all buckets, and names the buckets nobody has read', async () => {
    // Redis before 7.2 restarts a consumer's idle only when it is given entries: settle one now, so the worker has
    // just been given one whatever the server's version.
    const fresh = await playing(await p.liveSession(5, 4));
    fresh.send({ type: 'complete' });
    await fresh.next('ended', 10_000);
    const run = await runInspect(p.env, ['consumers', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const r = run.json();
    const mine = r.consumers.find((c: any) => c.name === p.worker!.consumerName);
    expect(mine).toMatchObject({ state: 'alive', pending: 0 });
    expect(mine.idle_ms).toBeLessThanOrEqual(r.alive_idle_ms_max);
    expect(mine.buckets.map((b: any) => b.bucket)).toContain(p.env.keys.bucketOf(settled));
    expect(typeof r.idle_counts_every_read).toBe('boolean');
    // This file's worker holds a reader connection per bucket (other files' workers on this Redis may add more).
    expect(r.reader_connections.per_bucket).toHaveLength(8);
    for (const n of r.reader_connections.per_bucket) expect(n).toBeGreaterThanOrEqual(1);
    expect(r.alive).toBeGreaterThanOrEqual(1);
    const readBuckets = new Set(r.consumers.flatMap((c: any) => c.buckets.map((b: any) => b.bucket)));
    expect(r.never_read_buckets).toEqual([0, 1, 2, 3, 4, 5, 6, 7].filter((b) => !readBuckets.has(b)));

    const text = (await runInspect(p.env, ['consumers'])).stdout;
    expect(text).toMatch(new RegExp(`^${p.worker!.consumerName}\\s+alive\\s`, 'm'));
    for (const b of r.never_read_buckets) expect(text).toContain(`no consumer has ever read bucket ${b}`);
    expect(text).toMatch(/^\d+ live consumers?$/m);
    expect(text).toMatch(/^reader connections \(CLIENT LIST, any key prefix on this Redis\): \d+, /m);
  });
});

describe('inspect deadlines', () => {
  it('lists what the sweeper acts on within the window, with the rule and when', async () => {
    const run = await runInspect(p.env, ['deadlines', '--within', '900', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const r = run.json();
    expect(r.within_ms).toBe(900_000);
    const byId = Object.fromEntries(r.due.map((d: any) => [d.session_id, d]));
    expect(byId[paused]).toMatchObject({ status: 'paused', kind: 'grace' });
    expect(byId[active]).toMatchObject({ status: 'active', kind: 'idle' });
    expect(byId[paused].due_in_ms).toBeGreaterThan(0);
    const text = (await runInspect(p.env, ['deadlines', '--within', '900'])).stdout;
    expect(text).toMatch(new RegExp(`^${paused}\\s+paused\\s+grace \\(paused: settle disconnected\\)\\s+in `, 'm'));
    expect(text).toContain('2 sessions due to be swept within 900 s');
  });

  it('says so when nothing is due in the window', async () => {
    const text = await runInspect(p.env, ['deadlines', '--within', '1']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^no session is due to be swept within 1 s/);
    expect((await runInspect(p.env, ['deadlines', '--within', '1', '--json'])).json()).toMatchObject({ due: [], within_ms: 1000 });
  });
});

describe('inspect is read-only', () => {
  it('leaves the live state exactly as it found it', async () => {
    activeSocket.close();
    await until('the active session pausing', async () => (await p.env.redis.hget(p.env.keys.session(active), 'status')) === 'paused');
    const snapshot = async () => Promise.all([active, paused].map((id) => p.env.redis.hgetall(p.env.keys.session(id))));
    const before = await snapshot();
    for (const args of [['sessions'], ['session', active], ['streams'], ['consumers'], ['deadlines']]) {
      expect((await runInspect(p.env, args)).code).toBe(0);
    }
    expect(await snapshot()).toEqual(before);
  });
});
