// The metering rules of docs/liveness-and-billing.md, proved against the real local Redis through the typed wrappers of
// the Lua scripts.
//
// The scripts read time from Redis (TIME), which a test cannot move. Short intervals are produced by sleeping a
// few hundred ms; long gaps are simulated by moving a timestamp field of the session hash back (HINCRBY on
// `last_ms`, `seen_ms`, `paused_ms` or `ended_ms`), which is exactly what the script would see after a real gap.
// Because every accepted update sets `last_ms` to the script's own `now`, `last_ms(after) − last_ms(before)` is
// the exact elapsed time the script used, so most credits below are asserted exactly, not within a tolerance.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createTestEnv, type TestEnv } from '../../test/helpers/test-env.js';
import { createMeter, MeterRefusal, pctArg, type Meter, type MeterLimits, type StartInput, type UpdateInput } from './meter.js';
import { claimedSecondsMax, lowFundsWarningMs, updatesPerSecondMax } from '../limits.js';
import { fromSettleEntry, settleEntry, toSettleEntry } from '../protocol/settlement.js';

const limits: MeterLimits = {
  creditMsMax: 10_000,
  updatesPerSecondMax,
  lowFundsWarningMs,
  disconnectGraceMs: 3_000,
  socketIdleMs: 16_000,
  settleRetryMs: 10_000,
};
const TEN_MINUTES_MS = 600_000;
/** A claim no real client could make: far beyond any wall-clock time in these tests. */
const HUGE_CLAIM_MS = claimedSecondsMax * 1_000;

let env: TestEnv;
let meter: Meter;

beforeAll(async () => {
  env = await createTestEnv();
  meter = createMeter(env.redis, env.keys, limits);
});

afterAll(async () => {
  await env?.cleanup();
});

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const meterWith = (over: Partial<MeterLimits>): Meter => createMeter(env.redis, env.keys, { ...limits, ...over });

async function start(m: Meter = meter, over: Partial<StartInput> = {}): Promise<{ id: string; startedMs: number }> {
  const id = randomUUID();
  const { nowMs } = await m.startSession(id, {
    studentId: randomUUID(), courseId: randomUUID(), teacherId: randomUUID(),
    lockedMinor: 75_000, priceMinor: 50, maxBillableMs: 90_000_000, lectureIds: [1, 2, 3], ...over,
  });
  return { id, startedMs: nowMs };
}

/** Starts a session and attaches socket `socketId` to it, as the gateway does on open. */
async function startAttached(socketId = 'sock-a', m: Meter = meter, over: Partial<StartInput> = {}) {
  const s = await start(m, over);
  await m.attachSocket(s.id, socketId);
  return s;
}

const update = (socketId: string, claimedMs: number | null, lecture = 1, over: Partial<UpdateInput> = {}): UpdateInput =>
  ({ socketId, playing: true, claimedMs, lecture, completionPct: 10, ...over });

async function redisNowMs(): Promise<number> {
  const [sec, micro] = await env.redis.time();
  return Number(sec) * 1_000 + Math.floor(Number(micro) / 1_000);
}

async function field(id: string, name: string): Promise<number> {
  return Number(await env.redis.hget(env.keys.session(id), name));
}

/** Simulates a gap of `ms` before the next script call by moving a timestamp of the session hash back. */
async function rewind(id: string, name: 'last_ms' | 'seen_ms' | 'paused_ms' | 'ended_ms', ms: number): Promise<void> {
  await env.redis.hincrby(env.keys.session(id), name, -ms);
}

/** Every byte of a session's Redis state, to prove a refusal changed nothing. */
async function rawState(id: string) {
  const [session, lectures, deadline] = await Promise.all([
    env.redis.hgetall(env.keys.session(id)),
    env.redis.hgetall(env.keys.lectures(id)),
    env.redis.zscore(env.keys.deadlines(env.keys.bucketOf(id)), id),
  ]);
  return { session, lectures, deadline };
}

async function refusalOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof MeterRefusal) return err.code;
    throw err;
  }
  throw new Error('expected a MeterRefusal, the call succeeded');
}

/** Applies an update `gapMs` after the previous one (simulated) with a claim of exactly billed + gapMs. */
async function creditExactly(m: Meter, id: string, socketId: string, ms: number, lecture: number, over: Partial<UpdateInput> = {}) {
  const billed = await field(id, 'billed_ms');
  await rewind(id, 'last_ms', ms);
  return m.applyUpdate(id, update(socketId, billed + ms, lecture, over));
}

const sum = (progress: Record<string, number>) => Object.values(progress).reduce((a, b) => a + b, 0);

