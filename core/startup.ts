// Start-up checks shared by the gateway and the worker: when Redis or Postgres is unreachable, say which one,
// where we looked and how to get one, and exit non-zero instead of retrying silently forever.
import type { Config } from './config.js';
import type { Pool } from './pg/pool.js';
import { describeRedisTarget, type RedisClient } from './redis/connect.js';

export class StartupError extends Error {
  override readonly name = 'StartupError';
}

const howToGetOne = 'Start one with `docker compose up -d redis postgres` (docker-compose.yml), or point the variable at yours.';

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
    p.then((v) => { clearTimeout(timer); resolve(v); }, (e: unknown) => { clearTimeout(timer); reject(e); });
  });
}

export async function checkRedis(config: Config, redis: RedisClient, timeoutMs = 5_000): Promise<void> {
  try {
    await withTimeout(redis.ping(), timeoutMs, 'PING');
  } catch (err) {
    throw new StartupError(`cannot reach ${describeRedisTarget(config)}: ${(err as Error).message.replace(/\.$/, '')}. ${howToGetOne}`);
  }
}

export async function checkPostgres(config: Config, pool: Pool, timeoutMs = 5_000): Promise<void> {
  const where = `Postgres at ${config.databaseUrl.replace(/\/\/[^@/]*@/, '//***@')} (DATABASE_URL), schema ${config.databaseSchema}`;
  try {
    await withTimeout(pool.query('SELECT 1'), timeoutMs, 'SELECT 1');
  } catch (err) {
    throw new StartupError(`cannot reach ${where}: ${(err as Error).message.replace(/\.$/, '')}. ${howToGetOne}`);
  }
  const { rows } = await pool.query<{ ok: boolean }>(`SELECT to_regclass('sessions') IS NOT NULL AS ok`);
  if (!rows[0]?.ok) throw new StartupError(`${where} has no schema yet: run \`npm run migrate && npm run seed\`.`);
}
