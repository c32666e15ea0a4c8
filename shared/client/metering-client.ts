// The player SDK: keeps one metering WebSocket open for a session (DESIGN §5), sends heartbeats, reports the
// running cost, reconnects after abnormal closes, and completes the session.
// Runs in browsers and in Node ≥ 20.14 (global WebSocket and fetch); no Node-only imports, so it bundles as is.
//
// Usage:
//   const client = createMeteringClient({ baseUrl, token, sessionId, getPlayback: () => player.state(),
//     onAck: (ack) => showCost(ack.cost) });
//   await client.connect();
//   video.onplay = video.onpause = video.onseeked = video.onended = () => client.notifyPlaybackChange();
//   const ended = await client.complete();
import {
  serverFrame, heartbeatFrame, type AckFrame, type EndedFrame, type HeartbeatFrame, type ReadyFrame, type ServerFrame,
} from '../protocol/ws.js';
import { createRestClient, joinUrl, resolveToken, RestError, type RestClient, type TokenSource } from './rest-client.js';

// ---------------------------------------------------------------------------------------------------------------
// Limits of the client, units last (every wait and every retry is bounded).

/** No heartbeat more often than this from the periodic timer, whatever the caller asks for (config's floor too). */
export const heartbeatIntervalMsMin = 100;
/** Playback changes closer together than this are coalesced into one heartbeat (the server allows ≥ 10/s). */
export const notifyGapMsMin = 100;
/** A socket that has not said `ready` this long after it was created is dropped and retried. */
export const readyTimeoutMs = 10_000;
/** An unanswered heartbeat older than max(this, 2 intervals) means a dead link: drop the socket and reconnect. */
export const ackTimeoutMsMin = 10_000;
/** Heartbeats remembered for round-trip times; older ones are forgotten. */
export const pendingAcksMax = 64;
/** How long `complete()` waits for `ended` on the socket before settling over REST instead. */
export const completeTimeoutMs = 20_000;
/** REST `complete` attempts (503 settlement_pending, network errors) and the pause between them. */
export const restCompleteAttemptsMax = 5;
export const restCompleteRetryMs = 1_000;
/** The REST status probe made when a socket could not even be opened (was it 401, 404, already settled?). */
export const probeTimeoutMs = 5_000;

export interface ReconnectPolicy {
  /** First delay before jitter. */
  baseDelayMs: number;
  /** Largest delay before jitter. */
  maxDelayMs: number;
  /** Consecutive failed attempts before giving up (state `failed`). Reset after an acknowledged heartbeat. */
  maxAttempts: number;
}

// Eight attempts with a 15 s cap span about a minute: the default DISCONNECT_GRACE_MS, after which the session is
// settled anyway.
export const reconnectPolicyDefault: ReconnectPolicy = Object.freeze({ baseDelayMs: 500, maxDelayMs: 15_000, maxAttempts: 8 });

// ---------------------------------------------------------------------------------------------------------------
// Pure helpers (exported for tests).

/**
 * Delay before reconnect attempt `attempt` (0 = the first retry): exponential, capped, with "equal jitter" —
 * half of the step fixed, half random — so thousands of players dropped by one gateway restart do not come back
 * in the same millisecond, yet none retries instantly.
 */
export function backoffDelayMs(attempt: number, policy: ReconnectPolicy = reconnectPolicyDefault, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(0, Math.floor(attempt)), 30);
  const step = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** exponent);
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.floor(step / 2 + r * (step / 2));
}

/**
 * Close codes after which the player comes back: going away (1001), abnormal / no close frame (1006), server error
 * (1011), service restart (1012, the gateway's SIGTERM), try again later (1013), bad gateway (1014).
 * Not after 1000 (normal, e.g. after `ended`), 1008 (policy: abuse), 1009 (too big) or 4xxx (application refusals).
 */
export const reconnectCloseCodes: ReadonlySet<number> = new Set([1001, 1006, 1011, 1012, 1013, 1014]);

export function shouldReconnect(closeCode: number): boolean {
  return reconnectCloseCodes.has(closeCode);
}