describe('the clamp rule', () => {
  it('clamps an inflated claim to the elapsed wall time, never beyond the time since start', async () => {
    // Proves a client claiming 10 minutes after 300 ms is credited the 300 ms only, however often it repeats it.
    const { id, startedMs } = await startAttached();
    const lastBefore = await field(id, 'last_ms');
    await sleep(300);
    const r = await meter.applyUpdate(id, update('sock-a', TEN_MINUTES_MS));
    expect(r.creditMs).toBe((await field(id, 'last_ms')) - lastBefore);
    expect(r.creditMs).toBeGreaterThanOrEqual(250);
    expect(r.creditMs).toBeLessThan(2_000);
    for (let i = 0; i < 5; i++) {
      await sleep(40);
      const again = await meter.applyUpdate(id, update('sock-a', TEN_MINUTES_MS + i * 60_000));
      expect(again.billedMs).toBeLessThanOrEqual((await redisNowMs()) - startedMs);
    }
    expect((await meter.readSession(id))!.billedMs).toBeLessThanOrEqual((await redisNowMs()) - startedMs);
  });

  it('credits 0 for a rewound claim and never decreases billed time', async () => {
    // Proves a claim below the billed duration is worth nothing, and a claim just above it is worth only the difference.
    const { id } = await startAttached();
    await rewind(id, 'last_ms', 400);
    const first = await meter.applyUpdate(id, update('sock-a', null));
    expect(first.creditMs).toBeGreaterThanOrEqual(400);
    const billed = first.billedMs;
    for (const claim of [0, billed - 100, billed]) {
      await rewind(id, 'last_ms', 400);
      const r = await meter.applyUpdate(id, update('sock-a', claim));
      expect(r.creditMs, `claim ${claim}`).toBe(0);
      expect(r.billedMs).toBe(billed);
    }
    await rewind(id, 'last_ms', 400);
    const forward = await meter.applyUpdate(id, update('sock-a', billed + 100));
    expect(forward.creditMs).toBe(100);
    expect((await meter.readSession(id))!.billedMs).toBe(billed + 100);
  });

  it('credits no more than the elapsed wall time to a flood of 50 updates', async () => {
    // Proves sending updates faster than heartbeats cannot multiply the credit (with the rate limit out of the way).
    const fast = meterWith({ updatesPerSecondMax: 1_000 });
    const { id, startedMs } = await startAttached('sock-a', fast);
    let credited = 0;
    for (let i = 0; i < 50; i++) {
      const r = await fast.applyUpdate(id, update('sock-a', HUGE_CLAIM_MS));
      credited += r.creditMs;
    }
    const burst = await Promise.all(Array.from({ length: 50 }, () => fast.applyUpdate(id, update('', HUGE_CLAIM_MS))));
    credited += burst.reduce((a, r) => a + r.creditMs, 0);
    const live = (await fast.readSession(id))!;
    expect(live.billedMs).toBe(credited);
    expect(live.billedMs).toBeLessThanOrEqual((await redisNowMs()) - startedMs);
  });

  it('answers rate_limited past updatesPerSecondMax within one second, changing nothing', async () => {
    // Proves the per-session limit (shared by socket and REST updates) refuses the 21st update of a second and resets the next second.
    const { id } = await startAttached();
    const now = await redisNowMs();
    await sleep(1_000 - (now % 1_000) + 20);
    const second = Math.floor((await redisNowMs()) / 1_000);
    for (let i = 0; i < updatesPerSecondMax; i++) await meter.applyUpdate(id, update(i % 2 === 0 ? 'sock-a' : '', null));
    expect(await field(id, 'rl_sec'), 'the burst fitted in one second').toBe(second);
    const before = await rawState(id);
    expect(await refusalOf(meter.applyUpdate(id, update('sock-a', HUGE_CLAIM_MS)))).toBe('rate_limited');
    expect(await refusalOf(meter.applyUpdate(id, update('', HUGE_CLAIM_MS)))).toBe('rate_limited');
    expect(await rawState(id)).toEqual(before);
    await sleep(1_000 - ((await redisNowMs()) % 1_000) + 20);
    await expect(meter.applyUpdate(id, update('sock-a', null))).resolves.toMatchObject({ billedMs: expect.any(Number) });
  });

  it('credits 0 for an interval that was not playing, and does not carry it over', async () => {
    // Proves playing=false makes the closed interval worthless, and the next playing update counts only its own interval.
    const { id } = await startAttached();
    const billed = (await meter.applyUpdate(id, update('sock-a', null))).billedMs;
    await rewind(id, 'last_ms', 500);
    const paused = await meter.applyUpdate(id, update('sock-a', HUGE_CLAIM_MS, 1, { playing: false }));
    expect(paused.creditMs).toBe(0);
    expect(paused.billedMs).toBe(billed);
    const lastAtPause = await field(id, 'last_ms');
    const next = await meter.applyUpdate(id, update('sock-a', HUGE_CLAIM_MS));
    expect(next.creditMs).toBe((await field(id, 'last_ms')) - lastAtPause);
    expect(next.creditMs).toBeLessThan(500);
  });

  it('credits a long gap at most creditMsMax (2 heartbeat intervals)', async () => {
    // Proves a 10-minute gap (missed heartbeats, suspended laptop) is billed as 10 s, with or without a claim.
    const { id } = await startAttached();
    const billed = (await meter.applyUpdate(id, update('sock-a', null))).billedMs;
    await rewind(id, 'last_ms', TEN_MINUTES_MS);
    const claimed = await meter.applyUpdate(id, update('sock-a', HUGE_CLAIM_MS));
    expect(claimed.creditMs).toBe(limits.creditMsMax);
    await rewind(id, 'last_ms', TEN_MINUTES_MS);
    const unclaimed = await meter.applyUpdate(id, update('', null));
    expect(unclaimed.creditMs).toBe(limits.creditMsMax);
    expect(unclaimed.billedMs).toBe(billed + 2 * limits.creditMsMax);

    const tight = meterWith({ creditMsMax: 2_000 });
    const other = await startAttached('sock-b', tight);
    await rewind(other.id, 'last_ms', TEN_MINUTES_MS);
    expect((await tight.applyUpdate(other.id, update('sock-b', HUGE_CLAIM_MS))).creditMs).toBe(2_000);
  });

  it('credits the elapsed time when the update carries no claim', async () => {
    // Proves claimedMs null means "as long as it has been", still from server time.
    const { id } = await startAttached();
    await meter.applyUpdate(id, update('sock-a', null));
    await rewind(id, 'last_ms', 700);
    const lastBefore = await field(id, 'last_ms');
    const r = await meter.applyUpdate(id, update('sock-a', null));
    expect(r.creditMs).toBe((await field(id, 'last_ms')) - lastBefore);
    expect(r.creditMs).toBeGreaterThanOrEqual(700);
    expect(r.creditMs).toBeLessThan(limits.creditMsMax);
  });
});

