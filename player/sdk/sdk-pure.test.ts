// Pure logic of the player SDK: backoff, close-code policy, frame parsing, heartbeat building, interval attribution,
// URL building and REST error mapping. The SDK against a real gateway is covered by the end-to-end tests.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { backoffDelayMs, reconnectPolicyDefault, shouldReconnect } from './protocol/reconnect-policy.js';
import { buildHeartbeat, parseServerFrame, wsUrlFor, type Playback } from './protocol/index.js';
import { heartbeatIntervalMsMin, heartbeatPeriodMs, IntervalTracker } from './heartbeat-schedule.js';
import { joinUrl, restErrorFrom } from './rest-client.js';

const policy = { baseDelayMs: 500, maxDelayMs: 15_000, maxAttempts: 8 };

describe('backoffDelayMs', () => {
  it('stays within [step/2, step] of a capped exponential step, whatever the random source says', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 1_000 }), fc.double({ min: 0, max: 1, noNaN: true }), (attempt, r) => {
      const step = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(attempt, 30));
      const d = backoffDelayMs(attempt, policy, () => r);
      expect(d).toBeGreaterThanOrEqual(Math.floor(step / 2));
      expect(d).toBeLessThanOrEqual(step);
      expect(d).toBeLessThanOrEqual(policy.maxDelayMs);
    }));
  });

  it('grows with the attempt until the cap', () => {
    const mid = () => 0.5;
    const delays = Array.from({ length: 10 }, (_, i) => backoffDelayMs(i, policy, mid));
    expect(delays.slice(0, 4)).toEqual([375, 750, 1_500, 3_000]);
    for (let i = 1; i < delays.length; i++) expect(delays[i]).toBeGreaterThanOrEqual(delays[i - 1]!);
    expect(delays.at(-1)).toBe(11_250);
  });

  it('never retries instantly and survives a broken random source', () => {
    expect(backoffDelayMs(0, policy, () => 0)).toBe(250);
    expect(backoffDelayMs(0, policy, () => 7)).toBe(500);
    expect(backoffDelayMs(-3, policy, () => 0)).toBe(250);
  });

  it('adds up, over every default attempt, to about the default disconnect grace (60 s)', () => {
    let worst = 0;
    for (let i = 0; i < reconnectPolicyDefault.maxAttempts; i++) worst += backoffDelayMs(i, reconnectPolicyDefault, () => 1);
    expect(worst).toBeGreaterThan(30_000);
    expect(worst).toBeLessThan(120_000);
  });
});

describe('shouldReconnect', () => {
  it('comes back after abnormal closes and a service restart', () => {
    for (const code of [1001, 1006, 1011, 1012, 1013, 1014]) expect(shouldReconnect(code), String(code)).toBe(true);
  });
  it('stays away after a normal close, a policy close, a too-big frame and application codes', () => {
    for (const code of [1000, 1002, 1003, 1007, 1008, 1009, 4000, 4001, 4403, 4999]) expect(shouldReconnect(code), String(code)).toBe(false);
  });
});

describe('parseServerFrame', () => {
  it('accepts every frame type of protocol version 1', () => {
    const frames = [
      { type: 'ready', session_id: '00000000-0000-0000-0000-0000000000aa', status: 'active', duration_seconds: 0, cost: 0,
        remaining: 10, heartbeat_interval_ms: 5000, max_billable_seconds: 600, resumed: false },
      { type: 'ack', seq: 3, duration_seconds: 12.345, cost: 0.1, remaining: 9.9, completion_pct: 5, current_lecture: 1 },
      { type: 'warning', code: 'low_funds', remaining_seconds: 59 },
      { type: 'ended', reason: 'completed', summary: { duration_seconds: 1, cost: 0.01, refund: 9.99, teacher_earning: 0.01 } },
      { type: 'ended', reason: 'replaced' },
      { type: 'error', code: 'rate_limited', message: 'slow down', seq: 4 },
    ];
    for (const f of frames) {
      const r = parseServerFrame(JSON.stringify(f));
      expect(r.ok, JSON.stringify(f)).toBe(true);
      if (r.ok) expect(r.frame.type).toBe(f.type);
    }
  });

  it('refuses binary data, bad JSON, unknown types and frames with missing fields, without throwing', () => {
    const bad: unknown[] = [new ArrayBuffer(4), 'not json', '[]', 'null', '{"type":"nope"}', '{"type":"ack","seq":1}',
      '{"type":"ended","reason":"bored"}', JSON.stringify({ type: 'warning', code: 'low_funds' })];
    for (const data of bad) {
      const r = parseServerFrame(data);
      expect(r.ok, String(data)).toBe(false);
      if (!r.ok) expect(r.reason.length).toBeGreaterThan(0);
    }
  });

  it('never throws on arbitrary text', () => {
    fc.assert(fc.property(fc.string(), (s) => {
      expect(() => parseServerFrame(s)).not.toThrow();
    }));
  });
});

