// Ending the session: `complete` over the socket when one is ready (after a last heartbeat that closes the playing
// interval), waiting a bounded time for `ended`; otherwise, or when the socket fails, REST complete with retries.
// `close()` is the other way out: it does not settle (README "WebSocket protocol").
import type { EndedFrame } from '../../../core/protocol/ws.js';
import { completeText, type Playback } from '../protocol/index.js';
import { RestError, type RestClient } from '../rest-client.js';
import type { Connection } from './connection.js';
import { sleep, withTimeout } from './wait.js';

/** How long `complete()` waits for `ended` on the socket before settling over REST instead. */
export const completeTimeoutMs = 20_000;
/** REST `complete` attempts (503 settlement_pending, network errors) and the pause between them. */
export const restCompleteAttemptsMax = 5;
export const restCompleteRetryMs = 1_000;

export interface CompletionDeps {
  sessionId: string;
  rest: RestClient;
  connection: Connection;
  readPlayback(): Playback | null;
  /** The session's `ended`, once known. */
  ended(): EndedFrame | null;
  /** Records the end (over REST) as if the socket had said `ended`. */
  finishEnded(frame: EndedFrame): void;
  /** No reconnect may be pending while completing. */
  cancelReconnect(): void;
}

export interface Completion {
  complete(): Promise<EndedFrame>;
  isCompleting(): boolean;
  /** The socket said `ended`. */
  endedOverSocket(frame: EndedFrame): void;
  /** The socket is gone, or refused `complete`, or the client was closed: stop waiting for `ended` there. */
  socketGaveUp(): void;
}

export function createCompletion(deps: CompletionDeps): Completion {
  let completing: Promise<EndedFrame> | null = null;
  let endedWaiter: ((frame: EndedFrame | null) => void) | null = null;

  async function run(): Promise<EndedFrame> {
    deps.cancelReconnect();
    const l = deps.connection.link;
    if (l !== null && l.ready && deps.connection.canSend(l)) {
      const viaSocket = new Promise<EndedFrame | null>((resolve) => { endedWaiter = resolve; });
      l.heartbeats?.sendFinal(); // closes the last interval so its playing time is billed
      l.ws.send(completeText);
      const frame = await withTimeout(viaSocket, completeTimeoutMs).catch(() => null);
      endedWaiter = null;
      if (frame !== null) return frame;
    }
    return overRest();
  }

  async function overRest(): Promise<EndedFrame> {
    const duration = deps.readPlayback()?.duration_seconds;
    let lastError: unknown = null;
    for (let attempt = 1; attempt <= restCompleteAttemptsMax; attempt++) {
      try {
        const r = await deps.rest.completeSession(deps.sessionId, { session_id: deps.sessionId, ...(duration === undefined ? {} : { duration_seconds: duration }) });
        const frame: EndedFrame = {
          type: 'ended', reason: r.end_reason,
          summary: { duration_seconds: r.duration_seconds, cost: r.cost, refund: r.refund, teacher_earning: r.teacher_earning },
        };
        if (deps.ended() === null) deps.finishEnded(frame);
        return deps.ended() ?? frame;
      } catch (err) {
        lastError = err;
        const retryable = err instanceof RestError && (err.status === 0 || err.status === 429 || err.status >= 500);
        if (!retryable) break;
        await sleep(restCompleteRetryMs * attempt);
      }
    }
    throw lastError instanceof Error ? lastError : new Error('complete failed');
  }

  function answerWaiter(frame: EndedFrame | null): void {
    endedWaiter?.(frame);
    endedWaiter = null;
  }

  return {
    complete() {
      const ended = deps.ended();
      if (ended !== null) return Promise.resolve(ended);
      if (completing === null) {
        completing = run().catch((err: unknown) => {
          completing = null; // the caller may try again (e.g. once the network is back)
          const l = deps.connection.link;
          if (l !== null && l.ready && !l.finished) l.heartbeats?.resume(); // meanwhile, keep metering
          throw err;
        });
      }
      return completing;
    },
    isCompleting: () => completing !== null,
    endedOverSocket: answerWaiter,
    socketGaveUp: () => answerWaiter(null),
  };
}
