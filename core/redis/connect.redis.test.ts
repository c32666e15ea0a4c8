// The Redis client's bounds against a Redis that hangs (README "Redis: hangs and failovers"), through a proxy of the
// test's own in front of the machine's Redis: a command is answered `Command timed out` within its bound, a silent
// connection is dropped and made again, and a subscriber, which sends nothing while it waits, notices the hang
// through its PINGs, then subscribes again once Redis answers.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createRedis, type RedisClient } from './connect.js';
import { isUnavailableError } from '../unavailable.js';
import { startTcpProxy, type TcpProxy } from '../../test/helpers/tcp-proxy.js';
import { REDIS_URL } from '../../test/helpers/test-env.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let proxy: TcpProxy;
const clients: RedisClient[] = [];

beforeAll(async () => { proxy = await startTcpProxy(Number(new URL(REDIS_URL).port || 6379)); });
afterAll(async () => {
  proxy.resume();
  for (const c of clients) c.disconnect();
  await proxy.close();
});

const target = () => ({ redisUrl: `redis://127.0.0.1:${proxy.port}`, redisClusterNodes: [], redisCommandTimeoutMs: 250 });

describe('createRedis against a Redis that hangs', () => {
  it('fails a command within its bound, drops the silent connection, and answers again after the hang', async () => {
    const redis = createRedis(target(), { purpose: 'hang-test' });
    clients.push(redis);
    expect(await redis.ping()).toBe('PONG');
    let closes = 0;
    redis.on('close', () => { closes += 1; });
    proxy.hold();
    const t0 = Date.now();
    const err = await redis.ping().catch((e: unknown) => e);
    expect(isUnavailableError(err), String(err)).toBe(true);
    expect(String(err)).toMatch(/Command timed out/);
    expect(Date.now() - t0).toBeLessThan(1_000);
    await sleep(800);
    expect(closes).toBeGreaterThanOrEqual(1);
    // While it reconnects, a command fails at once rather than waiting in a queue.
    const t1 = Date.now();
    expect(isUnavailableError(await redis.ping().catch((e: unknown) => e))).toBe(true);
    expect(Date.now() - t1).toBeLessThan(400);
    proxy.resume();
    const until = Date.now() + 5_000;
    let answered = false;
    while (!answered && Date.now() < until) {
      answered = (await redis.ping().catch(() => null)) === 'PONG';
      if (!answered) await sleep(100);
    }
    expect(answered).toBe(true);
  });

  it('a subscriber notices the hang through its PINGs and subscribes again after it', async () => {
    const channel = `test:${randomBytes(4).toString('hex')}:ch`;
    const sub = createRedis(target(), { purpose: 'hang-sub', dedicated: true, pingEveryMs: 300 });
    clients.push(sub);
    const got: string[] = [];
    sub.on('message', (_c: string, m: string) => got.push(m));
    await sub.subscribe(channel);
    const direct = new Redis(REDIS_URL);
    try {
      let closes = 0;
      sub.on('close', () => { closes += 1; });
      proxy.hold();
      await sleep(1_500);
      expect(closes).toBeGreaterThanOrEqual(1);
      proxy.resume();
      const until = Date.now() + 5_000;
      while (got.length === 0 && Date.now() < until) {
        await direct.publish(channel, 'after');
        await sleep(100);
      }
      expect(got).toContain('after');
    } finally {
      direct.disconnect();
    }
  });
});
