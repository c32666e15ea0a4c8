// The parts every load process shares (loadtest/common): the heartbeat wheel sends each entry once per interval and
// stops when cancelled, the seq ring gives back what was sent under a seq exactly once and never loses an
// unanswered one, seqOf finds a frame's seq, and the driver's pre-built heartbeat text is the frame JSON.stringify
// gives and the protocol's schema accepts.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HeartbeatWheels } from '../../loadtest/common/heartbeat-wheel.js';
import { SentBySeq, seqOf } from '../../player/sdk/protocol/sent-by-seq.js';
import { heartbeatText } from '../../loadtest/driver/player.js';
import { heartbeatFrame } from '../../core/protocol/ws.js';

describe('heartbeat wheel', () => {
  // The wheel's clock is performance.now() and its timer setInterval: both faked, so every count below is exact.
  beforeEach(() => { vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout', 'performance'] }); });
  afterEach(() => { vi.useRealTimers(); });

  it('beats each entry once per interval from one interval after adding, and never after cancel', () => {
    const wheels = new HeartbeatWheels(5);
    const counts = [0, 0, 0];
    const entries = counts.map((_, i) => wheels.every(100, () => { counts[i]! += 1; }));
    vi.advanceTimersByTime(50);
    expect(counts).toEqual([0, 0, 0]); // the caller sends the first heartbeat itself
    vi.advanceTimersByTime(60);
    expect(counts).toEqual([1, 1, 1]);
    vi.advanceTimersByTime(200);
    expect(counts).toEqual([3, 3, 3]);
    entries[1]!.cancel();
    vi.advanceTimersByTime(300);
    expect(counts).toEqual([6, 3, 6]);
    entries[0]!.cancel();
    entries[2]!.cancel();
    expect(vi.getTimerCount()).toBe(0); // the wheel's one timer stops with its last entry
  });

  it('lets a beat cancel its own entry without skipping or repeating the others', () => {
    const wheels = new HeartbeatWheels(5);
    const seen: number[] = [];
    const entries: { cancel(): void }[] = [];
    for (let i = 0; i < 5; i++) entries.push(wheels.every(50, () => { seen.push(i); if (i === 2) entries[2]!.cancel(); }));
    vi.advanceTimersByTime(110);
    for (const e of entries) e.cancel();
    expect([...seen].sort()).toEqual([0, 0, 1, 1, 2, 3, 3, 4, 4]);
  });
});

describe('sent by seq', () => {
  it('gives each seq back once with its fields, and grows rather than overwrite an unanswered one', () => {
    const s = new SentBySeq();
    for (let seq = 1; seq <= 100; seq++) s.put(seq, seq * 10, seq % 7, seq / 4);
    for (let seq = 100; seq >= 1; seq--) {
      expect(s.take(seq)).toBe(true);
      expect([s.takenAtMs, s.takenA, s.takenB]).toEqual([seq * 10, seq % 7, seq / 4]);
      expect(s.take(seq)).toBe(false);
    }
    expect(s.take(-1)).toBe(false);
    expect(s.take(101)).toBe(false);
  });

  it('finds the seq in a frame without parsing it', () => {
    expect(seqOf('{"type":"ack","seq":1234,"duration_seconds":5}')).toBe(1234);
    expect(seqOf('{"type":"ready","session_id":"x"}')).toBe(-1);
    expect(seqOf('{"type":"error","code":"x","seq":7}')).toBe(7);
  });
});

describe('heartbeat text', () => {
  it('is the JSON of the heartbeat frame, accepted by the schema', () => {
    for (const [seq, played, lecture, pct, claim] of [[1, 0, 3, 0, true], [17, 12.345, 4, 33.33, false], [9, 1e-3, 1, 100, true]] as const) {
      const text = heartbeatText(seq, played, lecture, pct, claim);
      const obj = { type: 'heartbeat', seq, position_seconds: played, playing: true, playing_now: true, current_lecture: lecture,
        completion_pct: pct, ...(claim ? { duration_seconds: played } : {}) };
      expect(text).toBe(JSON.stringify(obj));
      expect(heartbeatFrame.safeParse(JSON.parse(text)).success).toBe(true);
    }
  });
});
