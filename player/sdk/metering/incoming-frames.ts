// What the server says on a socket: each message parsed, checked, and handled by its type. `ready` starts the
// socket's heartbeats; `ack` closes a heartbeat's round trip; an error frame without a seq while completing is the
// refusal of `complete`.
import type { AckFrame, EndedFrame, ReadyFrame, ServerFrame } from '../../../core/protocol/ws.js';
import { heartbeatText, parseServerFrame, refreshText, type Playback } from '../protocol/index.js';
import { heartbeatPeriodMs, startSocketHeartbeats, type Timers } from '../heartbeat-schedule.js';
import type { TokenKeeper } from '../token-keeper.js';
import { MeteringClientError } from './client-error.js';
import type { ClientStatus } from './client-status.js';
import type { Connection, Link } from './connection.js';

export type WarningFrame = Extract<ServerFrame, { type: 'warning' }>;
type ErrorFrame = Extract<ServerFrame, { type: 'error' }>;

export interface IncomingFramesDeps {
  timers: Timers;
  status: ClientStatus;
  tokens: TokenKeeper;
  connection: Connection;
  /** The caller's wish for the heartbeat period (capped at the server's). */
  heartbeatIntervalMs: number | undefined;
  readPlayback(): Playback | null;
  isCompleting(): boolean;
  /** The socket said `ready` and its heartbeats run. */
  ready(frame: ReadyFrame): void;
  acked(ack: AckFrame, info: { rttMs: number | null }): void;
  warning(frame: WarningFrame): void;
  ended(frame: EndedFrame): void;
  /** The server refused `complete`: settle over REST instead. */
  completeRefused(): void;
}

export function createIncomingFrames(deps: IncomingFramesDeps): (l: Link, data: unknown) => void {
  const { status, timers, connection } = deps;

  function onReady(l: Link, f: ReadyFrame): void {
    if (l.readyTimer !== null) timers.clearTimeout(l.readyTimer);
    l.readyTimer = null;
    l.ready = true;
    l.heartbeats?.stop();
    l.heartbeats = startSocketHeartbeats({
      timers,
      periodMs: heartbeatPeriodMs(deps.heartbeatIntervalMs, f.heartbeat_interval_ms),
      readPlayback: deps.readPlayback,
      canSend: () => l.ready && connection.canSend(l),
      send: (frame) => l.ws.send(heartbeatText(frame)),
      isHeld: deps.isCompleting,
      onDead: () => connection.drop(l, 'ack_timeout', 'the server stopped answering heartbeats: reconnecting'),
      onInvalidPlayback: () => status.report(new MeteringClientError('invalid_playback', 'getPlayback() returned values a heartbeat cannot carry')),
    }, deps.readPlayback()?.playing ?? false);
    deps.ready(f);
  }

  function onErrorFrame(l: Link, f: ErrorFrame): void {
    if (f.seq !== undefined) l.heartbeats?.refused(f.seq);
    status.report(new MeteringClientError(f.code, f.message, false, f.seq === undefined ? {} : { seq: f.seq }));
    // An error without a seq while completing is the refusal of `complete`: settle over REST instead. (A refused
    // `refresh` is answered without a seq too, and changes nothing.)
    if (deps.isCompleting() && f.seq === undefined && !f.code.startsWith('refresh_')) deps.completeRefused();
  }

  /**
   * The server says this socket's token expires soon: send it a new one from getToken(). If that fails (or the server
   * refuses it), nothing more is done here: the server closes the socket at the expiry, and the reconnect asks
   * getToken() again.
   */
  async function refreshToken(l: Link): Promise<void> {
    if (!deps.tokens.canRefresh) {
      status.report(new MeteringClientError('token_expiring', 'the token expires soon and cannot be refreshed: pass getToken'));
      return;
    }
    let token: string;
    try {
      token = await deps.tokens.fresh();
    } catch (cause) {
      status.report(new MeteringClientError('token_refresh_failed', 'getToken() failed; the socket will reconnect when its token expires', false, { cause }));
      return;
    }
    if (!connection.canSend(l)) return;
    l.ws.send(refreshText(token));
  }

  return function onMessage(l: Link, data: unknown): void {
    if (l.finished) return;
    l.heartbeats?.heardFromServer();
    const parsed = parseServerFrame(data);
    if (!parsed.ok) {
      status.report(new MeteringClientError('invalid_server_frame', parsed.reason));
      return;
    }
    const f = parsed.frame;
    switch (f.type) {
      case 'ready': onReady(l, f); break;
      case 'ack': deps.acked(f, { rttMs: l.heartbeats?.acked(f.seq) ?? null }); break;
      case 'warning': deps.warning(f); break;
      case 'ended': deps.ended(f); break;
      case 'error': onErrorFrame(l, f); break;
      case 'token_expiring': void refreshToken(l); break;
      case 'refreshed': break;
    }
  };
}
