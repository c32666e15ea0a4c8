// Connection liveness is ping/pong, not billing heartbeats: the gateway pings a silent socket, a client that answers
// (as browsers do, even in a throttled hidden tab) stays open past the idle timeout, and a peer that never answers is
// still closed at the idle timeout.
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import WebSocket from 'ws';
import { describe, expect, it } from 'vitest';
import { productPerFile, type Product } from '../helpers/product.js';
import { heartbeat } from '../helpers/ws-client.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const opPing = 0x9;
const opText = 0x1;

interface RawPeer {
  /** Opcodes of the frames received, with ms since the upgrade answered 101. */
  frames: Array<{ op: number; atMs: number; text?: string }>;
  /** Resolves with ms since the 101 when the gateway closes the connection. */
  closed: Promise<number>;
}

/** Completes a WebSocket upgrade over bare TCP, then only reads: it never sends a byte again, pongs included. */
function rawPeer(baseUrl: string, path: string): Promise<RawPeer> {
  const u = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(u.port), u.hostname);
    let buf = Buffer.alloc(0);
    let upgradedAt = 0;
    const frames: RawPeer['frames'] = [];
    const closed = new Promise<number>((r) => socket.on('close', () => r(Date.now() - upgradedAt)));
    socket.on('error', () => { /* the close event reports the end either way */ });
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (upgradedAt === 0) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString();
        if (!head.startsWith('HTTP/1.1 101')) { reject(new Error(`upgrade refused: ${head}`)); socket.destroy(); return; }
        upgradedAt = Date.now();
        buf = buf.subarray(end + 4);
        resolve({ frames, closed });
      }
      // Server frames are unmasked: opcode, 7-bit length (126: 16-bit follows; the gateway sends nothing longer).
      while (buf.length >= 2) {
        const op = buf[0]! & 0x0f;
        let len = buf[1]! & 0x7f;
        let at = 2;
        if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); at = 4; }
        if (buf.length < at + len) return;
        const payload = buf.subarray(at, at + len);
        frames.push({ op, atMs: Date.now() - upgradedAt, ...(op === opText ? { text: payload.toString() } : {}) });
        buf = buf.subarray(at + len);
      }
    });
    socket.write([
      `GET ${path} HTTP/1.1`, `Host: ${u.host}`, 'Connection: Upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Version: 13',
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`, '', '',
    ].join('\r\n'));
  });
}

/** A `ws` client: it answers pings in its protocol layer, as browsers do in their network stack. */
async function pingingClient(p: Product, sessionId: string) {
  const ws = new WebSocket(`${p.wsUrl}/ws/sessions/${sessionId}?token=${await p.token()}`);
  const inbox: any[] = [];
  const pingsAtMs: number[] = [];
  const state = { closedWith: null as number | null };
  ws.on('message', (data) => inbox.push(JSON.parse(String(data))));
  ws.on('ping', () => pingsAtMs.push(Date.now()));
  ws.on('close', (code) => { state.closedWith = code; });
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  const openedAt = Date.now();
  const waitFor = async (pred: (m: any) => boolean, ms = 5000) => {
    const until = Date.now() + ms;
    while (!inbox.some(pred) && Date.now() < until) await sleep(10);
    return inbox.find(pred);
  };
  const closed = async (ms = 5000) => {
    const until = Date.now() + ms;
    while (state.closedWith === null && Date.now() < until) await sleep(10);
    return state.closedWith;
  };
  expect(await waitFor((m) => m.type === 'ready')).toMatchObject({ session_id: sessionId });
  return { ws, inbox, pingsAtMs, openedAt, state, waitFor, closed };
}

describe('socket liveness (server pings)', { concurrent: true }, () => {
  // HEARTBEAT_INTERVAL_MS 2000 gives the shortest idle timeout (socketIdleMs 12000, limits.ts socketIdleMsMin); a long
  // grace keeps the sweep (due at seen_ms + idle + grace without heartbeats) out of these tests: it is the last
  // describe's subject.
  const p = productPerFile({ HEARTBEAT_INTERVAL_MS: '2000', DISCONNECT_GRACE_MS: '60000' });

  it('a socket that heartbeats at the interval is never pinged', async () => {
    // With an idle timeout of two uWS ticks (8 s) every socket was pinged on every 4 s tick, heartbeats or not: all of
    // a gateway's sockets at once, a stall of tens of milliseconds per tick under load.
    const { socketIdleMs, heartbeatIntervalMs } = p.env.config;
    const id = await p.liveSession(5, 4);
    const c = await pingingClient(p, id);
    let seq = 0;
    // Past one whole idle timeout: every tick in it had its chance to ping.
    while (Date.now() - c.openedAt < socketIdleMs + 2_000) {
      c.ws.send(JSON.stringify(heartbeat(++seq)));
      await sleep(heartbeatIntervalMs);
    }
    expect(c.pingsAtMs, 'pings sent to a socket that heartbeats').toEqual([]);
    expect(await c.waitFor((m) => m.type === 'ack' && m.seq === seq), JSON.stringify(c.inbox)).toBeDefined();
    c.ws.send(JSON.stringify({ type: 'complete' }));
    expect(await c.closed()).toBe(1000);
  }, 30_000);

  it('a client that answers pings but sends no frame stays open past 1.5 × the idle timeout', async () => {
    const idleMs = p.env.config.socketIdleMs;
    expect(idleMs).toBe(12_000);
    const id = await p.liveSession(5, 1);
    const c = await pingingClient(p, id);

    await sleep(1.5 * idleMs + 500);
    expect(c.state.closedWith, 'the gateway closed a socket whose client answers pings').toBeNull();
    expect(c.ws.readyState).toBe(WebSocket.OPEN);
    expect(c.pingsAtMs.length).toBeGreaterThanOrEqual(2);
    expect(c.pingsAtMs[0]! - c.openedAt).toBeLessThan(idleMs);

    // The session is still live on this socket: a heartbeat is acked and complete settles it.
    c.ws.send(JSON.stringify(heartbeat(1)));
    expect(await c.waitFor((m) => m.type === 'ack'), JSON.stringify(c.inbox)).toMatchObject({ seq: 1 });
    c.ws.send(JSON.stringify({ type: 'complete' }));
    expect(await c.closed()).toBe(1000);
    expect(c.inbox.find((m) => m.type === 'ended')).toMatchObject({ reason: 'completed' });
  }, 30_000);

  it('a peer that never answers pings is pinged, then closed at the idle timeout, and its session pauses', async () => {
    const idleMs = p.env.config.socketIdleMs;
    const id = await p.liveSession(5, 2);
    const peer = await rawPeer(p.baseUrl, `/ws/sessions/${id}?token=${await p.token()}`);
    const closedAfterMs = await Promise.race([peer.closed, sleep(idleMs + 4000).then(() => -1)]);
    // uWS times out in 4 s ticks: the ping goes on the first tick past idle − margin, the close one margin later.
    expect(closedAfterMs, 'still open well past the idle timeout').toBeGreaterThan(0);
    expect(closedAfterMs).toBeGreaterThanOrEqual(idleMs / 2 - 500);
    expect(closedAfterMs).toBeLessThanOrEqual(idleMs + 1500);
    expect(JSON.parse(peer.frames.find((f) => f.op === opText)!.text!)).toMatchObject({ type: 'ready', session_id: id });
    const ping = peer.frames.find((f) => f.op === opPing);
    expect(ping, 'no ping before the close').toBeDefined();
    expect(ping!.atMs).toBeLessThan(closedAfterMs);

    // The close handler paused the session; complete over REST settles it.
    const until = Date.now() + 3000;
    while ((await p.deps.meter.readSession(id))?.status !== 'paused' && Date.now() < until) await sleep(50);
    expect((await p.deps.meter.readSession(id))?.status).toBe('paused');
    expect((await p.api('POST', `/api/sessions/${id}/complete`, { body: {} })).status).toBe(200);
  }, 30_000);
});

describe('billing liveness stays with heartbeats', () => {
  const p = productPerFile({ HEARTBEAT_INTERVAL_MS: '2000', DISCONNECT_GRACE_MS: '1000' });

  it('a socket kept open by pongs but sending no heartbeat is settled `disconnected` at seen_ms + idle + grace', async () => {
    // Pongs keep the connection, not the session: the sweep reads seen_ms, which only heartbeats refresh. The player
    // learns it on its next heartbeat (ended disconnected, close 1000).
    const { socketIdleMs, disconnectGraceMs } = p.env.config;
    const id = await p.liveSession(5, 3);
    const c = await pingingClient(p, id);
    const until = c.openedAt + socketIdleMs + disconnectGraceMs + 5000;
    const settled = async () => (await p.env.pool.query('SELECT status, end_reason FROM sessions WHERE id = $1', [id])).rows[0];
    while ((await settled()).status !== 'completed' && Date.now() < until) await sleep(100);
    const settledAfterMs = Date.now() - c.openedAt;
    expect(await settled()).toEqual({ status: 'completed', end_reason: 'disconnected' });
    expect(settledAfterMs).toBeGreaterThanOrEqual(socketIdleMs + disconnectGraceMs - 500);
    expect(c.ws.readyState, 'the connection itself is alive').toBe(WebSocket.OPEN);
    expect(c.pingsAtMs.length).toBeGreaterThanOrEqual(1);

    c.ws.send(JSON.stringify(heartbeat(1)));
    expect(await c.waitFor((m) => m.type === 'ended')).toMatchObject({ reason: 'disconnected' });
    expect(await c.closed()).toBe(1000);
  }, 30_000);
});