describe('buildHeartbeat', () => {
  const pb: Playback = { position_seconds: 12.5, playing: true, current_lecture: 2, completion_pct: 40 };

  it('builds a protocol frame with the interval flag as `playing` and the current state as `playing_now`', () => {
    expect(buildHeartbeat(7, pb, false)).toEqual({
      type: 'heartbeat', seq: 7, position_seconds: 12.5, playing: false, playing_now: pb.playing, current_lecture: 2, completion_pct: 40,
    });
    expect(buildHeartbeat(8, { ...pb, duration_seconds: 30 }, true)?.duration_seconds).toBe(30);
  });

  it('clamps small slips and refuses what cannot be sent', () => {
    expect(buildHeartbeat(1, { ...pb, position_seconds: -1, completion_pct: 100.4, current_lecture: 2.7 }, true))
      .toMatchObject({ position_seconds: 0, completion_pct: 100, current_lecture: 2 });
    expect(buildHeartbeat(1, { ...pb, position_seconds: Number.NaN }, true)).toBeNull();
    expect(buildHeartbeat(-1, pb, true)).toBeNull();
    expect(buildHeartbeat(1, { ...pb, current_lecture: -1 }, true)).toBeNull();
  });
});

describe('IntervalTracker', () => {
  it('bills the interval a notified change closes with the state before the change', () => {
    const t = new IntervalTracker(false);
    expect(t.closeAtChange(true)).toBe(false); // play: the interval before it was paused
    expect(t.closeAtTick(true)).toBe(true); // playing throughout
    expect(t.closeAtChange(false)).toBe(true); // pause: the interval before it was playing
    expect(t.closeAtTick(false)).toBe(false);
  });

  it('does not bill an interval in which the state changed without a notification', () => {
    const t = new IntervalTracker(true);
    expect(t.closeAtTick(false)).toBe(false); // paused somewhere in the interval: not wholly playing
    const u = new IntervalTracker(false);
    expect(u.closeAtTick(true)).toBe(false); // started somewhere in the interval
    expect(u.closeAtTick(true)).toBe(true);
  });

  it('bills a coalesced burst of changes only if every state in it was playing', () => {
    const t = new IntervalTracker(true);
    t.noteChange(false); // pause …
    t.noteChange(true); // … and play again within the notify gap
    expect(t.closeAtTick(true)).toBe(false);
    expect(t.closeAtTick(true)).toBe(true);
    const seeks = new IntervalTracker(true);
    seeks.noteChange(true);
    seeks.noteChange(true);
    expect(seeks.closeAtTick(true)).toBe(true); // seeking while playing stays billable
  });

  it('never reports playing when the player was paused at any observation of the interval', () => {
    fc.assert(fc.property(fc.boolean(), fc.array(fc.boolean(), { maxLength: 8 }), fc.boolean(), (start, changes, end) => {
      const t = new IntervalTracker(start);
      for (const c of changes) t.noteChange(c);
      expect(t.closeAtTick(end)).toBe(start && end && changes.every(Boolean));
    }));
  });
});

describe('heartbeatPeriodMs', () => {
  it('uses the server interval by default and never exceeds it', () => {
    expect(heartbeatPeriodMs(undefined, 5_000)).toBe(5_000);
    expect(heartbeatPeriodMs(1_000, 5_000)).toBe(1_000);
    expect(heartbeatPeriodMs(60_000, 5_000)).toBe(5_000);
    expect(heartbeatPeriodMs(1, 5_000)).toBe(heartbeatIntervalMsMin);
    expect(heartbeatPeriodMs(Number.NaN, 5_000)).toBe(5_000);
    expect(heartbeatPeriodMs(undefined, 100)).toBe(100); // the smallest HEARTBEAT_INTERVAL_MS config allows
    expect(heartbeatPeriodMs(undefined, 0)).toBe(heartbeatIntervalMsMin); // a broken server cannot make it spin
  });
});

describe('URLs', () => {
  const id = '00000000-0000-0000-0000-0000000000aa';
  it('maps http(s) to ws(s) and keeps a path prefix', () => {
    expect(wsUrlFor('http://127.0.0.1:8080', id)).toBe(`ws://127.0.0.1:8080/ws/sessions/${id}`);
    expect(wsUrlFor('https://meter.example.com/edge/', id)).toBe(`wss://meter.example.com/edge/ws/sessions/${id}`);
    expect(wsUrlFor('ws://h:1', id)).toBe(`ws://h:1/ws/sessions/${id}`);
    expect(() => wsUrlFor('ftp://h', id)).toThrow();
    expect(joinUrl('http://h:1/', '/api/courses')).toBe('http://h:1/api/courses');
  });
});

describe('restErrorFrom', () => {
  it('reads the API error body', () => {
    const e = restErrorFrom(402, JSON.stringify({ error: { code: 'insufficient_funds', message: 'too poor' } }));
    expect({ status: e.status, code: e.code, message: e.message }).toEqual({ status: 402, code: 'insufficient_funds', message: 'too poor' });
  });
  it('keeps the status of an answer that is not an API error (a proxy page, an empty body)', () => {
    expect(restErrorFrom(502, '<html>bad gateway</html>')).toMatchObject({ status: 502, code: 'http_502' });
    expect(restErrorFrom(500, '')).toMatchObject({ status: 500, code: 'http_500' });
  });
});
