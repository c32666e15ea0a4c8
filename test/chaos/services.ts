// The product under test over private data stores: a throwaway Redis and a throwaway Postgres
// (test/helpers/service-instances.ts, other loopback ports, never the machine's own), migrated and seeded with one
// funded student per player, then gateway and settlement-worker processes (processes.ts). Every process and both
// instances are stopped by close(), and by a process 'exit' hook if the run dies first.
// Redis is one server (`single`), reached through a TCP proxy that can hang (test/helpers/tcp-proxy.ts), or a 3+3
// Cluster, or a master and replica with three sentinels, whose master the failover faults kill. Postgres is always
// reached through a proxy that can hang; the harness's own checks go to it directly.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, Redis } from 'ioredis';
import pg from 'pg';
import { migrate, seed } from '../../core/pg/migrate.js';
import { createKeys } from '../../core/redis/keys.js';
import { postgresInstance, randomPort, redisInstance, type PostgresInstance, type RedisInstance } from '../helpers/service-instances.js';
import { TEST_JWT_SECRET } from '../helpers/test-env.js';
import { startLocalCluster, type LocalCluster } from '../helpers/redis-cluster.js';
import { sentinelMasterName, startLocalSentinel, type LocalSentinel } from '../helpers/redis-sentinel.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { pollUntil } from '../helpers/poll-until.js';
import type { RedisTopology } from './faults.js';
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
  readonly redisTopology: RedisTopology;
  /** The one Redis server (topology `single`), and the proxy the product reaches it through. */
  readonly redis: RedisInstance | null;
  readonly redisProxy: TcpProxy | null;
  /** Where Redis is, for a log line. */
  readonly redisWhere: string;
  readonly postgres: PostgresInstance;
  /** The proxy the product reaches Postgres through. */
  readonly postgresProxy: TcpProxy;
  /** Stop/start of those stores that do not block the event loop (the faults use them). */
  readonly postgresControl: PostgresControl;
  readonly redisControl: RedisControl | null;
  /**
   * Cluster or Sentinel: SIGKILLs a master, waits (at most `ms`) until a replica has taken over, starts the killed
   * node again and waits until it is a synced replica. Returns the killed port.
   */
  failOverRedis(ms: number): Promise<number>;
  /** Pool on the private database (search_path public) for seeding and checks. */
  readonly pool: pg.Pool;
  /** A client of the private Redis (it reconnects after the Redis fault) for the dead-letter count. */
  readonly redisClient: Redis | Cluster;
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

function productEnv(o: ChaosOptions, redisEnv: NodeJS.ProcessEnv, databaseUrl: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // Nothing of the test runner's own settings reaches the product (a NODE_OPTIONS, a stray REDIS_KEY_PREFIX …).
  for (const k of Object.keys(env)) if (k.startsWith('VITEST') || k === 'NODE_OPTIONS' || k.startsWith('TEST_')) delete env[k];
  return {
    ...env,
    REDIS_URL: '',
    REDIS_CLUSTER_NODES: '',
    REDIS_SENTINELS: '',
    ...redisEnv,
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
  redisControl: RedisControl | null;
  studentIds: string[];
}

/** Private Postgres (migrated, seeded, students added) and the async controls of both stores. */
async function prepareStores(o: ChaosOptions, redis: RedisInstance | null, dir: string, onPostgres: (p: PostgresInstance) => void): Promise<Stores> {
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
      redisControl: redis ? await redisControl(redis.port) : null,
      studentIds: await insertStudents(pool, Math.min(o.players, studentsMax)),
    };
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw err;
  }
}

/** The Redis of the chosen topology, the product's environment for it, and a client of the harness's own. */
interface RedisSide {
  redis: RedisInstance | null;
  proxy: TcpProxy | null;
  cluster: LocalCluster | null;
  sentinel: LocalSentinel | null;
  env: NodeJS.ProcessEnv;
  where: string;
  client: Redis | Cluster;
}

async function startRedisSide(topology: RedisTopology, onStarted: (side: Partial<RedisSide>) => void): Promise<RedisSide> {
  // Commands fail fast while a Redis fault is on; the client reconnects by itself afterwards.
  const clientOptions = { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2_000, retryStrategy: () => 200 };
  if (topology === 'cluster') {
    const cluster = await startLocalCluster({ replicas: 1, nodeTimeoutMs: 2_000 });
    onStarted({ cluster });
    const list = cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',');
    const client = new Cluster(cluster.nodes, { lazyConnect: true, redisOptions: clientOptions });
    return { redis: null, proxy: null, cluster, sentinel: null, env: { REDIS_CLUSTER_NODES: list }, where: `redis cluster ${list}`, client };
  }
  if (topology === 'sentinel') {
    const sentinel = await startLocalSentinel({ downAfterMs: 1_000 });
    onStarted({ sentinel });
    const list = sentinel.sentinels.map((n) => `${n.host}:${n.port}`).join(',');
    const client = new Redis({ ...clientOptions, sentinels: sentinel.sentinels, name: sentinelMasterName });
    return {
      redis: null, proxy: null, cluster: null, sentinel, env: { REDIS_SENTINELS: list, REDIS_SENTINEL_MASTER: sentinelMasterName },
      where: `redis sentinels ${list}`, client,
    };
  }
  const redis = redisInstance();
  onStarted({ redis });
  await redis.start();
  const proxy = await startTcpProxy(redis.port);
  onStarted({ redis, proxy });
  return {
    redis, proxy, cluster: null, sentinel: null, env: { REDIS_URL: `redis://127.0.0.1:${proxy.port}` },
    where: `redis :${redis.port} (proxy :${proxy.port})`, client: new Redis(redis.url, clientOptions),
  };
}

