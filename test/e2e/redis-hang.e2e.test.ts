// A Redis that hangs (README "Redis: hangs and failovers"): the gateway and the worker reach a private Redis through a
// TCP proxy that, for a while, lets no byte through either way while every connection stays open, as a partition or
// a stuck proxy does. While it hangs, each heartbeat is answered `unavailable` before the player's next one, /readyz
// fails, a start answers 503 with Retry-After; nothing is written to Redis, and nothing written before is replayed
// when it answers again. After it, the player goes on over the same socket, the session is not settled as
// `disconnected` (its socket stayed open), and the billed time lost is what the credit clamp allows, no more.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startProduct, type Product } from '../helpers/product.js';
import { redisInstance, type RedisInstance } from '../helpers/service-instances.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { assertMoneyInvariants, totalBalancesMinor } from '../helpers/money-invariants.js';
import { closeAllSockets, openSocket } from '../helpers/ws-client.js';
import { courseId, STUDENT } from '../helpers/test-env.js';

const heartbeatMs = 1_000;
/** Longer than socket idle (12 s, the least) + grace (3 s): without the sweeper's hold the session would be settled. */
const hangMs = 16_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let redis: RedisInstance;
let proxy: TcpProxy;
let direct: Redis;
let p: Product;
let total0: number;

beforeAll(async () => {
  redis = redisInstance();
  await redis.start();
  proxy = await startTcpProxy(redis.port);
  direct = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  p = await startProduct({
    REDIS_URL: `redis://127.0.0.1:${proxy.port}`, HEARTBEAT_INTERVAL_MS: String(heartbeatMs), DISCONNECT_GRACE_MS: '3000',
    CHECKPOINT_INTERVAL_MS: '500',
  });
  total0 = await totalBalancesMinor(p.env.pool);
}, 60_000);
afterAll(async () => {
  closeAllSockets();
  proxy?.resume();
  await p?.stop();
  direct?.disconnect();
  await proxy?.close();
  redis?.stop();
});

interface Beat { seq: number; sentAt: number; answer: 'ack' | string | null; answeredAt: number | null; durationS: number | null }

describe('a hung Redis', () => {
  it('answers unavailable within its bound, replays nothing, and keeps the session of a player who stayed', async () => {
    expect(p.env.config.redisCommandTimeoutMs).toBe(250);
    const id = await p.liveSession(5);
    const s = openSocket(`${p.wsUrl}/ws/sessions/${id}?token=${await p.token()}`);
    await s.next('ready');
    const beats = new Map<number, Beat>();
    s.ws.addEventListener('message', (ev) => {
      const m = JSON.parse(String(ev.data));
      const b = beats.get(m.seq);
      if (!b || b.answer !== null) return;
      if (m.type === 'ack') Object.assign(b, { answer: 'ack', answeredAt: Date.now(), durationS: m.duration_seconds });
      else if (m.type === 'error') Object.assign(b, { answer: m.code, answeredAt: Date.now() });
    });
    let closed = false;
    s.ws.addEventListener('close', () => { closed = true; });
    const playStart = Date.now();
    let seq = 0;
    let beating = true;
    const beat = () => {
      if (!beating) return;
      seq++;
      beats.set(seq, { seq, sentAt: Date.now(), answer: null, answeredAt: null, durationS: null });
      s.send({ type: 'heartbeat', seq, position_seconds: (Date.now() - playStart) / 1000, playing: true, current_lecture: 1, completion_pct: 1 });
    };
    const timer = setInterval(beat, heartbeatMs);
    try {
      await sleep(3_000);
      const key = p.env.keys.session(id);
      const other = await p.api('POST', '/api/sessions/create', { body: { course_id: courseId(1), student_id: STUDENT, locked_amount: 1 } });
      expect(other.status).toBe(201);

      proxy.hold();
      const holdAt = Date.now();
      const seenAtHold = await direct.hget(key, 'seen_ms');
      await sleep(1_500);
      // Mid-hang: the load balancer's probe fails, a start that needs Redis answers 503 with Retry-After.
      const ready = await p.api('GET', '/readyz');
      expect(ready.status).toBe(503);
      expect(ready.json).toMatchObject({ redis: false, postgres: true });
      const start = await p.api('POST', `/api/sessions/${other.json.session_id}/start`);
      expect(start.status).toBe(503);
      expect(start.json.error).toMatchObject({ code: 'unavailable', details: { retry_after_seconds: 1 } });
      await sleep(hangMs - 1_500 - 500);
      // Quiet around the resume, so what reaches Redis then can only be what was held.
      beating = false;
      await sleep(500);
      expect(await direct.hget(key, 'seen_ms')).toBe(seenAtHold);
      proxy.resume();
      const resumedAt = Date.now();
      await sleep(500);
      expect(await direct.hget(key, 'seen_ms'), 'a heartbeat held during the hang was replayed').toBe(seenAtHold);
      beating = true;

      const during = [...beats.values()].filter((b) => b.sentAt > holdAt + 100 && b.sentAt < resumedAt - 600);
      expect(during.length).toBeGreaterThanOrEqual(12);
      for (const b of during) {
        expect(b.answer, `heartbeat ${b.seq}`).toBe('unavailable');
        // Answered before the player's next heartbeat: the command bound (250 ms) and a reconnect's refusal.
        expect(b.answeredAt! - b.sentAt, `heartbeat ${b.seq} answered late`).toBeLessThan(heartbeatMs);
      }

      // The player goes on over the same socket, and its session outlives the sweeper's hold (4.5 s here).
      await sleep(7_000);
      expect(closed).toBe(false);
      const after = [...beats.values()].filter((b) => b.sentAt > resumedAt + 2_500);
      expect(after.length).toBeGreaterThanOrEqual(4);
      expect(after.every((b) => b.answer === 'ack'), JSON.stringify(after)).toBe(true);
      expect(await direct.hget(key, 'status')).toBe('active');
      expect((await p.env.pool.query('SELECT status FROM sessions WHERE id = $1', [id])).rows[0].status).toBe('active');

      beating = false;
      clearInterval(timer);
      await sleep(200);
      s.send({ type: 'complete' });
      const ended = await s.next('ended', 15_000);
      expect(ended.summary.end_reason ?? ended.reason).toBe('completed');
      const playedMs = Date.now() - playStart;
      const billedMs = ended.summary.duration_seconds * 1000;
      // The clamp credits at most two heartbeat intervals for the first heartbeat after the hang; the rest of the hang
      // is lost, and nothing else (a slack for the beats' spacing around start, resume and complete).
      const lostMs = playedMs - billedMs;
      console.log(`hung Redis ${hangMs} ms: played ${playedMs} ms, billed ${billedMs} ms, lost ${lostMs} ms (clamp allows ${hangMs - 2 * heartbeatMs} + spacing)`);
      expect(lostMs).toBeLessThanOrEqual(hangMs - 2 * heartbeatMs + 2_500);
      expect(lostMs).toBeGreaterThanOrEqual(hangMs - 2 * heartbeatMs - 1_000);
    } finally {
      clearInterval(timer);
    }
    await assertMoneyInvariants(p.env.pool, total0);
    expect(p.brokenInvariants).toEqual([]);
  }, 90_000);
});