/** `http(s)://host[:port][/prefix]` → `ws(s)://host[:port][/prefix]/ws/sessions/{id}`. */
export function wsUrlFor(baseUrl: string, sessionId: string): string {
  const url = new URL(joinUrl(baseUrl, `ws/sessions/${encodeURIComponent(sessionId)}`));
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new Error(`baseUrl must be http(s) or ws(s), got ${baseUrl}`);
  return url.toString();
}

export type ParsedFrame = { ok: true; frame: ServerFrame } | { ok: false; reason: string };

/** One received message → a validated server frame. Never throws. */
export function parseServerFrame(data: unknown): ParsedFrame {
  if (typeof data !== 'string') return { ok: false, reason: 'binary frame (the protocol is JSON text)' };
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  const parsed = serverFrame.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    return { ok: false, reason: `not a server frame${first ? `: ${first.path.join('.') || '(root)'} ${first.message}` : ''}` };
  }
  return { ok: true, frame: parsed.data };
}

/** What the player reports about itself at a heartbeat; the shape of a heartbeat frame without `type` and `seq`. */
export type Playback = Omit<HeartbeatFrame, 'type' | 'seq' | 'playing_now'>;

/**
 * A heartbeat frame from the player's state. `playing` is passed separately because it describes the interval
 * the heartbeat closes, not the state now (see IntervalTracker). Small slips (a negative position, 100.0001 %, a
 * fractional lecture) are clamped; anything still invalid gives null and is not sent.
 */
export function buildHeartbeat(seq: number, playback: Playback, intervalPlaying: boolean): HeartbeatFrame | null {
  const candidate = {
    type: 'heartbeat' as const,
    seq,
    position_seconds: Math.max(0, playback.position_seconds),
    playing: intervalPlaying,
    playing_now: playback.playing,
    current_lecture: Math.trunc(playback.current_lecture),
    completion_pct: Math.min(100, Math.max(0, playback.completion_pct)),
    ...(playback.duration_seconds === undefined ? {} : { duration_seconds: Math.max(0, playback.duration_seconds) }),
  };
  const parsed = heartbeatFrame.safeParse(candidate);
  return parsed.success ? parsed.data : null;
}

/**
 * Decides the `playing` flag of each heartbeat. DESIGN §3: `playing` describes the interval since the previous
 * update, and the SDK sends a heartbeat at every play/pause/seek/end so that each interval is wholly playing or
 * wholly not. At such a change the interval that closes had the OLD state; the new state starts the next one.
 * When a change was missed (not notified) or several changes are coalesced into one heartbeat, an interval only
 * counts as playing if every state seen in it was playing: any doubt is resolved in the student's favour.
 */
export class IntervalTracker {
  private playing: boolean;

  constructor(playingAtStart: boolean) {
    this.playing = playingAtStart;
  }

  /** A change whose heartbeat is deferred: the new state is now part of the still-open interval. */
  noteChange(nowPlaying: boolean): void {
    this.playing = this.playing && nowPlaying;
  }

  /** Closes the interval at a notified change: it had the state before the change. */
  closeAtChange(nowPlaying: boolean): boolean {
    const closed = this.playing;
    this.playing = nowPlaying;
    return closed;
  }

  /** Closes the interval at a periodic (or final) heartbeat: the state must have held from start to now. */
  closeAtTick(nowPlaying: boolean): boolean {
    const closed = this.playing && nowPlaying;
    this.playing = nowPlaying;
    return closed;
  }
}

/** The client's heartbeat period: the caller's wish, never above the server's (it bills at most 2 intervals). */
export function heartbeatPeriodMs(requestedMs: number | undefined, serverMs: number): number {
  const server = Math.max(heartbeatIntervalMsMin, serverMs);
  if (requestedMs === undefined || !Number.isFinite(requestedMs)) return server;
  return Math.min(server, Math.max(heartbeatIntervalMsMin, Math.floor(requestedMs)));
}

