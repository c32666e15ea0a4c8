// The product under test over private data stores: a throwaway Redis and a throwaway Postgres
// (test/helpers/service-instances.ts, other loopback ports, never the machine's own), migrated and seeded with one
// funded student per player, then gateway and settlement-worker processes (processes.ts). Every process and both
// instances are stopped by close(), and by a process 'exit' hook if the run dies first.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { migrate, seed } from '../../shared/pg/migrate.js';
import { createKeys } from '../../shared/redis/keys.js';
import { postgresInstance, randomPort, redisInstance, type PostgresInstance, type RedisInstance } from '../helpers/service-instances.js';
import { TEST_JWT_SECRET } from '../helpers/test-env.js';
import type { ChaosOptions } from './options.js';
import { ProcessSupervisor, type ManagedProcess, type ProcessExit } from './processes.js';
import { postgresControl, redisControl, type PostgresControl, type RedisControl } from './store-control.js';

export type { ManagedProcess, ProcessExit } from './processes.js';

/** Students created for the run (players share them round-robin), each funded once with a 'deposit'. */
export const studentWalletMinor = 1_000_000; // 10,000.00
export const studentsMax = 500;

/** The key prefix the product processes use here (the default). */
export const productKeys = createKeys('mg:');

export interface Services {
  readonly dir: string;
  readonly redis: RedisInstance;
  readonly postgres: PostgresInstance;
  /** Stop/start of those stores that do not block the event loop (the faults use them). */
  readonly postgresControl: PostgresControl;
  readonly redisControl: RedisControl;
  /** Pool on the private database (search_path public) for seeding and checks. */
  readonly pool: pg.Pool;
  /** A client of the private Redis (it reconnects after the Redis fault) for the dead-letter count. */
  readonly redisClient: Redis;
  readonly processes: readonly ManagedProcess[];
  readonly studentIds: readonly string[];
  /** Exits the harness did not cause (crashes), exits during a start (refusals at boot), unclean SIGTERM exits. */
  readonly crashes: readonly ProcessExit[];
  readonly startFailures: readonly ProcessExit[];
  readonly shutdownExits: readonly ProcessExit[];
  liveGatewayUrls(): string[];
  allGatewayUrls(): string[];
  kill(p: ManagedProcess): Promise<void>;
  start(p: ManagedProcess): Promise<void>;
  /** SIGTERM every process (recording how each exits), then stop the instances; idempotent. */
  close(opts?: { keepDir?: boolean }): Promise<void>;
}

export const chaosStudentId = (i: number) => `20000000-0000-0000-0000-${String(i + 1).padStart(12, '0')}`;

/** Inserts students with funded wallets, each wallet explained by one 'deposit' transaction (as sql/seed.sql does). */
async function insertStudents(pool: pg.Pool, count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => chaosStudentId(i));
  const amount = (studentWalletMinor / 100).toFixed(2);
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(`INSERT INTO students (id, name) SELECT id, 'Chaos student ' || n FROM unnest($1::uuid[]) WITH ORDINALITY AS s(id, n)`, [ids]);
    await client.query(`
      WITH fresh AS (
        INSERT INTO wallets (student_id, balance) SELECT id, $2::numeric FROM unnest($1::uuid[]) AS id
        RETURNING student_id, balance
      ), numbered_wallets AS (
        SELECT student_id, balance, row_number() OVER (ORDER BY student_id) AS n FROM fresh
      ), txn AS (
        INSERT INTO ledger_transactions (kind) SELECT 'deposit' FROM fresh RETURNING id
      ), numbered_txns AS (
        SELECT id, row_number() OVER (ORDER BY id) AS n FROM txn
      ), pairs AS (
        SELECT w.student_id, w.balance, t.id AS txn_id FROM numbered_wallets w JOIN numbered_txns t USING (n)
      )
      INSERT INTO ledger_entries (transaction_id, account_type, account_id, amount)
      SELECT txn_id, 'wallet', student_id, balance FROM pairs
      UNION ALL SELECT txn_id, 'external', NULL, -balance FROM pairs`, [ids, amount]);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
  return ids;
}

function productEnv(o: ChaosOptions, redisUrl: string, databaseUrl: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // Nothing of the test runner's own settings reaches the product (a NODE_OPTIONS, a stray REDIS_KEY_PREFIX …).
  for (const k of Object.keys(env)) if (k.startsWith('VITEST') || k === 'NODE_OPTIONS' || k.startsWith('TEST_')) delete env[k];
  return {
    ...env,
    REDIS_URL: redisUrl,
    REDIS_CLUSTER_NODES: '',
    REDIS_KEY_PREFIX: productKeys.prefix,
    DATABASE_URL: databaseUrl,
    DATABASE_SCHEMA: 'public',
    JWT_SECRET: TEST_JWT_SECRET,
    // Test rules (a short fixture secret), whatever runs the chaos suite: an unset NODE_ENV reads as production.
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    HEARTBEAT_INTERVAL_MS: String(o.heartbeatMs),
    DISCONNECT_GRACE_MS: String(o.graceMs),
    CHECKPOINT_INTERVAL_MS: String(o.checkpointMs),
    SETTLE_CLAIM_IDLE_MS: String(o.settleClaimIdleMs),
    SWEEP_INTERVAL_MS: '200',
    MAX_SOCKETS_PER_IP: '0',
    // Gateways log every socket at info: warn keeps their logs to the evidence (processes.ts puts workers at info).
    LOG_LEVEL: 'warn',
    LOG_PRETTY: 'false',
  };
}

