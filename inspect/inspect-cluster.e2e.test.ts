// `npm run inspect` on a 3-node Redis Cluster (REDIS_CLUSTER_NODES): every command it sends names one key, so the
// per-bucket deadline sets and streams are each read on their own node, with no KEYS or SCAN across the cluster.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProduct, type Product } from '../test/helpers/product.js';
import { startLocalCluster, type LocalCluster } from '../test/helpers/redis-cluster.js';
import { closeAllSockets, heartbeat, openSocket } from '../test/helpers/ws-client.js';
import { runInspect } from '../test/helpers/inspect-cli.js';

let cluster: LocalCluster;
let p: Product;
const ids: string[] = [];
let settled: string;

beforeAll(async () => {
  cluster = await startLocalCluster();
  p = await startProduct({
    REDIS_CLUSTER_NODES: cluster.nodes.map((n) => `${n.host}:${n.port}`).join(','),
    DISCONNECT_GRACE_MS: '60000', HEARTBEAT_INTERVAL_MS: '2000',
  });
  // Enough sessions to land on several buckets, hence several nodes.
  ids.push(...await Promise.all(Array.from({ length: 6 }, () => p.liveSession(3))));
  for (const id of ids) {
    const s = openSocket(`${p.wsUrl}/ws/sessions/${id}?token=${await p.token()}`);
    await s.next('ready');
    s.send(heartbeat(1));
    await s.ack(1);
  }
  settled = await p.liveSession(3);
  const s = openSocket(`${p.wsUrl}/ws/sessions/${settled}?token=${await p.token()}`);
  await s.next('ready');
  s.send({ type: 'complete' });
  await s.next('ended', 10_000);
}, 90_000);
afterAll(async () => {
  closeAllSockets();
  await p?.stop();
  cluster?.stop();
});

describe('inspect on Redis Cluster', () => {
  it('sessions: every live session over every node', async () => {
    const run = await runInspect(p.env, ['sessions', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const r = run.json();
    expect(r.sessions.map((s: any) => s.session_id).sort()).toEqual([...ids].sort());
    for (const s of r.sessions) expect(s).toMatchObject({ status: 'active', deadline_kind: 'idle' });
    expect((await runInspect(p.env, ['sessions'])).stdout).toContain('6 live sessions shown (limit 500): 6 active');
  });

  it('session <id>: both sides of a settled session', async () => {
    const r = (await runInspect(p.env, ['session', settled, '--json'])).json();
    expect(r.verdict).toMatch(/^settled completed/);
  });

  it('streams and consumers: every bucket\'s group, the worker alive', async () => {
    const streams = await runInspect(p.env, ['streams', '--json']);
    expect(streams.code, streams.stderr).toBe(0);
    const r = streams.json();
    expect(r.buckets).toHaveLength(8);
    for (const b of r.buckets) expect(b.group).toMatchObject({ pending: 0 });
    expect(r.buckets[p.env.keys.bucketOf(settled)].group.entries_read).toBeGreaterThanOrEqual(1);

    // Before Redis 7.2 a consumer's idle restarts only when it is given entries: settle one now.
    const id = await p.liveSession(3);
    const s = openSocket(`${p.wsUrl}/ws/sessions/${id}?token=${await p.token()}`);
    await s.next('ready');
    s.send({ type: 'complete' });
    await s.next('ended', 10_000);
    const consumers = await runInspect(p.env, ['consumers', '--json']);
    expect(consumers.code, consumers.stderr).toBe(0);
    const c = consumers.json();
    // CLIENT LIST on every master: the worker's 8 reader connections, spread over the nodes by their buckets' slots.
    expect(c.reader_connections.per_bucket).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
    expect(c.consumers.find((x: any) => x.name === p.worker!.consumerName)).toMatchObject({ state: 'alive' });
    expect((await runInspect(p.env, ['consumers'])).stdout).toMatch(/^1 live consumer$/m);
  });

  it('deadlines: the sessions due within the window', async () => {
    const r = (await runInspect(p.env, ['deadlines', '--within', '120', '--json'])).json();
    expect(r.due.map((d: any) => d.session_id).sort()).toEqual([...ids].sort());
  });
});
