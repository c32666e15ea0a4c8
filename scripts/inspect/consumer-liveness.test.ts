// The liveness rule of `inspect consumers` on both kinds of server (consumer-liveness.ts).
import { describe, expect, it } from 'vitest';
import { aliveIdleMsMax, liveness } from './consumer-liveness.js';

describe('consumer liveness', () => {
  it('a fresh idle is alive on any server', () => {
    for (const idleCountsEveryRead of [true, false]) {
      expect(liveness({ freshestIdleMs: 500, idleCountsEveryRead, oldestUnreadAgeMs: null })).toBe('alive');
      expect(liveness({ freshestIdleMs: aliveIdleMsMax, idleCountsEveryRead, oldestUnreadAgeMs: 60_000 })).toBe('alive');
    }
  });

  it('on Redis 7.2+ a stale idle is dead: every blocked read would have restarted it', () => {
    expect(liveness({ freshestIdleMs: aliveIdleMsMax + 1, idleCountsEveryRead: true, oldestUnreadAgeMs: null })).toBe('dead');
  });

  it('before 7.2 a stale idle is dead only when an entry has waited unread past the threshold', () => {
    const stale = { freshestIdleMs: 600_000, idleCountsEveryRead: false };
    expect(liveness({ ...stale, oldestUnreadAgeMs: null })).toBe('unknown');
    expect(liveness({ ...stale, oldestUnreadAgeMs: 200 })).toBe('unknown');
    expect(liveness({ ...stale, oldestUnreadAgeMs: aliveIdleMsMax + 1 })).toBe('dead');
  });
});
