// A Postgres connection that dies inside withTransaction (restart, failover, admin kill) fails that transaction
// with an error the caller sees, and does not crash the process through an unhandled 'error' event.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../../test/helpers/test-env.js';
import { createPool, withTransaction, type Pool } from './pool.js';

let env: TestEnv;
let killer: Pool;

beforeAll(async () => {
  env = await createTestEnv();
  killer = createPool(env.config, 1);
});
afterAll(async () => { await killer?.end(); await env?.cleanup(); });

describe('withTransaction', () => {
  it('rejects when its connection is terminated mid-transaction, and the pool serves the next query', async () => {
    const crashes: unknown[] = [];
    const onUncaught = (err: unknown) => crashes.push(err);
    process.on('uncaughtException', onUncaught);
    try {
      const attempt = withTransaction(env.pool, async (tx) => {
        const pid = (await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
        await killer.query('SELECT pg_terminate_backend($1)', [pid]);
        await new Promise((r) => setTimeout(r, 200)); // the 'error' event arrives while the client is checked out
        await tx.query('SELECT 1');
      });
      await expect(attempt).rejects.toThrow();
      expect(crashes).toEqual([]);
      expect((await env.pool.query('SELECT 1 AS one')).rows[0].one).toBe(1);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });
});
