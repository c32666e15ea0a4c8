// meter.applyUpdates (many updates per script call) against the real local Redis: each update of a batch is judged
// exactly as the single-update path judges it, whatever the batch around it.
//
// Redis TIME cannot be moved, and two runs never see the same clock. The comparison is made blind to time:
//   - before every round, both twins move every session's `last_ms` back by far more than creditMsMax, so the first
//     update of a session in a round is credited min(claim, creditMsMax, funds), whatever the real elapsed time;
//   - a later update of that session in the same round (which may share its script call, elapsed 0) is either not
//     playing or claims 0 ms: worth 0, as it is one by one;
//   - the rate limit counts per Redis second: a run whose twin crossed a second boundary is discarded (fc.pre).
// Everything else (refusals, credits, warnings, exhaustion, progress, rate limiting) must then be identical.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createTestEnv, type TestEnv } from '../../test/helpers/test-env.js';
import { createMeter, MeterRefusal, UpdateCallFailed, type Meter, type MeterLimits, type UpdateInput, type UpdateItem, type UpdateResult } from './meter.js';
import { updatesPerScriptCallMax } from '../limits.js';

const limits: MeterLimits = {
  creditMsMax: 1_000,
  updatesPerSecondMax: 4,
  lowFundsWarningMs: 300,
  disconnectGraceMs: 60_000,
  socketIdleMs: 16_000,
  settleRetryMs: 10_000,
};
/** Far more than creditMsMax: after this rewind the elapsed time never bounds a credit. */
const REWIND_MS = 10_000_000;

let env: TestEnv;

beforeAll(async () => {
  env = await createTestEnv();
});

afterAll(async () => {
  await env?.cleanup();
});

type SessionKind = 'attached' | 'paused' | 'unattached';
type Sender = 'own' | 'other' | 'rest';
interface Step {
  /** Index into the run's sessions; the last index is a session that was never started. */
  session: number;
  sender: Sender;
  playing: boolean;
  /** Absolute cumulative claim in ms, or null for none (first update of a session in a round only). */
  claimedMs: number | null;
  lecture: number;
  completionPct: number;
  /** The batch twin ends a script call after this step. */
  cut: boolean;
}

const socketOf = (j: number) => `sock-${j}`;
type Outcome = UpdateResult | string;
const outcomeOf = (r: UpdateResult | MeterRefusal | UpdateCallFailed): Outcome => {
  if (r instanceof UpdateCallFailed) throw r.cause;
  return r instanceof MeterRefusal ? r.code : r;
};

async function startTwin(meter: Meter, kinds: readonly SessionKind[], maxMs: readonly number[]): Promise<string[]> {
  const ids = kinds.map(() => randomUUID());
  for (const [j, id] of ids.entries()) {
    await meter.startSession(id, { studentId: randomUUID(), courseId: randomUUID(), teacherId: randomUUID(),
      lockedMinor: 10_000, priceMinor: 50, maxBillableMs: maxMs[j]!, lectureIds: [1, 2, 3] });
    if (kinds[j] !== 'unattached') await meter.attachSocket(id, socketOf(j));
    if (kinds[j] === 'paused') await meter.detachSocket(id, socketOf(j));
  }
  return [...ids, randomUUID()];
}

const itemOf = (ids: readonly string[], s: Step): UpdateItem => ({
  sessionId: ids[s.session]!,
  input: {
    socketId: s.sender === 'rest' ? '' : s.sender === 'own' ? socketOf(s.session) : 'sock-intruder',
    playing: s.playing, claimedMs: s.claimedMs, lecture: s.lecture, completionPct: s.completionPct,
  } satisfies UpdateInput,
});

async function rewindAll(ids: readonly string[]): Promise<void> {
  await Promise.all(ids.slice(0, -1).map((id) => env.redis.hincrby(env.keys.session(id), 'last_ms', -REWIND_MS)));
}

async function redisSecond(): Promise<number> {
  return Number((await env.redis.time())[0]);
}

