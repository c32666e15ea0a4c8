// One simulated player: create + start a session over REST, meter it over a WebSocket (reconnecting after abnormal
// closes, as the SDK does), complete it, and check every frame on the way. Errors are counted, never thrown out.
// Frames, seqs, the reconnect policy and resume come from the protocol core the SDK uses (player/sdk/protocol/);
// the driver keeps only a leaner socket layer (socket-impl.ts, the heartbeat wheel) and its own accounting.
import { completeTimeoutMs, isRefusedForNow, joinRetryPolicyDefault, readyTimeoutMs, retryAfterMsOf, retryDelayMs } from '../../player/sdk/index.js';
import { RestError, type RestClient } from '../../player/sdk/index.js';
import {
  completeText, heartbeatText as frameText, parseServerFrame, ReconnectAttempts, reconnectPolicyDefault, resumeExpected, SentBySeq,
  shouldReconnect, wsUrlFor,
} from '../../player/sdk/protocol/index.js';
import { minorToAmount } from '../../core/money.js';
import type { EndedFrame, ServerFrame } from '../../core/protocol/ws.js';
import type { HeartbeatWheels, WheelEntry } from '../common/heartbeat-wheel.js';
import type { JoinPacer } from '../common/join-pacer.js';
import type { Options } from './options.js';
import type { SocketImpl } from './socket-impl.js';
import type { Stats } from './stats.js';
import { sleepUnlessStopped, type StopSignal } from './stop-signal.js';
import { SessionVerifier, toMinor, type EndReason, type Failure, type SessionTerms, type Summary } from './verify.js';

/** Reconnects one player attempts over its whole run (the gateway restarting under it, chaos tests). */
export const reconnectsMax = 5;
/** REST complete attempts when the answer is 503 settlement_pending, 429 or a network error. */
export const restCompleteAttemptsMax = 5;
/** REST create attempts (same Idempotency-Key) when the answer is a timeout, a network error or a 503. */
export const restCreateAttemptsMax = 3;
/** A lecture is "watched" this long before the simulated player moves on to the next one. */
const lectureSwitchSeconds = 10;

export interface CoursePlan {
  id: string;
  priceMinor: number;
  lectureIds: readonly number[];
  lockMinor: number;
}

/** One funded student of the run, as a viewer process uses it. */
export interface StudentClient {
  id: string;
  token: string;
  rest: RestClient;
}

export interface PlayerContext {
  opts: Options;
  /** This process's gateway URL (its own destination address when addresses are spread). */
  gatewayUrl: string;
  /** Viewer `i` is a session of student `i mod students.length`. */
  students: readonly StudentClient[];
  socketImpl: SocketImpl;
  stats: Stats;
  courses: readonly CoursePlan[];
  runId: string;
  /** Viewers whose socket has had its `ready` and is still open. */
  live: { connected: number };
  /** Runs one REST call when the process has a slot for it (bounded in flight; see viewer-process.ts). */
  restSlot: <T>(call: () => Promise<T>) => Promise<T>;
  /** Stopped at the run's timeout or on SIGINT: stop heartbeating and complete now. */
  stop: StopSignal;
  /** One timer per process sends every viewer's heartbeats (common/heartbeat-wheel.ts). */
  wheels: HeartbeatWheels;
  /** Paces join steps (REST calls, socket opens) to a few per loop turn (common/join-pacer.ts). */
  pacer: JoinPacer;
  /** What the process counts about its viewers: heartbeats sent, joins, and when the first viewer leaves. */
  events: PlayerEvents;
}

/** The process's accounting hooks (viewer-process.ts): counters only, called on the hot path. */
export interface PlayerEvents {
  heartbeat(): void;
  /** A viewer's first `ready`: it has joined. */
  joined(): void;
  /** A viewer that will never join (failed or stopped before its first `ready`). */
  neverJoined(): void;
  /** A viewer starts completing. */
  leaving(): void;
}

export interface PlayerRecord {
  player: number;
  session_id: string | null;
  course_id: string;
  outcome: 'completed' | 'failed' | 'skipped';
  ended_via: 'ws' | 'rest' | null;
  end_reason: EndReason | null;
  billed_ms: number | null;
  cost: number | null;
  wall_ms: number | null;
  acks: number;
  reconnects: number;
  failure: string | null;
}

/** A settled session, kept for the final read-back over REST. */
export interface Settled {
  record: PlayerRecord;
  terms: SessionTerms;
  summary: Summary;
  reason: EndReason;
}

