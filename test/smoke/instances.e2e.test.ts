// The throwaway Redis and Postgres servers start, answer, and stop (the outage and chaos tests stand on them).
import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { Redis } from 'ioredis';
import { postgresInstance, redisInstance } from '../helpers/service-instances.js';

describe('throwaway service instances', () => {
  it('a private Redis and a private Postgres start, serve and stop', async () => {
    const r = redisInstance();
    await r.start();
    const client = new Redis(r.url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
    expect(await client.ping()).toBe('PONG');
    client.disconnect();
    r.stop();
    const p = await postgresInstance();
    const c = new pg.Client({ connectionString: p.url });
    await c.connect();
    expect((await c.query('SELECT 1 AS one')).rows[0].one).toBe(1);
    await c.end();
    p.stop();
  }, 60_000);
});
