// The benchmark's `ws`-library variant of the gateway's heartbeat path, run as its own process: the same token
// check before the upgrade, the same attach script, the same zod-validated frames, the same one Lua call per
// heartbeat and the same ack, on Node's http server and the `ws` package instead of uWS. What it leaves out (metrics,
// rate of bad frames, replace signals, backpressure closes) costs the uWS gateway extra, so the comparison favours it.
import http from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { loadConfig } from '../core/config.js';
import { createRedis } from '../core/redis/connect.js';
import { createKeys } from '../core/redis/keys.js';
import { createMeter } from '../core/redis/meter.js';
import { meterLimits } from '../core/meter-limits.js';
import { clientFrame } from '../core/protocol/ws.js';
import { msToSeconds } from '../core/money.js';
import { bearerToken, createTokenVerifier } from '../gateway/auth/verify-token.js';
import { liveFigures } from '../gateway/metering/figures.js';

const config = loadConfig();
const redis = createRedis(config, { purpose: 'ws-variant' });
const meter = createMeter(redis, createKeys(config.redisKeyPrefix), meterLimits(config));
const verifyToken = createTokenVerifier(config);
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: config.payloadBytesMax });
const server = http.createServer((_req, res) => { res.writeHead(404).end(); });

server.on('upgrade', (req, socket, head) => {
  const url = new URL(req.url ?? '/', 'http://x');
  const sessionId = /^\/ws\/sessions\/([0-9a-f-]{36})$/.exec(url.pathname)?.[1];
  const refuse = (status: number) => { socket.end(`HTTP/1.1 ${status} Refused\r\nContent-Length: 0\r\n\r\n`); };
  if (!sessionId) return refuse(404);
  void (async () => {
    const caller = await verifyToken(bearerToken(req.headers.authorization ?? '') ?? url.searchParams.get('token'));
    const live = await meter.readSession(sessionId);
    if (!live) return refuse(409);
    if (live.studentId !== caller.userId) return refuse(403);
    wss.handleUpgrade(req, socket, head, (ws) => onOpen(ws, sessionId));
  })().catch(() => refuse(401));
});

function onOpen(ws: WebSocket, sessionId: string): void {
  const socketId = `${process.pid}-${Math.random().toString(36).slice(2)}`;
  const attached = meter.attachSocket(sessionId, socketId).then((r) => {
    ws.send(JSON.stringify({ type: 'ready', session_id: sessionId, status: 'active', ...liveFigures(r),
      heartbeat_interval_ms: config.heartbeatIntervalMs, max_billable_seconds: msToSeconds(r.maxBillableMs), resumed: r.resumed }));
    return true;
  }, () => false);
  ws.on('message', (raw) => {
    let frame;
    try { frame = clientFrame.safeParse(JSON.parse(String(raw))); } catch { frame = null; }
    if (!frame?.success || frame.data.type !== 'heartbeat') {
      ws.send(JSON.stringify({ type: 'error', code: 'invalid_message', message: 'invalid frame' }));
      return;
    }
    const hb = frame.data;
    void attached.then(async (ok) => {
      if (!ok) return;
      try {
        const r = await meter.applyUpdate(sessionId, { socketId, playing: hb.playing,
          claimedMs: hb.duration_seconds === undefined ? null : Math.round(hb.duration_seconds * 1000), lecture: hb.current_lecture, completionPct: hb.completion_pct });
        ws.send(JSON.stringify({ type: 'ack', seq: hb.seq, ...liveFigures(r, r.exhausted), completion_pct: r.completionPct, current_lecture: r.currentLecture }));
      } catch (err) {
        ws.send(JSON.stringify({ type: 'error', code: (err as Error).message, message: 'refused', seq: hb.seq }));
      }
    });
  });
  ws.on('close', () => { void attached.then((ok) => (ok ? meter.detachSocket(sessionId, socketId) : null)).catch(() => undefined); });
}

server.listen(config.port, config.host, () => {
  const address = server.address();
  process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : config.port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
