// The heartbeats of one socket, on real (short) timers: one per period, one per playback change with rapid
// changes folded into one, none while held or after stop, and the interval's `playing` flag as
// docs/liveness-and-billing.md says.
import { describe, expect, it } from 'vitest';
import type { HeartbeatFrame } from '../../core/protocol/ws.js';
import type { Playback } from './protocol/client-frames.js';
import { globalTimers, notifyGapMsMin, startSocketHeartbeats } from './heartbeat-schedule.js';

const periodMs = 400; // well above notifyGapMsMin, so a change is not folded into a periodic heartbeat
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function socket() {
  const sent: HeartbeatFrame[] = [];
  const player = { playing: true, position: 0 };
  let held = false;
  const hb = startSocketHeartbeats({
    timers: globalTimers,
    periodMs,
    readPlayback: (): Playback => ({ position_seconds: player.position, playing: player.playing, current_lecture: 1, completion_pct: 0 }),
    canSend: () => true,
    send: (f) => sent.push(f),
    isHeld: () => held,
    onDead: () => { throw new Error('not expected'); },
    onInvalidPlayback: () => { throw new Error('not expected'); },
  }, true);
  return { hb, sent, player, hold: (v: boolean) => { held = v; } };
}

describe('socket heartbeats', () => {
  it('go out once per period with increasing seq, each saying whether its interval was playing', async () => {
    const s = socket();
    await sleep(periodMs * 3.5);
    s.hb.stop();
    expect(s.sent.length).toBeGreaterThanOrEqual(2);
    expect(s.sent.length).toBeLessThanOrEqual(4);
    expect(s.sent.map((f) => f.seq)).toEqual(s.sent.map((_, i) => i + 1));
    expect(s.sent.every((f) => f.playing && f.playing_now)).toBe(true);
  });

  it('send one at a playback change, closing the interval with the state before it', async () => {
    const s = socket();
    await sleep(notifyGapMsMin + 10);
    s.player.playing = false;
    s.hb.notifyChange(); // pause: the interval that closes was playing
    const pause = s.sent.at(-1)!;
    expect(pause.playing).toBe(true);
    expect(pause.playing_now).toBe(false);
    s.hb.stop();
  });

  it('fold changes closer together than the gap into one heartbeat, playing only if every state seen was', async () => {
    const s = socket();
    await sleep(notifyGapMsMin + 10);
    s.hb.notifyChange(); // sent at once
    const count = s.sent.length;
    s.player.playing = false;
    s.hb.notifyChange(); // too soon: deferred
    s.player.playing = true;
    s.hb.notifyChange(); // folded into the same deferred one
    expect(s.sent.length).toBe(count);
    await sleep(notifyGapMsMin + 150); // the deferred one is due at +100 ms, the next periodic one at +400 ms
    expect(s.sent.length).toBe(count + 1);
    expect(s.sent.at(-1)!.playing).toBe(false); // a pause was seen in that interval: not billed
    s.hb.stop();
  });

  it('send nothing periodic while held, go on after resume, and nothing at all after stop', async () => {
    const s = socket();
    s.hold(true);
    await sleep(periodMs * 3);
    expect(s.sent).toEqual([]);
    s.hold(false);
    s.hb.resume();
    await sleep(periodMs * 2.5);
    expect(s.sent.length).toBeGreaterThanOrEqual(1);
    s.hb.stop();
    const n = s.sent.length;
    s.hb.notifyChange();
    s.hb.resume();
    await sleep(periodMs * 3);
    expect(s.sent.length).toBe(n);
  });

  it('measure the round trip of an acknowledged heartbeat once', async () => {
    const s = socket();
    await sleep(periodMs * 1.5);
    s.hb.stop();
    const rtt = s.hb.acked(1);
    expect(rtt).not.toBeNull();
    expect(rtt!).toBeGreaterThanOrEqual(0);
    expect(s.hb.acked(1)).toBeNull();
  });
});