const syncedReplica = (port: number) => {
  const info = execFileSync('redis-cli', ['-p', String(port), 'info', 'replication'], { encoding: 'utf8' });
  return info.includes('role:slave') && info.includes('master_link_status:up');
};

/** The failover fault of a Cluster or Sentinel side (Services.failOverRedis). */
async function failOver(side: RedisSide, ms: number): Promise<number> {
  if (side.cluster) {
    const cluster = side.cluster;
    const victim = cluster.masters()[0]!;
    cluster.kill(victim);
    await pollUntil('no replica took over', ms, () => !cluster.masters().includes(victim) && cluster.masters().length === 3);
    await cluster.restart(victim);
    await pollUntil(`${victim} did not come back as a synced replica`, ms, () => syncedReplica(victim));
    return victim;
  }
  if (side.sentinel) {
    const sentinel = side.sentinel;
    const victim = sentinel.masterPort();
    sentinel.kill(victim);
    await sentinel.waitForSwitch(victim, ms);
    await sentinel.restart(victim);
    await pollUntil(`${victim} did not come back as a synced replica`, ms, () => syncedReplica(victim));
    return victim;
  }
  throw new Error('a failover needs --redis cluster or sentinel');
}

export async function startServices(o: ChaosOptions, clock: () => number, log: (line: string) => void): Promise<Services> {
  installExitHook();
  const dir = mkdtempSync(join(tmpdir(), 'mg-chaos-'));
  let side: Partial<RedisSide> = {};
  let postgres: PostgresInstance | null = null;
  let postgresProxy: TcpProxy | null = null;
  let supervisor: ProcessSupervisor | null = null;
  const stopSync = () => {
    supervisor?.killAllSync();
    side.proxy?.close().catch(() => undefined);
    postgresProxy?.close().catch(() => undefined);
    try { side.redis?.stop(); } catch { /* not running */ }
    try { side.cluster?.stop(); } catch { /* not running */ }
    try { side.sentinel?.stop(); } catch { /* not running */ }
    try { postgres?.stop(); } catch { /* not running */ }
  };
  openHarnesses.add(stopSync);
  let stores: Stores | null = null;
  let redisSide: RedisSide | null = null;
  try {
    redisSide = await startRedisSide(o.redisTopology, (started) => { side = { ...side, ...started }; });
    side = redisSide;
    redisSide.client.on('error', () => undefined); // reconnects by itself; a fault is not the harness's error
    await redisSide.client.connect();
    stores = await prepareStores(o, redisSide.redis, dir, (p) => { postgres = p; });
    postgresProxy = await startTcpProxy(stores.postgres.port);
    const proxiedDatabaseUrl = stores.postgres.url.replace(`:${stores.postgres.port}/`, `:${postgresProxy.port}/`);
    log(`chaos +${(clock() / 1000).toFixed(1)}s: private ${redisSide.where} and postgres :${stores.postgres.port} (proxy :${postgresProxy.port}) ready; starting the product`);
    const sup = new ProcessSupervisor(productEnv(o, redisSide.env, proxiedDatabaseUrl), dir, clock, log);
    supervisor = sup;
    const ports = new Set<number>();
    while (ports.size < o.gateways) ports.add(randomPort(29_000));
    [...ports].forEach((port, i) => sup.add(`gateway-${i + 1}`, 'gateway', port));
    for (let i = 0; i < o.workers; i++) sup.add(`worker-${i + 1}`, 'worker', 0);
    await Promise.all(sup.processes.map((p) => sup.start(p)));
  } catch (err) {
    await supervisor?.closeAll();
    await stores?.pool.end().catch(() => undefined);
    redisSide?.client.disconnect();
    stopSync();
    openHarnesses.delete(stopSync);
    throw err;
  }
  const s = stores;
  const sup = supervisor;
  const r = redisSide;
  const pgProxy = postgresProxy!;
  let closed = false;
  return {
    dir, ...s, redisTopology: o.redisTopology, redis: r.redis, redisProxy: r.proxy, redisWhere: r.where, redisClient: r.client,
    postgresProxy: pgProxy,
    failOverRedis: (ms) => failOver(r, ms),
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
      r.client.disconnect();
      await r.proxy?.close();
      await pgProxy.close();
      stopSync();
      openHarnesses.delete(stopSync);
      if (!opts.keepDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