// ---------------------------------------------------------------------------------------------------------------
// The client.

export type ClientState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'ended' | 'closed' | 'failed';
const terminalStates: ReadonlySet<ClientState> = new Set(['ended', 'closed', 'failed']);

export type WarningFrame = Extract<ServerFrame, { type: 'warning' }>;

/** Something the caller should know about. `fatal` errors end the client (state `failed`). */
export class MeteringClientError extends Error {
  override readonly name = 'MeteringClientError';
  constructor(
    readonly code: string,
    message: string,
    readonly fatal = false,
    readonly details: { status?: number; closeCode?: number; seq?: number; cause?: unknown } = {},
  ) {
    super(message);
  }
}

export interface MeteringClientOptions {
  /** The gateway, e.g. `https://meter.example.com` (REST under /api, WS under /ws). */
  baseUrl: string;
  /** A token, or a function returning a fresh one (called at each (re)connect and REST call). */
  token: TokenSource;
  sessionId: string;
  /** Heartbeat period; defaults to (and is capped at) the server's `heartbeat_interval_ms`. */
  heartbeatIntervalMs?: number;
  getPlayback: () => Playback;
  onReady?: (frame: ReadyFrame) => void;
  /** `rttMs`: send → ack round trip of this heartbeat, or null when unknown. */
  onAck?: (ack: AckFrame, info: { rttMs: number | null }) => void;
  onWarning?: (warning: WarningFrame) => void;
  onEnded?: (ended: EndedFrame) => void;
  onError?: (error: MeteringClientError) => void;
  onStateChange?: (state: ClientState, previous: ClientState) => void;
  reconnect?: Partial<ReconnectPolicy>;
  /**
   * Opens the socket. Default: the global WebSocket with `?token=` (browsers cannot set headers). Node callers may
   * pass one that sends `Authorization: Bearer` instead, which keeps the token out of access logs.
   */
  webSocketFactory?: (url: string, token: string) => WebSocket;
  /** For the REST calls (`complete` fallback, status probe). */
  fetch?: typeof fetch;
}

export interface MeteringClient {
  /** Opens the socket; resolves at the first `ready`, rejects if the client fails or is closed before that. */
  connect(): Promise<ReadyFrame>;
  /** Call at every play, pause, seek and end: sends a heartbeat that closes the current interval. */
  notifyPlaybackChange(): void;
  /** Ends and settles the session (over the socket, else over REST); resolves with the `ended` frame. */
  complete(): Promise<EndedFrame>;
  /** Closes the socket without completing: the session pauses and is settled `disconnected` after the grace period. */
  close(): void;
  readonly state: ClientState;
}

interface Link {
  ws: WebSocket;
  /** The WebSocket handshake succeeded (onopen). */
  opened: boolean;
  /** The server said `ready`. */
  ready: boolean;
  finished: boolean;
  seq: number;
  periodMs: number;
  pending: Map<number, number>;
  tracker: IntervalTracker;
  lastSendMs: number;
  lastFrameMs: number;
  tickTimer: ReturnType<typeof setTimeout> | null;
  deferTimer: ReturnType<typeof setTimeout> | null;
  readyTimer: ReturnType<typeof setTimeout> | null;
}

const wsOpen = 1;
const now = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now());

function defaultWebSocketFactory(url: string, token: string): WebSocket {
  if (typeof WebSocket !== 'function') {
    throw new Error('no global WebSocket: use Node ≥ 22, or Node 20.14+ with --experimental-websocket, or pass webSocketFactory');
  }
  const u = new URL(url);
  u.searchParams.set('token', token);
  return new WebSocket(u.toString());
}