interface Run {
  index: number;
  student: StudentClient;
  sessionId: string;
  course: CoursePlan;
  verifier: SessionVerifier;
  /** performance.now() at the first `ready`: the player's metered time starts there. */
  meterStartMs: number | null;
  completeRequested: boolean;
  /** Sockets whose handshake succeeded: the gateway may have attached them even if no `ready` arrived. */
  handshakes: number;
  acks: number;
  /** The run's reconnect budget: reconnectsMax over the whole run, never made whole again. */
  reconnects: ReconnectAttempts;
}

type SocketOutcome = { kind: 'ended'; frame: EndedFrame } | { kind: 'closed'; code: number; reason: string } | { kind: 'stopped' };

const now = (): number => performance.now();

export async function runPlayer(ctx: PlayerContext, index: number): Promise<{ record: PlayerRecord; settled: Settled | null }> {
  const course = ctx.courses[index % ctx.courses.length]!;
  const student = ctx.students[index % ctx.students.length]!;
  const record: PlayerRecord = {
    player: index, session_id: null, course_id: course.id, outcome: 'skipped', ended_via: null, end_reason: null,
    billed_ms: null, cost: null, wall_ms: null, acks: 0, reconnects: 0, failure: null,
  };
  const rampDelay = ctx.opts.viewers > 1 ? (index * ctx.opts.rampS * 1000) / ctx.opts.viewers : 0;
  if (!(await sleepUnlessStopped(rampDelay, ctx.stop))) {
    ctx.events.neverJoined();
    return { record, settled: null };
  }
  let run: Run | null = null;
  let startSentMs = 0;
  try {
    const joinStartMs = now();
    const created = await createSession(ctx, student, course, index);
    record.session_id = created.session_id;
    const terms = termsOf(ctx, index, created, course);
    run = { index, student, sessionId: created.session_id, course, verifier: new SessionVerifier(terms), meterStartMs: null,
      completeRequested: false, handshakes: 0, acks: 0, reconnects: new ReconnectAttempts({ ...reconnectPolicyDefault, maxAttempts: reconnectsMax }) };
    await ctx.pacer.turn();
    startSentMs = now();
    await untilAdmitted(ctx, 'start', () => timed(ctx, 'start', () => student.rest.startSession(created.session_id)));
    ctx.stats.restLatency('join').record(now() - joinStartMs);
    await ctx.pacer.turn();
    const viaSocket = await meter(ctx, run);
    const settled = await settle(ctx, run, viaSocket, startSentMs, record);
    return { record, settled };
  } catch (err) {
    record.outcome = 'failed';
    record.failure = describe(err);
    ctx.stats.error(index, record.session_id, errorCode(err), record.failure);
    // Never leave funds locked behind a failed player: complete settles any state, and costs 0 if never started.
    if (record.session_id !== null) await completeOverRest(ctx, student, index, record.session_id).catch(() => undefined);
    return { record, settled: null };
  } finally {
    if (run === null || run.meterStartMs === null) ctx.events.neverJoined();
    if (run !== null) {
      record.acks = run.acks;
      record.reconnects = run.reconnects.count;
    }
  }
}

/**
 * Create, repeated with the same Idempotency-Key after a timeout or a 503, as a player would: a create that timed out
 * here may have committed in the gateway, and only its key finds that session again (else its hold stays locked until
 * the abandoned-hold sweep). Each failed attempt is still counted as an error.
 */
async function createSession(ctx: PlayerContext, student: StudentClient, course: CoursePlan, index: number) {
  const body = { course_id: course.id, student_id: student.id, locked_amount: minorToAmount(course.lockMinor) };
  for (let attempt = 1; ; attempt++) {
    try {
      await ctx.pacer.turn();
      return await untilAdmitted(ctx, 'create', () => timed(ctx, 'create', () => student.rest.createSession(body, { idempotencyKey: `${ctx.runId}-${index}` })));
    } catch (err) {
      const inner = err instanceof CallError ? err.inner : err;
      // A refusal for now that outlived untilAdmitted's attempts is not repeated again here.
      const retryable = inner instanceof RestError && (inner.status === 0 || inner.status === 503) && !isRefusedForNow(inner);
      if (!retryable || attempt >= restCreateAttemptsMax || ctx.stop.aborted) throw err;
      ctx.stats.error(index, null, errorCode(err), describe(err));
    }
  }
}

