// The socket of the metering client: opens one at a time (URL, token, the factory that sets it on the request),
// routes its events, and closes it. What happens after a close is decided elsewhere (reconnect.ts).
import type { Timers, SocketHeartbeats } from '../heartbeat-schedule.js';
import type { TokenKeeper } from '../token-keeper.js';
import { MeteringClientError } from './client-error.js';
import type { ClientStatus } from './client-status.js';

/** A socket that has not said `ready` this long after it was created is dropped and retried. */
export const readyTimeoutMs = 10_000;

const wsOpen = 1;

/** One socket and what the client knows about it. */
export interface Link {
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

export interface ConnectionDeps {
  url: string;
  factory: (url: string, token: string) => WebSocket;
  timers: Timers;
  tokens: TokenKeeper;
  status: ClientStatus;
  /** While completing, no new socket is opened: complete() carries on over REST. */
  isCompleting(): boolean;
  fail(err: MeteringClientError): void;
  onMessage(l: Link, data: unknown): void;
  /** The socket is gone (closed, refused, or dropped here); called once per socket. */
  onClosed(l: Link, closeCode: number, reason: string): void;
}

export interface Connection {
  readonly link: Link | null;
  /** Opens a socket unless one is open or the client is done; takes a new token after `tokenExpired()`. */
  open(): Promise<void>;
  /** Detaches and closes the current socket without any follow-up (used on terminal transitions). */
  stop(code: number, reason: string): void;
  /** Gives up on a socket that stopped answering; treated as an abnormal close (reconnect). */
  drop(l: Link, code: string, message: string): void;
  /** Marks a socket gone; false when it already was. */
  detach(l: Link): boolean;
  /** The last socket was closed because its token expired: the next one opens with a new token. */
  tokenExpired(): void;
  /** Whether frames can go out on `l` now: still the client's socket, and open. */
  canSend(l: Link): boolean;
}

export function defaultWebSocketFactory(url: string, token: string): WebSocket {
  if (typeof WebSocket !== 'function') {
    throw new Error('no global WebSocket: use Node ≥ 22, or Node 20.14+ with --experimental-websocket, or pass webSocketFactory');
  }
  const u = new URL(url);
  u.searchParams.set('token', token);
  return new WebSocket(u.toString());
}

export function createConnection(deps: ConnectionDeps): Connection {
  const { timers, status } = deps;
  let link: Link | null = null;
  let tokenExpired = false;

  function clearLinkTimers(l: Link): void {
    if (l.readyTimer !== null) timers.clearTimeout(l.readyTimer);
    l.readyTimer = null;
    l.heartbeats?.stop();
  }

  function detach(l: Link): boolean {
    if (l.finished) return false;
    l.finished = true;
    clearLinkTimers(l);
    if (link === l) link = null;
    return true;
  }

  function drop(l: Link, code: string, message: string): void {
    if (l.finished) return;
    status.report(new MeteringClientError(code, message));
    try {
      l.ws.close(4000, code);
    } catch {
      // Already closing.
    }
    deps.onClosed(l, 1006, code);
  }

  async function open(): Promise<void> {
    if (status.isTerminal() || link !== null) return;
    status.set('connecting');
    let token: string;
    try {
      token = tokenExpired ? await deps.tokens.fresh() : await deps.tokens.current();
      tokenExpired = false;
    } catch (cause) {
      deps.fail(new MeteringClientError('token_error', 'the token function failed', true, { cause }));
      return;
    }
    // Closed, ended or completing while the token was fetched: no new socket.
    if (status.isTerminal() || link !== null || deps.isCompleting()) return;
    let ws: WebSocket;
    try {
      ws = deps.factory(deps.url, token);
    } catch (cause) {
      deps.fail(new MeteringClientError('no_websocket', (cause as Error).message, true, { cause }));
      return;
    }
    const l: Link = { ws, opened: false, ready: false, finished: false, heartbeats: null, readyTimer: null };
    link = l;
    ws.onopen = () => { l.opened = true; };
    ws.onmessage = (ev: MessageEvent) => deps.onMessage(l, ev.data);
    ws.onclose = (ev: CloseEvent) => deps.onClosed(l, ev.code, ev.reason);
    // Node 20's built-in WebSocket fires only `error` (no `close`) when the handshake is refused.
    ws.onerror = () => { if (!l.opened) deps.onClosed(l, 1006, 'connection failed'); };
    l.readyTimer = timers.setTimeout(() => drop(l, 'ready_timeout', `no ready frame within ${readyTimeoutMs} ms`), readyTimeoutMs);
  }

  return {
    get link() {
      return link;
    },
    open,
    stop(code, reason) {
      const l = link;
      if (l === null) return;
      detach(l);
      try {
        l.ws.close(code, reason);
      } catch {
        // Already closing or closed.
      }
    },
    drop,
    detach,
    tokenExpired() {
      tokenExpired = true;
    },
    canSend: (l) => !l.finished && l.ws.readyState === wsOpen,
  };
}