/** What must match between the twins: the session hash without its timestamps, and the progress hash. */
async function finalState(ids: readonly string[]) {
  return Promise.all(ids.map(async (id) => {
    const h = await env.redis.hgetall(env.keys.session(id));
    const { billed_ms, status, end_reason, warned, pct, lecture, owner, rl_n } = h;
    return { session: { billed_ms, status, end_reason, warned, pct, lecture, owner, rl_n }, progress: await env.redis.hgetall(env.keys.lectures(id)) };
  }));
}

/**
 * Steps of one round: only a session's first step in the round may carry a crediting claim (see the header). Claims are
 * absolute (cumulative) and often sit on an edge: 1 ms, creditMsMax ± 1, exactly where the low-funds warning starts, the
 * whole budget.
 */
const roundOf = (maxMs: readonly number[]) => fc.array(fc.integer({ min: 0, max: maxMs.length }).chain((session) => {
  const budget = maxMs[session] ?? 1_000;
  const warnAt = budget - limits.lowFundsWarningMs;
  return fc.record({
    session: fc.constant(session),
    sender: fc.constantFrom<Sender>('own', 'own', 'own', 'rest', 'other'),
    playing: fc.boolean(),
    claim: fc.oneof(fc.constant(null), fc.integer({ min: 0, max: 4_000 }),
      fc.constantFrom(1, limits.creditMsMax - 1, limits.creditMsMax, limits.creditMsMax + 1, budget, ...[warnAt - 1, warnAt, warnAt + 1].filter((c) => c >= 0))),
    lecture: fc.constantFrom(1, 2, 3, 3, 4),
    completionPct: fc.constantFrom(0, 12.5, 99.999999, 1e-7),
    cut: fc.boolean(),
  });
}), { minLength: 1, maxLength: 12 }).map((raw) => {
  const seen = new Set<number>();
  return raw.map(({ claim, ...s }): Step => {
    const first = !seen.has(s.session);
    seen.add(s.session);
    return { ...s, claimedMs: first ? claim : s.playing ? 0 : claim };
  });
});

