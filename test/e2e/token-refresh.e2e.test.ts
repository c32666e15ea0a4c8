// A socket lives only as long as its connection token (docs/websocket-protocol.md "Token refresh"), on the wire: a
// short token is warned about with `token_expiring`, and without a `refresh` the socket is closed 4401 and its session
// pauses into the grace (never settled early); a refresh with a good token keeps it billing past the first expiry; a
// refresh with a bad token, another student's or a teacher's is an `error` frame that changes nothing.
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { tokenExpiryTickMs } from '../../core/limits.js';
import { closeCodeTokenExpired } from '../../core/protocol/ws.js';
import { productPerFile } from '../helpers/product.js';
import { scrape, valueOf } from '../helpers/prometheus-text.js';
import { STUDENT_2, TEACHER } from '../helpers/test-env.js';
import { closeAllSockets, heartbeat, openSocket, type TestSocket } from '../helpers/ws-client.js';

// No clock skew allowance: a token is accepted until its exp exactly, which is when its socket closes.
const p = productPerFile({ JWT_CLOCK_SKEW_SECONDS: '0', HEARTBEAT_INTERVAL_MS: '1000', DISCONNECT_GRACE_MS: '20000' });
afterEach(() => closeAllSockets());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const status = async (id: string) => (await p.api('GET', `/api/sessions/${id}/status`)).json;
const expOf = (token: string): number => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).exp;

/** Heartbeats every 300 ms until stopped; returns the acks' billed seconds as they come. */
function keepPlaying(s: TestSocket): { stop(): void; billed: number[] } {
  const billed: number[] = [];
  let seq = 0;
  const timer = setInterval(() => {
    if (s.ws.readyState !== WebSocket.OPEN) return;
    seq += 1;
    s.send(heartbeat(seq));
  }, 300);
  s.ws.addEventListener('message', (ev) => {
    const f = JSON.parse(String(ev.data));
    if (f.type === 'ack') billed.push(f.duration_seconds);
  });
  return { stop: () => clearInterval(timer), billed };
}

async function openWith(token: string, id: string): Promise<TestSocket> {
  const s = openSocket(`${p.wsUrl}/ws/sessions/${id}?token=${token}`);
  await s.next('ready');
  return s;
}

