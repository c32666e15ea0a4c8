// A Redis Cluster failover under live players (README "Redis: hangs and failovers"): 3 masters with a replica each,
// one master SIGKILLed while sessions heartbeat. Its replica takes over after cluster-node-timeout. Meanwhile every
// heartbeat is acked or answered `unavailable` (never `internal`), nothing is logged as an unexpected error, every
// player is acked again over its own socket soon after, and the books balance once all complete.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProduct, type Product } from '../helpers/product.js';
import { startLocalCluster, type LocalCluster } from '../helpers/redis-cluster.js';
import { assertMoneyInvariants, totalBalancesMinor } from '../helpers/money-invariants.js';
import { closeAllSockets } from '../helpers/ws-client.js';
import { pollUntil } from '../helpers/poll-until.js';
import {
  ackedAgainMs, captureLogLines, startHeartbeatingPlayers, unavailableCount, unexpectedKinds, wentBackCount,
} from '../helpers/heartbeating-players.js';

const heartbeatMs = 1_000;
const nodeTimeoutMs = 2_000;
const players = 12;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let cluster: LocalCluster;
let p: Product;
let total0: number;
const log = captureLogLines();

beforeAll(async () => {
  cluster = await startLocalCluster({ replicas: 1, nodeTimeoutMs });
  p = await startProduct({
    REDIS_CLUSTER_NODES: cluster.nodes.map((n) => `${n.host}:${n.port}`).join(','),
    HEARTBEAT_INTERVAL_MS: String(heartbeatMs), CHECKPOINT_INTERVAL_MS: '500', LOG_LEVEL: 'warn',
  }, { logDestination: log.destination });
  total0 = await totalBalancesMinor(p.env.pool);
}, 90_000);
afterAll(async () => {
  closeAllSockets();
  await p?.stop();
  cluster?.stop();
});

describe('a Redis Cluster failover', () => {
  it('answers every heartbeat ack or unavailable, logs no unexpected error, and every player resumes', async () => {
    const hp = await startHeartbeatingPlayers(p, players, heartbeatMs);
    let killedAt = 0;
    try {
      await sleep(3_000);
      const [victim] = cluster.masters();
      killedAt = Date.now();
      cluster.kill(victim!);
      // The replica takes over after the node timeout and an election; a few seconds of acks after that.
      const survivor = cluster.nodes.map((n) => n.port).find((port) => port !== victim)!;
      await pollUntil('no replica took over', 30_000, () => !cluster.masters().includes(victim!) && cluster.masters().length === 3, 100);
      await cluster.waitOk(survivor, 30_000);
      await sleep(5_000);
    } finally {
      hp.stop();
    }
    await sleep(500);

    const recovered = ackedAgainMs(hp.players, killedAt);
    const touched = hp.players.filter((pl) => pl.answers.some((a) => a.kind !== 'ack')).length;
    console.log(`cluster failover (node timeout ${nodeTimeoutMs} ms): ${unavailableCount(hp.players)} heartbeats of ${touched} of ${players} `
      + `players answered unavailable; acked again ${Math.min(...recovered)}-${Math.max(...recovered)} ms after the kill; `
      + `${wentBackCount(hp.players)} saw their acked billed time go back`);
    expect(unexpectedKinds(hp.players)).toEqual([]);
    expect(recovered.every(Number.isFinite), JSON.stringify(recovered)).toBe(true);
    // Some players' sessions lived on the killed master: they saw the failover.
    expect(unavailableCount(hp.players)).toBeGreaterThan(0);
    const errors = log.lines.filter((l) => l.level >= 50);
    expect(errors, JSON.stringify(errors).slice(0, 2_000)).toEqual([]);
    expect(p.brokenInvariants).toEqual([]);

    for (const pl of hp.players) {
      pl.s.send({ type: 'complete' });
      const ended = await pl.s.next('ended', 20_000);
      expect(ended.summary.duration_seconds).toBeGreaterThan(0);
    }
    await assertMoneyInvariants(p.env.pool, total0);
  }, 120_000);
});
