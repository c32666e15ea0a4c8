// The liveness rule of `inspect consumers` on both kinds of server (consumer-liveness.ts).
import { describe, expect, it } from 'vitest';
import { aliveIdleMsMax, liveness } from './consumer-liveness.js';

describe('consumer liveness', () => {
  it('a fresh idle is alive on any server', () => {
    for (const idleCountsEveryRead of [true, false]) {
      expect(liveness({ freshestIdleMs: 500, idleCountsEveryRead, oldestUnreadAgeMs: null, readersConnected: true })).toBe('alive');
      expect(liveness({ freshestIdleMs: aliveIdleMsMax, idleCountsEveryRead, oldestUnreadAgeMs: 60_000, readersConnected: false })).toBe('alive');
    }
  });

  it('on Redis 7.2+ a stale idle is dead: every blocked read would have restarted it', () => {
    expect(liveness({ freshestIdleMs: aliveIdleMsMax + 1, idleCountsEveryRead: true, oldestUnreadAgeMs: null, readersConnected: true })).toBe('dead');
  });

  it('before 7.2 a stale idle is dead only when an entry has waited unread past the threshold', () => {
    const stale = { freshestIdleMs: 600_000, idleCountsEveryRead: false, readersConnected: true };
    expect(liveness({ ...stale, oldestUnreadAgeMs: null })).toBe('unknown');
    expect(liveness({ ...stale, oldestUnreadAgeMs: 200 })).toBe('unknown');
    expect(liveness({ ...stale, oldestUnreadAgeMs: aliveIdleMsMax + 1 })).toBe('dead');
    expect(liveness({ ...stale, readersConnected: null, oldestUnreadAgeMs: null })).toBe('unknown');
  });

  it('before 7.2 a stale idle is dead when no worker has a reader connection to this Redis at all', () => {
    expect(liveness({ freshestIdleMs: 600_000, idleCountsEveryRead: false, oldestUnreadAgeMs: null, readersConnected: false })).toBe('dead');
  });
});