/**
 * Repeats a create or start the gateway refused for now (503 overloaded, 429 too_many_requests: nothing was done) as
 * the SDK does (player/sdk/rest-retry.ts), but here, outside the REST slot, so a player waiting out a Retry-After holds
 * none. Each refusal is counted, not an error; the last one, when the attempts run out, is thrown as one.
 */
async function untilAdmitted<T>(ctx: PlayerContext, op: string, call: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      const inner = err instanceof CallError ? err.inner : err;
      if (!isRefusedForNow(inner) || attempt + 1 >= joinRetryPolicyDefault.attemptsMax || ctx.stop.aborted) throw err;
      ctx.stats.refused(op, inner.code);
      if (!(await sleepUnlessStopped(retryDelayMs(attempt, retryAfterMsOf(inner)), ctx.stop))) throw err;
    }
  }
}

function termsOf(ctx: PlayerContext, index: number, created: { session_id: string; locked_amount: number; price_per_minute: number; max_billable_seconds: number }, course: CoursePlan): SessionTerms {
  const lockedMinor = toMinor(created.locked_amount);
  const priceMinor = toMinor(created.price_per_minute);
  const terms = { lockedMinor: lockedMinor ?? course.lockMinor, priceMinor: priceMinor ?? course.priceMinor, maxBillableMs: Math.round(created.max_billable_seconds * 1000) };
  const failures: Failure[] = [];
  if (lockedMinor !== course.lockMinor) failures.push({ check: 'create_locked_amount', detail: `locked ${created.locked_amount}, asked ${course.lockMinor / 100}` });
  if (priceMinor !== course.priceMinor) failures.push({ check: 'create_price', detail: `price ${created.price_per_minute}, course says ${course.priceMinor / 100}` });
  const expectedMaxMs = Math.floor((terms.lockedMinor * 60_000) / terms.priceMinor);
  // max_billable_seconds may be rounded for display; it must not be off by a whole second.
  if (Math.abs(terms.maxBillableMs - expectedMaxMs) >= 1_000) {
    failures.push({ check: 'create_max_billable', detail: `max_billable_seconds ${created.max_billable_seconds}, expected ${expectedMaxMs / 1000}` });
  }
  ctx.stats.failures(index, created.session_id, failures);
  return { ...terms, maxBillableMs: Math.max(terms.maxBillableMs, expectedMaxMs) };
}

/** Meters over as many sockets as it takes (bounded); returns the `ended` frame when the socket delivered one. */
async function meter(ctx: PlayerContext, run: Run): Promise<EndedFrame | null> {
  for (;;) {
    const outcome = await runSocket(ctx, run, resumeExpected(run.meterStartMs !== null, run.handshakes));
    if (outcome.kind === 'ended') return outcome.frame;
    if (outcome.kind === 'stopped' || run.completeRequested) return null;
    // A close the protocol says to come back from (1012 when a gateway restarts, …) is an event, not an error, as
    // long as the player can come back: the resumed socket is checked like the first one.
    if (!shouldReconnect(outcome.code) || run.reconnects.spent) {
      ctx.stats.error(run.index, run.sessionId, `socket_closed_${outcome.code}`, outcome.reason);
      return null;
    }
    ctx.stats.socketClosed(outcome.code);
    const pastEnd = run.meterStartMs !== null && now() >= run.meterStartMs + ctx.opts.durationS * 1000;
    if (pastEnd || ctx.stop.aborted) return null; // settled over REST instead
    const delayMs = run.reconnects.next() ?? 0;
    ctx.stats.reconnects += 1;
    if (!(await sleepUnlessStopped(delayMs, ctx.stop))) return null;
    await ctx.pacer.turn();
  }
}

