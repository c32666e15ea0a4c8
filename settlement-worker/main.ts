// Entry point of the settlement worker process: configuration, connections, start-up checks, then the worker;
// SIGTERM or SIGINT stops it gracefully. All logic lives in the modules it wires together.
import { loadConfig, ConfigError, type Config } from '../shared/config.js';
import { createLogger, type Logger } from '../shared/log.js';
import { createPool, type Pool } from '../shared/pg/pool.js';
import { createRedis, type RedisClient } from '../shared/redis/connect.js';
import { checkPostgres, checkRedis, StartupError } from '../shared/startup.js';
import { createSettlementWorker, type SettlementWorker } from './worker.js';

/** A shutdown that takes longer than this is forced (exit 1): an orchestrator should not wait on us forever. */
const shutdownMsMax = 10_000;

function loadConfigOrExit(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(`settlement-worker: ${err.message}`);
    process.exit(1);
  }
}

async function checkOrExit(config: Config, pool: Pool, redis: RedisClient, log: Logger): Promise<void> {
  try {
    await checkRedis(config, redis);
    await checkPostgres(config, pool);
  } catch (err) {
    if (!(err instanceof StartupError)) throw err;
    log.fatal(err.message);
    console.error(`settlement-worker: ${err.message}`);
    redis.disconnect();
    await pool.end().catch(() => undefined);
    process.exit(1);
  }
}

function onShutdownSignal(worker: SettlementWorker, pool: Pool, redis: RedisClient, log: Logger): void {
  let shuttingDown = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (shuttingDown) return;
    shuttingDown = true;
    log.info({ signal }, 'shutting down');
    setTimeout(() => {
      log.error({ shutdownMsMax }, 'shutdown took too long; exiting anyway');
      process.exit(1);
    }, shutdownMsMax).unref();
    void (async () => {
      await worker.stop();
      await pool.end().catch((err: unknown) => log.warn({ err }, 'closing the Postgres pool failed'));
      await redis.quit().catch(() => redis.disconnect());
      process.exit(0);
    })();
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const log = createLogger(config, 'settlement-worker');
  const pool = createPool(config);
  // Without a listener, an idle client dropped by a Postgres restart would crash the process.
  pool.on('error', (err) => log.warn({ err: err.message }, 'idle Postgres client error'));
  const redis = createRedis(config, { purpose: 'worker' });
  redis.on('error', (err: Error) => log.warn({ err: err.message }, 'Redis connection error'));
  await checkOrExit(config, pool, redis, log);

  // start() also creates the consumer groups (meter.ensureSettleGroups), so a fresh Redis works at once.
  const worker = createSettlementWorker({ config, pool, redis, log });
  onShutdownSignal(worker, pool, redis, log);
  await worker.start();
}

process.on('unhandledRejection', (err) => {
  console.error('settlement-worker: unhandled rejection', err);
  process.exit(1);
});

await main();
