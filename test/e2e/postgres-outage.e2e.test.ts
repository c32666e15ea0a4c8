// Postgres down (README "When things fail"): heartbeats keep working (the hot path never touches Postgres), creates
// answer 503, /readyz fails, a settlement waits and is retried until Postgres returns, and nothing is acked before its
// commit.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startProduct, type Product } from '../helpers/product.js';
import { postgresInstance, type PostgresInstance } from '../helpers/service-instances.js';
import { assertMoneyInvariants, totalBalancesMinor } from '../helpers/money-invariants.js';
import { closeAllSockets, heartbeat, openSocket } from '../helpers/ws-client.js';
import { courseId, STUDENT } from '../helpers/test-env.js';
import { settleGroup } from '../../core/redis/keys.js';
import { scrape, valueOf } from '../helpers/prometheus-text.js';

let postgres: PostgresInstance;
let p: Product;
let total0: number;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  postgres = await postgresInstance();
  p = await startProduct({ DATABASE_URL: postgres.url, HEARTBEAT_INTERVAL_MS: '1000', DISCONNECT_GRACE_MS: '5000' });
  total0 = await totalBalancesMinor(p.env.pool);
}, 90_000);
afterAll(async () => {
  closeAllSockets();
  await postgres.start().catch(() => undefined);
  await p?.stop();
  postgres?.stop();
});
afterEach(async () => { await assertMoneyInvariants(p.env.pool, total0); });

describe('Postgres outage', () => {
  it('meters on, refuses creates with 503, and settles once Postgres is back', async () => {
    const id = (await p.api('POST', '/api/sessions/create', { body: { course_id: courseId(1), student_id: STUDENT, locked_amount: 5 } })).json.session_id;
    expect((await p.api('POST', `/api/sessions/${id}/start`)).status).toBe(200);
    const s = openSocket(`${p.wsUrl}/ws/sessions/${id}?token=${await p.token()}`);
    await s.next('ready');

    postgres.stopServer();
    let last = 0;
    for (let seq = 1; seq <= 3; seq++) {
      await sleep(300);
      s.send(heartbeat(seq));
      const ack = await s.ack(seq);
      expect(ack.duration_seconds).toBeGreaterThan(last);
      last = ack.duration_seconds;
    }
    const create = await p.api('POST', '/api/sessions/create', { body: { course_id: courseId(1), student_id: STUDENT, locked_amount: 1 } });
    expect(create.status).toBe(503);
    expect(create.json.error.code).toBe('unavailable');
    const ready = await p.api('GET', '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.json).toMatchObject({ redis: true, postgres: false });
    // The refused create counted against Postgres, not Redis.
    const g = await scrape(`${p.baseUrl}/metrics`);
    expect(valueOf(g, 'gateway_postgres_errors_total')).toBeGreaterThanOrEqual(1);
    expect(valueOf(g, 'gateway_redis_errors_total')).toBe(0);

    s.send({ type: 'complete' });
    await sleep(1500);
    // The settle request is delivered but not acked while Postgres is down.
    const stream = p.env.keys.settleStream(p.env.keys.bucketOf(id));
    const pending = (await p.env.redis.xpending(stream, settleGroup)) as [number, ...unknown[]];
    expect(pending[0]).toBe(1);
    expect(s.inbox.some((m) => m.type === 'ended')).toBe(false);
    expect(valueOf(await scrape(`${p.workerMetricsUrl!}/metrics`), 'worker_postgres_errors_total')).toBeGreaterThanOrEqual(1);

    await postgres.start();
    const ended = await s.next('ended', 20_000);
    expect(ended.reason).toBe('completed');
    expect(ended.summary.duration_seconds).toBe(last);
    for (let i = 0; i < 50 && ((await p.env.redis.xpending(stream, settleGroup)) as [number])[0] > 0; i++) await sleep(100);
    expect(((await p.env.redis.xpending(stream, settleGroup)) as [number])[0]).toBe(0);
    expect((await p.api('GET', '/readyz')).status).toBe(200);
  });
});
