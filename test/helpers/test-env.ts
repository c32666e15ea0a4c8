// A private world for one test file: its own Postgres schema (migrated and seeded) and its own Redis key prefix,
// both removed by cleanup(). Tests run against the machine's real Postgres and Redis, never mocks.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { loadConfig, type Config, type Env } from '../../core/config.js';
import { migrate, seed } from '../../core/pg/migrate.js';
import { createPool, type Pool } from '../../core/pg/pool.js';
import { createRedis, type RedisClient } from '../../core/redis/connect.js';
import { createKeys, type Keys } from '../../core/redis/keys.js';

export const DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const TEST_JWT_SECRET = 'test-secret-0123456789abcdef';
export const STUDENT = '00000000-0000-0000-0000-000000000001';
export const STUDENT_2 = '00000000-0000-0000-0000-000000000003';
export const POOR_STUDENT = '00000000-0000-0000-0000-000000000004';
export const TEACHER = '00000000-0000-0000-0000-000000000002';
/** Seeded course ids: 10000000-0000-0000-0000-00000000000N, N = 1..10; course 10 is the dearest (5.00/min); 11 is the demo course (0.60/min). */
export const courseId = (n: number) => `10000000-0000-0000-0000-${String(n).padStart(12, '0')}`;

export interface TestEnv {
  config: Config;
  pool: Pool;
  redis: RedisClient;
  keys: Keys;
  schema: string;
  cleanup(): Promise<void>;
}

/** Creates the schema and prefix; `overrides` are environment variables on top of the test defaults. */
export async function createTestEnv(overrides: Env = {}): Promise<TestEnv> {
  const id = randomBytes(5).toString('hex');
  const schema = `t_${id}`;
  const prefix = `test:${id}:`;
  const databaseUrl = overrides.DATABASE_URL ?? DATABASE_URL;
  const config = loadConfig({
    DATABASE_URL,
    DATABASE_SCHEMA: schema,
    REDIS_URL,
    REDIS_KEY_PREFIX: prefix,
    JWT_SECRET: TEST_JWT_SECRET,
    // Test rules (the fixture secret is short; DEMO_MODE allowed): an unset NODE_ENV reads as production.
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    LOG_PRETTY: 'false',
    HEARTBEAT_INTERVAL_MS: '5000',
    DISCONNECT_GRACE_MS: '3000',
    SWEEP_INTERVAL_MS: '100',
    // Tests drive one user far faster than any player (fuzzing, bursts): the REST rate limit is the business of the
    // tests that set it (test/e2e/create-flood.e2e.test.ts), not a hazard of every other one.
    REST_RATE_BURST: '1000000',
    REST_RATE_PER_SECOND: '1000000',
    // Likewise shedding joins on event-loop lag: a busy test machine lags for reasons of its own. The join storm
    // test (test/e2e/join-storm.e2e.test.ts) turns it on.
    JOIN_SHED_LOOP_LAG_MS: '0',
    ...overrides,
  });
  await migrate(databaseUrl, schema);
  await seed(databaseUrl, schema);
  const pool = createPool(config, 5);
  const redis = createRedis(config, { purpose: 'test' });
  const keys = createKeys(prefix);
  return {
    config, pool, redis, keys, schema,
    async cleanup() {
      await deleteKeys(redis, prefix);
      redis.disconnect();
      await pool.end();
      const admin = new pg.Client({ connectionString: databaseUrl });
      await admin.connect();
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
    },
  };
}

async function deleteKeys(redis: RedisClient, prefix: string): Promise<void> {
  if (!('scanStream' in redis)) return;
  const stream = redis.scanStream({ match: `${prefix}*`, count: 500 });
  for await (const batch of stream as AsyncIterable<string[]>) {
    if (batch.length > 0) await redis.del(...batch);
  }
}
