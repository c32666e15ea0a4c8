// meter.applyUpdates on a 3-node Redis Cluster of its own: a batch whose sessions live in many slots (and on every
// node) is cut into one script call per slot, each call's keys in its slot, and answered in item order.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import calculateSlot from 'cluster-key-slot';
import { Redis } from 'ioredis';
import { startLocalCluster, type LocalCluster } from '../../test/helpers/redis-cluster.js';
import { createRedis, type RedisClient } from './connect.js';
import { createKeys } from './keys.js';
import { batchScript } from './load-scripts.js';
import { createMeter, MeterRefusal, type UpdateItem, type UpdateResult } from './meter.js';
import { updatesPerScriptCallMax } from '../limits.js';

let cluster: LocalCluster;
let redis: RedisClient;
const keys = createKeys('test:apply-updates:');
const meter = () => createMeter(redis, keys, { creditMsMax: 10_000, updatesPerSecondMax: 1_000, lowFundsWarningMs: 1_000,
  disconnectGraceMs: 3_000, socketIdleMs: 16_000, settleRetryMs: 10_000 });

beforeAll(async () => {
  cluster = await startLocalCluster();
  redis = createRedis({ redisUrl: '', redisClusterNodes: cluster.nodes });
}, 60_000);

afterAll(() => {
  redis?.disconnect();
  cluster?.stop();
});

/** Script calls every node has run so far (EVAL and EVALSHA, or only EVAL). */
async function scriptCalls(only: 'eval' | 'evalsha|eval' = 'evalsha|eval'): Promise<number> {
  let calls = 0;
  for (const n of cluster.nodes) {
    const node = new Redis(n.port, n.host, { lazyConnect: true });
    const stats = await node.info('commandstats');
    node.disconnect();
    for (const m of stats.matchAll(new RegExp(`^cmdstat_(?:${only}):calls=(\\d+)`, 'gm'))) calls += Number(m[1]);
  }
  return calls;
}

it('runs on nodes that do not have the script yet (EVALSHA answered NOSCRIPT, then EVAL)', async () => {
  for (const n of cluster.nodes) {
    const node = new Redis(n.port, n.host);
    await node.script('FLUSH');
    node.disconnect();
  }
  const m = meter();
  const ids = Array.from({ length: 6 }, () => randomUUID());
  for (const id of ids) {
    await m.startSession(id, { studentId: randomUUID(), courseId: randomUUID(), teacherId: randomUUID(),
      lockedMinor: 10_000, priceMinor: 50, maxBillableMs: 1_000_000, lectureIds: [1, 2, 3] });
    await redis.hincrby(keys.session(id), 'last_ms', -60_000);
  }
  const evalsBefore = await scriptCalls('eval');
  const r = await m.applyUpdates(ids.map((sessionId, j) => ({ sessionId, input: { socketId: '', playing: true, claimedMs: 100 + j, lecture: 1, completionPct: 1 } })));
  expect(r.map((x) => (x as UpdateResult).creditMs)).toEqual(ids.map((_, j) => 100 + j));
  expect(await scriptCalls('eval'), 'the script was sent in full').toBeGreaterThan(evalsBefore);
}, 30_000);

it('cuts a batch into one script call per slot, at most updatesPerScriptCallMax each, answering in item order', async () => {
  const m = meter();
  // Sessions in distinct slots (24 random ids would share one now and then), and one more slot for an unknown session.
  const bySlot = new Map<number, string>();
  while (bySlot.size < 25) {
    const id = randomUUID();
    bySlot.set(calculateSlot(keys.session(id)), id);
  }
  const [unknown, ...ids] = [...bySlot.values()] as [string, ...string[]];
  for (const id of ids) {
    await m.startSession(id, { studentId: randomUUID(), courseId: randomUUID(), teacherId: randomUUID(),
      lockedMinor: 10_000, priceMinor: 50, maxBillableMs: 1_000_000, lectureIds: [1, 2, 3] });
    await redis.hincrby(keys.session(id), 'last_ms', -60_000);
  }
  const ranges = await redis.call('CLUSTER', 'SLOTS') as [number, number, [string, number]][];
  const portOf = (id: string) => ranges.find(([from, to]) => calculateSlot(keys.session(id)) >= from && calculateSlot(keys.session(id)) <= to)![2][1];
  expect(new Set(ids.map(portOf)).size, 'sessions on every node').toBe(cluster.nodes.length);

  // Two rounds over every session, an unknown session among them, and one session given more than one call's worth.
  const crowded = ids[0]!;
  const items: UpdateItem[] = [];
  const update = (sessionId: string, claimedMs: number, lecture = 2): UpdateItem =>
    ({ sessionId, input: { socketId: '', playing: true, claimedMs, lecture, completionPct: 50 } });
  for (const [j, id] of ids.entries()) items.push(update(id, 1_000 + j));
  items.push(update(unknown, 1_000));
  for (let k = 0; k < updatesPerScriptCallMax; k++) items.push(update(crowded, 500, 3));
  for (const id of ids) items.push(update(id, 0, 9));

  // Loaded beforehand, so that no call is answered NOSCRIPT and sent again (which would count twice).
  for (const n of cluster.nodes) {
    const node = new Redis(n.port, n.host);
    await node.script('LOAD', batchScript('applyUpdates').lua);
    node.disconnect();
  }
  const before = await scriptCalls();
  const r = await m.applyUpdates(items);
  const calls = (await scriptCalls()) - before;

  // One call per slot, and the crowded slot's 1 + updatesPerScriptCallMax + 1 items need a second one.
  expect(calls).toBe(ids.length + 1 + 1);
  expect(r).toHaveLength(items.length);
  ids.forEach((_, j) => expect(r[j]).toMatchObject({ creditMs: 1_000 + j, billedMs: 1_000 + j, currentLecture: 2 }));
  expect(r[ids.length]).toEqual(new MeterRefusal('unknown_session'));
  for (let k = 0; k < updatesPerScriptCallMax; k++) expect((r[ids.length + 1 + k] as UpdateResult).creditMs).toBe(0);
  for (let j = 0; j < ids.length; j++) expect((r[ids.length + 1 + updatesPerScriptCallMax + j] as MeterRefusal).code).toBe('unknown_lecture');
  for (const [j, id] of ids.entries()) {
    expect(await m.readSession(id)).toMatchObject({ billedMs: 1_000 + j, progressMs: { 1: 0, 2: 1_000 + j, 3: 0 } });
  }
  expect(await redis.exists(keys.session(unknown))).toBe(0);
}, 30_000);

it('answers the reconcile walk\'s batch reads across slots and nodes, in order', async () => {
  const m = meter();
  const ids = Array.from({ length: 20 }, () => randomUUID());
  for (const id of ids.slice(0, 15)) {
    await m.startSession(id, { studentId: randomUUID(), courseId: randomUUID(), teacherId: randomUUID(),
      lockedMinor: 10_000, priceMinor: 50, maxBillableMs: 1_000_000, lectureIds: [1] });
  }
  for (const id of ids.slice(0, 5)) await redis.zrem(keys.deadlines(keys.bucketOf(id)), id);
  expect(await m.liveSessions(ids)).toEqual(ids.map((_, i) => i < 15));
  expect(await m.deadlinesScheduled(ids)).toEqual(ids.map((_, i) => i >= 5 && i < 15));
  await Promise.all(ids.map((id) => m.forgetSession(id)));
});
