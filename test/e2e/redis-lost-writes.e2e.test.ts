// Redis losing acknowledged writes, as a failover to a replica behind its master does (README "Redis: hangs and
// failovers"): the session's billed time in Redis falls below what the gateway already acknowledged. The gateway
// counts it and goes on from what Redis has (billing less, never more): no exit, the socket stays open, and the
// session settles at Redis's figure with the books balanced.
import { afterAll, describe, expect, it } from 'vitest';
import { productPerFile } from '../helpers/product.js';
import { closeAllSockets, heartbeat, openSocket } from '../helpers/ws-client.js';
import { scrape, valueOf } from '../helpers/prometheus-text.js';

const p = productPerFile({ HEARTBEAT_INTERVAL_MS: '1000' });
afterAll(() => closeAllSockets());
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('billed time that went back in Redis', () => {
  it('is counted and logged, not treated as a bug: the session goes on and settles at what Redis has', async () => {
    const id = await p.liveSession(5);
    const s = openSocket(`${p.wsUrl}/ws/sessions/${id}?token=${await p.token()}`);
    await s.next('ready');
    let acked = 0;
    for (let seq = 1; seq <= 3; seq++) {
      await sleep(400);
      s.send(heartbeat(seq));
      acked = (await s.ack(seq)).duration_seconds * 1000;
    }
    expect(acked).toBeGreaterThan(500);
    // What the new master would hold: an older billed time and the lecture progress that went with it (one script's
    // writes replicate together), and the last update time.
    const key = p.env.keys.session(id);
    const [lastMs] = await p.env.redis.hmget(key, 'last_ms');
    await p.env.redis.hset(key, 'billed_ms', '100', 'last_ms', lastMs!);
    await p.env.redis.hset(p.env.keys.lectures(id), '1', '100');
    const before = valueOf(await scrape(`${p.baseUrl}/metrics`), 'gateway_billed_time_went_back_total') ?? 0;
    s.send(heartbeat(4, { playing: false }));
    const ack = await s.ack(4);
    expect(ack.duration_seconds * 1000).toBe(100);
    expect(valueOf(await scrape(`${p.baseUrl}/metrics`), 'gateway_billed_time_went_back_total')).toBe(before + 1);
    expect(s.ws.readyState).toBe(WebSocket.OPEN);
    s.send({ type: 'complete' });
    const ended = await s.next('ended', 15_000);
    expect(ended.summary.duration_seconds * 1000).toBe(100);
    expect(p.brokenInvariants).toEqual([]);
  });
});
