// The one timer behind token expiry: each token is warned about once, at the lead (or half-way for a short one), and
// closed at its expiry unless tracked again; forgetting a socket silences it; the timer stops when nothing is left.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { tokenExpiryTickMs, tokenRefreshLeadMs } from '../../core/limits.js';
import { createTokenDeadlines, warnAtMs } from './token-deadlines.js';

beforeEach(() => { vi.useFakeTimers({ now: 1_000_000 }); });
afterEach(() => { vi.useRealTimers(); });

function recorder() {
  const events: string[] = [];
  const deadlines = createTokenDeadlines<string>({
    expiring: (s, at) => events.push(`expiring ${s} ${at - 1_000_000}`),
    expired: (s) => events.push(`expired ${s}`),
  });
  return { events, deadlines };
}

describe('warnAtMs', () => {
  it('warns the lead before a long token expires, half-way through a short one, at once for an expired one', () => {
    expect(warnAtMs(10 * tokenRefreshLeadMs, 0)).toBe(9 * tokenRefreshLeadMs);
    expect(warnAtMs(3_000, 0)).toBe(1_500);
    expect(warnAtMs(500, 1_000)).toBe(1_000);
  });
});

describe('createTokenDeadlines', () => {
  it('warns once, then closes at the expiry, each within one tick', () => {
    const { events, deadlines } = recorder();
    deadlines.track('a', Date.now() + 3_000);
    vi.advanceTimersByTime(1_500 - 1);
    expect(events).toEqual([]);
    vi.advanceTimersByTime(tokenExpiryTickMs);
    expect(events).toEqual(['expiring a 3000']);
    vi.advanceTimersByTime(1_500 - tokenExpiryTickMs - 1);
    expect(events).toEqual(['expiring a 3000']);
    vi.advanceTimersByTime(tokenExpiryTickMs + 1);
    expect(events).toEqual(['expiring a 3000', 'expired a']);
    expect(deadlines.size()).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a token tracked again (a refresh) moves both moments; the old ones never fire', () => {
    const { events, deadlines } = recorder();
    deadlines.track('a', Date.now() + 3_000);
    vi.advanceTimersByTime(2_000);
    expect(events).toEqual(['expiring a 3000']);
    deadlines.track('a', Date.now() + 4_000); // expires at +6000 from the start
    vi.advanceTimersByTime(1_500);
    expect(events).toEqual(['expiring a 3000']); // the old expiry at +3000 passed silently
    vi.advanceTimersByTime(1_000);
    expect(events).toEqual(['expiring a 3000', 'expiring a 6000']);
    vi.advanceTimersByTime(2_000);
    expect(events).toEqual(['expiring a 3000', 'expiring a 6000', 'expired a']);
  });

  it('a forgotten socket (closed) is never called back, and the timer stops', () => {
    const { events, deadlines } = recorder();
    deadlines.track('a', Date.now() + 2_000);
    deadlines.track('b', Date.now() + 2_000);
    deadlines.forget('a');
    vi.advanceTimersByTime(3_000);
    expect(events).toEqual(['expiring b 2000', 'expired b']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a token already expired when tracked is warned and closed on the next ticks', () => {
    const { events, deadlines } = recorder();
    deadlines.track('a', Date.now() - 1);
    vi.advanceTimersByTime(2 * tokenExpiryTickMs);
    expect(events).toEqual(['expiring a -1', 'expired a']);
  });

  it('one timer for many sockets', () => {
    const { events, deadlines } = recorder();
    for (let i = 0; i < 1_000; i++) deadlines.track(`s${i}`, Date.now() + 1_000 + i);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(3_000);
    expect(events.filter((e) => e.startsWith('expired'))).toHaveLength(1_000);
    expect(events.filter((e) => e.startsWith('expiring'))).toHaveLength(1_000);
  });
});
