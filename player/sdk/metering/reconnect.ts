// After a socket is gone: come back (with backoff, within the retry budget), find out why it never opened, or give
// up. Which closes are worth a retry and how long to wait is the reconnect policy (protocol/reconnect-policy.ts).
import type { EndedFrame } from '../../../core/protocol/ws.js';
import type { Timers } from '../heartbeat-schedule.js';
import { closeCodeTokenExpired, ReconnectAttempts, shouldReconnect, type ReconnectPolicy } from '../protocol/index.js';
import { RestError, type RestClient } from '../rest-client.js';
import { finalRestRefusal, MeteringClientError } from './client-error.js';
import type { ClientStatus } from './client-status.js';
import { withTimeout } from './wait.js';

/** The REST status probe made when a socket could not even be opened (was it 401, 404, already settled?). */
export const probeTimeoutMs = 5_000;

export interface ReconnectDeps {
  policy: ReconnectPolicy;
  timers: Timers;
  status: ClientStatus;
  rest: RestClient;
  sessionId: string;
  isCompleting(): boolean;
  /** Opens the next socket. */
  open(): void;
  /** The next socket must present a new token. */
  tokenExpired(): void;
  fail(err: MeteringClientError): void;
  finishEnded(frame: EndedFrame): void;
  onReconnectScheduled?: (info: { attempt: number; delayMs: number }) => void;
}

export interface Reconnect {
  /** A socket is gone while the client still meters: `opened` says whether its handshake had succeeded. */
  afterClose(opened: boolean, closeCode: number, reason: string): void;
  /** An answered heartbeat proves the link works: the retry budget is whole again. */
  linkProven(): void;
  cancel(): void;
}

export function createReconnect(deps: ReconnectDeps): Reconnect {
  const { status, timers } = deps;
  const attempts = new ReconnectAttempts(deps.policy);
  let timer: unknown = null;

  function cancel(): void {
    if (timer !== null) timers.clearTimeout(timer);
    timer = null;
  }

  function schedule(): void {
    if (status.isTerminal() || deps.isCompleting()) return;
    const delay = attempts.next();
    if (delay === null) {
      deps.fail(new MeteringClientError('gave_up', `no connection after ${attempts.count} attempts`, true));
      return;
    }
    status.set('reconnecting');
    status.emit(deps.onReconnectScheduled, { attempt: attempts.count, delayMs: delay });
    cancel();
    timer = timers.setTimeout(() => {
      timer = null;
      deps.open();
    }, delay);
  }

  /**
   * The socket never opened, and browsers do not say why (the HTTP status of a refused upgrade is hidden). Ask the
   * REST API: 401/403/404 and a settled or never-started session are final; anything else is worth a retry.
   */
  async function probeThenRetry(): Promise<void> {
    try {
      const st = await withTimeout(deps.rest.getStatus(deps.sessionId), probeTimeoutMs);
      if (status.isTerminal()) return;
      if (st.status === 'completed') {
        deps.finishEnded({ type: 'ended', reason: st.end_reason ?? 'completed' });
        return;
      }
      if (st.status === 'locked') {
        deps.fail(new MeteringClientError('wrong_state', 'the session has not been started (POST /start first)', true, { status: 409 }));
        return;
      }
    } catch (err) {
      if (status.isTerminal()) return;
      const final = err instanceof RestError ? finalRestRefusal(err) : null;
      if (final !== null) {
        deps.fail(final);
        return;
      }
    }
    schedule();
  }

  return {
    afterClose(opened, closeCode, reason) {
      if (closeCode === closeCodeTokenExpired) deps.tokenExpired();
      if (!opened) {
        void probeThenRetry();
      } else if (shouldReconnect(closeCode)) {
        schedule();
      } else {
        deps.fail(new MeteringClientError(closeCode === 1000 ? 'closed_by_server' : `closed_${closeCode}`,
          `the server closed the socket (${closeCode}${reason ? `: ${reason}` : ''})`, true, { closeCode }));
      }
    },
    linkProven() {
      attempts.linkProven();
    },
    cancel,
  };
}
