// A player's reconnect budget: backoff delays in order, none after the budget is spent, whole again after a proven
// link; and which `resumed` the next socket's `ready` must carry.
import { describe, expect, it } from 'vitest';
import { backoffDelayMs, ReconnectAttempts, resumeExpected } from './reconnect-policy.js';

describe('ReconnectAttempts', () => {
  const policy = { baseDelayMs: 100, maxDelayMs: 1_000, maxAttempts: 3 };

  it('waits the backoff of each attempt in turn, then gives up until the link is proven again', () => {
    const a = new ReconnectAttempts(policy, () => 1);
    expect([a.next(), a.next(), a.next()]).toEqual([0, 1, 2].map((n) => backoffDelayMs(n, policy, () => 1)));
    expect([a.count, a.spent]).toEqual([3, true]);
    expect(a.next()).toBeNull();
    a.linkProven();
    expect([a.count, a.spent, a.next()]).toEqual([0, false, 100]);
  });
});

describe('resumeExpected', () => {
  it('is true after a ready, false before any handshake, and either in between', () => {
    expect(resumeExpected(true, 3)).toBe(true);
    expect(resumeExpected(false, 0)).toBe(false);
    expect(resumeExpected(false, 1)).toBeNull();
  });
});
