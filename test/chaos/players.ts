// One simulated player of the chaos suite: creates and starts its session over REST (retrying 503s and network
// errors, with an Idempotency-Key so a retried create never locks twice), meters it over a WebSocket to a random
// live gateway (heartbeats every HEARTBEAT_INTERVAL_MS, playing on and off at random, reconnecting to any gateway
// with backoff), and completes it (over the socket, else over REST with retries).
//
// It also keeps its TRUE playing time on its own clock, for the billing check:
//   trueMs       the brief's definition: the sum of the playing intervals closed by an acknowledged heartbeat, each
//                from the previous heartbeat (or `ready`) on the same socket to its send, capped at 2 heartbeat
//                intervals (the max credit of docs/liveness-and-billing.md: a longer gap is the player's own stall and
//                is never billed).
//   trueUpperMs  the most the server may legitimately bill. The server clamp measures each interval on the server, from
//                the moment it APPLIED the previous update to the moment it applies this one (Redis TIME in the
//                script), so an interval can be longer than the player's by the processing delay at either end.
//                Each acknowledged playing heartbeat counts from the earliest moment the server's interval could
//                have started (the send of the last acknowledged heartbeat, or the socket request: the server
//                attaches a socket after it was asked for and before `ready` arrives) to the latest moment it could
//                have been applied (the ack's arrival). A heartbeat answered with an error was not applied, so the
//                next one may cover both intervals; one in flight when its socket died may have been applied though
//                its ack never came (it counts up to the close). Capped the same way.
// A player only changes between playing and paused at a heartbeat, as the SDK does, so each interval is wholly one.
// Frames, seqs and backoff come from the protocol core the SDK uses (player/sdk/protocol/); only the socket (`ws`)
// and the truth bookkeeping are the chaos player's own.
// Some players abandon their session instead of completing it (the tab is closed): they close the socket and wait,
// reading the status over REST, until the worker's sweeper has settled it `disconnected` after the grace period.
import WebSocket from 'ws';
import { createRestClient, RestError, type RestClient } from '../../player/sdk/index.js';
import {
  backoffDelayMs, buildHeartbeat, completeText, heartbeatText, parseServerFrame, ReconnectAttempts, SentBySeq, wsUrlFor, type ReconnectPolicy,
} from '../../player/sdk/protocol/index.js';
import { amountToMinor, minorToAmount } from '../../core/money.js';
import type { CompleteResponse } from '../../core/protocol/rest.js';
import type { EndedFrame, ServerFrame } from '../../core/protocol/ws.js';
import { createRandom, type Random } from './random.js';

/** A socket that has not said `ready` this long after it was opened is dropped and retried. */
export const readyTimeoutMs = 5_000;
/** After `complete` over the socket, how long to wait for `ended` before settling over REST. */
export const completeOverSocketWaitMs = 20_000;
/**
 * Longest an abandoning player waits for the product to settle its session: a pause is settled after
 * DISCONNECT_GRACE_MS (a dead gateway's socket after the idle timeout too), at the sweeper's next pass.
 */
export const sweeperWaitMs = 60_000;
/** Longest a REST call is retried (create, start, complete), ms of the run clock. */
export const restRetryWindowMs = 90_000;
/** One REST answer: `complete` may wait 15 s for the commit, so above that. */
export const restTimeoutMs = 20_000;
/** Reconnect and REST back-off: exponential from the base, capped (below DISCONNECT_GRACE_MS), with equal jitter. */
export const reconnectDelayMsBase = 100;
export const reconnectDelayMsMax = 1_000;
export const restDelayMsMax = 2_000;
/** Probability that a player toggles playing/paused at a heartbeat, and of playing at a socket's `ready`. */
export const toggleProbability = 0.15;
export const playingAtReadyProbability = 0.75;

export interface CourseInfo {
  id: string;
  priceMinor: number;
  lectureIds: readonly number[];
}