describe('sockets: pause, resume, newest wins', () => {
  it("refuses another student's socket before anything changes, and attaches the session's own", async () => {
    const studentId = randomUUID();
    const { id } = await start(meter, { studentId });
    const before = await env.redis.hgetall(env.keys.session(id));
    await expect(meter.attachSocket(id, 'sock-x', randomUUID())).rejects.toMatchObject({ code: 'not_owner' });
    expect(await env.redis.hgetall(env.keys.session(id))).toEqual(before);
    const mine = await meter.attachSocket(id, 'sock-a', studentId);
    expect(mine).toMatchObject({ previousOwner: '', resumed: false, studentId });
    // null: an admin or service caller, who may act on any student's session.
    expect(await meter.attachSocket(id, 'sock-b', null)).toMatchObject({ previousOwner: 'sock-a', studentId });
  });

  it('pauses on detach with a grace deadline and counts time from the resume, not the last heartbeat', async () => {
    // Proves a reconnect is not billed for the time the player was gone (its last heartbeat was 10 minutes ago).
    const { id } = await start();
    const first = await meter.attachSocket(id, 'sock-a');
    expect(first).toMatchObject({ previousOwner: '', resumed: false, billedMs: 0, lockedMinor: 75_000, priceMinor: 50, maxBillableMs: 90_000_000 });
    await meter.applyUpdate(id, update('sock-a', null));
    await rewind(id, 'last_ms', TEN_MINUTES_MS);

    const before = await redisNowMs();
    const deadline = await meter.detachSocket(id, 'sock-a');
    const after = await redisNowMs();
    expect(deadline).not.toBeNull();
    expect(deadline!).toBeGreaterThanOrEqual(before + limits.disconnectGraceMs);
    expect(deadline!).toBeLessThanOrEqual(after + limits.disconnectGraceMs);
    expect(Number(await env.redis.zscore(env.keys.deadlines(env.keys.bucketOf(id)), id))).toBe(deadline);
    expect((await meter.readSession(id))!.status).toBe('paused');

    const billed = (await meter.readSession(id))!.billedMs;
    const resumed = await meter.attachSocket(id, 'sock-b');
    expect(resumed).toMatchObject({ previousOwner: '', resumed: true, billedMs: billed });
    expect((await meter.readSession(id))!.status).toBe('active');
    const lastAtResume = await field(id, 'last_ms');
    await sleep(200);
    const r = await meter.applyUpdate(id, update('sock-b', HUGE_CLAIM_MS));
    expect(r.creditMs).toBe((await field(id, 'last_ms')) - lastAtResume);
    expect(r.creditMs).toBeGreaterThanOrEqual(150);
    expect(r.creditMs).toBeLessThan(2_000);
  });

  it('refuses to resume a paused session past its grace deadline (expired), leaving it paused for the sweeper', async () => {
    // Proves "a reconnect before the deadline resumes it" is enforced by the script, not by sweeper timing.
    const { id } = await startAttached('sock-a');
    await meter.detachSocket(id, 'sock-a');
    await rewind(id, 'paused_ms', limits.disconnectGraceMs + 1);
    const before = await rawState(id);
    await expect(meter.attachSocket(id, 'sock-b')).rejects.toMatchObject({ code: 'expired' });
    expect(await rawState(id)).toEqual(before);
    expect((await meter.checkDeadline(id)).kind).toBe('settle');
  });

  it('lets the newest socket win: the replaced socket can neither update nor pause the session', async () => {
    // Proves one socket per session: a second attach takes over, and the first socket's update and close are no-ops.
    const { id } = await startAttached('sock-a');
    await meter.applyUpdate(id, update('sock-a', null));
    const second = await meter.attachSocket(id, 'sock-b');
    expect(second.previousOwner).toBe('sock-a');
    expect(second.resumed).toBe(true);

    const before = await rawState(id);
    expect(await refusalOf(meter.applyUpdate(id, update('sock-a', HUGE_CLAIM_MS)))).toBe('replaced');
    expect(await meter.detachSocket(id, 'sock-a')).toBeNull();
    expect(await rawState(id)).toEqual(before);
    expect((await meter.readSession(id))!.status).toBe('active');
    await expect(meter.applyUpdate(id, update('sock-b', null))).resolves.toMatchObject({ currentLecture: 1 });
  });
});

