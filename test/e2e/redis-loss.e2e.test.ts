// Checkpoints and rebuild (docs/liveness-and-billing.md "Checkpoints"): the worker copies live durations to Postgres
// every CHECKPOINT_INTERVAL_MS; when Redis loses everything, the gateway rebuilds each session from its checkpoint on
// the next heartbeat, metrics update, reconnect or complete. Billed time lost is at most one checkpoint interval, never
// negative, never double.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startProduct, type Product } from '../helpers/product.js';
import { assertMoneyInvariants, totalBalancesMinor } from '../helpers/money-invariants.js';
import { closeAllSockets, heartbeat, openSocket } from '../helpers/ws-client.js';
import { writeCheckpoints } from '../../settlement-worker/checkpoint-durations.js';
import { activeSessionIdsPage, reconcileLostSessions, reconcilePage, reconcileSession, redisLostData } from '../../settlement-worker/reconcile-lost-sessions.js';
import { createKeys } from '../../core/redis/keys.js';
import { redisNowMs } from '../../core/redis/connect.js';
import { createWorkerMetrics } from '../../settlement-worker/metrics.js';

const checkpointMs = 300;
let p: Product;
let total0: number;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  p = await startProduct({ CHECKPOINT_INTERVAL_MS: String(checkpointMs), HEARTBEAT_INTERVAL_MS: '2000', DISCONNECT_GRACE_MS: '20000' });
  total0 = await totalBalancesMinor(p.env.pool);
});
afterAll(async () => { closeAllSockets(); await p?.stop(); });
afterEach(async () => {
  closeAllSockets();
  await assertMoneyInvariants(p.env.pool, total0);
  expect(p.brokenInvariants).toEqual([]);
});

/** What a Redis restart without persistence does to this product: every one of its keys is gone. */
async function wipeRedis(): Promise<void> {
  const keys = await p.env.redis.keys(`${p.env.keys.prefix}*`);
  if (keys.length > 0) await p.env.redis.del(...keys);
}

async function checkpointedMs(id: string): Promise<number> {
  const { rows } = await p.env.pool.query<{ duration_ms: string }>('SELECT duration_ms FROM sessions WHERE id = $1', [id]);
  return Number(rows[0]!.duration_ms);
}

/** Heartbeats every 200 ms until the checkpoint has caught up with the last ack; returns that ack's billed ms. */
async function meterUntilCheckpointed(s: ReturnType<typeof openSocket>, id: string, firstSeq: number): Promise<{ billedMs: number; seq: number }> {
  let seq = firstSeq;
  let billedMs = 0;
  for (; seq < firstSeq + 4; seq++) {
    await sleep(200);
    s.send(heartbeat(seq));
    billedMs = Math.round((await s.ack(seq)).duration_seconds * 1000);
  }
  for (let i = 0; i < 50 && (await checkpointedMs(id)) < billedMs; i++) await sleep(50);
  expect(await checkpointedMs(id)).toBe(billedMs);
  return { billedMs, seq };
}

