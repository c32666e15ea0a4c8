// Settlement worker process: boot order only. Config → Redis and Postgres reachable → worker (which creates the
// consumer groups) → signals. All logic lives in the modules it wires together.
import { ConfigError, loadConfig } from '../core/config.js';
import { createLogger, type Logger } from '../core/log.js';
import { createPool, type Pool } from '../core/pg/pool.js';
import { createRedis, type RedisClient } from '../core/redis/connect.js';
import { checkPostgres, checkRedis, StartupError } from '../core/startup.js';
import { onStopRequest } from '../core/stop-requests.js';
import { createSettlementWorker, type SettlementWorker } from './worker.js';
import { createWorkerMetrics } from './metrics.js';
import { workerMetricsPort } from '../core/metrics-ports.js';
import { serveProcessMetrics, type MetricsServer } from '../core/metrics-server.js';

/** A shutdown that takes longer than this is forced (exit 1): an orchestrator should not wait on us forever. */
const shutdownMsMax = 10_000;

function stopOnSignals(worker: SettlementWorker, metricsServer: MetricsServer | null, pool: Pool, redis: RedisClient, log: Logger): void {
  let stopping = false;
  const stop = async (reason: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ reason }, 'shutting down: finishing in-flight settlements');
    setTimeout(() => {
      log.error({ shutdownMsMax }, 'shutdown took too long; exiting');
      process.exit(1);
    }, shutdownMsMax).unref();
    await worker.stop();
    await metricsServer?.close();
    await pool.end().catch((err: unknown) => log.warn({ err }, 'closing the Postgres pool failed'));
    await redis.quit().catch(() => redis.disconnect());
    process.exit(0);
  };
  onStopRequest((reason) => void stop(reason));
}

async function main(): Promise<void> {
  // The worker verifies no tokens, so it does not insist on JWT_SECRET or JWT_JWKS_URL.
  const config = loadConfig(process.env, { requireAuth: false });
  const log = createLogger(config, 'settlement-worker');
  const pool = createPool(config);
  // Without a listener, an idle client dropped by a Postgres restart would crash the process.
  pool.on('error', (err) => log.warn({ err: err.message }, 'idle Postgres client error'));
  const redis = createRedis(config, { purpose: 'worker' });
  redis.on('error', (err: Error) => log.warn({ err: err.message }, 'Redis connection error'));
  await checkRedis(config, redis);
  await checkPostgres(config, pool);

  const metrics = createWorkerMetrics();
  const worker = createSettlementWorker({ config, pool, redis, log, metrics });
  // The worker's only listener: /metrics and /healthz for Prometheus, on its own port (core/metrics-ports.ts).
  const port = workerMetricsPort(config.workerMetricsPortBase, config.processIndex);
  const metricsServer = await serveProcessMetrics({ registry: metrics.registry, host: config.host, port, log });
  if (metricsServer) log.info({ metricsPort: metricsServer.port, processIndex: config.processIndex }, 'serving metrics');
  stopOnSignals(worker, metricsServer, pool, redis, log);
  await worker.start();
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError || err instanceof StartupError) {
    process.stderr.write(`settlement-worker: ${err.message}\n`);
  } else {
    process.stderr.write(`settlement-worker: failed to start: ${(err as Error).stack ?? String(err)}\n`);
  }
  process.exit(1);
});
