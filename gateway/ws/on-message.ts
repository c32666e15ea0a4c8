// One client frame: parse and validate, then a heartbeat (one Redis script call → ack) or `complete`.
// A bad frame gets one error frame and changes nothing; more than badFramesMax in badFramesWindowMs closes 1008.
import { badFramesMax, badFramesWindowMs } from '../../core/limits.js';
import { describeIssues } from '../../core/protocol/common.js';
import { clientFrame, type HeartbeatFrame } from '../../core/protocol/ws.js';
import { MeterRefusal, type UpdateResult } from '../../core/redis/meter.js';
import type { ExhaustionDeadlines } from '../metering/exhaustion-deadlines.js';
import { inFrameOrder } from './in-frame-order.js';
import { batchedUpdates, type ApplyUpdate } from '../metering/batched-updates.js';
import { liveFigures, lowFundsWarning } from '../metering/figures.js';
import { refusalToApiError } from '../metering/refusals.js';
import { toApiError } from '../api-error.js';
import { createStageSampler, type StageSampler, type StageTrace } from '../metering/heartbeat-stages.js';
import type { GatewayDeps } from '../deps.js';
import { endOverSocket } from './end-over-socket.js';
import { findSession } from '../store/sessions.js';
import { restoreFromCheckpoint } from '../metering/restore-session.js';
import { finalFigures } from '../metering/settle-and-wait.js';
import type { SocketRegistry } from './socket-registry.js';
import { closePolicyViolation, closeSocket, sendFrame } from './send-frame.js';
import type { MeteringSocket, SocketData } from './socket-data.js';
import { applyRefresh, type TokenExpiry } from './token-refresh.js';

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
    closeSocket(ws, closePolicyViolation, 'too many bad frames');
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

export type Exhaustion = ExhaustionDeadlines<MeteringSocket>;

/** What the frame handlers share, built once per gateway by createMessageHandler. */
export interface FrameContext {
  deps: GatewayDeps;
  registry: SocketRegistry;
  exhaustion: Exhaustion;
  /** Every socket's token expiry (token-refresh.ts): a `refresh` moves it. */
  tokens: TokenExpiry;
  /** meter.applyUpdate, batched per turn of the event loop (batched-updates.ts). */
  applyUpdate: ApplyUpdate;
  /** Times the stages of one heartbeat in heartbeatStageSampleEvery (heartbeat-stages.ts). */
  stages: StageSampler;
}

export function createFrameContext(deps: GatewayDeps, registry: SocketRegistry, exhaustion: Exhaustion, tokens: TokenExpiry): FrameContext {
  return { deps, registry, exhaustion, tokens, applyUpdate: batchedUpdates(deps.meter), stages: createStageSampler(deps.metrics) };
}

/**
 * After an update: while the player plays on and its funds end before its next heartbeat could bill them, hold the
 * moment they end (the gateway ends the session then); otherwise nothing is held.
 */
function holdExhaustionDeadline(deps: GatewayDeps, exhaustion: Exhaustion, ws: MeteringSocket, r: UpdateResult, playingNow: boolean): void {
  const remainingMs = r.maxBillableMs - r.billedMs;
  if (playingNow && remainingMs <= deps.config.creditMsMax) exhaustion.schedule(ws, Date.now() + remainingMs);
  else exhaustion.cancel(ws);
}

/** `receivedAt` is performance.now() when the frame arrived: the ack time includes waiting behind earlier frames. */
async function applyHeartbeat(ctx: FrameContext, ws: MeteringSocket, hb: HeartbeatFrame, receivedAt: number, trace: StageTrace | null, retried = false): Promise<void> {
  const { deps, registry, exhaustion } = ctx;
  const data = ws.getUserData();
  try {
    const r = await ctx.applyUpdate(data.sessionId, {
      socketId: data.socketId, playing: hb.playing,
      claimedMs: hb.duration_seconds === undefined ? null : Math.round(hb.duration_seconds * 1000),
      lecture: hb.current_lecture, completionPct: hb.completion_pct,
    }, trace);
    noteBilled(deps, data, r);
    sendFrame(ws, { type: 'ack', seq: hb.seq, ...liveFigures(r, r.exhausted), completion_pct: r.completionPct, current_lecture: r.currentLecture });
    if (trace) {
      trace.ack_written = performance.now();
      ctx.stages.observe(trace);
    }
    deps.metrics.heartbeats.acked.inc();
    deps.metrics.heartbeatAckSeconds.observe((performance.now() - receivedAt) / 1000);
    if (r.warnLowFunds && !data.lowFundsWarned) {
      data.lowFundsWarned = true;
      sendFrame(ws, lowFundsWarning(r));
    }
    if (r.exhausted) {
      exhaustion.cancel(ws);
      await endOverSocket(deps, ws, 'funds_exhausted');
    } else {
      holdExhaustionDeadline(deps, exhaustion, ws, r, hb.playing_now ?? hb.playing);
    }
  } catch (err) {
    if (err instanceof MeterRefusal && err.code === 'unknown_session' && !retried) {
      // Redis lost the session under an open socket: rebuild it from the checkpoint, re-attach, apply again.
      const row = await findSession(deps.pool, data.sessionId);
      // Lowered before the rebuild: a heartbeat racing it is applied on the rebuilt (checkpoint) state.
      if (row) data.lastBilledMs = Math.min(data.lastBilledMs, Number(row.duration_ms));
      if (row && (await restoreFromCheckpoint(deps, row, data.socketId))) {
        return applyHeartbeat(ctx, ws, hb, receivedAt, null, true);
      }
      if (row?.status === 'completed') {
        deps.metrics.heartbeats.refused.inc();
        data.ending = true;
        sendFrame(ws, { type: 'ended', reason: row.end_reason ?? 'completed', summary: summaryOf(row) });
        return closeSocket(ws, 1000, 'ended');
      }
    }
    if (err instanceof MeterRefusal && err.code === 'replaced') {
      deps.metrics.heartbeats.refused.inc();
      await registry.replace(deps.redis, data.socketId);
      return;
    }
    if (err instanceof MeterRefusal) {
      deps.metrics.heartbeats[err.code === 'rate_limited' ? 'rate_limited' : 'refused'].inc();
      const e = refusalToApiError(err);
      return refuseFrame(deps, ws, err.code === 'rate_limited' || err.code === 'unknown_lecture' ? err.code : e.code, e.message, hb.seq);
    }
    const apiErr = toApiError(err, deps, 'ws-heartbeat');
    deps.metrics.heartbeats[apiErr.code === 'unavailable' ? 'unavailable' : 'error'].inc();
    sendFrame(ws, { type: 'error', code: apiErr.code, message: apiErr.message, seq: hb.seq }, deps.metrics);
  }
}

