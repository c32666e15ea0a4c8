// How late this process's event loop runs, sampled by a timer: the signal the gateway sheds joins on (join-admission.ts).
// A timer due every loopLagSampleMs that fires late by more than the threshold means the loop was busy or the process
// waited for a core, and every heartbeat in the loop waited as long. The answer stays "lagging" for loopLagHoldMs
// after such a sample, so joins are not let back in between two late turns of a loop still short of CPU.
// The timer runs only while someone asks: the first question starts it, and it stops after loopLagIdleMs without one.
// A gateway no one joins (most of a lecture) does not wake 50 times a second to measure a lag nothing reads.
import { loopLagHoldMs, loopLagIdleMs, loopLagSampleMs } from '../core/limits.js';

export interface LoopLag {
  /** Whether the loop has run late lately; starts the sampling if it was stopped (then: not lagging yet). */
  lagging(): boolean;
  /** Whether the timer is running now. */
  readonly sampling: boolean;
}

export function watchLoopLag(thresholdMs: number): LoopLag {
  let timer: NodeJS.Timeout | null = null;
  let expected = 0;
  let laggingUntil = 0;
  let askedAt = 0;
  const sample = () => {
    const now = performance.now();
    if (now - askedAt > loopLagIdleMs) {
      clearInterval(timer!);
      timer = null;
      return;
    }
    if (now - expected > thresholdMs) laggingUntil = now + loopLagHoldMs;
    expected = now + loopLagSampleMs;
  };
  return {
    lagging() {
      const now = performance.now();
      askedAt = now;
      if (timer === null) {
        expected = now + loopLagSampleMs;
        timer = setInterval(sample, loopLagSampleMs);
        timer.unref();
      }
      return laggingUntil > now;
    },
    get sampling() { return timer !== null; },
  };
}