export function createMeteringClient(opts: MeteringClientOptions): MeteringClient {
  const policy: ReconnectPolicy = { ...reconnectPolicyDefault, ...opts.reconnect };
  const rest: RestClient = createRestClient({ baseUrl: opts.baseUrl, token: opts.token, fetch: opts.fetch });
  const factory = opts.webSocketFactory ?? defaultWebSocketFactory;
  const url = wsUrlFor(opts.baseUrl, opts.sessionId);

  let state: ClientState = 'idle';
  let link: Link | null = null;
  let attempts = 0;
  let reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  let ended: EndedFrame | null = null;
  let completing: Promise<EndedFrame> | null = null;
  let endedWaiter: ((frame: EndedFrame | null) => void) | null = null;
  let connectWaiter: { resolve: (f: ReadyFrame) => void; reject: (e: Error) => void } | null = null;
  let connectPromise: Promise<ReadyFrame> | null = null;
  let reporting = false;

  // --- callbacks and state --------------------------------------------------------------------------------------

  function report(err: MeteringClientError): void {
    if (reporting) return; // an onError that throws must not recurse
    reporting = true;
    try {
      opts.onError?.(err);
    } catch {
      // The caller's handler failed; nothing sensible is left to tell.
    } finally {
      reporting = false;
    }
  }

  function emit<A extends unknown[]>(fn: ((...args: A) => void) | undefined, ...args: A): void {
    try {
      fn?.(...args);
    } catch (cause) {
      report(new MeteringClientError('callback_error', `a callback threw: ${(cause as Error)?.message ?? String(cause)}`, false, { cause }));
    }
  }

  function setState(next: ClientState): void {
    if (next === state) return;
    const previous = state;
    state = next;
    emit(opts.onStateChange, next, previous);
  }

  const isTerminal = (): boolean => terminalStates.has(state);

  function fail(err: MeteringClientError): void {
    if (isTerminal()) return;
    stopLink(1000, 'client gave up');
    clearReconnect();
    setState('failed');
    report(err);
    connectWaiter?.reject(err);
    connectWaiter = null;
  }

  function finishEnded(frame: EndedFrame): void {
    ended = frame;
    clearReconnect();
    stopLink(1000, 'ended');
    endedWaiter?.(frame);
    endedWaiter = null;
    setState('ended');
    emit(opts.onEnded, frame);
    connectWaiter?.reject(new MeteringClientError('ended', `the session ended (${frame.reason})`));
    connectWaiter = null;
  }

  function readPlayback(): Playback | null {
    try {
      return opts.getPlayback();
    } catch (cause) {
      report(new MeteringClientError('playback_error', 'getPlayback() threw', false, { cause }));
      return null;
    }
  }

  // --- timers ---------------------------------------------------------------------------------------------------

  function clearReconnect(): void {
    if (reconnectTimer !== null) clearTimeout(reconnectTimer);
    reconnectTimer = null;
  }

  function clearLinkTimers(l: Link): void {
    for (const t of [l.tickTimer, l.deferTimer, l.readyTimer]) if (t !== null) clearTimeout(t);
    l.tickTimer = l.deferTimer = l.readyTimer = null;
  }

  function scheduleTick(l: Link): void {
    if (l.tickTimer !== null) clearTimeout(l.tickTimer);
    l.tickTimer = setTimeout(() => tick(l), l.periodMs);
  }

  // --- the socket -----------------------------------------------------------------------------------------------

  async function openLink(): Promise<void> {
    if (isTerminal() || link !== null) return;
    setState('connecting');
    let token: string;
    try {
      token = await resolveToken(opts.token);
    } catch (cause) {
      fail(new MeteringClientError('token_error', 'the token function failed', true, { cause }));
      return;
    }
    // Closed, ended or completing while the token was fetched: no new socket.
    if (isTerminal() || link !== null || completing !== null) return;
    let ws: WebSocket;
    try {
      ws = factory(url, token);
    } catch (cause) {
      fail(new MeteringClientError('no_websocket', (cause as Error).message, true, { cause }));
      return;
    }
    const l: Link = {
      ws, opened: false, ready: false, finished: false, seq: 1, periodMs: heartbeatIntervalMsMin, pending: new Map(),
      tracker: new IntervalTracker(false), lastSendMs: 0, lastFrameMs: now(), tickTimer: null, deferTimer: null, readyTimer: null,
    };
    link = l;
    ws.onopen = () => { l.opened = true; };
    ws.onmessage = (ev: MessageEvent) => onMessage(l, ev.data);
    ws.onclose = (ev: CloseEvent) => onLinkClosed(l, ev.code, ev.reason);
    // Node 20's built-in WebSocket fires only `error` (no `close`) when the handshake is refused.
    ws.onerror = () => { if (!l.opened) onLinkClosed(l, 1006, 'connection failed'); };
    l.readyTimer = setTimeout(() => dropLink(l, 'ready_timeout', `no ready frame within ${readyTimeoutMs} ms`), readyTimeoutMs);
  }

  /** Detaches and closes the current socket without any follow-up (used on terminal transitions). */
  function stopLink(code: number, reason: string): void {
    const l = link;
    if (l === null) return;
    link = null;
    l.finished = true;
    clearLinkTimers(l);
    try {
      l.ws.close(code, reason);
    } catch {
      // Already closing or closed.
    }
  }

  /** Gives up on a socket that stopped answering; treated as an abnormal close (reconnect). */
  function dropLink(l: Link, code: string, message: string): void {
    if (l.finished) return;
    report(new MeteringClientError(code, message));
    try {
      l.ws.close(4000, code);
    } catch {
      // Already closing.
    }
    onLinkClosed(l, 1006, code);
  }

  function onLinkClosed(l: Link, closeCode: number, reason: string): void {
    if (l.finished) return;
    l.finished = true;
    clearLinkTimers(l);
    if (link === l) link = null;
    if (isTerminal()) return;
    if (completing !== null) {
      endedWaiter?.(null); // complete() carries on over REST
      endedWaiter = null;
      return;
    }
    if (!l.opened) {
      void probeThenRetry();
    } else if (shouldReconnect(closeCode)) {
      scheduleReconnect();
    } else {
      const fatal = new MeteringClientError(closeCode === 1000 ? 'closed_by_server' : `closed_${closeCode}`,
        `the server closed the socket (${closeCode}${reason ? `: ${reason}` : ''})`, true, { closeCode });
      fail(fatal);
    }
  }

  function scheduleReconnect(): void {
    if (isTerminal() || completing !== null) return;
    if (attempts >= policy.maxAttempts) {
      fail(new MeteringClientError('gave_up', `no connection after ${attempts} attempts`, true));
      return;
    }
    const delay = backoffDelayMs(attempts, policy);
    attempts += 1;
    setState('reconnecting');
    clearReconnect();
    reconnectTimer = setTimeout(() => {
      reconnectTimer = null;
      void openLink();
    }, delay);
  }

  /**
   * The socket never opened, and browsers do not say why (the HTTP status of a refused upgrade is hidden). Ask the
   * REST API: 401/403/404 and a settled or never-started session are final; anything else is worth a retry.
   */
  async function probeThenRetry(): Promise<void> {
    try {
      const st = await withTimeout(rest.getStatus(opts.sessionId), probeTimeoutMs);
      if (isTerminal()) return;
      if (st.status === 'completed') {
        finishEnded({ type: 'ended', reason: st.end_reason ?? 'completed' });
        return;
      }
      if (st.status === 'locked') {
        fail(new MeteringClientError('wrong_state', 'the session has not been started (POST /start first)', true, { status: 409 }));
        return;
      }
    } catch (err) {
      if (isTerminal()) return;
      const final = err instanceof RestError ? finalProbeError(err) : null;
      if (final !== null) {
        fail(final);
        return;
      }
    }
    scheduleReconnect();
  }

  // --- frames ---------------------------------------------------------------------------------------------------

  function onMessage(l: Link, data: unknown): void {
    if (l.finished) return;
    l.lastFrameMs = now();
    const parsed = parseServerFrame(data);
    if (!parsed.ok) {
      report(new MeteringClientError('invalid_server_frame', parsed.reason));
      return;
    }
    const f = parsed.frame;
    switch (f.type) {
      case 'ready': onReady(l, f); break;
      case 'ack': onAck(l, f); break;
      case 'warning': emit(opts.onWarning, f); break;
      case 'ended': finishEnded(f); break;
      case 'error': onErrorFrame(l, f); break;
    }
  }

  function onReady(l: Link, f: ReadyFrame): void {
    if (l.readyTimer !== null) clearTimeout(l.readyTimer);
    l.readyTimer = null;
    l.ready = true;
    l.periodMs = heartbeatPeriodMs(opts.heartbeatIntervalMs, f.heartbeat_interval_ms);
    // The server counts time from `ready` (a resume earns no credit for the gap): the first interval starts here.
    l.tracker = new IntervalTracker(readPlayback()?.playing ?? false);
    l.lastSendMs = now();
    scheduleTick(l);
    setState('open');
    emit(opts.onReady, f);
    connectWaiter?.resolve(f);
    connectWaiter = null;
  }

  function onAck(l: Link, ack: AckFrame): void {
    const sentAt = l.pending.get(ack.seq);
    l.pending.delete(ack.seq);
    attempts = 0; // an answered heartbeat proves the link works: the retry budget is whole again
    emit(opts.onAck, ack, { rttMs: sentAt === undefined ? null : now() - sentAt });
  }

  function onErrorFrame(l: Link, f: Extract<ServerFrame, { type: 'error' }>): void {
    if (f.seq !== undefined) l.pending.delete(f.seq);
    report(new MeteringClientError(f.code, f.message, false, f.seq === undefined ? {} : { seq: f.seq }));
    // An error without a seq while completing is the refusal of `complete`: settle over REST instead.
    if (completing !== null && f.seq === undefined) {
      endedWaiter?.(null);
      endedWaiter = null;
    }
  }

  // --- heartbeats -----------------------------------------------------------------------------------------------

  function tick(l: Link): void {
    l.tickTimer = null;
    if (l.finished || completing !== null) return; // after `complete` the server no longer meters this session
    if (linkIsDead(l)) {
      dropLink(l, 'ack_timeout', 'the server stopped answering heartbeats: reconnecting');
      return;
    }
    sendHeartbeat(l, 'tick');
  }

  /**
   * A link is dead when a heartbeat has waited longer than the ack timeout and the server has said nothing at all
   * since. A heartbeat the server answered otherwise (an error frame without seq) is forgotten, not held against it.
   */
  function linkIsDead(l: Link): boolean {
    const timeoutMs = Math.max(ackTimeoutMsMin, 2 * l.periodMs);
    const t = now();
    for (const [seq, sentAt] of l.pending) {
      if (t - sentAt <= timeoutMs) return false;
      if (t - l.lastFrameMs > timeoutMs) return true;
      l.pending.delete(seq);
    }
    return false;
  }

  function sendHeartbeat(l: Link, kind: 'tick' | 'change'): void {
    scheduleTick(l);
    if (l.ws.readyState !== wsOpen || !l.ready) return;
    const pb = readPlayback();
    if (pb === null) return;
    const playing = kind === 'change' ? l.tracker.closeAtChange(pb.playing) : l.tracker.closeAtTick(pb.playing);
    const frame = buildHeartbeat(l.seq, pb, playing);
    if (frame === null) {
      report(new MeteringClientError('invalid_playback', 'getPlayback() returned values a heartbeat cannot carry'));
      return;
    }
    l.ws.send(JSON.stringify(frame));
    l.lastSendMs = now();
    l.pending.set(l.seq, l.lastSendMs);
    if (l.pending.size > pendingAcksMax) l.pending.delete(l.pending.keys().next().value as number);
    l.seq += 1;
  }

  function notifyPlaybackChange(): void {
    const l = link;
    if (l === null || !l.ready || l.finished || completing !== null) return;
    const gap = now() - l.lastSendMs;
    if (gap >= notifyGapMsMin && l.deferTimer === null) {
      sendHeartbeat(l, 'change');
      return;
    }
    // Too soon after the last heartbeat (scrubbing fires many seeks): fold this change into one deferred heartbeat.
    const pb = readPlayback();
    if (pb !== null) l.tracker.noteChange(pb.playing);
    if (l.deferTimer === null) {
      l.deferTimer = setTimeout(() => {
        l.deferTimer = null;
        if (!l.finished) sendHeartbeat(l, 'tick');
      }, Math.max(0, notifyGapMsMin - gap));
    }
  }

  // --- complete -------------------------------------------------------------------------------------------------

  async function runComplete(): Promise<EndedFrame> {
    clearReconnect();
    const l = link;
    if (l !== null && l.ready && !l.finished && l.ws.readyState === wsOpen) {
      const viaSocket = new Promise<EndedFrame | null>((resolve) => { endedWaiter = resolve; });
      if (l.deferTimer !== null) clearTimeout(l.deferTimer);
      l.deferTimer = null;
      sendHeartbeat(l, 'tick'); // closes the last interval so its playing time is billed
      l.ws.send(JSON.stringify({ type: 'complete' }));
      const frame = await withTimeout(viaSocket, completeTimeoutMs).catch(() => null);
      endedWaiter = null;
      if (frame !== null) return frame;
    }
    return completeOverRest();
  }

  async function completeOverRest(): Promise<EndedFrame> {
    const duration = readPlayback()?.duration_seconds;
    let lastError: unknown = null;
    for (let attempt = 1; attempt <= restCompleteAttemptsMax; attempt++) {
      try {
        const r = await rest.completeSession(opts.sessionId, { session_id: opts.sessionId, ...(duration === undefined ? {} : { duration_seconds: duration }) });
        const frame: EndedFrame = {
          type: 'ended', reason: r.end_reason,
          summary: { duration_seconds: r.duration_seconds, cost: r.cost, refund: r.refund, teacher_earning: r.teacher_earning },
        };
        if (ended === null) finishEnded(frame);
        return ended ?? frame;
      } catch (err) {
        lastError = err;
        const retryable = err instanceof RestError && (err.status === 0 || err.status === 429 || err.status >= 500);
        if (!retryable) break;
        await sleep(restCompleteRetryMs * attempt);
      }
    }
    throw lastError instanceof Error ? lastError : new Error('complete failed');
  }

  return {
    connect(): Promise<ReadyFrame> {
      if (connectPromise !== null) return connectPromise;
      connectPromise = new Promise<ReadyFrame>((resolve, reject) => { connectWaiter = { resolve, reject }; });
      connectPromise.catch(() => undefined); // callers that do not await must not see an unhandled rejection
      if (isTerminal()) connectWaiter?.reject(new MeteringClientError(state, `the client is ${state}`));
      else void openLink();
      return connectPromise;
    },
    notifyPlaybackChange,
    complete(): Promise<EndedFrame> {
      if (ended !== null) return Promise.resolve(ended);
      if (completing === null) {
        completing = runComplete().catch((err: unknown) => {
          completing = null; // the caller may try again (e.g. once the network is back)
          if (link !== null && link.ready && !link.finished) scheduleTick(link); // meanwhile, keep metering
          throw err;
        });
      }
      return completing;
    },
    close(): void {
      if (isTerminal()) return;
      clearReconnect();
      stopLink(1000, 'client closed');
      setState('closed');
      connectWaiter?.reject(new MeteringClientError('closed', 'close() was called'));
      connectWaiter = null;
      endedWaiter?.(null);
      endedWaiter = null;
    },
    get state(): ClientState {
      return state;
    },
  };
}

function finalProbeError(err: RestError): MeteringClientError | null {
  if (err.status === 401) return new MeteringClientError('unauthorized', 'the token was refused (missing, invalid or expired)', true, { status: 401 });
  if (err.status === 403) return new MeteringClientError('forbidden', 'this token may not meter that session', true, { status: 403 });
  if (err.status === 404) return new MeteringClientError('session_not_found', 'no such session', true, { status: 404 });
  return null;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    p.then((v) => { clearTimeout(timer); resolve(v); }, (e: unknown) => { clearTimeout(timer); reject(e); });
  });
}