export interface PlayerPlan {
  index: number;
  studentId: string;
  token: string;
  course: CourseInfo;
  lockMinor: number;
  /** Run clock time at which the player begins. */
  startAtMs: number;
  /** How long it plays once its session is started. */
  playMs: number;
  lowFunds: boolean;
  /** At the end of its play it closes the socket without completing and waits for the sweeper to settle. */
  abandon: boolean;
  seed: number;
}

export interface PlayerEnv {
  heartbeatMs: number;
  creditMsMax: number;
  runId: string;
  clock(): number;
  /** Base URL of a random live gateway (any gateway when none is known to be live). */
  pickGateway(r: Random): string;
  /** Aborted when the run must end at once (its hard time limit): players stop where they are. */
  stop: AbortSignal;
}

type Counts = Record<string, number>;

export interface PlayerResult {
  index: number;
  studentId: string;
  courseId: string;
  lowFunds: boolean;
  abandon: boolean;
  sessionId: string | null;
  lockedMinor: number | null;
  priceMinor: number | null;
  maxBillableMs: number | null;
  createdAtMs: number | null;
  startedAtMs: number | null;
  doneAtMs: number | null;
  trueMs: number;
  trueUpperMs: number;
  sockets: number;
  readies: number;
  reconnects: number;
  acks: number;
  ackTimeouts: number;
  /** When each ack arrived (run clock, ms): how long a fault kept this player from being acknowledged. */
  ackAtMs: number[];
  /** Slowest heartbeat → ack round trip seen, ms. */
  ackLatencyMsMax: number;
  heartbeatErrors: Counts;
  closeCodes: Counts;
  upgradeRefusals: Counts;
  restErrors: Counts;
  /** sweeper: an abandoned session, settled by the worker and read back over REST status. */
  endedVia: 'ws' | 'rest' | 'sweeper' | null;
  endReason: string | null;
  /** An abandoned session the product had not settled sweeperWaitMs after the player left (then completed over REST). */
  abandonedUnsettled: boolean;
  /** The figures the product answered with (`ended` summary or REST complete): checked against Postgres. */
  reportedBilledMs: number | null;
  reportedCostMinor: number | null;
  failure: string | null;
  /** The last traceEventsMax events (run clock, seconds): sockets, frames other than acks, acks as `ack seq=billed`. */
  trace: string[];
}

export const traceEventsMax = 200;

function note(env: PlayerEnv, res: PlayerResult, event: string): void {
  res.trace.push(`${(env.clock() / 1000).toFixed(3)} ${event}`);
  if (res.trace.length > traceEventsMax) res.trace.splice(0, res.trace.length - traceEventsMax);
}

type SocketEnd =
  | { kind: 'ended'; frame: EndedFrame; acked: boolean }
  | { kind: 'refused'; status: number; acked: false }
  /** finishing: the player itself ended this socket at the end of its play (complete sent, or abandoned). */
  | { kind: 'closed'; code: number; finishing: boolean; acked: boolean };

const count = (c: Counts, key: string) => { c[key] = (c[key] ?? 0) + 1; };

/** The SDK's backoff, faster: a chaos player comes back until its play time is over (no attempt limit). */
const reconnectPolicy: ReconnectPolicy = { baseDelayMs: reconnectDelayMsBase, maxDelayMs: reconnectDelayMsMax, maxAttempts: Number.POSITIVE_INFINITY };
const restRetryPolicy: ReconnectPolicy = { ...reconnectPolicy, maxDelayMs: restDelayMsMax };

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted || ms <= 0) return resolve();
    const timer = setTimeout(done, ms);
    function done() { clearTimeout(timer); signal.removeEventListener('abort', done); resolve(); }
    signal.addEventListener('abort', done, { once: true });
  });
}

