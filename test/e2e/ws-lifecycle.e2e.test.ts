// The WebSocket protocol end to end (docs/websocket-protocol.md): ready, acks with running cost, complete → ended,
// pause and resume, newest socket wins, disconnect past grace, funds exhaustion — with the books checked after every
// test.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startProduct, type Product } from '../helpers/product.js';
import { assertMoneyInvariants, totalBalancesMinor } from '../helpers/money-invariants.js';
import { closeAllSockets, heartbeat, openSocket } from '../helpers/ws-client.js';
import { backdateSession } from '../helpers/sessions.js';

let p: Product;
let total0: number;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cents = (x: number) => Math.round(x * 100);

beforeAll(async () => {
  p = await startProduct({ DISCONNECT_GRACE_MS: '1500', HEARTBEAT_INTERVAL_MS: '2000' });
  total0 = await totalBalancesMinor(p.env.pool);
});
afterAll(async () => { closeAllSockets(); await p?.stop(); });
afterEach(async () => {
  closeAllSockets();
  await assertMoneyInvariants(p.env.pool, total0);
  expect(p.brokenInvariants).toEqual([]);
});

const connect = async (id: string) => openSocket(`${p.wsUrl}/ws/sessions/${id}?token=${await p.token()}`);
const status = async (id: string) => (await p.api('GET', `/api/sessions/${id}/status`)).json;

