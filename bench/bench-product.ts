// One build of the product as a join step runs it: a fresh schema (migrated, seeded) on the step's own Postgres, its
// own key prefix on the machine's Redis, `gateways` gateway processes on one port and a worker, started from the
// build's dist/. stop() ends the processes and removes the run's keys (the machine's Redis is shared).
import pg from 'pg';
import { migrate, seed } from '../core/pg/migrate.js';
import { createRedis } from '../core/redis/connect.js';
import type { PostgresInstance } from '../test/helpers/service-instances.js';
import type { Build } from './baseline-worktree.js';
import { forgetKeys } from './driver-run.js';
import { startServers, type Started } from './gateway-processes.js';
import { childrenOf, type Groups } from '../loadtest/common/proc-cpu.js';
import { gatewayMetricsPort } from '../core/metrics-ports.js';

export interface BenchProduct {
  /** The environment the processes run with: give it to the driver too (the same secret, gateway and schema). */
  env: NodeJS.ProcessEnv;
  baseUrl: string;
  /** Each gateway's own metrics port, by process index: PORT + 1, PORT + 2, … */
  gatewayMetricsPorts: number[];
  /** The run's schema, for the step's own queries. */
  schema: string;
  /** A connection to the step's Postgres, for the step's own counts. */
  admin: pg.Client;
  gateways: Started;
  worker: Started;
  /** The product's processes by component, for CPU figures (add the driver's own). */
  groups: Groups;
  stop(): Promise<void>;
}

export interface BenchProductOptions {
  /** Names the schema and key prefix, e.g. `join_current_1`. */
  name: string;
  port: number;
  gateways: number;
  /** Node arguments and environment of the gateways and the worker (a preloaded probe). */
  nodeArgs?: string[];
  extraEnv?: NodeJS.ProcessEnv;
}

export async function startBenchProduct(pgi: PostgresInstance, b: Build, o: BenchProductOptions): Promise<BenchProduct> {
  const schema = `bench_${o.name}`;
  const prefix = `bench:${o.name}:${process.pid}:`;
  const baseUrl = `http://127.0.0.1:${o.port}`;
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const admin = new pg.Client({ connectionString: pgi.url });
  const redis = createRedis({ redisUrl, redisClusterNodes: [] }, { purpose: 'bench-product' });
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
    await admin.end().catch(() => undefined);
    await forgetKeys(redis, prefix).catch(() => undefined);
    await redis.quit().catch(() => undefined);
  };
  try {
    await migrate(pgi.url, schema);
    await seed(pgi.url, schema);
    await admin.connect();
    const redisPid = Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1]);
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp',
      PORT: String(o.port), HOST: '0.0.0.0', DATABASE_URL: pgi.url, DATABASE_SCHEMA: schema,
      REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix, JWT_SECRET: `bench-${o.name}-secret-0123456789abcdef`,
      LOG_LEVEL: 'warn', LOG_PRETTY: 'false', MAX_SOCKETS_PER_IP: '0', GATEWAY_PROCESSES: String(o.gateways),
      // Next to PORT rather than the default's 9465…, which an `npm start` on the same machine may hold.
      GATEWAY_METRICS_PORT: String(o.port + 1), WORKER_METRICS_PORT: '0',
    };
    const gatewayMetricsPorts = Array.from({ length: o.gateways }, (_, i) => gatewayMetricsPort(o.port + 1, i));
    const gateways = await startServers('gateway', o.gateways, { ...env, ...o.extraEnv }, `${baseUrl}/readyz`, o.nodeArgs ?? [], b.dir);
    stops.push(() => gateways.stop());
    const worker = await startServers('worker', 1, { ...env, ...o.extraEnv }, null, o.nodeArgs ?? [], b.dir);
    stops.push(() => worker.stop());
    const postmaster = pgi.postmasterPid();
    const groups: Groups = {
      gateways: () => gateways.pids, worker: () => worker.pids, redis: () => [redisPid],
      postgres: () => (postmaster ? [postmaster, ...childrenOf(postmaster)] : []),
    };
    return { env, baseUrl, gatewayMetricsPorts, schema, admin, gateways, worker, groups, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
