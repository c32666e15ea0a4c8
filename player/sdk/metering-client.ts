// The metering connection: keeps one WebSocket open for a session (docs/websocket-protocol.md), sends heartbeats on the
// server's interval plus one at each playback change, reports the running cost, reconnects with backoff after abnormal
// closes and resumes, and completes the session. Runs in browsers and in Node ≥ 20.14 (global WebSocket and
// fetch); no Node-only imports, so it bundles as is. course-player.ts builds the student's player on top of it.
//
// This file holds the public API and wires its parts together: the socket (metering/connection.ts), what comes
// after a close (metering/reconnect.ts), the server's frames (metering/incoming-frames.ts) and the end of the
// session (metering/completion.ts).
//
// Usage:
//   const client = createMeteringClient({ baseUrl, token, sessionId, getPlayback: () => player.state(),
//     onAck: (ack) => showCost(ack.cost) });
//   await client.connect();
//   video.onplay = video.onpause = video.onseeked = video.onended = () => client.notifyPlaybackChange();
//   const ended = await client.complete();
import type { AckFrame, EndedFrame, ReadyFrame } from '../../core/protocol/ws.js';
import { createRestClient, type RestClient } from './rest-client.js';
import { createTokenKeeper, type TokenOptions } from './token-keeper.js';
import { reconnectPolicyDefault, wsUrlFor, type Playback, type ReconnectPolicy } from './protocol/index.js';
import { globalTimers, type Timers } from './heartbeat-schedule.js';
import { MeteringClientError, type ClientState } from './metering/client-error.js';
import { createClientStatus } from './metering/client-status.js';
import { createCompletion } from './metering/completion.js';
import { createConnection, defaultWebSocketFactory, type Link } from './metering/connection.js';
import { createIncomingFrames, type WarningFrame } from './metering/incoming-frames.js';
import { createReconnect } from './metering/reconnect.js';

export { MeteringClientError, type ClientState } from './metering/client-error.js';
export { readyTimeoutMs } from './metering/connection.js';
export { probeTimeoutMs } from './metering/reconnect.js';
export { completeTimeoutMs, restCompleteAttemptsMax, restCompleteRetryMs } from './metering/completion.js';
export type { WarningFrame } from './metering/incoming-frames.js';

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

export function createMeteringClient(opts: MeteringClientOptions): MeteringClient {
  const policy: ReconnectPolicy = { ...reconnectPolicyDefault, ...opts.reconnect };
  const tokens = createTokenKeeper(opts);
  const rest: RestClient = createRestClient({ baseUrl: opts.baseUrl, token: () => tokens.current(), fetch: opts.fetch });
  const timers = opts.timers ?? globalTimers;
  const status = createClientStatus(opts);
  let ended: EndedFrame | null = null;
  let connectWaiter: { resolve: (f: ReadyFrame) => void; reject: (e: Error) => void } | null = null;
  let connectPromise: Promise<ReadyFrame> | null = null;

  function rejectConnect(err: Error): void {
    connectWaiter?.reject(err);
    connectWaiter = null;
  }

  function fail(err: MeteringClientError): void {
    if (status.isTerminal()) return;
    connection.stop(1000, 'client gave up');
    reconnect.cancel();
    status.set('failed');
    status.report(err);
    rejectConnect(err);
  }

  function finishEnded(frame: EndedFrame): void {
    ended = frame;
    reconnect.cancel();
    connection.stop(1000, 'ended');
    completion.endedOverSocket(frame);
    status.set('ended');
    status.emit(opts.onEnded, frame);
    rejectConnect(new MeteringClientError('ended', `the session ended (${frame.reason})`));
  }

  function readPlayback(): Playback | null {
    try {
      return opts.getPlayback();
    } catch (cause) {
      status.report(new MeteringClientError('playback_error', 'getPlayback() threw', false, { cause }));
      return null;
    }
  }

  function onClosed(l: Link, closeCode: number, reason: string): void {
    if (!connection.detach(l) || status.isTerminal()) return;
    if (completion.isCompleting()) {
      completion.socketGaveUp(); // complete() carries on over REST
      return;
    }
    reconnect.afterClose(l.opened, closeCode, reason);
  }

  const isCompleting = (): boolean => completion.isCompleting();
  const connection = createConnection({
    url: wsUrlFor(opts.baseUrl, opts.sessionId), factory: opts.webSocketFactory ?? defaultWebSocketFactory,
    timers, tokens, status, isCompleting, fail, onClosed,
    onMessage: (l, data) => onMessage(l, data),
  });
  const reconnect = createReconnect({
    policy, timers, status, rest, sessionId: opts.sessionId, isCompleting, fail, finishEnded,
    open: () => void connection.open(), tokenExpired: () => connection.tokenExpired(), onReconnectScheduled: opts.onReconnectScheduled,
  });
  const completion = createCompletion({
    sessionId: opts.sessionId, rest, connection, readPlayback, finishEnded, ended: () => ended, cancelReconnect: () => reconnect.cancel(),
  });
  const onMessage = createIncomingFrames({
    timers, status, tokens, connection, heartbeatIntervalMs: opts.heartbeatIntervalMs, readPlayback, isCompleting,
    ready(f) {
      status.set('open');
      status.emit(opts.onReady, f);
      connectWaiter?.resolve(f);
      connectWaiter = null;
    },
    acked(ack: AckFrame, info) {
      reconnect.linkProven();
      status.emit(opts.onAck, ack, info);
    },
    warning: (f: WarningFrame) => status.emit(opts.onWarning, f),
    ended: finishEnded,
    completeRefused: () => completion.socketGaveUp(),
  });

  return {
    connect(): Promise<ReadyFrame> {
      if (connectPromise !== null) return connectPromise;
      connectPromise = new Promise<ReadyFrame>((resolve, reject) => { connectWaiter = { resolve, reject }; });
      connectPromise.catch(() => undefined); // callers that do not await must not see an unhandled rejection
      if (status.isTerminal()) rejectConnect(new MeteringClientError(status.state, `the client is ${status.state}`));
      else void connection.open();
      return connectPromise;
    },
    notifyPlaybackChange(): void {
      const l = connection.link;
      if (l === null || !l.ready || l.finished || completion.isCompleting()) return;
      l.heartbeats?.notifyChange();
    },
    complete: () => completion.complete(),
    close(): void {
      if (status.isTerminal()) return;
      reconnect.cancel();
      connection.stop(1000, 'client closed');
      status.set('closed');
      rejectConnect(new MeteringClientError('closed', 'close() was called'));
      completion.socketGaveUp();
    },
    get state(): ClientState {
      return status.state;
    },
  };
}