describe('a start\'s first deadline', () => {
  it('is scheduled with the start script, idle + grace after the start (this process\'s clock, same machine as Redis here)', async () => {
    const before = Date.now();
    const { id, startedMs } = await start();
    const after = Date.now();
    const score = Number(await env.redis.zscore(env.keys.deadlines(env.keys.bucketOf(id)), id));
    expect(score).toBeGreaterThanOrEqual(before + limits.socketIdleMs + limits.disconnectGraceMs);
    expect(score).toBeLessThanOrEqual(after + limits.socketIdleMs + limits.disconnectGraceMs);
    // Within a clock's tick of what the script's own time would give: the sweeper finds it due when the hash does.
    expect(Math.abs(score - (startedMs + limits.socketIdleMs + limits.disconnectGraceMs))).toBeLessThan(1_000);
  });
});

describe('refusals change nothing', () => {
  it('refuses a lecture the course does not have', async () => {
    // Proves progress cannot be attributed to a lecture outside the course, and the refused update is not counted.
    const { id } = await startAttached();
    await meter.applyUpdate(id, update('sock-a', null, 2));
    await rewind(id, 'last_ms', 1_000);
    const before = await rawState(id);
    expect(await refusalOf(meter.applyUpdate(id, update('sock-a', HUGE_CLAIM_MS, 99)))).toBe('unknown_lecture');
    expect(await refusalOf(meter.applyUpdate(id, update('', null, 0)))).toBe('unknown_lecture');
    expect(await rawState(id)).toEqual(before);
  });

  it('refuses an unknown session without creating any state', async () => {
    // Proves updates, attaches and finishes on a session Redis does not know are refused and create no keys.
    const id = randomUUID();
    expect(await refusalOf(meter.applyUpdate(id, update('sock-a', null)))).toBe('unknown_session');
    expect(await refusalOf(meter.applyUpdate(id, update('', null)))).toBe('unknown_session');
    expect(await refusalOf(meter.attachSocket(id, 'sock-a'))).toBe('unknown_session');
    expect(await refusalOf(meter.finishSession(id, 'completed', null))).toBe('unknown_session');
    expect(await meter.detachSocket(id, 'sock-a')).toBeNull();
    expect(await env.redis.exists(env.keys.session(id), env.keys.lectures(id))).toBe(0);
    expect(await meter.readSession(id)).toBeNull();
  });

  it('refuses a REST update while the session is paused', async () => {
    // Proves REST cannot bill a session whose player socket is gone (and a stale socket cannot either).
    const { id } = await startAttached();
    await meter.applyUpdate(id, update('sock-a', null));
    await meter.detachSocket(id, 'sock-a');
    await rewind(id, 'last_ms', 1_000);
    const before = await rawState(id);
    expect(await refusalOf(meter.applyUpdate(id, update('', HUGE_CLAIM_MS)))).toBe('paused');
    expect(await refusalOf(meter.applyUpdate(id, update('sock-a', HUGE_CLAIM_MS)))).toBe('replaced');
    expect(await rawState(id)).toEqual(before);
  });

  it('refuses a second start of the same session', async () => {
    // Proves a start is applied once: a repeated start neither resets the billed time nor the lectures.
    const { id } = await startAttached();
    await creditExactly(meter, id, 'sock-a', 300, 2);
    const before = await rawState(id);
    expect(await refusalOf(meter.startSession(id, {
      studentId: randomUUID(), courseId: randomUUID(), teacherId: randomUUID(),
      lockedMinor: 1, priceMinor: 1, maxBillableMs: 60_000, lectureIds: [7],
    }))).toBe('already_started');
    expect(await rawState(id)).toEqual(before);
    expect((await meter.readSession(id))!.billedMs).toBe(300);
  });
});

describe('per-lecture progress', () => {
  it('attributes each credit to the lecture named by the update that closes the interval', async () => {
    // Proves content_progress: per-lecture sums match the credits, their total equals billed, the last lecture is current.
    const { id } = await startAttached();
    const steps: [socket: string, lecture: number, ms: number, playing: boolean][] = [
      ['sock-a', 1, 300, true], ['sock-a', 2, 200, true], ['sock-a', 2, 400, false], ['', 3, 100, true],
      ['sock-a', 1, 250, true], ['', 3, 50, true], ['sock-a', 2, 700, false],
    ];
    let pct = 0;
    for (const [socket, lecture, ms, playing] of steps) {
      pct += 5;
      const r = await creditExactly(meter, id, socket, ms, lecture, { playing, completionPct: pct });
      expect(r.creditMs).toBe(playing ? ms : 0);
      expect(r.currentLecture).toBe(lecture);
    }
    const live = (await meter.readSession(id))!;
    expect(live.progressMs).toEqual({ 1: 550, 2: 200, 3: 150 });
    expect(live.billedMs).toBe(900);
    expect(sum(live.progressMs)).toBe(live.billedMs);
    expect(live.currentLecture).toBe(2);
    expect(live.completionPct).toBe(35);
  });
});