/** One socket's life: ready → heartbeats → (at the end of the run) complete → ended. */
function runSocket(ctx: PlayerContext, run: Run, expectResumed: boolean | null): Promise<SocketOutcome> {
  return new Promise<SocketOutcome>((resolve) => {
    const { stats, opts } = ctx;
    const openedAt = now();
    const pending = new SentBySeq();
    let ready = false;
    let done = false;
    let heartbeats: WheelEntry | null = null;
    const timers: ReturnType<typeof setTimeout>[] = [];
    let unsubscribeStop = () => {};

    const finish = (o: SocketOutcome) => {
      if (done) return;
      done = true;
      if (ready) ctx.live.connected -= 1;
      heartbeats?.cancel();
      for (const t of timers) clearTimeout(t);
      unsubscribeStop();
      resolve(o);
    };

    const send = (text: string): boolean => {
      if (sock.readyState !== 1) return false;
      try {
        sock.send(text);
        return true;
      } catch (err) {
        stats.error(run.index, run.sessionId, 'send_failed', describe(err));
        return false;
      }
    };

    const heartbeat = () => {
      const t = now();
      const playedS = (t - (run.meterStartMs ?? t)) / 1000;
      const lectures = run.course.lectureIds;
      const lecture = lectures[Math.floor(playedS / lectureSwitchSeconds) % lectures.length]!;
      const completionPct = Math.round(Math.min(100, (playedS / opts.durationS) * 100) * 100) / 100;
      stats.operations += 1;
      if (!send(heartbeatText(pending.nextSeq, Math.round(playedS * 1000) / 1000, lecture, completionPct, opts.claim))) return;
      stats.heartbeats += 1;
      ctx.events.heartbeat();
      pending.sent(t, lecture, completionPct);
    };

    const beginComplete = () => {
      if (run.completeRequested || done) return;
      run.completeRequested = true;
      ctx.events.leaving();
      heartbeats?.cancel();
      heartbeats = null;
      heartbeat(); // closes the last interval so its playing time is billed
      stats.operations += 1;
      send(completeText);
      timers.push(setTimeout(() => {
        stats.error(run.index, run.sessionId, 'complete_timeout', `no ended frame within ${completeTimeoutMs} ms`);
        sock.close(1000, 'complete timeout');
        finish({ kind: 'closed', code: 1000, reason: 'complete timeout' });
      }, completeTimeoutMs));
    };

    const onFrame = (f: ServerFrame) => {
      const t = now();
      switch (f.type) {
        case 'ready': {
          if (!ready) ctx.live.connected += 1;
          if (run.meterStartMs === null) ctx.events.joined();
          ready = true;
          stats.failures(run.index, run.sessionId, run.verifier.onReady(f, expectResumed, openedAt));
          if (opts.expectedHeartbeatMs !== null && f.heartbeat_interval_ms !== opts.expectedHeartbeatMs) {
            stats.failures(run.index, run.sessionId, [{ check: 'ready_heartbeat_interval', detail: `heartbeat_interval_ms ${f.heartbeat_interval_ms}, --heartbeat-ms ${opts.expectedHeartbeatMs}` }]);
          }
          run.meterStartMs ??= t;
          // The server's interval, not a flag: it bills at most two of its own intervals per update.
          heartbeat(); // the first heartbeat at open, as the SDK does
          heartbeats?.cancel();
          heartbeats = ctx.wheels.every(f.heartbeat_interval_ms, heartbeat);
          timers.push(setTimeout(beginComplete, Math.max(0, run.meterStartMs + opts.durationS * 1000 - t)));
          break;
        }
        case 'ack': {
          const sent = pending.take(f.seq)
            ? { seq: f.seq, sentAtMs: pending.takenAtMs, lecture: pending.takenA, completionPct: pending.takenB }
            : undefined;
          if (sent !== undefined) stats.recordAck(t - sent.sentAtMs);
          stats.acks += 1;
          run.acks += 1;
          stats.failures(run.index, run.sessionId, run.verifier.onAck(f, sent, t));
          break;
        }
        case 'warning':
          stats.warnings += 1;
          break;
        case 'error':
          if (f.seq !== undefined) pending.drop(f.seq);
          if (f.seq !== undefined && f.code === 'unavailable') run.verifier.onUnavailable();
          stats.error(run.index, run.sessionId, `server_${f.code}`, f.message);
          break;
        case 'ended':
          if (!run.completeRequested) stats.error(run.index, run.sessionId, `ended_early_${f.reason}`);
          sock.close(1000, 'ended');
          finish({ kind: 'ended', frame: f });
          break;
      }
    };

    const url = wsUrlFor(ctx.gatewayUrl, run.sessionId);
    stats.operations += 1;
    const sock = ctx.socketImpl.open(url, { authorization: `Bearer ${run.student.token}` }, {
      onOpen: () => { run.handshakes += 1; },
      onMessage: (data) => {
        if (done) return;
        const parsed = parseServerFrame(data);
        if (!parsed.ok) stats.error(run.index, run.sessionId, 'invalid_server_frame', parsed.reason);
        else onFrame(parsed.frame);
      },
      onClose: (code, reason) => finish({ kind: 'closed', code, reason }),
    });

    const onStop = () => {
      if (ready) beginComplete();
      else {
        sock.close(1000, 'stopped');
        finish({ kind: 'stopped' });
      }
    };
    unsubscribeStop = ctx.stop.subscribe(onStop);
    timers.push(setTimeout(() => {
      if (ready) return;
      stats.error(run.index, run.sessionId, 'ready_timeout', `no ready frame within ${readyTimeoutMs} ms`);
      sock.close(1000, 'ready timeout');
      finish({ kind: 'closed', code: 1006, reason: 'ready timeout' });
    }, readyTimeoutMs));
  });
}

