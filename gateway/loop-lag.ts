// How late this process's event loop runs, sampled by a timer: the signal the gateway sheds joins on (join-admission.ts).
// A timer due every loopLagSampleMs that fires late by more than the threshold means the loop was busy or the process
// waited for a core, and every heartbeat in the loop waited as long. The answer stays "lagging" for loopLagHoldMs
// after such a sample, so joins are not let back in between two late turns of a loop still short of CPU.
import { loopLagHoldMs, loopLagSampleMs } from '../shared/limits.js';

export interface LoopLag {
  lagging(): boolean;
  /** The last sample's lateness, in ms. */
  readonly lastLagMs: number;
  stop(): void;
}

export function watchLoopLag(thresholdMs: number): LoopLag {
  let expected = performance.now() + loopLagSampleMs;
  let laggingUntil = 0;
  let lastLagMs = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    lastLagMs = Math.max(0, now - expected);
    expected = now + loopLagSampleMs;
    if (lastLagMs > thresholdMs) laggingUntil = now + loopLagHoldMs;
  }, loopLagSampleMs);
  timer.unref();
  return {
    lagging: () => laggingUntil > performance.now(),
    get lastLagMs() { return lastLagMs; },
    stop: () => clearInterval(timer),
  };
}