describe('funds exhaustion', () => {
  it('stops at exactly maxBillableMs, ends the session once with funds_exhausted, and warns once', async () => {
    // Proves the session can never bill past its funds, ends exactly at the limit, and warns once when ≤ 1 s is left.
    const m = meterWith({ lowFundsWarningMs: 1_000 });
    const { id } = await startAttached('sock-a', m, { lockedMinor: 25, priceMinor: 1_000, maxBillableMs: 1_500 });

    const r1 = await creditExactly(m, id, 'sock-a', 400, 1);
    expect(r1).toMatchObject({ billedMs: 400, warnLowFunds: false, exhausted: false, maxBillableMs: 1_500 });
    const r2 = await creditExactly(m, id, 'sock-a', 200, 1);
    expect(r2).toMatchObject({ billedMs: 600, warnLowFunds: true, exhausted: false });
    const r3 = await creditExactly(m, id, 'sock-a', 200, 2);
    expect(r3).toMatchObject({ billedMs: 800, warnLowFunds: false, exhausted: false });

    await rewind(id, 'last_ms', TEN_MINUTES_MS);
    const last = await m.applyUpdate(id, update('sock-a', HUGE_CLAIM_MS, 3));
    expect(last).toMatchObject({ billedMs: 1_500, creditMs: 700, exhausted: true, warnLowFunds: false });
    const live = (await m.readSession(id))!;
    expect(live).toMatchObject({ status: 'ending', endReason: 'funds_exhausted', billedMs: 1_500 });
    expect(live.progressMs).toEqual({ 1: 600, 2: 200, 3: 700 });

    const before = await rawState(id);
    await rewind(id, 'last_ms', 0);
    expect(await refusalOf(m.applyUpdate(id, update('sock-a', HUGE_CLAIM_MS)))).toBe('ending');
    expect(await refusalOf(m.applyUpdate(id, update('', null)))).toBe('ending');
    expect(await refusalOf(m.attachSocket(id, 'sock-b'))).toBe('ending');
    expect(await rawState(id)).toEqual(before);
    const frozen = await m.finishSession(id, 'completed', HUGE_CLAIM_MS);
    expect(frozen).toMatchObject({ endReason: 'funds_exhausted', billedMs: 1_500 });
  });

  it('does not warn when one update jumps from plenty of time straight to exhaustion', async () => {
    // Proves the warning and the exhaustion are distinct signals: exhausting means ending, not a late warning.
    const m = meterWith({ lowFundsWarningMs: 1_000 });
    const { id } = await startAttached('sock-a', m, { maxBillableMs: 5_000 });
    await rewind(id, 'last_ms', TEN_MINUTES_MS);
    expect(await m.applyUpdate(id, update('sock-a', null))).toMatchObject({ billedMs: 5_000, exhausted: true, warnLowFunds: false });
  });
});