describe('applyUpdates', () => {
  it('gives, in any batch split, the results and final state of the same updates applied one by one', async () => {
    const seen = new Map<string, number>();
    const count = (what: string) => seen.set(what, (seen.get(what) ?? 0) + 1);
    const scenario = fc.integer({ min: 1, max: 3 }).chain((n) => fc.record({
      kinds: fc.array(fc.constantFrom<SessionKind>('attached', 'attached', 'paused', 'unattached'), { minLength: n, maxLength: n }),
      maxMs: fc.array(fc.oneof(fc.integer({ min: 200, max: 3_000 }), fc.constantFrom(limits.lowFundsWarningMs, limits.creditMsMax + limits.lowFundsWarningMs)), { minLength: n, maxLength: n }),
    }).chain((s) => fc.record({ kinds: fc.constant(s.kinds), maxMs: fc.constant(s.maxMs), rounds: fc.array(roundOf(s.maxMs), { minLength: 1, maxLength: 4 }) })));

    await fc.assert(fc.asyncProperty(scenario, async ({ kinds, maxMs, rounds }) => {
      const batchMeter = createMeter(env.redis, env.keys, limits);
      const singleMeter = createMeter(env.redis, env.keys, limits);
      const batchIds = await startTwin(batchMeter, kinds, maxMs);
      const singleIds = await startTwin(singleMeter, kinds, maxMs);

      const batchSecond = await redisSecond();
      const batchOut: Outcome[] = [];
      for (const round of rounds) {
        await rewindAll(batchIds);
        let call: UpdateItem[] = [];
        for (const [k, s] of round.entries()) {
          call.push(itemOf(batchIds, s));
          if (s.cut || k === round.length - 1) {
            batchOut.push(...(await batchMeter.applyUpdates(call)).map(outcomeOf));
            call = [];
          }
        }
      }
      const batchInOneSecond = (await redisSecond()) === batchSecond;

      const singleSecond = await redisSecond();
      const singleOut: Outcome[] = [];
      for (const round of rounds) {
        await rewindAll(singleIds);
        for (const s of round) {
          const { sessionId, input } = itemOf(singleIds, s);
          singleOut.push(await singleMeter.applyUpdate(sessionId, input).then(outcomeOf, (err: unknown) => {
            if (err instanceof MeterRefusal) return err.code;
            throw err;
          }));
        }
      }
      const singleInOneSecond = (await redisSecond()) === singleSecond;
      // The rate limit's window is the Redis second: only runs that each stayed within one are comparable.
      fc.pre(batchInOneSecond && singleInOneSecond);

      expect(batchOut).toEqual(singleOut);
      expect(await finalState(batchIds)).toEqual(await finalState(singleIds));
      expect(batchMeter.dirty.buffered()).toBe(singleMeter.dirty.buffered());
      expect(await env.redis.exists(env.keys.session(batchIds.at(-1)!))).toBe(0);
      for (const o of batchOut) count(typeof o === 'string' ? o : o.exhausted ? 'exhausted' : o.warnLowFunds ? 'warned' : o.creditMs > 0 ? 'credited' : 'zero');
    }), { numRuns: 100 });

    // The generator must reach every outcome, or the equality above proves less than it says.
    expect([...seen.keys()].sort()).toEqual(['credited', 'ending', 'exhausted', 'paused', 'rate_limited', 'replaced',
      'unknown_lecture', 'unknown_session', 'warned', 'zero']);
  });

  it('answers in item order, one refusal per refused item, and credits a session once per instant', async () => {
    const meter = createMeter(env.redis, env.keys, { ...limits, updatesPerSecondMax: 100 });
    const [a, b] = await startTwin(meter, ['attached', 'attached'], [100_000, 100_000]);
    await rewindAll([a!, b!, '']);
    const up = (sessionId: string, socketId: string, over: Partial<UpdateInput> = {}): UpdateItem =>
      ({ sessionId, input: { socketId, playing: true, claimedMs: 500, lecture: 2, completionPct: 5, ...over } });
    const r = await meter.applyUpdates([
      up(a!, socketOf(0)), up(b!, 'sock-intruder'), up(randomUUID(), ''), up(b!, socketOf(1), { lecture: 9 }),
      up(b!, ''), up(a!, socketOf(0), { claimedMs: 900 }),
    ]);
    expect(r.map(outcomeOf)).toEqual([
      expect.objectContaining({ creditMs: 500, billedMs: 500, currentLecture: 2, completionPct: 5, lockedMinor: 10_000, priceMinor: 50, maxBillableMs: 100_000 }),
      'replaced', 'unknown_session', 'unknown_lecture',
      expect.objectContaining({ creditMs: 500, billedMs: 500 }),
      // The same instant as the first update of `a`: no time has passed since, so nothing more to credit.
      expect.objectContaining({ creditMs: 0, billedMs: 500 }),
    ]);
    expect(await meter.readSession(a!)).toMatchObject({ billedMs: 500, progressMs: { 1: 0, 2: 500, 3: 0 } });
  });

  it('splits a batch larger than updatesPerScriptCallMax and still answers every item in order', async () => {
    const meter = createMeter(env.redis, env.keys, { ...limits, updatesPerSecondMax: 1_000 });
    const n = 5;
    const ids = (await startTwin(meter, Array<SessionKind>(n).fill('unattached'), Array<number>(n).fill(10_000_000))).slice(0, n);
    await rewindAll([...ids, '']);
    const items = Array.from({ length: 2 * updatesPerScriptCallMax + 3 }, (_, i): UpdateItem =>
      ({ sessionId: ids[i % n]!, input: { socketId: '', playing: true, claimedMs: 100 * (i + 1), lecture: 1 + (i % 3), completionPct: i } }));
    const r = await meter.applyUpdates(items);
    // Each session's first item is credited its claim; its later ones (same instant, or a later call: a few ms) at
    // most the time that passed, which the claims (100 ms apart per item) always exceed.
    r.forEach((x, i) => {
      expect(x).not.toBeInstanceOf(MeterRefusal);
      expect((x as UpdateResult).completionPct).toBe(i);
      if (i < n) expect((x as UpdateResult).creditMs).toBe(100 * (i + 1));
    });
    for (const [j, id] of ids.entries()) {
      const mine = r.filter((_, i) => i % n === j) as UpdateResult[];
      expect((await meter.readSession(id))!.billedMs).toBe(mine.reduce((sum, x) => sum + x.creditMs, 0));
    }
  });

  it('fails every update of a script call that Redis fails, with the call\'s error, and answers the other calls', async () => {
    // A batch longer than one call is cut into calls; on a Cluster, one per slot. A call that fails (here a key of the
    // wrong type; in production a shard mid-failover) fails only its own updates (test/e2e/redis-cluster-failover).
    const meter = createMeter(env.redis, env.keys, limits);
    const [a] = await startTwin(meter, ['attached'], [100_000]);
    const broken = randomUUID();
    await env.redis.set(env.keys.session(broken), 'not a hash');
    const update = (sessionId: string, socketId: string): UpdateItem =>
      ({ sessionId, input: { socketId, playing: true, claimedMs: null, lecture: 1, completionPct: 1 } });
    const first = Array.from({ length: updatesPerScriptCallMax }, () => update(a!, socketOf(0)));
    const r = await meter.applyUpdates([...first, update(broken, ''), update(a!, socketOf(0))]);
    expect(r).toHaveLength(updatesPerScriptCallMax + 2);
    // Answered, each by the rules (the session's per-second rate refuses some of so many at one instant).
    for (const x of r.slice(0, updatesPerScriptCallMax)) expect(x instanceof UpdateCallFailed).toBe(false);
    expect(r[0]).toMatchObject({ exhausted: false });
    for (const x of r.slice(updatesPerScriptCallMax)) {
      expect(x).toBeInstanceOf(UpdateCallFailed);
      expect(String((x as UpdateCallFailed).cause)).toMatch(/WRONGTYPE/);
    }
    await expect(meter.applyUpdate(broken, update(broken, '').input)).rejects.toThrow(/WRONGTYPE/);
  });

  it('restores a current lecture only if the course has it, so an update never credits a lecture outside the course', async () => {
    // applyUpdates looks a lecture up only when it is not the session's current one: restoreSession keeps that sound.
    const meter = createMeter(env.redis, env.keys, limits);
    const restore = async (currentLecture: number) => {
      const id = randomUUID();
      expect(await meter.restoreSession(id, { studentId: randomUUID(), courseId: randomUUID(), teacherId: randomUUID(),
        lockedMinor: 10_000, priceMinor: 50, maxBillableMs: 100_000, lectureIds: [1, 2, 3],
        billedMs: 700, completionPct: '40', currentLecture, progressMs: { 1: 300, 2: 400 } })).toBe(true);
      await rewindAll([id, '']);
      return id;
    };
    const rest = (sessionId: string, lecture: number): UpdateItem =>
      ({ sessionId, input: { socketId: '', playing: true, claimedMs: 1_200, lecture, completionPct: 41 } });

    const gone = await restore(7);
    expect((await meter.readSession(gone))!.currentLecture).toBeNull();
    expect((await meter.applyUpdates([rest(gone, 7)])).map(outcomeOf)).toEqual(['unknown_lecture']);

    const kept = await restore(2);
    expect((await meter.readSession(kept))!.currentLecture).toBe(2);
    expect(await meter.applyUpdates([rest(kept, 2)])).toMatchObject([{ creditMs: 500, billedMs: 1_200 }]);
    expect((await meter.readSession(kept))!.progressMs).toEqual({ 1: 300, 2: 900, 3: 0 });
  });

  it('answers an empty batch without asking Redis', async () => {
    const meter = createMeter(env.redis, env.keys, limits);
    expect(await meter.applyUpdates([])).toEqual([]);
  });
});