/**
 * The scripts never lower billed time; Redis can, by losing acknowledged writes: a failover to a replica that had not
 * received them yet (README "Redis: hangs and failovers"). That is an operating event, counted and logged, not a bug
 * to exit on: the session goes on from what Redis has, which bills less, never more.
 */
function noteBilled(deps: FrameContext['deps'], data: SocketData, r: UpdateResult): void {
  if (r.billedMs < data.lastBilledMs) {
    deps.metrics.billedTimeWentBack.inc();
    data.log.warn({ ackedMs: data.lastBilledMs, nowMs: r.billedMs }, 'billed time went back: Redis lost acknowledged writes (a failover?)');
  }
  data.lastBilledMs = r.billedMs;
  data.lastLecture = r.currentLecture;
  data.lastPct = r.completionPct;
}

/**
 * The funds of a playing session ran out between heartbeats: bill the time since the last update (the same clamp as
 * a heartbeat without a claim) and, once billed time reaches the maximum, end it as funds_exhausted now.
 */
export async function endAtExhaustion(ctx: FrameContext, ws: MeteringSocket): Promise<void> {
  const { deps, registry, exhaustion } = ctx;
  const data = ws.getUserData();
  if (data.ending || data.closed || data.lastLecture === null) return;
  try {
    const r = await ctx.applyUpdate(data.sessionId, {
      socketId: data.socketId, playing: true, claimedMs: null, lecture: data.lastLecture, completionPct: data.lastPct,
    });
    noteBilled(deps, data, r);
    if (r.exhausted) await endOverSocket(deps, ws, 'funds_exhausted');
    // Redis's clock ran behind ours: what is left is a few ms, due again shortly.
    else exhaustion.schedule(ws, Date.now() + (r.maxBillableMs - r.billedMs));
  } catch (err) {
    if (err instanceof MeterRefusal && err.code === 'replaced') return void (await registry.replace(deps.redis, data.socketId));
    if (err instanceof MeterRefusal && err.code === 'rate_limited') return exhaustion.schedule(ws, Date.now() + 1_000);
    // Anything else (the session ended meanwhile, Redis unavailable): the next heartbeat, or the sweeper, decides.
    deps.metrics.countServiceError(err);
    data.log.info({ err: (err as Error).message }, 'update at the funds-exhaustion deadline refused');
  }
}

export function createMessageHandler(ctx: FrameContext) {
  const { deps, exhaustion } = ctx;
  return (ws: MeteringSocket, message: ArrayBuffer): void => {
    const data = ws.getUserData();
    if (data.ending || data.closed) return;
    // Parsed now: uWS reuses the message buffer once this handler returns. Answered in frame order (in-frame-order.ts).
    const receivedAt = performance.now();
    const frame = parseFrame(message);
    if (!frame.ok) {
      deps.metrics.heartbeats.invalid.inc();
      return inFrameOrder(ws, () => refuseFrame(deps, ws, 'invalid_message', frame.message));
    }
    if (frame.value.type === 'complete') {
      return inFrameOrder(ws, async () => {
        exhaustion.cancel(ws);
        if (await data.attached) await endOverSocket(deps, ws, 'completed');
      });
    }
    if (frame.value.type === 'refresh') {
      const refresh = frame.value;
      return inFrameOrder(ws, async () => {
        // A refused token counts as a bad frame: a flood of them (each a signature check) closes the socket 1008.
        const refused = await applyRefresh(deps, ctx.tokens, ws, refresh);
        if (refused) refuseFrame(deps, ws, refused.code, refused.message);
      });
    }
    const hb = frame.value;
    if (hb.seq <= data.lastSeq) {
      deps.metrics.heartbeats.invalid.inc();
      const last = data.lastSeq;
      return inFrameOrder(ws, () => refuseFrame(deps, ws, 'stale_seq', `seq ${hb.seq} is not above ${last}`, hb.seq));
    }
    data.lastSeq = hb.seq;
    const trace = ctx.stages.sample(receivedAt);
    inFrameOrder(ws, async () => {
      if (data.ending || data.closed) return;
      if (data.attachedOk ?? (await data.attached)) await applyHeartbeat(ctx, ws, hb, receivedAt, trace);
    });
  };
}