describe('finishSession', () => {
  it('freezes the figures idempotently and refuses updates afterwards', async () => {
    // Proves complete is final: a second finish returns the same frozen figures, and nothing can bill after it.
    const { id } = await startAttached();
    await creditExactly(meter, id, 'sock-a', 300, 2, { completionPct: 42.5 });
    const frozen = await meter.finishSession(id, 'completed', null);
    expect(frozen).toEqual({
      sessionId: id, endReason: 'completed', billedMs: 300, completionPct: '42.5', currentLecture: 2,
      progressMs: { 1: 0, 2: 300, 3: 0 },
    });
    expect((await meter.readSession(id))!).toMatchObject({ status: 'ending', endReason: 'completed' });

    await rewind(id, 'last_ms', TEN_MINUTES_MS);
    expect(await meter.finishSession(id, 'disconnected', HUGE_CLAIM_MS)).toEqual(frozen);
    expect(await refusalOf(meter.applyUpdate(id, update('sock-a', HUGE_CLAIM_MS)))).toBe('ending');
    expect(await refusalOf(meter.applyUpdate(id, update('', null)))).toBe('ending');
    expect((await meter.readSession(id))!.billedMs).toBe(300);
  });

  it('applies one last clamped credit for a final claim on an active session', async () => {
    // Proves the final claim of complete follows the same clamp: the claimed delta, elapsed time and creditMsMax.
    const { id } = await startAttached();
    await creditExactly(meter, id, 'sock-a', 300, 3);
    await rewind(id, 'last_ms', 500);
    const small = await meter.finishSession(id, 'completed', 300 + 200);
    expect(small.billedMs).toBe(500);
    expect(small.progressMs).toEqual({ 1: 0, 2: 0, 3: 500 });

    const other = await startAttached();
    await creditExactly(meter, other.id, 'sock-a', 300, 1);
    await rewind(other.id, 'last_ms', TEN_MINUTES_MS);
    const big = await meter.finishSession(other.id, 'completed', HUGE_CLAIM_MS);
    expect(big.billedMs).toBe(300 + limits.creditMsMax);
    expect(sum(big.progressMs)).toBe(big.billedMs);
  });

  it('ends as funds_exhausted when the final credit of complete uses up the funds', async () => {
    // Proves a session whose last credit reaches max billable time costs exactly the locked amount at settlement.
    const { id } = await startAttached('sock-a', meter, { maxBillableMs: 400 });
    await meter.applyUpdate(id, update('sock-a', 0));
    await rewind(id, 'last_ms', 1_000);
    const frozen = await meter.finishSession(id, 'completed', HUGE_CLAIM_MS);
    expect(frozen).toMatchObject({ billedMs: 400, endReason: 'funds_exhausted' });
  });

  it('gives no final credit without a claim, or when the session is paused', async () => {
    // Proves complete cannot bill time the player did not claim, nor time while its socket was gone.
    const { id } = await startAttached();
    await creditExactly(meter, id, 'sock-a', 300, 1);
    await rewind(id, 'last_ms', 2_000);
    expect((await meter.finishSession(id, 'completed', null)).billedMs).toBe(300);

    const paused = await startAttached();
    await creditExactly(meter, paused.id, 'sock-a', 300, 1);
    await meter.detachSocket(paused.id, 'sock-a');
    await rewind(paused.id, 'last_ms', 2_000);
    expect((await meter.finishSession(paused.id, 'completed', HUGE_CLAIM_MS)).billedMs).toBe(300);
  });
});

describe('the reconcile walk\'s batch reads', () => {
  it('tells, for a page of sessions in order, which have live state and which have a deadline', async () => {
    // More sessions than one script call takes, mixed: live with a deadline, live without one, gone.
    const started = await Promise.all(Array.from({ length: 40 }, () => start()));
    const ids = started.map((s) => s.id);
    for (const id of ids.slice(0, 10)) await env.redis.zrem(env.keys.deadlines(env.keys.bucketOf(id)), id);
    const gone: string[] = [randomUUID(), randomUUID()];
    const page = [gone[0]!, ...ids, gone[1]!];
    expect(await meter.liveSessions(page)).toEqual(page.map((id) => !gone.includes(id)));
    expect(await meter.deadlinesScheduled(page)).toEqual(page.map((id) => ids.slice(10).includes(id)));
    expect(await meter.liveSessions([])).toEqual([]);
    expect(await meter.deadlinesScheduled([])).toEqual([]);
    await Promise.all(ids.map((id) => meter.forgetSession(id)));
  });
});