/** The settlement: the socket's `ended` summary if it came, else REST complete (which repeats the same figures). */
async function settle(ctx: PlayerContext, run: Run, ended: EndedFrame | null, startSentMs: number, record: PlayerRecord): Promise<Settled> {
  let summary: Summary;
  let reason: EndReason;
  if (ended?.summary !== undefined) {
    summary = ended.summary;
    reason = ended.reason;
    record.ended_via = 'ws';
  } else {
    const r = await completeOverRest(ctx, run.student, run.index, run.sessionId);
    summary = { duration_seconds: r.duration_seconds, cost: r.cost, refund: r.refund, teacher_earning: r.teacher_earning };
    reason = r.end_reason;
    record.ended_via = 'rest';
  }
  const wallMs = now() - startSentMs;
  ctx.stats.failures(run.index, run.sessionId, run.verifier.onSummary(summary, reason, wallMs));
  record.outcome = 'completed';
  record.end_reason = reason;
  record.billed_ms = Math.round(summary.duration_seconds * 1000);
  record.cost = summary.cost;
  record.wall_ms = Math.round(wallMs);
  return { record, terms: run.verifier.terms, summary, reason };
}

async function completeOverRest(ctx: PlayerContext, student: StudentClient, index: number, sessionId: string) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await timed(ctx, 'complete', () => student.rest.completeSession(sessionId, { session_id: sessionId }));
    } catch (err) {
      const inner = err instanceof CallError ? err.inner : err;
      const retryable = inner instanceof RestError && (inner.status === 0 || inner.status === 429 || inner.status === 503);
      if (!retryable || attempt >= restCompleteAttemptsMax) throw err;
      ctx.stats.error(index, sessionId, errorCode(err), describe(err));
      await new Promise((r) => setTimeout(r, 1_000 * attempt));
    }
  }
}

/** A failed REST call, tagged with the operation for the error table (`rest_create_insufficient_funds`). */
class CallError extends Error {
  override readonly name = 'CallError';
  constructor(readonly op: string, readonly inner: unknown) {
    super(`${op}: ${describe(inner)}`);
  }
}

/**
 * Runs one REST call in one of the process's slots, recording its latency under `op`. The clock (and the REST
 * client's timeout) start when the call leaves, not while it waits for a slot: a driver that queues its own ramp
 * must not report the queue as gateway latency or as gateway timeouts. The queue shows as viewers connecting late.
 */
async function timed<T>(ctx: PlayerContext, op: string, fn: () => Promise<T>): Promise<T> {
  ctx.stats.operations += 1;
  return ctx.restSlot(async () => {
    const t = now();
    try {
      const r = await fn();
      ctx.stats.restLatency(op).record(now() - t);
      return r;
    } catch (err) {
      throw new CallError(op, err);
    }
  });
}

function errorCode(err: unknown): string {
  if (err instanceof CallError) return err.inner instanceof RestError ? `rest_${err.op}_${err.inner.code}` : `rest_${err.op}_exception`;
  return 'driver_exception';
}

function describe(err: unknown): string {
  if (err instanceof RestError) return `${err.status} ${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

/**
 * The heartbeat of a load player, encoded by the protocol core. A player that keeps playing: the interval just ended
 * was playing, and it plays on as it sends the frame. With `claim`, it claims its played time as `duration_seconds`.
 * Not checked frame by frame (the core's buildHeartbeat): its numbers are in range by construction, and the gateway
 * refusing one is counted as an error of the run.
 */
export function heartbeatText(seq: number, playedS: number, lecture: number, completionPct: number, claim: boolean): string {
  return frameText(claim
    ? { type: 'heartbeat', seq, position_seconds: playedS, playing: true, playing_now: true, current_lecture: lecture, completion_pct: completionPct, duration_seconds: playedS }
    : { type: 'heartbeat', seq, position_seconds: playedS, playing: true, playing_now: true, current_lecture: lecture, completion_pct: completionPct });
}
