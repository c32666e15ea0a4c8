// A burst of sessions ending at once, and how long the settlement worker takes to commit them all. Creates N live
// sessions with the gateway's own store functions and the meter (no sockets) over a fresh schema and key prefix,
// ends them all at once as the gateway does (freeze in Redis + enqueue), and measures the drain: from the first
// enqueue until every session is committed. The settlement workers are real processes, as `npm start` runs them with
// WORKER_PROCESSES=N: `node dist/settlement-worker/main.js` (compiled by scripts/build-dist.ts; `--source` runs the
// TypeScript through tsx instead, for tests), each with its own pool, readers and event loop, so the harness's own
// work (the enqueue, the waiting players) does not share their CPU. `--worker-root DIR` runs another checkout's
// compiled worker (e.g. an older commit's, from a `git worktree`) over the same burst, for side-by-side figures.
// Players wait for their `ended` as the gateway makes them wait:
//   --wait signal  the gateway's settlement waiters (worker's notice + batched safety-net reads);
//   --wait poll    the gateway before this change: one Postgres read per waiting player, backing off 5 → 200 ms;
//   --wait none    nobody waits (the drain alone).
// A wait longer than settleWaitMsMax is a `settlement_pending` the player would have seen.
//
//   npx tsx bench/settlement-burst.ts --sessions 20000 [--wait signal|poll|none] [--workers 1]
//     [--source] [--worker-root DIR] [--worker-node-args '--cpu-prof --cpu-prof-dir=/tmp/prof']
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildDist } from '../scripts/build-dist.js';
import { createLogger } from '../core/log.js';
import { createMeter } from '../core/redis/meter.js';
import { meterLimits } from '../core/meter-limits.js';
import { settleWaitMsMax } from '../core/limits.js';
import { createPool, type Pool } from '../core/pg/pool.js';
import { createTestEnv, type TestEnv } from '../test/helpers/test-env.js';
import { fundStudents } from '../test/helpers/funded-students.js';
import { totalBalancesMinor } from '../test/helpers/money-invariants.js';
import { lockSession, startLiveSession, earnCredit, type LockedSession } from '../test/helpers/sessions.js';
import { findSession } from '../gateway/store/sessions.js';
import { freezeAndEnqueue, awaitSettlement } from '../gateway/metering/settle-and-wait.js';
import { createSettlementWaiters } from '../gateway/metering/settlement-waiters.js';
import { createGatewayMetrics } from '../gateway/metrics.js';
import type { GatewayDeps } from '../gateway/deps.js';
import { createRedis } from '../core/redis/connect.js';
import { settleGroup } from '../core/redis/keys.js';
import { benchQueryTimeoutMs } from './bench-timeouts.js';

const root = fileURLToPath(new URL('..', import.meta.url));

export interface BurstOptions {
  sessions: number;
  wait: 'signal' | 'poll' | 'none';
  /** Settlement worker processes (WORKER_PROCESSES), each a consumer in the group with its own pool and connections. */
  workers: number;
  /**
   * How each worker process runs: `compiled` is `node dist/settlement-worker/main.js` under workerRoot, as `npm
   * start` runs it (dist/ must be built: the CLI and run-bench build it); `source` runs the TypeScript through tsx
   * (tests, which have no dist/). Default `compiled`.
   */
  run?: 'compiled' | 'source';
  /** The checkout whose worker runs (default this one): another commit's worktree measures its worker over this burst. */
  workerRoot?: string;
  /** Extra node flags for each worker process, e.g. `--cpu-prof`. */
  workerNodeArgs?: string[];
  /** PLATFORM_FEE_BPS of the burst (default 1000): a non-zero fee, so every batch also credits the platform row. */
  platformFeeBps?: number;
  /** Sessions per student: several share a wallet, as in real bursts. */
  sessionsPerStudent?: number;
  log?: (line: string) => void;
  /** Runs over the burst's schema once everything is settled, before it is dropped (tests check the books here). */
  check?: (pool: Pool, totalBeforeMinor: number) => Promise<void>;
}