describe('checkDeadline', () => {
  it('says gone for an unknown session', async () => {
    // Proves the sweeper can drop a deadline whose session no longer exists.
    expect(await meter.checkDeadline(randomUUID())).toEqual({ kind: 'gone' });
  });

  it('reschedules a paused session within grace to its exact deadline', async () => {
    // Proves the sweeper does not settle a session whose player may still come back.
    const { id } = await startAttached();
    const deadline = (await meter.detachSocket(id, 'sock-a'))!;
    expect(await meter.checkDeadline(id)).toEqual({ kind: 'reschedule', deadlineMs: deadline });
    // 1 s before the deadline (a margin a loaded machine cannot eat between two calls) it is still not due.
    const early = limits.disconnectGraceMs - 1_000;
    await rewind(id, 'paused_ms', early);
    expect(await meter.checkDeadline(id)).toEqual({ kind: 'reschedule', deadlineMs: deadline - early });
    expect((await meter.readSession(id))!.status).toBe('paused');
  });

  it('reschedules only a deadline nobody moved since it was found due', async () => {
    // Proves a sweeper cannot overwrite the earlier deadline a socket close wrote meanwhile.
    const { id } = await startAttached('sock-a');
    const zkey = env.keys.deadlines(env.keys.bucketOf(id));
    await meter.scheduleDeadline(id, 1_000);
    expect(await meter.rescheduleDeadline(id, 90_000, 5_000)).toBe(true);
    expect(Number(await env.redis.zscore(zkey, id))).toBe(90_000);
    await meter.scheduleDeadline(id, 7_000); // written after the sweeper's look at t = 5000
    expect(await meter.rescheduleDeadline(id, 90_000, 5_000)).toBe(false);
    expect(Number(await env.redis.zscore(zkey, id))).toBe(7_000);
    await env.redis.zrem(zkey, id);
    expect(await meter.rescheduleDeadline(id, 90_000, 5_000)).toBe(false);
    expect(await env.redis.zscore(zkey, id)).toBeNull();
  });

  it('settles a paused session past its grace as disconnected', async () => {
    // Proves a player that does not come back within the grace is settled with end reason disconnected.
    const m = meterWith({ disconnectGraceMs: 200 });
    const { id } = await startAttached('sock-a', m);
    await creditExactly(m, id, 'sock-a', 400, 2, { completionPct: 12 });
    await m.detachSocket(id, 'sock-a');
    await sleep(250);
    const check = await m.checkDeadline(id);
    expect(check).toEqual({
      kind: 'settle',
      frozen: { sessionId: id, endReason: 'disconnected', billedMs: 400, completionPct: '12', currentLecture: 2, progressMs: { 1: 0, 2: 400, 3: 0 } },
    });
    expect((await m.readSession(id))!).toMatchObject({ status: 'ending', endReason: 'disconnected' });
    expect(await refusalOf(m.attachSocket(id, 'sock-b'))).toBe('ending');
  });

  it('reschedules an active session to last seen + idle + grace, and settles it once that passed', async () => {
    // Proves a gateway that died without closing its sockets is covered by the heartbeat deadline.
    const { id } = await startAttached();
    await creditExactly(meter, id, 'sock-a', 300, 1);
    const seen = await field(id, 'seen_ms');
    expect(await meter.checkDeadline(id)).toEqual({ kind: 'reschedule', deadlineMs: seen + limits.socketIdleMs + limits.disconnectGraceMs });
    await rewind(id, 'seen_ms', limits.socketIdleMs + limits.disconnectGraceMs - 2_000);
    expect(await meter.checkDeadline(id)).toEqual({ kind: 'reschedule', deadlineMs: seen + 2_000 });
    await rewind(id, 'seen_ms', 2_001);
    const check = await meter.checkDeadline(id);
    expect(check.kind).toBe('settle');
    expect(check.kind === 'settle' && check.frozen).toMatchObject({ endReason: 'disconnected', billedMs: 300 });
  });

  it('while disconnects are held, reschedules a due live session to the end of the hold and still re-sends an ending one', async () => {
    // Proves the sweeper's hold after an outage (README "Redis: hangs and failovers") keeps a silent player's session
    // live until the hold ends, and that the hold never delays a settlement already decided.
    const { id } = await startAttached();
    await creditExactly(meter, id, 'sock-a', 300, 1);
    await rewind(id, 'seen_ms', limits.socketIdleMs + limits.disconnectGraceMs + 1);
    const heldUntil = (await redisNowMs()) + 60_000;
    expect(await meter.checkDeadline(id, heldUntil)).toEqual({ kind: 'reschedule', deadlineMs: heldUntil });
    expect((await meter.readSession(id))!.status).toBe('active');
    // A hold already over changes nothing.
    expect((await meter.checkDeadline(id, heldUntil - 120_000)).kind).toBe('settle');
    await rewind(id, 'ended_ms', limits.settleRetryMs + 1);
    expect((await meter.checkDeadline(id, heldUntil)).kind).toBe('settle');
  });

  it('settles an ending session again past settleRetryMs, and then waits another retry period', async () => {
    // Proves a lost settlement request is re-enqueued with the same frozen figures, at most once per retry period.
    const { id } = await startAttached();
    await creditExactly(meter, id, 'sock-a', 300, 1);
    const frozen = await meter.finishSession(id, 'completed', null);
    const ended = await field(id, 'ended_ms');
    expect(await meter.checkDeadline(id)).toEqual({ kind: 'reschedule', deadlineMs: ended + limits.settleRetryMs });
    // 5 s short of the retry period: a margin no loaded machine eats between two calls.
    await rewind(id, 'ended_ms', limits.settleRetryMs - 5_000);
    expect(await meter.checkDeadline(id)).toEqual({ kind: 'reschedule', deadlineMs: ended + 5_000 });
    await rewind(id, 'ended_ms', 5_001);
    expect(await meter.checkDeadline(id)).toEqual({ kind: 'settle', frozen });
    const now = await redisNowMs();
    const next = await meter.checkDeadline(id);
    expect(next.kind).toBe('reschedule');
    expect(next.kind === 'reschedule' && next.deadlineMs).toBeGreaterThanOrEqual(now - 5 + limits.settleRetryMs);
  });
});

