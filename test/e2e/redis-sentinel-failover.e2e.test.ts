// Redis with Sentinel (README "Redis: hangs and failovers"): the product finds its master through three sentinels
// (REDIS_SENTINELS), and when the master is SIGKILLed under live players the sentinels promote the replica. Meanwhile
// every heartbeat is acked or answered `unavailable`, nothing is logged as an unexpected error; afterwards every player
// is acked again over its own socket, the sessions live on the new master, and the books balance once all complete.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startProduct, type Product } from '../helpers/product.js';
import { sentinelMasterName, startLocalSentinel, type LocalSentinel } from '../helpers/redis-sentinel.js';
import { assertMoneyInvariants, totalBalancesMinor } from '../helpers/money-invariants.js';
import { closeAllSockets } from '../helpers/ws-client.js';
import { ackedAgainMs, captureLogLines, startHeartbeatingPlayers, unavailableCount, unexpectedKinds } from '../helpers/heartbeating-players.js';

const heartbeatMs = 1_000;
const players = 8;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let sentinel: LocalSentinel;
let p: Product;
let total0: number;
const log = captureLogLines();

beforeAll(async () => {
  sentinel = await startLocalSentinel({ downAfterMs: 1_000 });
  p = await startProduct({
    REDIS_SENTINELS: sentinel.sentinels.map((n) => `${n.host}:${n.port}`).join(','), REDIS_SENTINEL_MASTER: sentinelMasterName,
    HEARTBEAT_INTERVAL_MS: String(heartbeatMs), CHECKPOINT_INTERVAL_MS: '500', LOG_LEVEL: 'warn',
  }, { logDestination: log.destination });
  total0 = await totalBalancesMinor(p.env.pool);
}, 90_000);
afterAll(async () => {
  closeAllSockets();
  await p?.stop();
  sentinel?.stop();
});

describe('a Sentinel failover', () => {
  it('answers every heartbeat ack or unavailable, logs no unexpected error, and every player resumes on the new master', async () => {
    const firstMaster = sentinel.masterPort();
    const hp = await startHeartbeatingPlayers(p, players, heartbeatMs);
    let killedAt = 0;
    let switchedAt = 0;
    let newMaster = 0;
    try {
      await sleep(2_500);
      killedAt = Date.now();
      sentinel.kill(firstMaster);
      newMaster = await sentinel.waitForSwitch(firstMaster, 30_000);
      switchedAt = Date.now();
      await sleep(4_000);
    } finally {
      hp.stop();
    }
    await sleep(500);

    const recovered = ackedAgainMs(hp.players, killedAt);
    console.log(`sentinel failover: switched within ${switchedAt - killedAt} ms of the kill; ${unavailableCount(hp.players)} heartbeats `
      + `answered unavailable; players acked again ${Math.min(...recovered)}-${Math.max(...recovered)} ms after the kill`);
    expect(unexpectedKinds(hp.players)).toEqual([]);
    expect(unavailableCount(hp.players)).toBeGreaterThan(0);
    expect(recovered.every(Number.isFinite), JSON.stringify(recovered)).toBe(true);
    const errors = log.lines.filter((l) => l.level >= 50);
    expect(errors, JSON.stringify(errors).slice(0, 2_000)).toEqual([]);
    // The sessions are written on the promoted replica now.
    const onNew = new Redis({ port: newMaster, host: '127.0.0.1', maxRetriesPerRequest: 1 });
    try {
      for (const pl of hp.players) expect(await onNew.hget(p.env.keys.session(pl.id), 'status')).toBe('active');
    } finally {
      onNew.disconnect();
    }
    expect(p.brokenInvariants).toEqual([]);

    for (const pl of hp.players) {
      pl.s.send({ type: 'complete' });
      const ended = await pl.s.next('ended', 20_000);
      expect(ended.summary.duration_seconds).toBeGreaterThan(0);
    }
    await assertMoneyInvariants(p.env.pool, total0);
  }, 120_000);
});