export interface BurstResult {
  sessions: number;
  wait: BurstOptions['wait'];
  /** Worker processes. */
  workers: number;
  setupSeconds: number;
  enqueueSeconds: number;
  /** From the first enqueue until every session is committed. */
  drainSeconds: number;
  settledPerSecond: number;
  /** Players whose wait for `ended` exceeded settleWaitMsMax: they would have got settlement_pending. */
  settlementPending: number;
  waitP50Ms: number | null;
  waitP99Ms: number | null;
  waitMaxMs: number | null;
  fundsExhausted: number;
}

/** Runs `fn` over `items` with at most `parallel` in flight. */
async function inParallel<T>(items: readonly T[], parallel: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  }));
}

/** The gateway's wait before settlement waiters: each player polls Postgres with backoff (kept here as a baseline). */
async function pollLikeBefore(pool: Pool, sessionId: string): Promise<boolean> {
  const until = Date.now() + settleWaitMsMax;
  let delayMs = 5;
  for (;;) {
    const row = await findSession(pool, sessionId).catch(() => null);
    if (row?.status === 'completed') return true;
    if (Date.now() + delayMs > until) return false;
    await new Promise((r) => setTimeout(r, delayMs));
    delayMs = Math.min(delayMs * 2, 200);
  }
}

const quantile = (sorted: number[], q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : null);

interface WorkerProcesses { pids: number[]; stop(): Promise<void> }

/**
 * Starts `opts.workers` settlement worker processes over the burst's schema and key prefix, as `npm start` starts
 * them (one PROCESS_INDEX and consumer name each), and resolves once every one has joined the group on every bucket
 * (XINFO CONSUMERS lists a consumer from its first XREADGROUP), so the drain's clock does not time their start-up.
 */