describe('values from the edge', () => {
  it('sends a completion percent as the text of its value rounded to 6 decimals, never with an exponent', () => {
    // Proves the fast path for percents that need no rounding gives the same text as the rounding path.
    const slow = (pct: number) => String(Number(pct.toFixed(6)));
    fc.assert(fc.property(
      fc.oneof(fc.double({ min: 0, max: 100, noNaN: true }), fc.integer({ min: 0, max: 100_000_000 }).map((n) => n / 1e6),
        fc.constantFrom(0, 1e-6, 1e-7, 5e-7, 4.9999999e-7, 12.5, 33.333333, 33.3333333, 99.9999995, 100)),
      (pct) => {
        expect(pctArg(pct)).toBe(slow(pct));
        expect(pctArg(pct)).not.toMatch(/e/);
      }), { numRuns: 5_000 });
  });

  it('keeps billed time whole milliseconds when a claim is fractional', async () => {
    // Proves a claim made as duration_seconds × 1000 (1.1 × 100 = 110.00000000000001) cannot corrupt the session.
    const { id } = await startAttached();
    await rewind(id, 'last_ms', 500);
    const r = await meter.applyUpdate(id, update('sock-a', 1.1 * 100, 2));
    expect(r.billedMs).toBe(110);
    const live = (await meter.readSession(id))!;
    expect(live.billedMs).toBe(110);
    expect(live.progressMs).toEqual({ 1: 0, 2: 110, 3: 0 });

    await rewind(id, 'last_ms', 500);
    const frozen = await meter.finishSession(id, 'completed', 0.29 * 1_000);
    expect(frozen.billedMs).toBe(290);
    expect(sum(frozen.progressMs)).toBe(290);
  });

  it('freezes a tiny completion percent as text the settle entry schema accepts', async () => {
    // Proves any completion_pct the protocol accepts (0..100) reaches the settlement worker as a valid entry.
    const { id } = await startAttached();
    await meter.applyUpdate(id, update('sock-a', null, 1, { completionPct: 1e-7 }));
    const frozen = await meter.finishSession(id, 'completed', null);
    const entry = settleEntry.parse(toSettleEntry(frozen, Date.now()));
    expect(Number(fromSettleEntry(entry).completionPct)).toBeCloseTo(0, 5);
  });
});

type Claim = { kind: 'none' } | { kind: 'huge' } | { kind: 'delta'; deltaMs: number; fractionMs: number };

describe('property: any sequence of updates', () => {
  it('keeps billed monotonic, within funds, equal to the sum of progress, each credit within its interval', async () => {
    // Proves the clamp rule as a whole over random play/pause flags, claims (none, huge, rewound), lectures and gaps.
    const creditMsMax = 300;
    const m = meterWith({ creditMsMax, updatesPerSecondMax: 1_000 });
    const slackMs = 5;
    const claim: fc.Arbitrary<Claim> = fc.oneof(
      fc.constant({ kind: 'none' as const }),
      fc.constant({ kind: 'huge' as const }),
      fc.record({ kind: fc.constant('delta' as const), deltaMs: fc.integer({ min: -5_000, max: 5_000 }), fractionMs: fc.constantFrom(0, 1e-7, 0.5) }),
    );
    const step = fc.record({
      sleepMs: fc.integer({ min: 0, max: 20 }),
      gapMs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 5_000 })),
      playing: fc.boolean(),
      claim,
      lecture: fc.constantFrom(1, 2, 3),
      rest: fc.boolean(),
    });

    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 50, max: 2_000 }), fc.array(step, { minLength: 1, maxLength: 8 }), async (maxMs, steps) => {
        let prevCallStart = performance.now();
        const { id } = await startAttached('sock', m, { maxBillableMs: maxMs });
        let billed = 0;
        const credited: Record<string, number> = { 1: 0, 2: 0, 3: 0 };
        let ended = false;
        for (const s of steps) {
          await sleep(s.sleepMs);
          if (s.gapMs > 0) await rewind(id, 'last_ms', s.gapMs);
          const claimedMs = s.claim.kind === 'none' ? null
            : s.claim.kind === 'huge' ? HUGE_CLAIM_MS
            : Math.max(0, billed + s.claim.deltaMs) + s.claim.fractionMs;
          const input = update(s.rest ? '' : 'sock', claimedMs, s.lecture, { playing: s.playing });
          if (ended) {
            const before = await rawState(id);
            expect(await refusalOf(m.applyUpdate(id, input))).toBe('ending');
            expect(await rawState(id)).toEqual(before);
            continue;
          }
          const lastBefore = await field(id, 'last_ms');
          const callStart = performance.now();
          const r = await m.applyUpdate(id, input);
          const callEnd = performance.now();
          const scriptElapsed = (await field(id, 'last_ms')) - lastBefore;
          const measuredElapsed = callEnd - prevCallStart + s.gapMs + slackMs;
          prevCallStart = callStart;

          expect(r.creditMs).toBe(r.billedMs - billed);
          expect(r.creditMs).toBeGreaterThanOrEqual(0);
          expect(r.billedMs).toBeLessThanOrEqual(maxMs);
          expect(r.creditMs).toBeLessThanOrEqual(Math.min(measuredElapsed, creditMsMax));
          const claimedDelta = claimedMs === null ? scriptElapsed : Math.max(0, Math.floor(claimedMs) - billed);
          const expected = s.playing ? Math.min(claimedDelta, scriptElapsed, creditMsMax, maxMs - billed) : 0;
          expect(r.creditMs).toBe(expected);
          expect(r.exhausted).toBe(r.billedMs === maxMs);
          billed = r.billedMs;
          credited[s.lecture] = (credited[s.lecture] ?? 0) + r.creditMs;
          ended = r.exhausted;
        }
        const live = (await m.readSession(id))!;
        expect(live.billedMs).toBe(billed);
        expect(live.progressMs).toEqual(credited);
        expect(sum(live.progressMs)).toBe(live.billedMs);
        expect(live.status).toBe(ended ? 'ending' : 'active');
        await m.forgetSession(id);
      }),
      { numRuns: 25 },
    );
  });
});
