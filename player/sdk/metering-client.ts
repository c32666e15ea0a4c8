// The metering connection: keeps one WebSocket open for a session (docs/websocket-protocol.md), sends heartbeats on the
// server's interval plus one at each playback change, reports the running cost, reconnects with backoff after abnormal
// closes and resumes, and completes the session. Runs in browsers and in Node ≥ 20.14 (global WebSocket and
// fetch); no Node-only imports, so it bundles as is. course-player.ts builds the student's player on top of it.
//
// Usage:
//   const client = createMeteringClient({ baseUrl, token, sessionId, getPlayback: () => player.state(),
//     onAck: (ack) => showCost(ack.cost) });
//   await client.connect();
//   video.onplay = video.onpause = video.onseeked = video.onended = () => client.notifyPlaybackChange();
//   const ended = await client.complete();
import { closeCodeTokenExpired, type AckFrame, type EndedFrame, type ReadyFrame, type ServerFrame } from '../../core/protocol/ws.js';
import { createRestClient, RestError, type RestClient } from './rest-client.js';
import { createTokenKeeper, type TokenOptions } from './token-keeper.js';
import { parseServerFrame, wsUrlFor, type Playback } from './frames.js';
import { backoffDelayMs, reconnectPolicyDefault, shouldReconnect, type ReconnectPolicy } from './reconnect-policy.js';
import { globalTimers, heartbeatPeriodMs, startSocketHeartbeats, type SocketHeartbeats, type Timers } from './heartbeat-schedule.js';

// ---------------------------------------------------------------------------------------------------------------
// Limits of the client, units last (every wait and every retry is bounded).
/** A socket that has not said `ready` this long after it was created is dropped and retried. */
export const readyTimeoutMs = 10_000;
/** How long `complete()` waits for `ended` on the socket before settling over REST instead. */
export const completeTimeoutMs = 20_000;
/** REST `complete` attempts (503 settlement_pending, network errors) and the pause between them. */
export const restCompleteAttemptsMax = 5;
export const restCompleteRetryMs = 1_000;
/** The REST status probe made when a socket could not even be opened (was it 401, 404, already settled?). */
export const probeTimeoutMs = 5_000;

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

/**
 * Pass `token` (a string, or a function called at each (re)connect and REST call) and/or `getToken()`, which returns
 * a new token: called when the server says the socket's token is expiring (the answer goes out in a `refresh`
 * frame), and before reconnecting after a close for an expired token (docs/websocket-protocol.md "Token refresh").
 */
export interface MeteringClientOptions extends TokenOptions {
  /** The gateway, e.g. `https://meter.example.com` (REST under /api, WS under /ws). */
  baseUrl: string;
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
  /** A reconnect is scheduled: `attempt` counts from 1 since the last acknowledged heartbeat. */
  onReconnectScheduled?: (info: { attempt: number; delayMs: number }) => void;
  reconnect?: Partial<ReconnectPolicy>;
  /**
   * Opens the socket. Default: the global WebSocket with `?token=` (browsers cannot set headers). Node callers may
   * pass one that sends `Authorization: Bearer` instead, which keeps the token out of access logs.
   */
  webSocketFactory?: (url: string, token: string) => WebSocket;
  /** For the REST calls (`complete` fallback, status probe). */
  fetch?: typeof fetch;
  /**
   * Timers of the heartbeat schedule, reconnects and ready/ack timeouts. Default: the global ones. In a browser,
   * pass worker-timers.ts' so that a hidden tab's throttling does not slow heartbeats down.
   */
  timers?: Timers;
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
  /** From `ready` on: this socket's heartbeats (heartbeat-schedule.ts). */
  heartbeats: SocketHeartbeats | null;
  readyTimer: unknown;
}

