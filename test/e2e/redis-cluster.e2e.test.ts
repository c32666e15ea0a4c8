// The product on a 3-node Redis Cluster (README "Redis keys", "Scaling one machine"): hash-tagged session keys and
// bucketed global keys keep every script in one slot, so heartbeats, replacement, disconnect sweeps and settlement all
// work as on one node.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startProduct, type Product } from '../helpers/product.js';
import { startLocalCluster, type LocalCluster } from '../helpers/redis-cluster.js';
import { assertMoneyInvariants, totalBalancesMinor } from '../helpers/money-invariants.js';
import { closeAllSockets, heartbeat, openSocket } from '../helpers/ws-client.js';
import { samplesOf, scrape, valueOf } from '../helpers/prometheus-text.js';
import { earnCredit } from '../helpers/sessions.js';
import { writeCheckpointRows } from '../../settlement-worker/checkpoint-durations.js';

let cluster: LocalCluster;
let p: Product;
let total0: number;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  cluster = await startLocalCluster();
  p = await startProduct({
    REDIS_CLUSTER_NODES: cluster.nodes.map((n) => `${n.host}:${n.port}`).join(','),
    DISCONNECT_GRACE_MS: '1000', HEARTBEAT_INTERVAL_MS: '2000',
  });
  total0 = await totalBalancesMinor(p.env.pool);
}, 60_000);
afterAll(async () => {
  closeAllSockets();
  await p?.stop();
  cluster?.stop();
});
afterEach(async () => { await assertMoneyInvariants(p.env.pool, total0); });

describe('on Redis Cluster', () => {
  it('meters and settles sessions spread over every bucket and node', async () => {
    const ids = await Promise.all(Array.from({ length: 12 }, () => p.liveSession(3)));
    const sockets = await Promise.all(ids.map(async (id) => openSocket(`${p.wsUrl}/ws/sessions/${id}?token=${await p.token()}`)));
    await Promise.all(sockets.map((s) => s.next('ready')));
    await sleep(300);
    sockets.forEach((s) => s.send(heartbeat(1)));
    const acks = await Promise.all(sockets.map((s) => s.ack(1)));
    for (const a of acks) expect(a.duration_seconds).toBeGreaterThan(0);
    sockets.forEach((s) => s.send({ type: 'complete' }));
    const ended = await Promise.all(sockets.map((s) => s.next('ended', 10_000)));
    ended.forEach((e, i) => expect(e.summary.duration_seconds).toBe(acks[i].duration_seconds));
    // The worker's stream gauges read every bucket's stream, each in its own slot, on whichever node holds it.
    const w = await scrape(`${p.workerMetricsUrl!}/metrics`);
    expect(samplesOf(w, 'worker_settle_stream_pending').map((x) => x.labels.bucket).sort()).toEqual(['0', '1', '2', '3', '4', '5', '6', '7']);
    expect(valueOf(w, 'worker_dead_letters')).toBe(0);
    expect(valueOf(w, 'worker_settlements_total', { end_reason: 'completed' })).toBe(12);
    expect(valueOf(w, 'worker_redis_errors_total')).toBe(0);
  });

  it('newest socket wins and a dropped socket is settled disconnected after grace', async () => {
    const id = await p.liveSession(3);
    const first = openSocket(`${p.wsUrl}/ws/sessions/${id}?token=${await p.token()}`);
    await first.next('ready');
    const second = openSocket(`${p.wsUrl}/ws/sessions/${id}?token=${await p.token()}`);
    await second.next('ready');
    expect((await first.next('ended')).reason).toBe('replaced');
    second.close();
    let st;
    for (let i = 0; i < 80 && st?.status !== 'completed'; i++) {
      await sleep(100);
      st = (await p.api('GET', `/api/sessions/${id}/status`)).json;
    }
    expect(st).toMatchObject({ status: 'completed', end_reason: 'disconnected' });
  });

  it('reads checkpoints of sessions on every node, one session per script call (one slot each), and writes them', async () => {
    const ids = await Promise.all(Array.from({ length: 12 }, () => p.liveSession(3)));
    for (const [i, id] of ids.entries()) await earnCredit(p.deps.meter, p.env.redis, id, 1, 500 + i);
    const replies = await p.deps.meter.readCheckpointRows(ids);
    expect(replies).toHaveLength(12);
    expect(await writeCheckpointRows(p.env.pool, `[${replies.join(',')}]`)).toBe(12);
    const { rows } = await p.env.pool.query<{ id: string; duration_ms: string }>('SELECT id, duration_ms FROM sessions WHERE id = ANY($1::uuid[])', [ids]);
    expect(Object.fromEntries(rows.map((r) => [r.id, Number(r.duration_ms)]))).toEqual(Object.fromEntries(ids.map((id, i) => [id, 500 + i])));
    for (const id of ids) expect((await p.api('POST', `/api/sessions/${id}/complete`, { body: {} })).status).toBe(200);
  });
});
