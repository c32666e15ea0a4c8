// The heartbeat batcher against the real Redis: every update is answered with its own result, and while one batch
// is on its way to Redis, or the previous one started less than the spacing ago, the updates that arrive meanwhile
// wait and go together (README "Scaling one machine").
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../../test/helpers/test-env.js';
import { createMeter, MeterRefusal, type Meter, type UpdateInput } from '../../core/redis/meter.js';
import { lowFundsWarningMs, updatesPerSecondMax } from '../../core/limits.js';
import { batchedUpdates } from './batched-updates.js';

let env: TestEnv;
let meter: Meter;

beforeAll(async () => {
  env = await createTestEnv();
  meter = createMeter(env.redis, env.keys, { creditMsMax: 10_000, updatesPerSecondMax, lowFundsWarningMs, disconnectGraceMs: 3_000, socketIdleMs: 16_000, settleRetryMs: 10_000 });
});
afterAll(async () => { await env?.cleanup(); });

async function liveSessions(n: number): Promise<string[]> {
  const ids = Array.from({ length: n }, () => randomUUID());
  await Promise.all(ids.map((id) => meter.startSession(id, {
    studentId: randomUUID(), courseId: randomUUID(), teacherId: randomUUID(), lockedMinor: 1_000, priceMinor: 10, maxBillableMs: 6_000_000, lectureIds: [1, 2],
  })));
  return ids;
}

const update = (lecture: number): UpdateInput => ({ socketId: '', playing: true, claimedMs: null, lecture, completionPct: 1 });

describe('batchedUpdates', () => {
  it('answers each update with its own result and groups what arrives while a batch is in flight', async () => {
    const ids = await liveSessions(41);
    // Records the sessions of each script batch the batcher hands to the meter.
    const bursts: string[][] = [];
    const recording: Pick<Meter, 'applyUpdates'> = {
      applyUpdates(items) {
        bursts.push(items.map((it) => it.sessionId));
        return meter.applyUpdates(items);
      },
    };
    const apply = batchedUpdates(recording);
    const first = apply(ids[0]!, update(1));
    await new Promise((r) => setImmediate(r));
    // The first batch is on its way: these 40 (one naming a lecture the course lacks) wait for its reply.
    const rest = ids.slice(1).map((id, i) => apply(id, update(i === 7 ? 9 : 2)).then((r) => r, (e: unknown) => e));
    expect(bursts).toEqual([[ids[0]]]);
    const firstResult = await first;
    expect(firstResult.currentLecture).toBe(1);
    const results = await Promise.all(rest);
    expect(bursts).toEqual([[ids[0]], ids.slice(1)]);
    results.forEach((r, i) => {
      if (i === 7) expect((r as MeterRefusal).code).toBe('unknown_lecture');
      else expect((r as { currentLecture: number }).currentLecture).toBe(2);
    });
  });

  it('sends a lone update at once when nothing is in flight', async () => {
    const [id] = await liveSessions(1);
    const apply = batchedUpdates(meter);
    for (let i = 0; i < 3; i++) {
      const r = await apply(id!, update(1));
      expect(r.currentLecture).toBe(1);
    }
  });

  it('starts batches at most once per spacing, so a steady stream goes in batches, and answers every update', async () => {
    const ids = await liveSessions(60);
    const starts: Array<{ at: number; size: number }> = [];
    const recording: Pick<Meter, 'applyUpdates'> = {
      applyUpdates(items) {
        starts.push({ at: performance.now(), size: items.length });
        return meter.applyUpdates(items);
      },
    };
    const spacingMs = 20;
    const apply = batchedUpdates(recording, spacingMs);
    // One update every 2 ms for 120 ms: far more often than the spacing allows batches.
    const answers: Array<Promise<unknown>> = [];
    for (const id of ids) {
      answers.push(apply(id, update(1)));
      await new Promise((r) => setTimeout(r, 2));
    }
    const results = await Promise.all(answers);
    expect(results.every((r) => (r as { currentLecture: number }).currentLecture === 1)).toBe(true);
    expect(starts.reduce((n, b) => n + b.size, 0)).toBe(ids.length);
    for (let i = 1; i < starts.length; i++) expect(starts[i]!.at - starts[i - 1]!.at).toBeGreaterThanOrEqual(spacingMs);
    expect(starts.length).toBeLessThan(ids.length / 3);
  });

  it('rejects the updates of a batch whose call failed, and goes on batching after it', async () => {
    const [id] = await liveSessions(1);
    let failNext = true;
    const flaky: Pick<Meter, 'applyUpdates'> = {
      applyUpdates(items) {
        if (failNext) { failNext = false; return Promise.reject(new Error('connection lost')); }
        return meter.applyUpdates(items);
      },
    };
    const apply = batchedUpdates(flaky);
    await expect(apply(id!, update(1))).rejects.toThrow('connection lost');
    expect((await apply(id!, update(2))).currentLecture).toBe(2);
  });
});
