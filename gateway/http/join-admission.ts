// How many joins (a create or a start) a gateway works on at once, and what it answers past that (README "Joins under
// overload"). A join costs a Postgres transaction, Redis writes and a few milliseconds of CPU here and in Postgres;
// let in without a bound, a storm of them queued on the pool and on the CPU until every join took seconds and every
// watcher's ack waited behind them. Instead:
//   - at most joinsInFlightMax joins run at once, fewer than the pool's connections, so a wallet read, a complete or
//     a settlement wait still finds one;
//   - up to joinsQueuedMax more wait here, in memory and in arrival order, each for at most joinQueueWaitMsMax;
//   - past that a join is refused at once: 503 `overloaded` with Retry-After (longer the more this gateway is refusing:
//     createRetryAfter). A refused join did nothing, so the client may repeat it; the SDK and the load driver do,
//     after Retry-After plus jitter;
//   - while this process's event loop runs later than JOIN_SHED_LOOP_LAG_MS (the CPU is short, and watchers'
//     heartbeats come first) at most joinsInFlightMaxWhileLagging joins run and none waits: the rest are refused.
//     Not all: refusing every join while the loop lags would let a storm that keeps the loop busy with its own
//     refusals lock every join out for as long as it lasts;
//   - a start finishes a join whose create was already paid for (its funds are locked): starts go ahead of waiting
//     creates, wait in a line of their own, and while the loop lags a create runs only beside fewer others
//     (createsInFlightMaxWhileLagging) than a start may. A refused start costs its player a Retry-After with funds
//     locked and the create's work half used; a refused create costs nothing yet.
// Refusals are decided before the token is checked (refuseEarly), so a refused join costs little more than parsing:
// a join answered 503 in a millisecond costs less than one let in to wait seconds for the pool and the CPU.
import { RetryLaterError } from '../../core/errors.js';
import type { Config } from '../../core/config.js';
import {
  createsInFlightMaxWhileLagging, joinQueueWaitMsMax, joinRetryAfterMs, joinRetryAfterMsMax, joinsInFlightMax, joinsInFlightMaxWhileLagging,
  joinsQueuedMax,
} from '../../core/limits.js';
import { watchLoopLag } from '../loop-lag.js';

export const joinAdmissionOutcomes = ['admitted', 'queued', 'refused_full', 'refused_wait', 'refused_lag'] as const;
export type JoinAdmissionOutcome = (typeof joinAdmissionOutcomes)[number];

export interface JoinAdmissionLimits {
  inFlightMax: number;
  /** Joins that may run at once while the event loop lags (none waits then): a start beside this many others. */
  inFlightMaxWhileLagging: number;
  /** While the event loop lags, a create runs only beside fewer others than this (≤ inFlightMaxWhileLagging). */
  createsInFlightMaxWhileLagging: number;
  /** Each line's length: starts wait in one, creates in another. */
  queuedMax: number;
  queueWaitMsMax: number;
}

/** The two halves of a join: a create locks funds, a start begins metering a session already created. */
export type JoinKind = 'create' | 'start';

export interface JoinAdmission {
  /** Runs `join` when a slot is free; refuses with 503 `overloaded` instead when it cannot run soon. */
  admit<T>(join: () => Promise<T>, kind?: JoinKind): Promise<T>;
  /**
   * Throws the refusal `admit` would answer now, before the request has cost anything (token check, Redis): under a
   * storm most joins are refused, and each refusal must cost as little as possible. `admit` still decides.
   */
  refuseEarly(kind?: JoinKind): void;
  readonly inFlight: number;
  /** Joins waiting in both lines. */
  readonly queued: number;
}

export const joinAdmissionLimitsDefault: JoinAdmissionLimits = Object.freeze({
  inFlightMax: joinsInFlightMax, inFlightMaxWhileLagging: joinsInFlightMaxWhileLagging,
  createsInFlightMaxWhileLagging, queuedMax: joinsQueuedMax, queueWaitMsMax: joinQueueWaitMsMax,
});

/** A line of waiting joins in arrival order; `head` moves instead of a shift per start, which would copy the array. */
class Line {
  private items: Waiter[] = [];
  private head = 0;
  get size(): number { return this.items.length - this.head; }
  push(w: Waiter): void { this.items.push(w); }
  shift(): Waiter | undefined {
    const w = this.items[this.head++];
    if (this.head === this.items.length) { this.items.length = 0; this.head = 0; }
    return w;
  }
  /** Takes `w` out of the line if it still waits (a started waiter has left it already). */
  remove(w: Waiter): void {
    const at = this.items.indexOf(w, this.head);
    if (at >= 0) this.items.splice(at, 1);
  }
}

interface Waiter {
  start(): void;
  timer: NodeJS.Timeout;
}

function overloaded(why: string, retryAfterMs: number): RetryLaterError {
  return new RetryLaterError('overloaded', retryAfterMs, `this gateway is taking as many joins as it can (${why}); retry after Retry-After seconds`);
}