function describe(err: unknown): string {
  if (err instanceof RestError) return `${err.status} ${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

function newResult(plan: PlayerPlan): PlayerResult {
  return {
    index: plan.index, studentId: plan.studentId, courseId: plan.course.id, lowFunds: plan.lowFunds, abandon: plan.abandon, sessionId: null,
    lockedMinor: null, priceMinor: null, maxBillableMs: null, createdAtMs: null, startedAtMs: null, doneAtMs: null,
    trueMs: 0, trueUpperMs: 0, sockets: 0, readies: 0, reconnects: 0, acks: 0, ackAtMs: [], ackTimeouts: 0, ackLatencyMsMax: 0,
    heartbeatErrors: {}, closeCodes: {}, upgradeRefusals: {}, restErrors: {},
    endedVia: null, endReason: null, abandonedUnsettled: false, reportedBilledMs: null, reportedCostMinor: null, failure: null, trace: [],
  };
}

/**
 * Calls the REST API on a random live gateway until it answers, retrying network errors, timeouts, 429 and 5xx with
 * back-off, within restRetryWindowMs. Other refusals (4xx) are thrown at once. Every failure is counted.
 */
async function retryRest<T>(env: PlayerEnv, plan: PlayerPlan, res: PlayerResult, r: Random, op: string,
  call: (rest: RestClient) => Promise<T>): Promise<T> {
  const until = env.clock() + restRetryWindowMs;
  for (let attempt = 0; ; attempt++) {
    const rest = createRestClient({ baseUrl: env.pickGateway(r), token: plan.token, timeoutMs: restTimeoutMs });
    try {
      return await call(rest);
    } catch (err) {
      if (!(err instanceof RestError)) throw err;
      count(res.restErrors, `${op} ${err.status || 'net'} ${err.code}`);
      note(env, res, `rest ${op} ${err.status} ${err.code}`);
      const retryable = err.status === 0 || err.status === 429 || err.status >= 500;
      if (!retryable || env.clock() > until || env.stop.aborted) throw err;
      await sleep(backoffDelayMs(attempt, restRetryPolicy, r), env.stop);
    }
  }
}

async function createAndStart(env: PlayerEnv, plan: PlayerPlan, res: PlayerResult, r: Random): Promise<string> {
  const created = await retryRest(env, plan, res, r, 'create', (rest) => rest.createSession(
    { course_id: plan.course.id, student_id: plan.studentId, locked_amount: minorToAmount(plan.lockMinor) },
    { idempotencyKey: `${env.runId}-player-${plan.index}` }));
  const id = created.session_id;
  res.sessionId = id;
  res.createdAtMs = env.clock();
  res.lockedMinor = amountToMinor(created.locked_amount);
  res.priceMinor = amountToMinor(created.price_per_minute);
  res.maxBillableMs = Math.round(created.max_billable_seconds * 1000);
  try {
    await retryRest(env, plan, res, r, 'start', (rest) => rest.startSession(id));
  } catch (err) {
    // A start whose answer was lost (the gateway died after committing it) is refused as a second start: fine if
    // the session is indeed running now.
    if (!(err instanceof RestError && err.status === 409)) throw err;
    const status = await retryRest(env, plan, res, r, 'status', (rest) => rest.getStatus(id));
    if (status.status !== 'active' && status.status !== 'paused') throw err;
  }
  res.startedAtMs = env.clock();
  return id;
}

export async function runPlayer(env: PlayerEnv, plan: PlayerPlan): Promise<PlayerResult> {
  const r = createRandom(plan.seed);
  const res = newResult(plan);
  await sleep(plan.startAtMs - env.clock(), env.stop);
  try {
    if (env.stop.aborted) throw new Error('the run was stopped before this player began');
    const id = await createAndStart(env, plan, res, r);
    const end = await meter(env, plan, res, r, id, env.clock() + plan.playMs);
    if (end?.kind === 'ended' && end.frame.summary !== undefined) {
      res.endedVia = 'ws';
      res.endReason = end.frame.reason;
      res.reportedBilledMs = Math.round(end.frame.summary.duration_seconds * 1000);
      res.reportedCostMinor = amountToMinor(end.frame.summary.cost);
    } else if (plan.abandon) {
      await awaitSweeper(env, plan, res, r, id);
    } else {
      recordRestComplete(res, await completeOverRest(env, plan, res, r, id));
    }
  } catch (err) {
    res.failure = describe(err);
    // Never leave funds locked behind a player that gave up: complete works from any state.
    if (res.sessionId !== null && res.endReason === null && !env.stop.aborted) {
      await completeOverRest(env, plan, res, r, res.sessionId).then((c) => recordRestComplete(res, c), () => undefined);
    }
  }
  res.doneAtMs = env.clock();
  return res;
}

function recordRestComplete(res: PlayerResult, c: CompleteResponse): void {
  res.trace.push(`complete over REST: ${c.end_reason} billed=${Math.round(c.duration_seconds * 1000)}`);
  res.endedVia = 'rest';
  res.endReason = c.end_reason;
  res.reportedBilledMs = Math.round(c.duration_seconds * 1000);
  res.reportedCostMinor = amountToMinor(c.cost);
}

/** An abandoned session: polls its status until the worker has settled it (bounded by sweeperWaitMs). */
async function awaitSweeper(env: PlayerEnv, plan: PlayerPlan, res: PlayerResult, r: Random, id: string): Promise<void> {
  const until = env.clock() + sweeperWaitMs;
  while (!env.stop.aborted) {
    const st = await retryRest(env, plan, res, r, 'status', (rest) => rest.getStatus(id));
    if (st.status === 'completed') {
      res.trace.push(`settled without the player: ${st.end_reason} billed=${Math.round(st.duration_seconds * 1000)}`);
      res.endedVia = 'sweeper';
      res.endReason = st.end_reason;
      res.reportedBilledMs = Math.round(st.duration_seconds * 1000);
      res.reportedCostMinor = amountToMinor(st.cost);
      return;
    }
    if (env.clock() > until) {
      res.abandonedUnsettled = true;
      throw new Error(`abandoned session still ${st.status} ${sweeperWaitMs / 1000} s after the player left`);
    }
    await sleep(500, env.stop);
  }
}

function completeOverRest(env: PlayerEnv, plan: PlayerPlan, res: PlayerResult, r: Random, id: string): Promise<CompleteResponse> {
  return retryRest(env, plan, res, r, 'complete', (rest) => rest.completeSession(id, { session_id: id }));
}

/** Meters over as many sockets as it takes until `playUntil`; returns how the last one ended (null: time ran out). */
async function meter(env: PlayerEnv, plan: PlayerPlan, res: PlayerResult, r: Random, id: string, playUntil: number): Promise<SocketEnd | null> {
  const attempts = new ReconnectAttempts(reconnectPolicy, r);
  while (!env.stop.aborted && env.clock() < playUntil) {
    const end = await runSocket(env, plan, res, r, id, playUntil);
    if (end.kind === 'ended' && end.frame.reason !== 'replaced') return end;
    if (end.kind === 'refused') {
      count(res.upgradeRefusals, String(end.status || 'net'));
      // 409: no longer active or paused (expired, ending, settled); 401/403/404 cannot get better by retrying.
      if ([401, 403, 404, 409].includes(end.status)) return end;
    }
    if (end.kind === 'closed') {
      count(res.closeCodes, String(end.code));
      if (end.finishing) return end;
    }
    if (end.acked) attempts.linkProven();
    res.reconnects += 1;
    await sleep(attempts.next() ?? 0, env.stop);
  }
  return null;
}

/** The truth bookkeeping of one socket (see the file header). */
class SocketTruth {
  /** Earliest start of the server's next interval: the socket request, then each acknowledged heartbeat. */
  private lastAckedT: number;
  /** Start of the player's next interval: `ready`, then each heartbeat sent. */
  private boundary = 0;
  /** By seq: the send time, the start of the interval it closes (the previous heartbeat, or `ready`), 1 if playing. */
  readonly pending = new SentBySeq();

  constructor(private readonly res: PlayerResult, private readonly capMs: number, requestedAt: number) {
    this.lastAckedT = requestedAt;
  }

  ready(t: number): void {
    this.boundary = t;
  }

  /** The seq the next heartbeat carries. */
  get nextSeq(): number {
    return this.pending.nextSeq;
  }

  sent(t: number, playing: boolean): void {
    this.pending.sent(t, this.boundary, playing ? 1 : 0);
    this.boundary = t;
  }

  acked(seq: number, receivedAt: number): boolean {
    if (!this.pending.take(seq)) return false;
    const { takenAtMs: t, takenA: from, takenB: playing } = this.pending;
    this.res.ackLatencyMsMax = Math.max(this.res.ackLatencyMsMax, receivedAt - t);
    if (playing === 1) {
      this.res.trueMs += Math.min(t - from, this.capMs);
      this.res.trueUpperMs += Math.min(Math.max(0, receivedAt - this.lastAckedT), this.capMs);
    }
    this.lastAckedT = Math.max(this.lastAckedT, t);
    return true;
  }

  /** `ended funds_exhausted` while playing: the server billed up to now since its last update, capped as a heartbeat. */
  exhaustedWhilePlaying(receivedAt: number): void {
    this.res.trueUpperMs += Math.min(Math.max(0, receivedAt - this.lastAckedT), this.capMs);
  }

  /** An error frame: the product says a refused update changes nothing. */
  refused(seq: number): void {
    this.pending.drop(seq);
  }

  /** The socket is gone: heartbeats never answered may or may not have been applied (by the close at the latest). */
  closed(closedAt: number): void {
    this.pending.takeAll((_seq, t, _from, playing) => {
      if (playing === 1) this.res.trueUpperMs += Math.min(Math.max(0, closedAt - this.lastAckedT), this.capMs);
      this.lastAckedT = Math.max(this.lastAckedT, t);
    });
  }

  oldestPendingT(): number | null {
    return this.pending.oldestAtMs();
  }
}

/** One socket's life: ready → heartbeats → (at playUntil) final heartbeat + complete → ended; or a close. */
function runSocket(env: PlayerEnv, plan: PlayerPlan, res: PlayerResult, r: Random, id: string, playUntil: number): Promise<SocketEnd> {
  return new Promise<SocketEnd>((resolve) => {
    const truth = new SocketTruth(res, env.creditMsMax, env.clock());
    // An answer slower than this is a dead link (or a hung gateway): drop the socket and reconnect.
    const ackTimeoutMs = 4 * env.heartbeatMs + 2_000;
    let opened = false;
    let ready = false;
    let finishing = false;
    let acked = false;
    let refusedStatus: number | null = null;
    let ended: EndedFrame | null = null;
    let playing = r() < playingAtReadyProbability;
    let beat: ReturnType<typeof setInterval> | null = null;
    const timers: ReturnType<typeof setTimeout>[] = [];

    res.sockets += 1;
    const gateway = env.pickGateway(r);
    note(env, res, `socket ${gateway}`);
    const ws = new WebSocket(wsUrlFor(gateway, id), {
      headers: { authorization: `Bearer ${plan.token}` }, handshakeTimeout: readyTimeoutMs,
    });

    const sendHeartbeat = () => {
      if (ws.readyState !== WebSocket.OPEN) return;
      const seq = truth.nextSeq;
      const t = env.clock();
      const playedS = Math.max(0, (t - (res.startedAtMs ?? t)) / 1000);
      const lectures = plan.course.lectureIds;
      // A play/pause change happens at a heartbeat: the next interval has the new state, told as `playing_now`.
      const next = r() < toggleProbability ? !playing : playing;
      const frame = buildHeartbeat(seq, {
        position_seconds: Math.round(playedS * 1000) / 1000, playing: next,
        current_lecture: lectures[Math.floor(playedS / 10) % lectures.length]!,
        completion_pct: Math.round(Math.min(100, (playedS * 1000 * 100) / plan.playMs) * 100) / 100,
      }, playing);
      if (frame === null) {
        count(res.heartbeatErrors, 'invalid_heartbeat_not_sent');
        return;
      }
      ws.send(heartbeatText(frame));
      truth.sent(t, playing);
      note(env, res, `hb ${seq} ${playing ? 'playing' : 'paused'}`);
      playing = next;
    };

    /** The end of its play: complete over the socket, or (an abandoning player) just close it. */
    const finish = () => {
      if (finishing) return;
      finishing = true;
      if (beat !== null) clearInterval(beat);
      if (plan.abandon) {
        note(env, res, 'leaving without complete');
        ws.close(1000, 'tab closed');
        return;
      }
      sendHeartbeat(); // closes the last interval, as the SDK does at `end`
      ws.send(completeText);
      timers.push(setTimeout(() => ws.terminate(), completeOverSocketWaitMs));
    };

    const tick = () => {
      const oldest = truth.oldestPendingT();
      if (oldest !== null && env.clock() - oldest > ackTimeoutMs) {
        res.ackTimeouts += 1;
        note(env, res, 'ack timeout: dropping the socket');
        ws.terminate();
        return;
      }
      if (env.clock() >= playUntil) finish();
      else sendHeartbeat();
    };

    const onFrame = (f: ServerFrame) => {
      switch (f.type) {
        case 'ready':
          note(env, res, `ready resumed=${f.resumed} billed=${Math.round(f.duration_seconds * 1000)} playing=${playing}`);
          ready = true;
          res.readies += 1;
          truth.ready(env.clock());
          if (env.clock() >= playUntil) finish();
          else beat = setInterval(tick, env.heartbeatMs);
          break;
        case 'ack':
          acked = true;
          res.acks += 1;
          res.ackAtMs.push(Math.round(env.clock()));
          note(env, res, `ack ${f.seq}=${Math.round(f.duration_seconds * 1000)}${truth.acked(f.seq, env.clock()) ? '' : ' (not pending)'}`);
          break;
        case 'error':
          count(res.heartbeatErrors, f.code);
          note(env, res, `error ${f.code} seq=${f.seq ?? '-'}`);
          if (f.seq !== undefined) truth.refused(f.seq);
          break;
        case 'ended':
          note(env, res, `ended ${f.reason}${f.summary ? ` billed=${Math.round(f.summary.duration_seconds * 1000)}` : ''}`);
          ended = f;
          // The gateway ends a playing session when its funds run out between heartbeats, billing the stretch
          // since the last update without a heartbeat closing it.
          if (f.reason === 'funds_exhausted' && playing) truth.exhaustedWhilePlaying(env.clock());
          break;
        case 'warning':
          break;
      }
    };

    ws.on('open', () => { opened = true; });
    ws.on('message', (data) => {
      const parsed = parseServerFrame(String(data));
      if (parsed.ok) onFrame(parsed.frame);
      else count(res.heartbeatErrors, `bad_server_frame: ${parsed.reason}`);
    });
    ws.on('error', (err) => {
      const m = /Unexpected server response: (\d+)/.exec(err.message);
      if (!opened) refusedStatus = m ? Number(m[1]) : 0;
    });
    ws.on('close', (code) => {
      note(env, res, opened ? `close ${code}` : `refused ${refusedStatus ?? 0}`);
      if (beat !== null) clearInterval(beat);
      for (const t of timers) clearTimeout(t);
      env.stop.removeEventListener('abort', onStop);
      truth.closed(env.clock());
      if (ended !== null) resolve({ kind: 'ended', frame: ended, acked });
      else if (!opened) resolve({ kind: 'refused', status: refusedStatus ?? 0, acked: false });
      else resolve({ kind: 'closed', code, finishing, acked });
    });
    const onStop = () => ws.terminate();
    env.stop.addEventListener('abort', onStop, { once: true });
    timers.push(setTimeout(() => { if (!ready) ws.terminate(); }, readyTimeoutMs));
  });
}
