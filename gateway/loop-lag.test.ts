// The event-loop lag signal: a loop blocked longer than the threshold reads as lagging, for a while; the timer runs only
// while someone asks and stops by itself once no one has for loopLagIdleMs.
import { describe, expect, it } from 'vitest';
import { loopLagHoldMs, loopLagIdleMs, loopLagSampleMs } from '../core/limits.js';
import { watchLoopLag } from './loop-lag.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const block = (ms: number) => { const until = performance.now() + ms; while (performance.now() < until) { /* busy */ } };

describe('loop lag', () => {
  it('reads a blocked loop as lagging, then not once the hold has passed', async () => {
    const lag = watchLoopLag(25);
    expect(lag.lagging()).toBe(false);
    expect(lag.sampling).toBe(true);
    await sleep(loopLagSampleMs * 3);
    expect(lag.lagging()).toBe(false);
    block(80);
    await sleep(loopLagSampleMs * 2);
    expect(lag.lagging()).toBe(true);
    await sleep(loopLagHoldMs + loopLagSampleMs * 3);
    expect(lag.lagging()).toBe(false);
  });

  it('stops its timer when no one asks, and starts it again at the next question', async () => {
    const lag = watchLoopLag(25);
    lag.lagging();
    expect(lag.sampling).toBe(true);
    await sleep(loopLagIdleMs + loopLagSampleMs * 4);
    expect(lag.sampling).toBe(false);
    // A long pause while stopped is not lag: nothing was measured.
    block(80);
    expect(lag.lagging()).toBe(false);
    expect(lag.sampling).toBe(true);
  }, 10_000);
});