// Every live harness registers here so a process 'exit' (an uncaught error, a runner that ends, Ctrl-C in the CLI)
// still kills its children and stops its instances. Only synchronous work runs there.
const openHarnesses = new Set<() => void>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => { for (const stop of openHarnesses) stop(); });
}

interface Stores {
  postgres: PostgresInstance;
  pool: pg.Pool;
  postgresControl: PostgresControl;
  redisControl: RedisControl;
  studentIds: string[];
}

/** Private Postgres (migrated, seeded, students added) and the async controls of both stores. */
async function prepareStores(o: ChaosOptions, redis: RedisInstance, dir: string, onPostgres: (p: PostgresInstance) => void): Promise<Stores> {
  const postgres = await postgresInstance();
  onPostgres(postgres);
  await migrate(postgres.url, 'public');
  await seed(postgres.url, 'public');
  const pool = new pg.Pool({ connectionString: postgres.url, max: 4, options: '-c search_path=public' });
  pool.on('error', () => undefined); // idle clients cut by the Postgres fault
  try {
    return {
      postgres, pool,
      postgresControl: await postgresControl(postgres.url, join(dir, 'postgres-restarted.log')),
      redisControl: await redisControl(redis.port),
      studentIds: await insertStudents(pool, Math.min(o.players, studentsMax)),
    };
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw err;
  }
}

export async function startServices(o: ChaosOptions, clock: () => number, log: (line: string) => void): Promise<Services> {
  installExitHook();
  const dir = mkdtempSync(join(tmpdir(), 'mg-chaos-'));
  const redis = redisInstance();
  let postgres: PostgresInstance | null = null;
  let supervisor: ProcessSupervisor | null = null;
  // Commands fail fast while the Redis fault is on; the client reconnects by itself afterwards.
  const redisClient = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2_000, retryStrategy: () => 200 });
  redisClient.on('error', () => undefined);
  const stopSync = () => {
    supervisor?.killAllSync();
    try { redis.stop(); } catch { /* not running */ }
    try { postgres?.stop(); } catch { /* not running */ }
  };
  openHarnesses.add(stopSync);
  let stores: Stores | null = null;
  try {
    await redis.start();
    await redisClient.connect();
    stores = await prepareStores(o, redis, dir, (p) => { postgres = p; });
    log(`chaos +${(clock() / 1000).toFixed(1)}s: private redis :${redis.port} and postgres :${stores.postgres.port} ready; starting the product`);
    const sup = new ProcessSupervisor(productEnv(o, redis.url, stores.postgres.url), dir, clock, log);
    supervisor = sup;
    const ports = new Set<number>();
    while (ports.size < o.gateways) ports.add(randomPort(29_000));
    [...ports].forEach((port, i) => sup.add(`gateway-${i + 1}`, 'gateway', port));
    for (let i = 0; i < o.workers; i++) sup.add(`worker-${i + 1}`, 'worker', 0);
    await Promise.all(sup.processes.map((p) => sup.start(p)));
  } catch (err) {
    await supervisor?.closeAll();
    await stores?.pool.end().catch(() => undefined);
    redisClient.disconnect();
    stopSync();
    openHarnesses.delete(stopSync);
    throw err;
  }
  const s = stores;
  const sup = supervisor;
  let closed = false;
  return {
    dir, redis, redisClient, ...s,
    processes: sup.processes, crashes: sup.crashes, startFailures: sup.startFailures, shutdownExits: sup.shutdownExits,
    liveGatewayUrls: () => sup.processes.filter((p) => p.kind === 'gateway' && p.live).map((p) => p.baseUrl),
    allGatewayUrls: () => sup.processes.filter((p) => p.kind === 'gateway').map((p) => p.baseUrl),
    kill: (p) => sup.kill(p),
    start: (p) => sup.start(p),
    async close(opts = {}) {
      if (closed) return;
      closed = true;
      // The fault injector has put every store back by now, so each process can shut down cleanly.
      await sup.closeAll();
      await s.pool.end().catch(() => undefined);
      redisClient.disconnect();
      stopSync();
      openHarnesses.delete(stopSync);
      if (!opts.keepDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
