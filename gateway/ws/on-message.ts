// One client frame: parse and validate, then a heartbeat (one Redis script call → ack) or `complete`.
// A bad frame gets one error frame and changes nothing; more than badFramesMax in badFramesWindowMs closes 1008.
import { badFramesMax, badFramesWindowMs } from '../../shared/limits.js';
import { invariant } from '../../shared/errors.js';
import { describeIssues } from '../../shared/protocol/common.js';
import { clientFrame, type HeartbeatFrame } from '../../shared/protocol/ws.js';
import { MeterRefusal } from '../../shared/redis/meter.js';
import { liveFigures } from '../metering/figures.js';
import { refusalToApiError } from '../metering/refusals.js';
import { toApiError } from '../http/route.js';
import type { GatewayDeps } from '../deps.js';
import { endOverSocket } from './end-over-socket.js';
import { findSession } from '../store/sessions.js';
import { restoreFromCheckpoint } from '../metering/restore-session.js';
import { finalFigures } from '../metering/settle-and-wait.js';
import type { SocketRegistry } from './socket-registry.js';
import { closeSocket, sendFrame } from './send-frame.js';
import type { MeteringSocket } from './socket-data.js';

function refuseFrame(deps: GatewayDeps, ws: MeteringSocket, code: string, message: string, seq?: number): void {
  const data = ws.getUserData();
  const now = Date.now();
  if (now - data.badFrameWindowStartMs > badFramesWindowMs) {
    data.badFrameWindowStartMs = now;
    data.badFrameCount = 0;
  }
  data.badFrameCount += 1;
  sendFrame(ws, { type: 'error', code, message, ...(seq === undefined ? {} : { seq }) }, deps.metrics);
  if (data.badFrameCount > badFramesMax) {
    data.log.info({ count: data.badFrameCount }, 'closing abusive socket');
    closeSocket(ws, 1008, 'too many bad frames');
  }
}

function summaryOf(row: Parameters<typeof finalFigures>[0]) {
  const f = finalFigures(row);
  return { duration_seconds: f.duration_seconds, cost: f.cost, refund: f.refund, teacher_earning: f.teacher_earning };
}

function parseFrame(raw: ArrayBuffer): { ok: true; value: ReturnType<typeof clientFrame.parse> } | { ok: false; message: string } {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(raw).toString('utf8'));
  } catch {
    return { ok: false, message: 'the frame is not JSON' };
  }
  const r = clientFrame.safeParse(json);
  if (!r.success) {
    const first = describeIssues(r.error)[0];
    return { ok: false, message: first ? `${first.path || 'frame'}: ${first.message}` : 'invalid frame' };
  }
  return { ok: true, value: r.data };
}

async function applyHeartbeat(deps: GatewayDeps, registry: SocketRegistry, ws: MeteringSocket, hb: HeartbeatFrame, retried = false): Promise<void> {
  const data = ws.getUserData();
  const started = performance.now();
  try {
    const r = await deps.meter.applyUpdate(data.sessionId, {
      socketId: data.socketId, playing: hb.playing,
      claimedMs: hb.duration_seconds === undefined ? null : Math.round(hb.duration_seconds * 1000),
      lecture: hb.current_lecture, completionPct: hb.completion_pct,
    });
    invariant(r.billedMs >= data.lastBilledMs, `billed time decreased on ${data.sessionId}: ${data.lastBilledMs} → ${r.billedMs}`);
    data.lastBilledMs = r.billedMs;
    sendFrame(ws, { type: 'ack', seq: hb.seq, ...liveFigures(r, r.exhausted), completion_pct: r.completionPct, current_lecture: r.currentLecture });
    deps.metrics.heartbeats.inc();
    deps.metrics.heartbeatSeconds.observe((performance.now() - started) / 1000);
    if (r.warnLowFunds) {
      sendFrame(ws, { type: 'warning', code: 'low_funds', remaining_seconds: (r.maxBillableMs - r.billedMs) / 1000 });
    }
    if (r.exhausted) await endOverSocket(deps, ws, 'funds_exhausted');
  } catch (err) {
    if (err instanceof MeterRefusal && err.code === 'unknown_session' && !retried) {
      // Redis lost the session under an open socket: rebuild it from the checkpoint, re-attach, apply again.
      const row = await findSession(deps.pool, data.sessionId);
      // Lowered before the rebuild: a heartbeat racing it is applied on the rebuilt (checkpoint) state.
      if (row) data.lastBilledMs = Math.min(data.lastBilledMs, Number(row.duration_ms));
      if (row && (await restoreFromCheckpoint(deps, row, data.socketId))) {
        return applyHeartbeat(deps, registry, ws, hb, true);
      }
      if (row?.status === 'completed') {
        data.ending = true;
        sendFrame(ws, { type: 'ended', reason: row.end_reason ?? 'completed', summary: summaryOf(row) });
        return closeSocket(ws, 1000, 'ended');
      }
    }
    if (err instanceof MeterRefusal && err.code === 'replaced') {
      await registry.replace(deps.redis, data.socketId);
      return;
    }
    if (err instanceof MeterRefusal) {
      const e = refusalToApiError(err);
      return refuseFrame(deps, ws, err.code === 'rate_limited' || err.code === 'unknown_lecture' ? err.code : e.code, e.message, hb.seq);
    }
    const apiErr = toApiError(err, deps, 'ws-heartbeat');
    sendFrame(ws, { type: 'error', code: apiErr.code, message: apiErr.message, seq: hb.seq }, deps.metrics);
  }
}

export function createMessageHandler(deps: GatewayDeps, registry: SocketRegistry) {
  return (ws: MeteringSocket, message: ArrayBuffer): void => {
    const data = ws.getUserData();
    if (data.ending || data.closed) return;
    const frame = parseFrame(message);
    if (!frame.ok) return refuseFrame(deps, ws, 'invalid_message', frame.message);
    if (frame.value.type === 'complete') {
      void data.attached.then((ok) => (ok ? endOverSocket(deps, ws, 'completed') : undefined));
      return;
    }
    const hb = frame.value;
    if (hb.seq <= data.lastSeq) return refuseFrame(deps, ws, 'stale_seq', `seq ${hb.seq} is not above ${data.lastSeq}`, hb.seq);
    data.lastSeq = hb.seq;
    void data.attached.then((ok) => (ok ? applyHeartbeat(deps, registry, ws, hb) : undefined));
  };
}
