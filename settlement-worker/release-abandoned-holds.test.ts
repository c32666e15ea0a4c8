// ABANDONED_HOLD_MS as configuration (default 1 h, at least 1 s, one clear error) and the scan interval it implies.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type Env } from '../core/config.js';
import { frozenAbandoned, releaseIntervalMs } from './release-abandoned-holds.js';

const load = (env: Env) => loadConfig({ NODE_ENV: 'test', JWT_SECRET: 'a-secret-of-16-chars+', LOG_PRETTY: 'false', ...env });

describe('abandoned-hold settings', () => {
  it('defaults to one hour and reads the variable', () => {
    // Proves the documented default and that the environment is taken, not just defaulted.
    expect(load({}).abandonedHoldMs).toBe(3_600_000);
    expect(load({ ABANDONED_HOLD_MS: '' }).abandonedHoldMs).toBe(3_600_000);
    expect(load({ ABANDONED_HOLD_MS: '1000' }).abandonedHoldMs).toBe(1_000);
  });

  it('refuses a value below 1 s or not an integer, naming the variable', () => {
    // Proves a bad value stops the process with a message an operator can act on, instead of releasing at once.
    for (const bad of ['999', '0', '-1', '1.5', 'soon']) {
      expect(() => load({ ABANDONED_HOLD_MS: bad }), bad).toThrow(ConfigError);
      expect(() => load({ ABANDONED_HOLD_MS: bad }), bad).toThrow(/ABANDONED_HOLD_MS/);
    }
  });

  it('scans every tenth of the hold time, at least every second', () => {
    // Proves a hold is released at most 10 % late, and a short hold does not turn into a busy loop.
    expect(releaseIntervalMs({ abandonedHoldMs: 3_600_000 })).toBe(360_000);
    expect(releaseIntervalMs({ abandonedHoldMs: 20_000 })).toBe(2_000);
    expect(releaseIntervalMs({ abandonedHoldMs: 1_500 })).toBe(1_000);
    expect(releaseIntervalMs({ abandonedHoldMs: 1_000 })).toBe(1_000);
  });

  it('settles an abandoned session as one that never ran: 0 ms, no lecture', () => {
    // Proves the frozen session passes settlement's own checks (progress sums to billed time) and bills nothing.
    expect(frozenAbandoned('s')).toEqual({ sessionId: 's', endReason: 'abandoned', billedMs: 0, completionPct: '0', currentLecture: null, progressMs: {} });
  });
});