describe('a socket bounded by its token', () => {
  it('a 3 s token without a refresh: token_expiring, then close 4401 at its exp; the session pauses, not settled', async () => {
    const id = await p.liveSession(5, 1);
    const token = await p.token({}, { expInSeconds: 3 });
    const exp = expOf(token);
    const t0 = Date.now();
    const s = await openWith(token, id);
    const play = keepPlaying(s);
    const expiring = await s.next('token_expiring', 4_000);
    expect(Date.parse(expiring.expires_at)).toBe(exp * 1000);
    expect(Date.now()).toBeLessThan(exp * 1000);
    const closed = await s.closed(4_000);
    play.stop();
    expect(closed).toEqual({ code: closeCodeTokenExpired, reason: 'token expired' });
    expect(Date.now()).toBeGreaterThanOrEqual(exp * 1000);
    expect(play.billed.length).toBeGreaterThan(0);
    // Paused into the grace, never settled early: still paused well after the close, and a fresh token resumes it.
    await sleep(1_500);
    const paused = await status(id);
    expect(paused.status).toBe('paused');
    // Billing stopped with the socket: nothing beyond the time it was open under its token (closed within a tick).
    expect(paused.duration_seconds).toBeLessThanOrEqual((exp * 1000 + tokenExpiryTickMs - t0) / 1000);
    const { rows } = await p.env.pool.query('SELECT status FROM sessions WHERE id = $1', [id]);
    expect(rows[0].status).not.toBe('completed');
    const again = openSocket(`${p.wsUrl}/ws/sessions/${id}?token=${await p.token()}`);
    expect(await again.next('ready')).toMatchObject({ resumed: true });
    again.send({ type: 'complete' });
    expect((await again.next('ended')).reason).toBe('completed');
  });

  it('a refresh keeps the socket billing past the first exp, and the warning comes again for the new token', async () => {
    const id = await p.liveSession(5, 2);
    const first = await p.token({}, { expInSeconds: 3 });
    const s = await openWith(first, id);
    const play = keepPlaying(s);
    await s.next('token_expiring', 4_000);
    const second = await p.token({}, { expInSeconds: 5 });
    s.send({ type: 'refresh', token: second });
    const refreshed = await s.next('refreshed');
    expect(Date.parse(refreshed.expires_at)).toBe(expOf(second) * 1000);
    // Past the first token's expiry the socket is open and its heartbeats are still billed.
    await sleep(expOf(first) * 1000 - Date.now() + 1_500);
    expect(s.ws.readyState).toBe(WebSocket.OPEN);
    const billedAfterFirstExp = play.billed.at(-1)!;
    await sleep(700);
    expect(play.billed.at(-1)!).toBeGreaterThan(billedAfterFirstExp);
    // The second token is warned about in its turn, and closes the socket when it expires unrefreshed.
    expect(Date.parse((await s.next('token_expiring', 5_000)).expires_at)).toBe(expOf(second) * 1000);
    expect((await s.closed(5_000)).code).toBe(closeCodeTokenExpired);
    play.stop();
    expect((await status(id)).status).toBe('paused');
  });

  it('a refresh with a bad, expired, other student\'s or teacher\'s token is an error frame and changes nothing', async () => {
    const id = await p.liveSession(5, 3);
    const token = await p.token({}, { expInSeconds: 4 });
    const s = await openWith(token, id);
    const refused: [string, string, string][] = [
      ['not a JWT', 'not-a-jwt', 'refresh_invalid_token'],
      ['forged', await p.token({}, { secret: 'another-secret-0123456789abcdef' }), 'refresh_invalid_token'],
      ['expired', await p.token({}, { expInSeconds: -30 }), 'refresh_invalid_token'],
      ['another student', await p.token({ sub: STUDENT_2 }), 'refresh_wrong_subject'],
      ['a teacher', await p.token({ sub: TEACHER, role: 'teacher' }), 'refresh_wrong_subject'],
    ];
    let seq = 0;
    for (const [what, bad, code] of refused) {
      s.send({ type: 'refresh', token: bad });
      const err = await s.next('error');
      expect(err.code, what).toBe(code);
      expect(err.seq, what).toBeUndefined();
      // The socket still meters.
      seq += 1;
      s.send(heartbeat(seq));
      await s.ack(seq);
    }
    // Nothing changed: the first token's expiry still closes the socket.
    expect(s.inbox.filter((f) => f.type === 'refreshed')).toEqual([]);
    expect((await s.closed(6_000)).code).toBe(closeCodeTokenExpired);
    expect(Date.now()).toBeGreaterThanOrEqual(expOf(token) * 1000);
  });

  it('a service token may refresh a student\'s socket (the upgrade\'s rule); a shorter token shortens nothing', async () => {
    const id = await p.liveSession(5, 4);
    const s = await openWith(await p.token({}, { expInSeconds: 60 }), id);
    const service = await p.token({ sub: randomUUID(), role: 'service' }, { expInSeconds: 120 });
    s.send({ type: 'refresh', token: service });
    const longer = Date.parse((await s.next('refreshed')).expires_at);
    expect(longer).toBe(expOf(service) * 1000);
    s.send({ type: 'refresh', token: await p.token({}, { expInSeconds: 30 }) });
    expect(Date.parse((await s.next('refreshed')).expires_at)).toBe(longer);
    s.send({ type: 'complete' });
    expect((await s.next('ended')).reason).toBe('completed');
  });

  it('a refresh frame that does not match the protocol is invalid_message', async () => {
    const id = await p.liveSession(5, 5);
    const s = await openWith(await p.token(), id);
    s.send({ type: 'refresh' });
    expect((await s.next('error')).code).toBe('invalid_message');
    s.send({ type: 'refresh', token: 'x', extra: 1 });
    expect((await s.next('error')).code).toBe('invalid_message');
    s.send({ type: 'complete' });
    await s.next('ended');
  });

  it('the gateway counts each moment: warnings sent, refreshes accepted, sockets closed for an expired token', async () => {
    // The tests above (same gateway) warned, refreshed and closed at least once each; refused refreshes are errors.
    const g = await scrape(`${p.baseUrl}/metrics`);
    expect(valueOf(g, 'gateway_socket_tokens_total', { outcome: 'expiring' })).toBeGreaterThanOrEqual(4);
    expect(valueOf(g, 'gateway_socket_tokens_total', { outcome: 'refreshed' })).toBeGreaterThanOrEqual(3);
    expect(valueOf(g, 'gateway_socket_tokens_total', { outcome: 'expired' })).toBeGreaterThanOrEqual(3);
    expect(valueOf(g, 'gateway_ws_error_frames_total', { code: 'refresh_wrong_subject' })).toBeGreaterThanOrEqual(2);
    expect(valueOf(g, 'gateway_ws_error_frames_total', { code: 'refresh_invalid_token' })).toBeGreaterThanOrEqual(3);
  });
});