/**
 * Retry-After for a refused join: about when the joins refused before it will have had their turn, i.e. the joins
 * this gateway refused over those it let in, in the last whole second, as seconds, between joinRetryAfterMs and
 * joinRetryAfterMsMax. A fixed second brought every refused player back within the next one, to be refused again:
 * in a storm past capacity most of the CPU went to refusing the same players over and over.
 */
function createRetryAfter(nowMs: () => number) {
  let secondStartMs = nowMs();
  let admitted = 0;
  let refused = 0;
  let last = { admitted: 0, refused: 0 };
  const roll = () => {
    const now = nowMs();
    if (now - secondStartMs < 1_000) return;
    last = now - secondStartMs < 2_000 ? { admitted, refused } : { admitted: 0, refused: 0 };
    admitted = 0;
    refused = 0;
    secondStartMs = now;
  };
  return {
    admitted() { roll(); admitted++; },
    refused(): number {
      roll();
      refused++;
      const turns = Math.ceil(last.refused / Math.max(1, last.admitted));
      return Math.min(joinRetryAfterMsMax, Math.max(joinRetryAfterMs, turns * 1_000));
    },
  };
}

export function createJoinAdmission(
  deps: { loopLagging(): boolean; count(outcome: JoinAdmissionOutcome): void; nowMs?: () => number },
  limits: JoinAdmissionLimits = joinAdmissionLimitsDefault,
): JoinAdmission {
  const retryAfter = createRetryAfter(deps.nowMs ?? Date.now);
  const refuse = (outcome: JoinAdmissionOutcome, why: string) => {
    deps.count(outcome);
    return overloaded(why, retryAfter.refused());
  };
  let inFlight = 0;
  const lines: Record<JoinKind, Line> = { start: new Line(), create: new Line() };
  const queued = () => lines.start.size + lines.create.size;

  const next = () => {
    inFlight--;
    while (inFlight < limits.inFlightMax && queued() > 0) {
      // Starts first: each finishes a join already half paid for.
      const w = (lines.start.size > 0 ? lines.start : lines.create).shift()!;
      clearTimeout(w.timer);
      w.start();
    }
  };

  const run = <T>(join: () => Promise<T>): Promise<T> => {
    inFlight++;
    retryAfter.admitted();
    let done: Promise<T>;
    try {
      done = join();
    } catch (err) {
      done = Promise.reject(err);
    }
    return done.finally(next);
  };

  /** Joins a join of this kind would wait behind: a start only behind starts, a create behind both lines. */
  const ahead = (kind: JoinKind) => (kind === 'start' ? lines.start.size : queued());

  /** Why a join arriving now would be refused, or null if it would run or wait. */
  const refusal = (kind: JoinKind): { outcome: JoinAdmissionOutcome; why: string } | null => {
    // While the loop lags, a join runs only beside fewer others and never waits: the storm still makes progress, one
    // join at a time, but adds no more CPU than that to the watchers' wait.
    if (deps.loopLagging()) {
      const slots = kind === 'start' ? limits.inFlightMaxWhileLagging : limits.createsInFlightMaxWhileLagging;
      return inFlight < slots && ahead(kind) === 0 ? null : { outcome: 'refused_lag', why: 'event loop lagging' };
    }
    if (inFlight < limits.inFlightMax && ahead(kind) === 0) return null;
    return lines[kind].size >= limits.queuedMax ? { outcome: 'refused_full', why: 'queue full' } : null;
  };

  return {
    get inFlight() { return inFlight; },
    get queued() { return queued(); },
    refuseEarly(kind = 'create') {
      const no = refusal(kind);
      if (no !== null) throw refuse(no.outcome, no.why);
    },
    admit(join, kind = 'create') {
      const no = refusal(kind);
      if (no !== null) return Promise.reject(refuse(no.outcome, no.why));
      if (inFlight < limits.inFlightMax && ahead(kind) === 0) {
        deps.count('admitted');
        return run(join);
      }
      deps.count('queued');
      return new Promise((resolve, reject) => {
        const w: Waiter = {
          start: () => { run(join).then(resolve, reject); },
          timer: setTimeout(() => {
            // Still waiting (a started waiter's timer is cleared): out of the line, answered now.
            lines[kind].remove(w);
            reject(refuse('refused_wait', `no slot within ${limits.queueWaitMsMax} ms`));
          }, limits.queueWaitMsMax),
        };
        lines[kind].push(w);
      });
    },
  };
}

/** This process's admission: the limits above, shedding on its own event loop's lag when the config asks for it. */
export function createGatewayJoinAdmission(
  config: Pick<Config, 'joinShedLoopLagMs'>,
  metrics: { joinAdmissions: Record<JoinAdmissionOutcome, { inc(): void }> },
): JoinAdmission {
  const lag = config.joinShedLoopLagMs > 0 ? watchLoopLag(config.joinShedLoopLagMs) : null;
  return createJoinAdmission({
    loopLagging: lag ? lag.lagging : () => false,
    count: (outcome) => metrics.joinAdmissions[outcome].inc(),
  });
}
