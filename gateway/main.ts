// Gateway process: boot order only. Config → native uWS check → Redis and Postgres reachable → listen → signals.
import { ConfigError, loadConfig } from '../core/config.js';
import { createLogger } from '../core/log.js';
import { createPool } from '../core/pg/pool.js';
import { createSettlementWaiters } from './metering/settlement-waiters.js';
import { createRedis } from '../core/redis/connect.js';
import { createKeys } from '../core/redis/keys.js';
import { createMeter } from '../core/redis/meter.js';
import { checkPostgres, checkRedis, StartupError } from '../core/startup.js';
import { meterLimits } from '../core/meter-limits.js';
import { onStopRequest } from '../core/stop-requests.js';
import { assertNativeUws, UwsFallbackError } from './uws-native.js';
import { createTokenVerifier } from './auth/verify-token.js';
import { createGatewayMetrics } from './metrics.js';
import { gatewayMetricsPort } from '../core/metrics-ports.js';
import { serveProcessMetrics } from '../core/metrics-server.js';
import { startGateway } from './app.js';
import { createRestRateLimit } from './http/rest-rate-limit.js';
import { createGatewayJoinAdmission } from './http/join-admission.js';
import { createRestBuckets } from '../core/redis/rest-buckets.js';
import { DemoPageError } from './demo/load-demo-page.js';

const shutdownMsMax = 10_000;

async function main(): Promise<void> {
  const config = loadConfig();
  assertNativeUws();
  const log = createLogger(config, 'gateway');
  const pool = createPool(config);
  const redis = createRedis(config, { purpose: 'gateway' });
  const subscriber = createRedis(config, { purpose: 'gateway-subscriber', dedicated: true, pingEveryMs: config.heartbeatIntervalMs });
  await checkRedis(config, redis);
  await checkPostgres(config, pool);
  const keys = createKeys(config.redisKeyPrefix);
  const metrics = createGatewayMetrics();
  const deps = {
    config, log, pool, redis,
    meter: createMeter(redis, keys, meterLimits(config)),
    settlements: createSettlementWaiters({ pool, keys, log, countServiceError: metrics.countServiceError }),
    verifyToken: createTokenVerifier(config),
    restRateLimit: createRestRateLimit(createRestBuckets(redis, keys, { burst: config.restRateBurst, perSecond: config.restRatePerSecond }), { log, metrics }),
    joinAdmission: createGatewayJoinAdmission(config, metrics),
    metrics,
    onInvariantBroken: (err: Error) => {
      // A broken money or metering invariant is a bug: stop before it can spread (TigerBeetle style).
      log.fatal({ err }, 'invariant broken; exiting');
      setImmediate(() => process.exit(70));
    },
  };
  const gateway = await startGateway(deps, subscriber);
  // PORT/metrics answers for whichever gateway the kernel picked; this port answers for this gateway alone.
  const metricsPort = gatewayMetricsPort(config.gatewayMetricsPortBase, config.processIndex);
  const metricsServer = await serveProcessMetrics({ registry: deps.metrics.registry, host: config.host, port: metricsPort, log });
  // No pid here: the root logger's base fields already carry it, and a second copy makes the line invalid for
  // log shippers that reject duplicate keys.
  log.info({ port: gateway.port, metricsPort: metricsServer?.port ?? null, processIndex: config.processIndex, nodeEnv: config.nodeEnv }, 'gateway listening');
  if (config.nodeEnv === 'production' && metricsServer === null) {
    log.warn('no metrics listener: a production gateway serves /metrics on GATEWAY_METRICS_PORT only, never on PORT');
  }
  if (config.demoMode) log.warn({ url: `http://localhost:${gateway.port}/demo` }, 'DEMO_MODE: demo page and development sign-in on (anyone can get a student token)');

  let stopping = false;
  const stop = async (reason: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ reason }, 'shutting down: closing sockets with 1012');
    setTimeout(() => { log.error('shutdown took too long; exiting'); process.exit(1); }, shutdownMsMax).unref();
    await gateway.close();
    await metricsServer?.close();
    subscriber.disconnect();
    await redis.quit().catch(() => undefined);
    await pool.end();
    log.info('gateway stopped');
    process.exit(0);
  };
  onStopRequest((reason) => void stop(reason));
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError || err instanceof StartupError || err instanceof UwsFallbackError || err instanceof DemoPageError) {
    process.stderr.write(`gateway: ${err.message}\n`);
  } else {
    process.stderr.write(`gateway: failed to start: ${(err as Error).stack ?? String(err)}\n`);
  }
  process.exit(1);
});
