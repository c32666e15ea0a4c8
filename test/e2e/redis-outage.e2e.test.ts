// Redis down (README "When things fail"): heartbeats get an `unavailable` error frame, REST answers 503 with a code,
// /readyz fails, nothing crashes; when Redis comes back (empty) everything recovers by itself, sessions rebuilt from
// checkpoints.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startProduct, type Product } from '../helpers/product.js';
import { redisInstance, type RedisInstance } from '../helpers/service-instances.js';
import { assertMoneyInvariants, totalBalancesMinor } from '../helpers/money-invariants.js';
import { closeAllSockets, heartbeat, openSocket } from '../helpers/ws-client.js';
import { courseId, STUDENT } from '../helpers/test-env.js';
import { samplesOf, scrape, valueOf } from '../helpers/prometheus-text.js';

let redis: RedisInstance;
let p: Product;
let total0: number;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  redis = redisInstance();
  await redis.start();
  p = await startProduct({ REDIS_URL: redis.url, CHECKPOINT_INTERVAL_MS: '200', HEARTBEAT_INTERVAL_MS: '1000', DISCONNECT_GRACE_MS: '3000' });
  total0 = await totalBalancesMinor(p.env.pool);
}, 60_000);
afterAll(async () => {
  closeAllSockets();
  await redis.start().catch(() => undefined);
  await p?.stop();
  redis?.stop();
});
afterEach(async () => { await assertMoneyInvariants(p.env.pool, total0); });

describe('Redis outage', () => {
  it('answers unavailable while Redis is down and recovers by itself when it returns', async () => {
    const id = (await p.api('POST', '/api/sessions/create', { body: { course_id: courseId(1), student_id: STUDENT, locked_amount: 5 } })).json.session_id;
    expect((await p.api('POST', `/api/sessions/${id}/start`)).status).toBe(200);
    const s = openSocket(`${p.wsUrl}/ws/sessions/${id}?token=${await p.token()}`);
    await s.next('ready');
    for (let seq = 1; seq <= 3; seq++) {
      await sleep(200);
      s.send(heartbeat(seq));
      await s.ack(seq);
    }
    await sleep(500); // a checkpoint
    const { rows } = await p.env.pool.query<{ duration_ms: string }>('SELECT duration_ms FROM sessions WHERE id = $1', [id]);
    const checkpointMs = Number(rows[0]!.duration_ms);
    expect(checkpointMs).toBeGreaterThan(0);

    redis.kill();
    await sleep(200);
    const t0 = Date.now();
    s.send(heartbeat(4));
    const err = await s.waitFor((m) => m.type === 'error' && m.seq === 4, 10_000, 'an error frame for heartbeat 4');
    expect(err.code).toBe('unavailable');
    expect(Date.now() - t0).toBeLessThan(5_000);
    // The player keeps its heartbeat going through the outage, as the SDK does; each gets an answer.
    let seq = 4;
    const beat = setInterval(() => s.send(heartbeat(++seq)), 1000);
    // Creating a session needs only Postgres: it still works; starting it needs Redis: 503, and it stays locked.
    const other = await p.api('POST', '/api/sessions/create', { body: { course_id: courseId(1), student_id: STUDENT, locked_amount: 1 } });
    expect(other.status).toBe(201);
    // The wallet is read from Postgres: it answers too, its REST rate limit unchecked (fail open, README "Rate limits").
    expect((await p.api('GET', '/api/wallet')).status).toBe(200);
    const start = await p.api('POST', `/api/sessions/${other.json.session_id}/start`);
    expect(start.status).toBe(503);
    expect(start.json.error.code).toBe('unavailable');
    const metrics = await p.api('PATCH', `/api/sessions/${id}/metrics`, { body: { duration_seconds: 1, completion_pct: 1, current_lecture: 1 } });
    expect(metrics.status).toBe(503);
    const ready = await p.api('GET', '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.json).toMatchObject({ redis: false, postgres: true });
    expect((await p.api('GET', '/healthz')).status).toBe(200);
    // The outage shows in the metrics: heartbeats answered unavailable and Redis errors counted, on both processes;
    // the worker's stream gauges, which it cannot read, are absent rather than stale.
    const g = await scrape(`${p.baseUrl}/metrics`);
    expect(valueOf(g, 'gateway_heartbeats_total', { outcome: 'unavailable' })).toBeGreaterThanOrEqual(1);
    expect(valueOf(g, 'gateway_redis_errors_total')).toBeGreaterThanOrEqual(1);
    expect(valueOf(g, 'gateway_postgres_errors_total')).toBe(0);
    expect(valueOf(g, 'gateway_rest_rate_checks_total', { outcome: 'unchecked' })).toBeGreaterThanOrEqual(2);
    const w = await scrape(`${p.workerMetricsUrl!}/metrics`);
    expect(valueOf(w, 'worker_redis_errors_total')).toBeGreaterThanOrEqual(1);
    expect(samplesOf(w, 'worker_settle_stream_length')).toEqual([]);

    await redis.start();
    let ok = false;
    for (let i = 0; i < 50 && !ok; i++) { await sleep(100); ok = (await p.api('GET', '/readyz')).status === 200; }
    expect(ok).toBe(true);
    clearInterval(beat);
    s.send(heartbeat(++seq));
    const ack = await s.ack(seq, 10_000);
    expect(ack.duration_seconds * 1000).toBeGreaterThanOrEqual(checkpointMs);
    // Heartbeat 4's error was taken from the inbox above; the outage may be over before the next beat.
    const errors = [err, ...s.inbox.filter((m) => m.type === 'error')];
    expect(errors.every((m) => m.code === 'unavailable')).toBe(true);
    s.send({ type: 'complete' });
    const ended = await s.next('ended', 15_000);
    // Heartbeats sent as Redis came back may be acked after `ack`: the summary is the largest acked duration.
    const acked = Math.max(ack.duration_seconds, ...s.inbox.filter((m) => m.type === 'ack').map((m) => m.duration_seconds));
    expect(ended.summary.duration_seconds).toBe(acked);
    // The start refused during the outage left the session locked, so it can start now.
    expect((await p.api('POST', `/api/sessions/${other.json.session_id}/start`)).status).toBe(200);
    expect((await p.api('POST', `/api/sessions/${other.json.session_id}/complete`, { body: {} })).status).toBe(200);
  });

  it('a stalled Redis (connected, silent) holds no wallet read: its REST rate limit goes unchecked', async () => {
    // CLIENT PAUSE: Redis keeps every connection open and answers none of their commands for the pause.
    const before = valueOf(await scrape(`${p.baseUrl}/metrics`), 'gateway_rest_rate_checks_total', { outcome: 'unchecked' }) ?? 0;
    await p.env.redis.call('CLIENT', 'PAUSE', '4000', 'ALL');
    const wallet = await p.api('GET', '/api/wallet');
    expect(wallet.status).toBe(200);
    expect(valueOf(await scrape(`${p.baseUrl}/metrics`), 'gateway_rest_rate_checks_total', { outcome: 'unchecked' })).toBe(before + 1);
    await sleep(4_000);
  });
});
