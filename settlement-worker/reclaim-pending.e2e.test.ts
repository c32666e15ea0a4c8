// Pending entries of a consumer that died: reclaimed with XAUTOCLAIM and settled once, or dead-lettered as poison.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../core/log.js';
import { settleDeliveriesMax } from '../core/limits.js';
import { settleGroup } from '../core/redis/keys.js';
import { createMeter, type Meter } from '../core/redis/meter.js';
import { createTestEnv, courseId, STUDENT, type TestEnv } from '../test/helpers/test-env.js';
import { assertMoneyInvariants, totalBalancesMinor } from '../test/helpers/money-invariants.js';
import { eventually, frozenSession, lockSession, readSessionRow } from '../test/helpers/sessions.js';
import { deadLetters, pendingEntries } from '../test/helpers/settle-streams.js';
import { meterLimits } from '../core/meter-limits.js';
import { createSettlementWorker, type SettlementWorker } from './worker.js';

let env: TestEnv;
let meter: Meter;
let totalBefore: number;
let worker: SettlementWorker | null = null;

beforeAll(async () => {
  env = await createTestEnv({ SETTLE_CLAIM_IDLE_MS: '1000' });
  meter = createMeter(env.redis, env.keys, meterLimits(env.config));
  await meter.ensureSettleGroups();
  totalBefore = await totalBalancesMinor(env.pool);
});
afterEach(async () => {
  await worker?.stop();
  worker = null;
  await assertMoneyInvariants(env.pool, totalBefore);
});
afterAll(async () => {
  await env.cleanup();
});

async function startWorker(): Promise<SettlementWorker> {
  worker = createSettlementWorker({ config: env.config, pool: env.pool, redis: env.redis, log: createLogger(env.config, 'test'), consumerName: 'survivor' });
  await worker.start();
  return worker;
}

/** Reads the entry as a consumer that then crashes: delivered, never acked. */
async function readAndCrash(stream: string): Promise<string> {
  const reply = await env.redis.xreadgroup('GROUP', settleGroup, 'crashed', 'COUNT', 10, 'STREAMS', stream, '>');
  const entryId = reply?.[0]?.[1]?.[0]?.[0];
  if (typeof entryId !== 'string') throw new Error('nothing delivered to the crashed consumer');
  return entryId;
}

describe('reclaiming pending settle entries', () => {
  it('settles, exactly once, an entry a crashed consumer read but never acked', async () => {
    // Proves XAUTOCLAIM recovery: an entry idle past SETTLE_CLAIM_IDLE_MS moves to a live worker and is settled once.
    const s = await lockSession(env.pool, { studentId: STUDENT, courseId: courseId(1), lockedMinor: 600 });
    const stream = env.keys.settleStream(env.keys.bucketOf(s.sessionId));
    await meter.enqueueSettlement(frozenSession(s.sessionId, { billedMs: 60_000 }));
    await readAndCrash(stream);

    const t0 = Date.now();
    await startWorker();
    const row = await eventually(async () => {
      const r = await readSessionRow(env.pool, s.sessionId);
      return r?.status === 'completed' ? r : null;
    }, 6_000, 'reclaimed settlement');

    expect(Date.now() - t0).toBeGreaterThanOrEqual(500); // not read as new: it waited to be claimable
    expect(row).toMatchObject({ cost: '0.50', refund: '5.50' });
    await eventually(async () => (await pendingEntries(env.redis, env.keys)) === 0, 2_000, 'entry acked');
    expect(await env.redis.xlen(stream)).toBe(0);
  });

  it(`dead-letters an entry delivered more than ${settleDeliveriesMax} times instead of trying it again`, async () => {
    // Proves the poison bound: an entry delivered too often is dead-lettered and acked, not cycled between workers.
    const s = await lockSession(env.pool, { studentId: STUDENT, courseId: courseId(2), lockedMinor: 600 });
    const stream = env.keys.settleStream(env.keys.bucketOf(s.sessionId));
    await meter.enqueueSettlement(frozenSession(s.sessionId, { billedMs: 60_000 }));
    const entryId = await readAndCrash(stream);
    // As if it had already been delivered settleDeliveriesMax times.
    await env.redis.call('XCLAIM', [stream, settleGroup, 'crashed', 0, entryId, 'RETRYCOUNT', settleDeliveriesMax]);

    await startWorker();
    const dead = await eventually(async () =>
      (await deadLetters(env.redis, env.keys)).find((d) => d.fields.entry_id === entryId), 6_000, 'dead letter');

    expect(dead.fields.reason).toBe(`delivered ${settleDeliveriesMax + 1} times (more than ${settleDeliveriesMax})`);
    expect(dead.fields.stream).toBe(stream);
    expect(await pendingEntries(env.redis, env.keys)).toBe(0);
    expect((await readSessionRow(env.pool, s.sessionId))!.status).toBe('locked');
  });
});