describe('Redis loses its data', () => {
  it('an open socket carries on from the checkpoint on its next heartbeat', async () => {
    const id = await p.liveSession(5);
    const s = openSocket(`${p.wsUrl}/ws/sessions/${id}?token=${await p.token()}`);
    await s.next('ready');
    const { billedMs, seq } = await meterUntilCheckpointed(s, id, 1);
    await sleep(200);
    s.send(heartbeat(seq));
    const lastAck = Math.round((await s.ack(seq)).duration_seconds * 1000);
    await wipeRedis();
    await sleep(200);
    s.send(heartbeat(seq + 1));
    const ack = await s.ack(seq + 1);
    const after = Math.round(ack.duration_seconds * 1000);
    expect(after).toBeGreaterThanOrEqual(billedMs);
    expect(after).toBeLessThanOrEqual(lastAck); // rebuilt from the checkpoint: time is counted from the rebuild
    expect(lastAck - after).toBeLessThanOrEqual(checkpointMs + 2 * 2000);
    s.send({ type: 'complete' });
    const ended = await s.next('ended');
    expect(Math.round(ended.summary.duration_seconds * 1000)).toBe(after);
  });

  it('a reconnect, a metrics update or a complete rebuild the session the same way', async () => {
    const a = await p.liveSession(5);
    const b = await p.liveSession(5);
    const c = await p.liveSession(5);
    const billed: Record<string, number> = {};
    for (const id of [a, b, c]) {
      const s = openSocket(`${p.wsUrl}/ws/sessions/${id}?token=${await p.token()}`);
      await s.next('ready');
      billed[id] = (await meterUntilCheckpointed(s, id, 1)).billedMs;
      s.close();
      await s.closed();
    }
    await wipeRedis();

    const again = openSocket(`${p.wsUrl}/ws/sessions/${a}?token=${await p.token()}`);
    const ready = await again.next('ready');
    expect(Math.round(ready.duration_seconds * 1000)).toBe(billed[a]);
    again.send({ type: 'complete' });
    expect(Math.round((await again.next('ended')).summary.duration_seconds * 1000)).toBe(billed[a]);

    const m = await p.api('PATCH', `/api/sessions/${b}/metrics`, { body: { duration_seconds: 0, completion_pct: 5, current_lecture: 1 } });
    expect(m.status).toBe(200);
    expect(Math.round(m.json.duration_seconds * 1000)).toBe(billed[b]);
    expect((await p.api('POST', `/api/sessions/${b}/complete`, { body: {} })).json.duration_seconds * 1000).toBeCloseTo(billed[b]!, 6);

    const done = await p.api('POST', `/api/sessions/${c}/complete`, { body: {} });
    expect(done.status).toBe(200);
    expect(Math.round(done.json.duration_seconds * 1000)).toBe(billed[c]);
  });

  it('a checkpoint never lowers duration_ms nor touches a settled session', async () => {
    const id = await p.liveSession(5);
    const cp = (ms: number) => ({ sessionId: id, checkpoint: { billedMs: ms, completionPct: '1', currentLecture: 1, progressMs: { 1: ms } } });
    expect(await writeCheckpoints(p.env.pool, [cp(1_000)])).toBe(1);
    expect(await writeCheckpoints(p.env.pool, [cp(400)])).toBe(0);
    expect(await checkpointedMs(id)).toBe(1_000);
    await p.api('POST', `/api/sessions/${id}/complete`, { body: {} });
    const settled = await checkpointedMs(id);
    expect(await writeCheckpoints(p.env.pool, [cp(5_000)])).toBe(0);
    expect(await checkpointedMs(id)).toBe(settled);
  });

  it('a session whose player left while Redis had lost it is rebuilt by the worker and settled disconnected', async () => {
    // Proves no session stays active with its hold open when no player call will ever rebuild it.
    const id = await p.liveSession(5);
    const s = openSocket(`${p.wsUrl}/ws/sessions/${id}?token=${await p.token()}`);
    await s.next('ready');
    const { billedMs } = await meterUntilCheckpointed(s, id, 1);
    await wipeRedis();
    s.close();
    await s.closed();
    await p.env.pool.query(`UPDATE sessions SET start_time = now() - interval '1 minute' WHERE id = $1`, [id]);
    const deps = { pool: p.env.pool, redis: p.env.redis, meter: p.deps.meter, log: p.deps.log, metrics: createWorkerMetrics(), signal: new AbortController().signal };
    // (The in-process worker's own reconcile loop may get there first: either way the session is live again.)
    await reconcileLostSessions(deps);
    expect((await p.deps.meter.readSession(id))!.billedMs).toBe(billedMs);
    // No player comes back: once idle + grace have passed (simulated), the sweeper settles it.
    await p.env.redis.hincrby(p.env.keys.session(id), 'seen_ms', -(p.env.config.socketIdleMs + p.env.config.disconnectGraceMs));
    await p.deps.meter.scheduleDeadline(id, 0);
    let st;
    for (let i = 0; i < 50 && st?.status !== 'completed'; i++) { await sleep(100); st = (await p.api('GET', `/api/sessions/${id}/status`)).json; }
    expect(st).toMatchObject({ status: 'completed', end_reason: 'disconnected', duration_seconds: billedMs / 1000 });
  });

  it('a session that settles while a reconcile pass runs is not rebuilt', async () => {
    // Proves the interleaving seen under load: the pass lists the session as active, the settlement commits and
    // deletes its live state, then the pass finds no state. It must not bring the settled session back to life.
    const id = await p.liveSession(5);
    await p.env.pool.query(`UPDATE sessions SET start_time = now() - interval '1 minute' WHERE id = $1`, [id]);
    const deps = { pool: p.env.pool, redis: p.env.redis, meter: p.deps.meter, log: p.deps.log, metrics: createWorkerMetrics(), signal: new AbortController().signal };
    const listed = await activeSessionIdsPage(p.env.pool, '00000000-0000-0000-0000-000000000000', 10_000);
    expect(listed).toContain(id);
    expect((await p.api('POST', `/api/sessions/${id}/complete`, { body: {} })).status).toBe(200);
    for (let i = 0; i < 100 && (await p.deps.meter.ownerOf(id)) !== null; i++) await sleep(20);
    expect(await p.deps.meter.ownerOf(id)).toBeNull();
    expect(await reconcileSession(deps, id, await redisNowMs(p.env.redis))).toBe('none');
    expect(await p.deps.meter.readSession(id)).toBeNull();
    expect(await p.env.redis.zscore(p.env.keys.deadlines(p.env.keys.bucketOf(id)), id)).toBeNull();
  });

  it('a rebuild waits for a settlement holding the row lock, then sees it settled', async () => {
    // Proves the rebuild takes the settlement's guard: while a transaction holds the row (as settleSession does),
    // the rebuild waits; once that transaction commits `completed`, nothing is rebuilt.
    const id = await p.liveSession(5);
    await p.env.pool.query(`UPDATE sessions SET start_time = now() - interval '1 minute' WHERE id = $1`, [id]);
    const deps = { pool: p.env.pool, redis: p.env.redis, meter: p.deps.meter, log: p.deps.log, metrics: createWorkerMetrics(), signal: new AbortController().signal };
    await p.deps.meter.forgetSession(id);
    const settling = await p.env.pool.connect();
    try {
      await settling.query('BEGIN');
      await settling.query('SELECT id FROM sessions WHERE id = $1 FOR UPDATE', [id]);
      let done = false;
      const reconciling = reconcileSession(deps, id, await redisNowMs(p.env.redis)).finally(() => { done = true; });
      await sleep(300);
      expect(done).toBe(false);
      // Stand-in for a settlement's row write (its money legs are left out; the row is put back below).
      await settling.query(`UPDATE sessions SET status = 'completed', end_reason = 'completed', cost = 0, refund = locked_amount,
                                   teacher_earning = 0, platform_fee = 0 WHERE id = $1`, [id]);
      await settling.query('COMMIT');
      expect(await reconciling).toBe('none');
      expect(await p.deps.meter.readSession(id)).toBeNull();
    } finally {
      settling.release();
    }
    // Put the row back so the money invariants (an open hold for an unsettled session) hold: settle it for real.
    await p.env.pool.query(`UPDATE sessions SET status = 'active', end_reason = NULL, cost = NULL, refund = NULL,
                                   teacher_earning = NULL, platform_fee = NULL WHERE id = $1`, [id]);
    expect(await reconcileSession(deps, id, await redisNowMs(p.env.redis))).toBe('rebuilt');
    expect((await p.api('POST', `/api/sessions/${id}/complete`, { body: {} })).status).toBe(200);
  });

  it('the worker tells that Redis lost its data by its epoch key, once per loss', async () => {
    // Its own key name, so the in-process worker's loop cannot take the one "lost" answer this test waits for.
    const deps = { redis: p.env.redis, meter: { keys: createKeys(`${p.env.keys.prefix}epoch-test:`) } };
    expect(await redisLostData(deps)).toBe(true); // never seen: as good as lost
    expect(await redisLostData(deps)).toBe(false);
    await wipeRedis();
    expect(await redisLostData(deps)).toBe(true);
    expect(await redisLostData(deps)).toBe(false);
  });

  it('reconcile pages walk every active session with a bounded cost per page and wrap around', async () => {
    const ids = [await p.liveSession(5), await p.liveSession(5), await p.liveSession(5)];
    await p.env.pool.query(`UPDATE sessions SET start_time = now() - interval '1 minute' WHERE id = ANY($1)`, [ids]);
    const deps = { pool: p.env.pool, redis: p.env.redis, meter: p.deps.meter, log: p.deps.log, metrics: createWorkerMetrics(), signal: new AbortController().signal };
    for (const id of ids) await p.env.redis.zrem(p.env.keys.deadlines(p.env.keys.bucketOf(id)), id);
    const counts = { rebuilt: 0, scheduled: 0 };
    const next = await reconcilePage(deps, '00000000-0000-0000-0000-000000000000', counts);
    expect(next).toBe('00000000-0000-0000-0000-000000000000'); // fewer than a page: the cursor wraps
    for (const id of ids) expect(await p.env.redis.zscore(p.env.keys.deadlines(p.env.keys.bucketOf(id)), id)).not.toBeNull();
    for (const id of ids) await p.api('POST', `/api/sessions/${id}/complete`, { body: {} });
  });

  it('a live session that lost its deadline gets one back', async () => {
    // Proves a session created between a crash's two writes is still checkpointed and swept.
    const id = await p.liveSession(5);
    await p.env.pool.query(`UPDATE sessions SET start_time = now() - interval '1 minute' WHERE id = $1`, [id]);
    const zkey = p.env.keys.deadlines(p.env.keys.bucketOf(id));
    await p.env.redis.zrem(zkey, id);
    const deps = { pool: p.env.pool, redis: p.env.redis, meter: p.deps.meter, log: p.deps.log, metrics: createWorkerMetrics(), signal: new AbortController().signal };
    await reconcileLostSessions(deps);
    expect(await p.env.redis.zscore(zkey, id)).not.toBeNull();
    expect(await reconcileLostSessions(deps)).toEqual([0, 0]);
    await p.api('POST', `/api/sessions/${id}/complete`, { body: {} });
  });
});
