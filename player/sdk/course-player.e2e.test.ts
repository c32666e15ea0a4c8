// The SDK's course player against a real gateway and worker (in-process, real Redis and Postgres): it resumes
// after a gateway restart, its reconnect backoff stays under the cap, it sends nothing once the session ended, and it
// keeps its socket past a short token's expiry through getToken() (or reconnects with a new token when that failed).
import { afterEach, describe, expect, it } from 'vitest';
import { productPerFile } from '../../test/helpers/product.js';
import { courseId } from '../../test/helpers/test-env.js';
import { startTcpProxy, type TcpProxy } from '../../test/helpers/tcp-proxy.js';
import { closeCodeTokenExpired } from '../../core/protocol/ws.js';
import { createCoursePlayer, type CoursePlayer, type CoursePlayerOptions, type CoursePlayerState } from './course-player.js';
import type { PlaybackAdapter, PlaybackListener } from './playback-adapter.js';
import { createRestClient, type Course } from './rest-client.js';

const heartbeatMs = 400;
// A grace longer than the outages below: a paused session waits for its player instead of settling.
const product = productPerFile({ HEARTBEAT_INTERVAL_MS: String(heartbeatMs), DISCONNECT_GRACE_MS: '20000' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A player whose position advances with the wall clock while it plays, and which tells the SDK of each change. */
function fakeVideo() {
  let playing = false;
  let positionAt = 0;
  let since = 0;
  let listener: PlaybackListener | null = null;
  const position = () => positionAt + (playing ? (Date.now() - since) / 1000 : 0);
  const adapter: PlaybackAdapter = {
    read: () => ({ positionSeconds: position(), playing, ended: false }),
    subscribe(l) {
      listener = l;
      return () => { listener = null; };
    },
  };
  return {
    adapter,
    play() { positionAt = position(); since = Date.now(); playing = true; listener?.onChange('play'); },
    pause() { positionAt = position(); playing = false; listener?.onChange('pause'); },
    get subscribed() { return listener !== null; },
  };
}

/** Every socket the SDK opens and every frame it sends on them. */
function recordingSockets() {
  const sockets: WebSocket[] = [];
  const closeCodes: number[] = [];
  const sent: { atMs: number; frame: { type: string; seq?: number; token?: string } }[] = [];
  const factory = (url: string, token: string): WebSocket => {
    const u = new URL(url);
    u.searchParams.set('token', token);
    const ws = new WebSocket(u.toString());
    const send = ws.send.bind(ws);
    ws.send = (data: string) => {
      sent.push({ atMs: Date.now(), frame: JSON.parse(data) });
      send(data);
    };
    ws.addEventListener('close', (ev) => closeCodes.push(ev.code));
    sockets.push(ws);
    return ws;
  };
  return { sockets, sent, closeCodes, factory };
}

async function until(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

let open: CoursePlayer[] = [];
let proxy: TcpProxy | null = null;
afterEach(async () => {
  for (const p of open) p.close();
  open = [];
  await proxy?.close();
  proxy = null;
});

/** Restarts the gateway behind the proxy, as a deploy behind a load balancer does. */
async function restartGateway(downMs: number): Promise<void> {
  await product.restartGateway(downMs);
  proxy!.setBackendPort(product.gateway.port);
}

async function newPlayer(opts: { reconnect?: { baseDelayMs: number; maxDelayMs: number; maxAttempts: number }; getToken?: CoursePlayerOptions['getToken'] } = {}) {
  const token = await product.token();
  const courses = await createRestClient({ baseUrl: product.baseUrl, token }).listCourses();
  const course = courses.find((c) => c.id === courseId(1)) as Course;
  const sessionId = await product.liveSession(5, 1);
  const video = fakeVideo();
  const rec = recordingSockets();
  const states: CoursePlayerState[] = [];
  proxy = await startTcpProxy(product.gateway.port);
  const player = createCoursePlayer({
    baseUrl: `http://127.0.0.1:${proxy.port}`, sessionId, course, playback: video.adapter, webSocketFactory: rec.factory,
    reconnect: opts.reconnect, ...(opts.getToken ? { getToken: opts.getToken } : { token }),
  });
  player.subscribe((s) => states.push(s));
  open.push(player);
  return { player, video, rec, states, sessionId, token };
}

describe('course player against a real gateway', () => {
  it('resumes the same session after a gateway restart, keeps billing, and its figures match the server', async () => {
    const { player, video, rec, sessionId } = await newPlayer();
    const events: string[] = [];
    let acks = 0;
    player.on('connection', (c) => events.push(c));
    player.on('ack', () => { acks += 1; });
    player.on('ended', (f) => events.push(`ended:${f.reason}`));
    const ready = await player.start();
    expect(ready.resumed).toBe(false);
    video.play();
    await until('3 acks', () => player.getState().heartbeatsAcked >= 3);
    const billedBefore = player.getState().billedSeconds;
    expect(billedBefore).toBeGreaterThan(0);

    await restartGateway(300);
    await until('a second socket', () => rec.sockets.length >= 2);
    await until('open again', () => player.getState().connection === 'open');
    expect(player.getState().resumed).toBe(true);
    const acksAtResume = player.getState().heartbeatsAcked;
    await until('acks after the restart', () => player.getState().heartbeatsAcked >= acksAtResume + 3);
    expect(player.getState().billedSeconds).toBeGreaterThan(billedBefore);

    video.pause();
    const ended = await player.complete();
    expect(ended.reason).toBe('completed');
    const row = await product.env.pool.query('SELECT duration_ms, status FROM sessions WHERE id = $1', [sessionId]);
    expect(row.rows[0].status).toBe('completed');
    expect(ended.summary?.duration_seconds).toBe(Number(row.rows[0].duration_ms) / 1000);
    // Per-lecture figures add up to the bill, as on the server (docs/liveness-and-billing.md "Per-lecture progress").
    const lectureSum = Object.values(player.getState().lectureSeconds).reduce((a, b) => a + b, 0);
    expect(lectureSum).toBeCloseTo(player.getState().billedSeconds, 2);
    // The same story as events: open, dropped by the restart, open again, ended once; one ack event per ack.
    expect(events[0]).toBe('connecting');
    expect(events.filter((e) => e === 'open').length).toBeGreaterThanOrEqual(2);
    expect(events).toContain('reconnecting');
    expect(events.filter((e) => e.startsWith('ended:'))).toEqual(['ended:completed']);
    expect(acks).toBe(player.getState().heartbeatsAcked);
  });

  it('waits longer after each failed reconnect, never more than the cap, and resets after it is back', async () => {
    const policy = { baseDelayMs: 100, maxDelayMs: 400, maxAttempts: 50 };
    const { player, video, states } = await newPlayer({ reconnect: policy });
    await player.start();
    video.play();
    await until('an ack', () => player.getState().heartbeatsAcked >= 1);

    await restartGateway(3_000); // down long enough for several failed attempts
    await until('open again', () => player.getState().connection === 'open', 20_000).catch((e) => {
      console.log(states.map((x) => `${x.connection} ${JSON.stringify(x.reconnect)} ${x.lastError?.code}`).filter((v, i, a) => a[i - 1] !== v).join('\n'));
      throw e;
    });
    const scheduled = states.map((s) => s.reconnect).filter((r) => r !== null);
    const delays = [...new Map(scheduled.map((r) => [r!.attempt, r!.delayMs])).values()];
    expect(delays.length).toBeGreaterThanOrEqual(4);
    for (const d of delays) expect(d).toBeLessThanOrEqual(policy.maxDelayMs);
    for (const d of delays) expect(d).toBeGreaterThanOrEqual(policy.baseDelayMs / 2);
    // Equal jitter: attempt k waits at least half of min(cap, base·2^k), so late attempts wait at least cap/2.
    expect(delays.at(-1)!).toBeGreaterThanOrEqual(policy.maxDelayMs / 2);
    const acks = player.getState().heartbeatsAcked;
    await until('an ack after the outage', () => player.getState().heartbeatsAcked > acks);
    expect(player.getState().reconnect).toBeNull();
  });

  it('sends nothing, and opens no socket, once the session has ended', async () => {
    const { player, video, rec } = await newPlayer();
    await player.start();
    video.play();
    await until('2 acks', () => player.getState().heartbeatsAcked >= 2);
    await player.complete();
    expect(player.getState().connection).toBe('ended');
    const sentAtEnd = rec.sent.length;
    expect(rec.sent.at(-1)?.frame.type).toBe('complete');
    expect(video.subscribed).toBe(false); // the player stopped listening to the video

    video.pause();
    video.play();
    await sleep(heartbeatMs * 4);
    expect(rec.sent.length).toBe(sentAtEnd);
    expect(rec.sockets.length).toBe(1);
    // complete() again answers from what it has, without a socket or a frame.
    expect((await player.complete()).reason).toBe('completed');
    expect(rec.sent.length).toBe(sentAtEnd);
  });

  it('keeps its one socket billing past a short token\'s expiry by refreshing it through getToken()', async () => {
    // Tokens of 3 s (accepted 5 s longer: the clock skew allowance): the server warns half-way, the SDK answers.
    const issued: string[] = [];
    const getToken = async () => {
      const t = await product.token({}, { expInSeconds: 3 });
      issued.push(t);
      return t;
    };
    const { player, video, rec } = await newPlayer({ getToken });
    await player.start();
    video.play();
    const firstAcceptedUntilMs = (expOf(issued[0]!) + 5) * 1000;
    await until('two refreshes', () => rec.sent.filter((s) => s.frame.type === 'refresh').length >= 2, 20_000);
    await until('past the first token', () => Date.now() > firstAcceptedUntilMs + 1_000, 20_000);
    const acks = player.getState().heartbeatsAcked;
    const billed = player.getState().billedSeconds;
    await until('acks after the first token expired', () => player.getState().heartbeatsAcked >= acks + 3);
    expect(player.getState().billedSeconds).toBeGreaterThan(billed);
    expect(rec.sockets).toHaveLength(1);
    expect(rec.closeCodes).toEqual([]);
    expect(player.getState().connection).toBe('open');
    // Each refresh carried a token getToken() had just given (the first one opened the socket).
    const refreshed = rec.sent.filter((s) => s.frame.type === 'refresh').map((s) => s.frame.token);
    for (const t of refreshed) expect(issued.slice(1)).toContain(t);
    video.pause();
    expect((await player.complete()).reason).toBe('completed');
  }, 40_000);

  it('when getToken() fails at the warning, the socket closes 4401 and the player reconnects with a new token', async () => {
    let calls = 0;
    const getToken = async () => {
      calls += 1;
      if (calls === 2) throw new Error('the sign-in service is down');
      return product.token({}, { expInSeconds: 3 });
    };
    const { player, video, rec, sessionId } = await newPlayer({ getToken });
    await player.start();
    video.play();
    await until('the socket closed for its expired token', () => rec.closeCodes.length >= 1, 20_000);
    expect(rec.closeCodes[0]).toBe(closeCodeTokenExpired);
    expect(player.getState().lastError?.code).toBe('token_refresh_failed');
    await until('a second socket, open', () => rec.sockets.length === 2 && player.getState().connection === 'open', 10_000);
    expect(calls).toBe(3);
    expect(player.getState().resumed).toBe(true);
    const acks = player.getState().heartbeatsAcked;
    await until('acks on the new socket', () => player.getState().heartbeatsAcked >= acks + 2);
    // Meanwhile the session was paused, never settled.
    const { rows } = await product.env.pool.query('SELECT status FROM sessions WHERE id = $1', [sessionId]);
    expect(rows[0].status).toBe('active');
    video.pause();
    expect((await player.complete()).reason).toBe('completed');
  }, 40_000);
});

function expOf(token: string): number {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).exp;
}
