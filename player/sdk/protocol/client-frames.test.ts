// The core's heartbeat check accepts exactly what core/protocol/ws.ts' heartbeatFrame schema accepts, its text is
// JSON.stringify's, and the complete and refresh texts parse as the client frames the gateway reads.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { clientFrame, heartbeatFrame, type HeartbeatFrame } from '../../../core/protocol/ws.js';
import { claimedSecondsMax } from '../../../core/limits.js';
import { buildHeartbeat, completeText, heartbeatIsValid, heartbeatText, refreshText } from './client-frames.js';

const edgeNumbers = [-1, -0, 0, 0.5, 1, 99.99, 100, 100.01, 1e9, 1e9 + 1, 2_147_483_647, 2_147_483_648, claimedSecondsMax,
  claimedSecondsMax + 1, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 2, Number.NaN, Number.POSITIVE_INFINITY];
const number = fc.oneof(fc.constantFrom(...edgeNumbers), fc.double(), fc.integer());

const heartbeat = fc.record({
  type: fc.constant('heartbeat' as const),
  seq: number,
  position_seconds: number,
  playing: fc.boolean(),
  playing_now: fc.boolean(),
  current_lecture: number,
  completion_pct: number,
  duration_seconds: number,
}, { requiredKeys: ['type', 'seq', 'playing', 'current_lecture', 'completion_pct'] });

describe('heartbeatIsValid', () => {
  it('gives the schema\'s verdict on heartbeats with edge and random numbers in every field', () => {
    fc.assert(fc.property(heartbeat, (f) => {
      expect(heartbeatIsValid(f as HeartbeatFrame)).toBe(heartbeatFrame.safeParse(f).success);
    }), { numRuns: 5_000 });
  });
});

describe('heartbeatText', () => {
  it('is JSON.stringify of every valid heartbeat, with and without its optional fields', () => {
    fc.assert(fc.property(heartbeat, (f) => {
      if (!heartbeatIsValid(f as HeartbeatFrame)) return;
      expect(heartbeatText(f as HeartbeatFrame)).toBe(JSON.stringify(f));
    }), { numRuns: 5_000 });
    const built = buildHeartbeat(3, { position_seconds: 1.25, playing: false, current_lecture: 2, completion_pct: 7, duration_seconds: 4 }, true)!;
    expect(heartbeatText(built)).toBe(JSON.stringify(built));
  });
});

describe('complete and refresh', () => {
  it('are client frames the schema accepts, and a refresh carries its token whatever it holds', () => {
    expect(clientFrame.parse(JSON.parse(completeText))).toEqual({ type: 'complete' });
    const token = 'a"b\\c.é';
    expect(clientFrame.parse(JSON.parse(refreshText(token)))).toEqual({ type: 'refresh', token });
  });
});