describe('WebSocket lifecycle', () => {
  it('create 750.0 → start → heartbeats → complete over one socket', async () => {
    // The seed's checklist over WebSocket: every ack carries the running cost; `ended` carries the settled figures.
    const id = await p.liveSession(750, 1);
    const t0 = Date.now();
    const s = await connect(id);
    await s.opened;
    const ready = await s.next('ready');
    expect(ready).toMatchObject({ session_id: id, resumed: false, heartbeat_interval_ms: 2000, max_billable_seconds: 90_000, cost: 0, remaining: 750 });
    let prev = 0;
    for (let seq = 1; seq <= 3; seq++) {
      await sleep(400);
      s.send(heartbeat(seq, { current_lecture: seq, completion_pct: seq * 10 }));
      const ack = await s.ack(seq);
      expect(ack.duration_seconds).toBeGreaterThan(prev);
      expect(ack.duration_seconds).toBeLessThanOrEqual((Date.now() - t0) / 1000);
      expect(cents(ack.cost)).toBe(Math.floor((Math.round(ack.duration_seconds * 1000) * 50) / 60000));
      expect(cents(ack.cost) + cents(ack.remaining)).toBe(75_000);
      expect(ack).toMatchObject({ current_lecture: seq, completion_pct: seq * 10 });
      prev = ack.duration_seconds;
    }
    s.send({ type: 'complete' });
    const ended = await s.next('ended');
    expect(ended.reason).toBe('completed');
    expect(ended.summary.duration_seconds).toBe(prev);
    expect(cents(ended.summary.cost) + cents(ended.summary.refund)).toBe(75_000);
    expect((await s.closed()).code).toBe(1000);
    const st = await status(id);
    expect(st).toMatchObject({ status: 'completed', end_reason: 'completed', completion_pct: 30, current_lecture: 3 });
    const watched = Object.values(st.content_progress as Record<string, { watched_seconds: number }>).reduce((a, l) => a + l.watched_seconds, 0);
    expect(Math.abs(watched - st.duration_seconds)).toBeLessThan(0.0005);
  });

  it('paused playback and a client-reported duration bill only what was played', async () => {
    // playing:false credits nothing; duration_seconds smaller than the wall time caps the credit.
    const id = await p.liveSession(5, 2);
    const s = await connect(id);
    await s.next('ready');
    await sleep(300);
    s.send(heartbeat(1, { playing: false }));
    expect((await s.ack(1)).duration_seconds).toBe(0);
    await sleep(600);
    s.send(heartbeat(2, { duration_seconds: 0.2 }));
    expect((await s.ack(2)).duration_seconds).toBe(0.2);
    s.send({ type: 'complete' });
    expect((await s.next('ended')).summary.duration_seconds).toBe(0.2);
  });

  it('position_seconds is optional: a heartbeat without it bills the same; a bad one is still refused', async () => {
    // Proves the documented contract: the position is informational, validated when sent, never needed to bill.
    const id = await p.liveSession(5, 2);
    const s = await connect(id);
    await s.next('ready');
    await sleep(300);
    const { position_seconds: _unused, ...withoutPosition } = heartbeat(1);
    s.send(withoutPosition);
    expect((await s.ack(1)).duration_seconds).toBeGreaterThan(0);
    s.send(heartbeat(2, { position_seconds: -1 }));
    expect(await s.next('error')).toMatchObject({ code: 'invalid_message' });
    s.send({ type: 'complete' });
    expect((await s.next('ended')).reason).toBe('completed');
  });

  it('a dropped socket pauses; a reconnect within grace resumes without billing the gap', async () => {
    const id = await p.liveSession(5, 3);
    let s = await connect(id);
    await s.next('ready');
    await sleep(300);
    s.send(heartbeat(1));
    const before = (await s.ack(1)).duration_seconds;
    s.close();
    await s.closed();
    await sleep(300);
    expect((await status(id)).status).toBe('paused');
    await sleep(500);
    const tResume = Date.now();
    s = await connect(id);
    const ready = await s.next('ready');
    expect(ready.resumed).toBe(true);
    expect(ready.duration_seconds).toBe(before);
    await sleep(300);
    s.send(heartbeat(1));
    const after = (await s.ack(1)).duration_seconds;
    expect(after - before).toBeLessThanOrEqual((Date.now() - tResume) / 1000);
    s.send({ type: 'complete' });
    await s.next('ended');
  });

  it('a reconnect to a session paused past its grace is told ended expired and closed 1000, and the sweeper settles it', async () => {
    const id = await p.liveSession(5, 3);
    const s = await connect(id);
    await s.next('ready');
    s.close();
    await s.closed();
    await sleep(200);
    expect((await status(id)).status).toBe('paused');
    // Paused longer ago than the grace period (1.5 s), while the sweeper's deadline for it has not come yet.
    await p.env.redis.hincrby(p.env.keys.session(id), 'paused_ms', -5_000);
    const late = await connect(id);
    expect(await late.next('ended')).toMatchObject({ reason: 'expired' });
    expect((await late.closed()).code).toBe(1000);
    // The claim changed nothing: still paused, owned by no socket, until the sweeper settles it.
    expect(await p.env.redis.hget(p.env.keys.session(id), 'owner')).toBe('');
    let st;
    for (let i = 0; i < 60; i++) {
      st = await status(id);
      if (st.status === 'completed') break;
      await sleep(100);
    }
    expect(st).toMatchObject({ status: 'completed', end_reason: 'disconnected' });
  });

  it('one socket per session: the newest wins, the older gets ended/replaced and is closed', async () => {
    const id = await p.liveSession(5, 4);
    const first = await connect(id);
    await first.next('ready');
    const second = await connect(id);
    expect((await second.next('ready')).resumed).toBe(true);
    expect((await first.next('ended')).reason).toBe('replaced');
    await first.closed();
    expect((await status(id)).status).toBe('active');
    await sleep(200);
    second.send(heartbeat(1));
    await second.ack(1);
    second.send({ type: 'complete' });
    await second.next('ended');
  });

  it('a socket gone past the grace period is settled as disconnected, refunding the rest', async () => {
    const id = await p.liveSession(4, 5);
    const s = await connect(id);
    await s.next('ready');
    await sleep(300);
    s.send(heartbeat(1));
    const billed = (await s.ack(1)).duration_seconds;
    s.close();
    let st;
    for (let i = 0; i < 60; i++) {
      st = await status(id);
      if (st.status === 'completed') break;
      await sleep(100);
    }
    expect(st).toMatchObject({ status: 'completed', end_reason: 'disconnected', duration_seconds: billed });
    expect(cents(st.cost) + cents(st.remaining)).toBe(400);
  });

  it('funds exhaustion: ended funds_exhausted costing exactly the locked amount', async () => {
    // 0.05 at 5.00/min buys 0.6 s; heartbeats 250 ms apart exhaust it.
    const wallet0 = cents((await p.api('GET', '/api/wallet')).json.wallet_balance);
    const id = await p.liveSession(0.05, 10);
    const s = await connect(id);
    const ready = await s.next('ready');
    expect(ready.max_billable_seconds).toBe(0.6);
    let ended;
    for (let seq = 1; seq <= 10 && !ended; seq++) {
      await sleep(250);
      s.send(heartbeat(seq));
      await sleep(50);
      ended = s.inbox.find((m) => m.type === 'ended');
    }
    ended ??= await s.next('ended');
    expect(ended.reason).toBe('funds_exhausted');
    expect(ended.summary).toMatchObject({ cost: 0.05, refund: 0, duration_seconds: 0.6 });
    expect((await s.closed()).code).toBe(1000);
    expect(cents((await p.api('GET', '/api/wallet')).json.wallet_balance)).toBe(wallet0 - 5);
    const after = await p.api('PATCH', `/api/sessions/${id}/metrics`, { body: { duration_seconds: 1, completion_pct: 1, current_lecture: 1 } });
    expect(after.status).toBe(409);
  });

  it('a session that connects already under the low-funds threshold is warned with ready, once', async () => {
    // 0.10 at 0.10/min is 60 s of viewing, under the 60 s threshold (+ one heartbeat interval) from the start.
    const id = await p.liveSession(0.1, 7);
    const s = await connect(id);
    await s.next('ready');
    const warning = await s.next('warning', 1_000);
    expect(warning).toEqual({ type: 'warning', code: 'low_funds', remaining_seconds: 60 });
    for (let seq = 1; seq <= 2; seq++) {
      await sleep(100);
      s.send(heartbeat(seq));
      await s.ack(seq);
    }
    await sleep(100);
    expect(s.inbox.filter((m) => m.type === 'warning')).toHaveLength(0);
    s.send({ type: 'complete' });
    await s.next('ended');
  });

  it('the low-funds warning comes on the last heartbeat before the threshold is crossed', async () => {
    // 0.11 at 0.10/min is 66 s. The threshold is 60 s; heartbeats are 2 s apart here, so the warning must come with
    // at most 62 s left (the last update before 60 s), never after the funds dropped below 60 s.
    const id = await p.liveSession(0.11, 7);
    const s = await connect(id);
    await s.next('ready');
    await sleep(100);
    expect(s.inbox.filter((m) => m.type === 'warning')).toHaveLength(0);
    await backdateSession(p.env.redis, p.env.keys, id, 4_000);
    s.send(heartbeat(1, { duration_seconds: 4 }));
    const ack = await s.ack(1);
    expect(ack.duration_seconds).toBe(4);
    const warning = await s.next('warning', 1_000);
    expect(warning.remaining_seconds).toBe(62);
    s.send({ type: 'complete' });
    await s.next('ended');
  });

  it('funds that run out between heartbeats end the session at that moment, not on the next heartbeat', async () => {
    // 0.05 at 5.00/min buys 0.6 s. One heartbeat right after ready, then silence: the player plays on, and the
    // gateway must end the session when the 0.6 s are used up, without waiting for another frame.
    const id = await p.liveSession(0.05, 10);
    const s = await connect(id);
    await s.next('ready');
    await s.next('warning', 1_000);
    s.send(heartbeat(1));
    const ack = await s.ack(1);
    expect(ack.duration_seconds).toBeLessThan(0.6);
    const ended = await s.next('ended', 5_000);
    expect(ended).toMatchObject({ reason: 'funds_exhausted', summary: { cost: 0.05, refund: 0, duration_seconds: 0.6 } });
    expect((await s.closed()).code).toBe(1000);
    expect(await status(id)).toMatchObject({ status: 'completed', end_reason: 'funds_exhausted', duration_seconds: 0.6 });
  });

  it('a player that paused is not ended nor billed when its funds would have run out', async () => {
    // playing_now: false says the player stopped at this heartbeat: nothing is billed and nothing ends meanwhile.
    const id = await p.liveSession(0.05, 10);
    const s = await connect(id);
    await s.next('ready');
    s.send(heartbeat(1, { playing_now: false }));
    const ack = await s.ack(1);
    await sleep(1_200);
    expect(s.inbox.filter((m) => m.type === 'ended')).toHaveLength(0);
    expect(await status(id)).toMatchObject({ status: 'active', duration_seconds: ack.duration_seconds });
    s.send({ type: 'complete' });
    expect((await s.next('ended')).summary.duration_seconds).toBe(ack.duration_seconds);
  });

  it('replies go out in frame order: an error for a later frame never overtakes an earlier ack', async () => {
    const id = await p.liveSession(5);
    const s = await connect(id);
    await s.next('ready');
    for (let seq = 1; seq <= 5; seq++) {
      s.send(heartbeat(seq));
      s.ws.send('not json');
    }
    const replies = () => s.inbox.filter((m) => m.type === 'ack' || m.type === 'error');
    for (let i = 0; i < 250 && replies().length < 10; i++) await sleep(20);
    const order = replies().map((m) => (m.type === 'ack' ? `ack${m.seq}` : 'error'));
    expect(order).toEqual(['ack1', 'error', 'ack2', 'error', 'ack3', 'error', 'ack4', 'error', 'ack5', 'error']);
    s.send({ type: 'complete' });
    await s.next('ended');
  });
});
