// Waiting that a shutdown can cut short: every loop of the worker sleeps through here, so stop() never waits out
// a back-off or an interval.

/** Resolves after `ms`, or at once when `signal` aborts. Never rejects. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Longest back-off after a failure: long enough to spare a struggling database, short enough to recover fast. */
export const backoffMsMax = 5_000;
const backoffMsMin = 100;

/** Exponential back-off for the n-th consecutive failure (0-based), capped at backoffMsMax. */
export function backoffMs(failures: number): number {
  return Math.min(backoffMsMax, backoffMsMin * 2 ** Math.min(failures, 16));
}