async function startWorkerProcesses(env: TestEnv, opts: BurstOptions): Promise<WorkerProcesses> {
  const { config, redis, keys } = env;
  const workerRoot = opts.workerRoot ?? root;
  const run = opts.run ?? 'compiled';
  const entry = run === 'compiled' ? ['--enable-source-maps', 'dist/settlement-worker/main.js'] : ['--import', 'tsx', 'settlement-worker/main.ts'];
  if (run === 'compiled' && !existsSync(join(workerRoot, entry[1]!))) throw new Error(`${workerRoot}: dist/ is not built`);
  const names = Array.from({ length: opts.workers }, (_, i) => `bench-${i + 1}`);
  const children: ChildProcess[] = names.map((name, i) => spawn(process.execPath, [...(opts.workerNodeArgs ?? []), ...entry], {
    cwd: workerRoot,
    env: {
      ...process.env, NODE_ENV: 'test', LOG_LEVEL: 'warn', LOG_PRETTY: 'false',
      DATABASE_URL: config.databaseUrl, DATABASE_SCHEMA: config.databaseSchema,
      REDIS_URL: config.redisUrl, REDIS_KEY_PREFIX: config.redisKeyPrefix,
      // The settings the in-process workers of the burst's test env ran with (its clocks, sweeps and fee).
      PLATFORM_FEE_BPS: String(config.platformFeeBps), SETTLE_CLAIM_IDLE_MS: String(config.settleClaimIdleMs),
      HEARTBEAT_INTERVAL_MS: String(config.heartbeatIntervalMs), DISCONNECT_GRACE_MS: String(config.disconnectGraceMs),
      SWEEP_INTERVAL_MS: String(config.sweepIntervalMs),
      WORKER_PROCESSES: String(opts.workers), PROCESS_INDEX: String(i), WORKER_CONSUMER_NAME: name, WORKER_METRICS_PORT: '0',
    },
    // The IPC channel, as `npm start` gives its children: a worker stops when the harness dies (core/stop-requests.ts).
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  }));
  const stop = async () => {
    // SIGTERM: the worker finishes its batches in hand and exits, writing its --cpu-prof profile if asked.
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))));
  };
  // Generous: at 100,000 sessions a worker's start shares the 2 cores with the harness and Postgres.
  const deadline = Date.now() + workerJoinMsMax;
  for (;;) {
    if (children.some((c) => c.exitCode !== null)) {
      await stop();
      throw new Error('a settlement worker process exited during start-up');
    }
    const joined = await Promise.all(keys.buckets().map(async (b) => {
      const consumers = await redis.xinfo('CONSUMERS', keys.settleStream(b), settleGroup) as unknown[][];
      const present = new Set(consumers.map((c) => String(c[1])));
      return names.every((n) => present.has(n));
    }));
    if (joined.every(Boolean)) return { pids: children.map((c) => c.pid!), stop };
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`settlement worker processes did not join the consumer group within ${workerJoinMsMax / 1000} s`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** How long the worker processes may take to join the settle streams' consumer group. */
const workerJoinMsMax = 180_000;
/** No session committed for this long: the burst cannot finish (ends failed, or the workers are stuck). */
const drainStallMsMax = 60_000;

export async function runSettlementBurst(opts: BurstOptions): Promise<BurstResult> {
  const say = opts.log ?? (() => undefined);
  const env = await createTestEnv({ LOG_LEVEL: 'warn', SETTLE_CLAIM_IDLE_MS: '30000',
    PLATFORM_FEE_BPS: String(opts.platformFeeBps ?? 1_000) });
  const log = createLogger(env.config, 'bench');
  const meter = createMeter(env.redis, env.keys, meterLimits(env.config));
  // The "gateway" of this process: its own pool, as a gateway process has.
  const gatewayPool = createPool({ ...env.config, databaseQueryTimeoutMs: benchQueryTimeoutMs }, 10);
  const subscriber = createRedis(env.config, { purpose: 'bench-subscriber' });
  const metrics = createGatewayMetrics();
  const settlements = createSettlementWaiters({ pool: gatewayPool, keys: env.keys, log, countServiceError: metrics.countServiceError });
  await settlements.listen(subscriber);
  const deps = { config: env.config, log, pool: gatewayPool, redis: env.redis, meter, settlements,
    metrics } as unknown as GatewayDeps;
  let workers: WorkerProcesses | null = null;
  try {
    const t0 = Date.now();
    const perStudent = opts.sessionsPerStudent ?? 4;
    const students = await fundStudents(env.pool, Math.ceil(opts.sessions / perStudent), 1_000_00);
    // Course 1 costs 0.50/min: 5 minor units buy 6 s, reached by one 6 s credit (funds exhausted); 500 buy 1000 min.
    const locked: LockedSession[] = new Array(opts.sessions);
    // Its own wider pool: the test env's five connections made the setup of 100,000 sessions take many minutes.
    const setupPool = createPool({ ...env.config, databaseQueryTimeoutMs: benchQueryTimeoutMs }, 24);
    await inParallel(Array.from({ length: opts.sessions }, (_, i) => i), 24, async (i) => {
      const exhausts = i % 10 === 0;
      const s = await lockSession(setupPool, { studentId: students[i % students.length]!, courseId: '10000000-0000-0000-0000-000000000001', lockedMinor: exhausts ? 5 : 500 });
      await startLiveSession(setupPool, meter, s);
      await earnCredit(meter, env.redis, s.sessionId, 1, exhausts ? 6_000 : 1_000 + (i % 9_000));
      locked[i] = s;
      if (i % 5_000 === 4_999) say(`  created ${i + 1} live sessions`);
    });
    await setupPool.end();
    const setupSeconds = (Date.now() - t0) / 1000;
    const totalBefore = await totalBalancesMinor(env.pool);

    await meter.ensureSettleGroups();
    // This Redis lost nothing: without its epoch key every worker would take it for a data loss and compare every
    // active session at once in the middle of the burst (reconcile-lost-sessions.ts), scheduling deadlines the
    // sweeper then races the harness's own ends with.
    await env.redis.set(env.keys.epoch(), String(Date.now()));
    workers = await startWorkerProcesses(env, opts);

    // All at once, as a funds-exhaustion wave: each player's gateway freezes, enqueues and then waits.
    say(`  ${opts.workers} worker processes ready; ending ${opts.sessions} sessions`);
    const tEnd = Date.now();
    const waits: number[] = [];
    let pending = 0;
    let enqueuedAt = 0;
    let endFailures = 0;
    const ended = locked.map(async (s, i) => {
      const reason = i % 10 === 0 ? 'funds_exhausted' : 'completed';
      // A failed end is counted and reported (the drain below would then never finish: the bench says so), never an
      // unhandled rejection that kills the harness with the workers still running.
      const endedOk = await freezeAndEnqueue(deps, { id: s.sessionId, status: 'active' }, reason, null).then(() => true, (err: unknown) => {
        if (endFailures++ === 0) say(`  ending a session failed: ${(err as Error).message}`);
        return false;
      });
      if (!endedOk) return;
      const started = Date.now();
      enqueuedAt = Math.max(enqueuedAt, started);
      if (opts.wait === 'none') return;
      const ok = opts.wait === 'signal'
        ? await awaitSettlement(deps, s.sessionId).then(() => true, () => false)
        : await pollLikeBefore(gatewayPool, s.sessionId);
      if (!ok) pending++;
      else waits.push(Date.now() - started);
    });
    // The drain ends when Postgres holds every session completed (read by the harness, not the waiters). The
    // schema is the burst's own, so every open session is one of its; the count reads the partial index of open
    // sessions, which shrinks as they settle (a count over 100,000 ids every 100 ms cost Postgres a core's tenth).
    let lastOpen = -1;
    let lastChangeAt = Date.now();
    for (let polls = 1; ; polls++) {
      const { rows } = await env.pool.query<{ n: string }>(`SELECT count(*) AS n FROM sessions WHERE status <> 'completed'`);
      const open = Number(rows[0]!.n);
      if (open === 0) break;
      if (open !== lastOpen) [lastOpen, lastChangeAt] = [open, Date.now()];
      else if (Date.now() - lastChangeAt > drainStallMsMax) throw new Error(`the drain stalled: ${open} sessions open for ${drainStallMsMax / 1000} s (${endFailures} ends failed)`);
      if (polls % 20 === 0) say(`  ${rows[0]!.n} sessions still open after ${((Date.now() - tEnd) / 1000).toFixed(1)} s`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const drainSeconds = (Date.now() - tEnd) / 1000;
    await Promise.all(ended);
    await opts.check?.(env.pool, totalBefore);
    const enqueueSeconds = (enqueuedAt - tEnd) / 1000;
    waits.sort((a, b) => a - b);
    const { rows } = await env.pool.query<{ n: string }>(`SELECT count(*) AS n FROM sessions WHERE end_reason = 'funds_exhausted'`);
    return {
      sessions: opts.sessions, wait: opts.wait, workers: opts.workers,
      setupSeconds, enqueueSeconds, drainSeconds, settledPerSecond: Math.round(opts.sessions / drainSeconds),
      settlementPending: pending, waitP50Ms: quantile(waits, 0.5), waitP99Ms: quantile(waits, 0.99), waitMaxMs: quantile(waits, 1),
      fundsExhausted: Number(rows[0]!.n),
    };
  } finally {
    await workers?.stop();
    subscriber.disconnect();
    await gatewayPool.end();
    await env.cleanup();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: {
    sessions: { type: 'string', default: '20000' },
    wait: { type: 'string', default: 'signal' },
    workers: { type: 'string', default: '1' },
    source: { type: 'boolean', default: false },
    'worker-root': { type: 'string' },
    'worker-node-args': { type: 'string', default: '' },
    'fee-bps': { type: 'string', default: '1000' },
  } });
  const wait = values.wait as BurstOptions['wait'];
  if (!['signal', 'poll', 'none'].includes(wait)) throw new Error('--wait must be signal, poll or none');
  const run = values.source ? 'source' : 'compiled';
  // This checkout's dist/ is built here; another root's must have been built there (`npm run build`).
  if (run === 'compiled' && values['worker-root'] === undefined) await buildDist();
  const result = await runSettlementBurst({
    sessions: Number(values.sessions), wait, workers: Number(values.workers), run, workerRoot: values['worker-root'],
    workerNodeArgs: values['worker-node-args'].split(' ').filter((a) => a !== ''), platformFeeBps: Number(values['fee-bps']),
    log: (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().then(() => process.exit(0), (err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