const wsOpen = 1;

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
  const tokens = createTokenKeeper(opts);
  const rest: RestClient = createRestClient({ baseUrl: opts.baseUrl, token: () => tokens.current(), fetch: opts.fetch });
  const factory = opts.webSocketFactory ?? defaultWebSocketFactory;
  const url = wsUrlFor(opts.baseUrl, opts.sessionId);
  const timers = opts.timers ?? globalTimers;

  let state: ClientState = 'idle';
  let link: Link | null = null;
  let attempts = 0;
  let reconnectTimer: unknown = null;
  let ended: EndedFrame | null = null;
  let completing: Promise<EndedFrame> | null = null;
  let endedWaiter: ((frame: EndedFrame | null) => void) | null = null;
  let connectWaiter: { resolve: (f: ReadyFrame) => void; reject: (e: Error) => void } | null = null;
  let connectPromise: Promise<ReadyFrame> | null = null;
  let reporting = false;
  /** The last socket was closed because its token expired: the next one opens with a new token. */
  let tokenExpired = false;

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
    if (reconnectTimer !== null) timers.clearTimeout(reconnectTimer);
    reconnectTimer = null;
  }

  function clearLinkTimers(l: Link): void {
    if (l.readyTimer !== null) timers.clearTimeout(l.readyTimer);
    l.readyTimer = null;
    l.heartbeats?.stop();
  }

  // --- the socket -----------------------------------------------------------------------------------------------

  async function openLink(): Promise<void> {
    if (isTerminal() || link !== null) return;
    setState('connecting');
    let token: string;
    try {
      token = tokenExpired ? await tokens.fresh() : await tokens.current();
      tokenExpired = false;
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
    const l: Link = { ws, opened: false, ready: false, finished: false, heartbeats: null, readyTimer: null };
    link = l;
    ws.onopen = () => { l.opened = true; };
    ws.onmessage = (ev: MessageEvent) => onMessage(l, ev.data);
    ws.onclose = (ev: CloseEvent) => onLinkClosed(l, ev.code, ev.reason);
    // Node 20's built-in WebSocket fires only `error` (no `close`) when the handshake is refused.
    ws.onerror = () => { if (!l.opened) onLinkClosed(l, 1006, 'connection failed'); };
    l.readyTimer = timers.setTimeout(() => dropLink(l, 'ready_timeout', `no ready frame within ${readyTimeoutMs} ms`), readyTimeoutMs);
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
    if (closeCode === closeCodeTokenExpired) tokenExpired = true;
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
    emit(opts.onReconnectScheduled, { attempt: attempts, delayMs: delay });
    clearReconnect();
    reconnectTimer = timers.setTimeout(() => {
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
    l.heartbeats?.heardFromServer();
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
      case 'token_expiring': void refreshToken(l); break;
      case 'refreshed': break;
    }
  }

  /**
   * The server says this socket's token expires soon: send it a new one from getToken(). If that fails (or the server
   * refuses it), nothing more is done here: the server closes the socket at the expiry, and the reconnect asks
   * getToken() again.
   */
  async function refreshToken(l: Link): Promise<void> {
    if (!tokens.canRefresh) {
      report(new MeteringClientError('token_expiring', 'the token expires soon and cannot be refreshed: pass getToken'));
      return;
    }
    let token: string;
    try {
      token = await tokens.fresh();
    } catch (cause) {
      report(new MeteringClientError('token_refresh_failed', 'getToken() failed; the socket will reconnect when its token expires', false, { cause }));
      return;
    }
    if (l.finished || link !== l || l.ws.readyState !== wsOpen) return;
    l.ws.send(JSON.stringify({ type: 'refresh', token }));
  }

  function onReady(l: Link, f: ReadyFrame): void {
    if (l.readyTimer !== null) timers.clearTimeout(l.readyTimer);
    l.readyTimer = null;
    l.ready = true;
    l.heartbeats?.stop();
    l.heartbeats = startSocketHeartbeats({
      timers,
      periodMs: heartbeatPeriodMs(opts.heartbeatIntervalMs, f.heartbeat_interval_ms),
      readPlayback,
      canSend: () => !l.finished && l.ready && l.ws.readyState === wsOpen,
      send: (frame) => l.ws.send(JSON.stringify(frame)),
      isHeld: () => completing !== null,
      onDead: () => dropLink(l, 'ack_timeout', 'the server stopped answering heartbeats: reconnecting'),
      onInvalidPlayback: () => report(new MeteringClientError('invalid_playback', 'getPlayback() returned values a heartbeat cannot carry')),
    }, readPlayback()?.playing ?? false);
    setState('open');
    emit(opts.onReady, f);
    connectWaiter?.resolve(f);
    connectWaiter = null;
  }

  function onAck(l: Link, ack: AckFrame): void {
    const rttMs = l.heartbeats?.acked(ack.seq) ?? null;
    attempts = 0; // an answered heartbeat proves the link works: the retry budget is whole again
    emit(opts.onAck, ack, { rttMs });
  }

  function onErrorFrame(l: Link, f: Extract<ServerFrame, { type: 'error' }>): void {
    if (f.seq !== undefined) l.heartbeats?.refused(f.seq);
    report(new MeteringClientError(f.code, f.message, false, f.seq === undefined ? {} : { seq: f.seq }));
    // An error without a seq while completing is the refusal of `complete`: settle over REST instead. (A refused
    // `refresh` is answered without a seq too, and changes nothing.)
    if (completing !== null && f.seq === undefined && !f.code.startsWith('refresh_')) {
      endedWaiter?.(null);
      endedWaiter = null;
    }
  }

  // --- heartbeats -----------------------------------------------------------------------------------------------

  function notifyPlaybackChange(): void {
    const l = link;
    if (l === null || !l.ready || l.finished || completing !== null) return;
    l.heartbeats?.notifyChange();
  }

  // --- complete -------------------------------------------------------------------------------------------------

  async function runComplete(): Promise<EndedFrame> {
    clearReconnect();
    const l = link;
    if (l !== null && l.ready && !l.finished && l.ws.readyState === wsOpen) {
      const viaSocket = new Promise<EndedFrame | null>((resolve) => { endedWaiter = resolve; });
      l.heartbeats?.sendFinal(); // closes the last interval so its playing time is billed
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
          if (link !== null && link.ready && !link.finished) link.heartbeats?.resume(); // meanwhile, keep metering
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
