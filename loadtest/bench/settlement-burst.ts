// A burst of sessions ending at once, and how long the settlement worker takes to commit them all. Creates N live
// sessions with the gateway's own store functions and the meter (no sockets) over a fresh schema and key prefix,
// ends them all at once as the gateway does (freeze in Redis + enqueue), and measures the drain: from the first
// enqueue until every session is committed. Players wait for their `ended` as the gateway makes them wait:
//   --wait signal  the gateway's settlement waiters (worker's notice + batched safety-net reads);
//   --wait poll    the gateway before this change: one Postgres read per waiting player, backing off 5 → 200 ms;
//   --wait none    nobody waits (the drain alone).
// A wait longer than settleWaitMsMax is a `settlement_pending` the player would have seen.
//
//   npx tsx loadtest/bench/settlement-burst.ts --sessions 20000 [--one-by-one] [--wait signal|poll|none] [--workers 1]
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { createLogger } from '../../shared/log.js';
import { createMeter } from '../../shared/redis/meter.js';
import { meterLimits } from '../../shared/meter-limits.js';
import { settleWaitMsMax } from '../../shared/limits.js';
import { createPool, type Pool } from '../../shared/pg/pool.js';
import { createTestEnv } from '../../test/helpers/test-env.js';
import { fundStudents } from '../../test/helpers/funded-students.js';
import { totalBalancesMinor } from '../../test/helpers/money-invariants.js';
import { lockSession, startLiveSession, earnCredit, type LockedSession } from '../../test/helpers/sessions.js';
import { findSession } from '../../gateway/store/sessions.js';
import { freezeAndEnqueue, awaitSettlement } from '../../gateway/metering/settle-and-wait.js';
import { createSettlementWaiters } from '../../gateway/metering/settlement-waiters.js';
import { createGatewayMetrics } from '../../gateway/metrics.js';
import type { GatewayDeps } from '../../gateway/deps.js';
import { createSettlementWorker, type SettlementWorker } from '../../settlement-worker/worker.js';
import { createRedis } from '../../shared/redis/connect.js';

export interface BurstOptions {
  sessions: number;
  /** false: the worker settles one session per transaction (before batching). */
  batched: boolean;
  wait: 'signal' | 'poll' | 'none';
  /** Settlement workers (consumers in the group), each with its own pool and connections, in this process. */
  workers: number;
  /** Sessions per student: several share a wallet, as in real bursts. */
  sessionsPerStudent?: number;
  log?: (line: string) => void;
  /** Runs over the burst's schema once everything is settled, before it is dropped (tests check the books here). */
  check?: (pool: Pool, totalBeforeMinor: number) => Promise<void>;
}

export interface BurstResult {
  sessions: number;
  batched: boolean;
  wait: BurstOptions['wait'];
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

export async function runSettlementBurst(opts: BurstOptions): Promise<BurstResult> {
  const say = opts.log ?? (() => undefined);
  const env = await createTestEnv({ LOG_LEVEL: 'warn', SETTLE_CLAIM_IDLE_MS: '30000' });
  const log = createLogger(env.config, 'bench');
  const meter = createMeter(env.redis, env.keys, meterLimits(env.config));
  // The "gateway" of this process: its own pool, as a gateway process has.
  const gatewayPool = createPool(env.config, 10);
  const subscriber = createRedis(env.config, { purpose: 'bench-subscriber' });
  const metrics = createGatewayMetrics();
  const settlements = createSettlementWaiters({ pool: gatewayPool, keys: env.keys, log, countServiceError: metrics.countServiceError });
  await settlements.listen(subscriber);
  const deps = { config: env.config, log, pool: gatewayPool, redis: env.redis, meter, settlements,
    metrics } as unknown as GatewayDeps;
  const workers: SettlementWorker[] = [];
  const workerPools: Pool[] = [];
  try {
    const t0 = Date.now();
    const perStudent = opts.sessionsPerStudent ?? 4;
    const students = await fundStudents(env.pool, Math.ceil(opts.sessions / perStudent), 1_000_00);
    // Course 1 costs 0.50/min: 5 minor units buy 6 s, reached by one 6 s credit (funds exhausted); 500 buy 1000 min.
    const locked: LockedSession[] = new Array(opts.sessions);
    // Its own wider pool: the test env's five connections made the setup of 100,000 sessions take many minutes.
    const setupPool = createPool(env.config, 24);
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
    for (let w = 0; w < opts.workers; w++) {
      const pool = createPool(env.config, 10);
      workerPools.push(pool);
      const worker = createSettlementWorker({ config: env.config, pool, redis: env.redis, log, consumerName: `bench-${w}`, batched: opts.batched });
      await worker.start();
      workers.push(worker);
    }

    // All at once, as a funds-exhaustion wave: each player's gateway freezes, enqueues and then waits.
    const tEnd = Date.now();
    const waits: number[] = [];
    let pending = 0;
    let enqueuedAt = 0;
    const ended = locked.map(async (s, i) => {
      const reason = i % 10 === 0 ? 'funds_exhausted' : 'completed';
      await freezeAndEnqueue(deps, { id: s.sessionId, status: 'active' }, reason, null);
      const started = Date.now();
      enqueuedAt = Math.max(enqueuedAt, started);
      if (opts.wait === 'none') return;
      const ok = opts.wait === 'signal'
        ? await awaitSettlement(deps, s.sessionId).then(() => true, () => false)
        : await pollLikeBefore(gatewayPool, s.sessionId);
      if (!ok) pending++;
      else waits.push(Date.now() - started);
    });
    // The drain ends when Postgres holds every session completed (read by the harness, not the waiters).
    const ids = locked.map((s) => s.sessionId);
    for (;;) {
      const { rows } = await env.pool.query<{ n: string }>(
        `SELECT count(*) AS n FROM sessions WHERE id = ANY($1::uuid[]) AND status = 'completed'`, [ids]);
      if (Number(rows[0]!.n) === ids.length) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const drainSeconds = (Date.now() - tEnd) / 1000;
    await Promise.all(ended);
    await opts.check?.(env.pool, totalBefore);
    const enqueueSeconds = (enqueuedAt - tEnd) / 1000;
    waits.sort((a, b) => a - b);
    const { rows } = await env.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM sessions WHERE id = ANY($1::uuid[]) AND end_reason = 'funds_exhausted'`, [ids]);
    return {
      sessions: opts.sessions, batched: opts.batched, wait: opts.wait, workers: opts.workers,
      setupSeconds, enqueueSeconds, drainSeconds, settledPerSecond: Math.round(opts.sessions / drainSeconds),
      settlementPending: pending, waitP50Ms: quantile(waits, 0.5), waitP99Ms: quantile(waits, 0.99), waitMaxMs: quantile(waits, 1),
      fundsExhausted: Number(rows[0]!.n),
    };
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await Promise.all(workerPools.map((p) => p.end()));
    subscriber.disconnect();
    await gatewayPool.end();
    await env.cleanup();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: {
    sessions: { type: 'string', default: '20000' },
    'one-by-one': { type: 'boolean', default: false },
    wait: { type: 'string', default: 'signal' },
    workers: { type: 'string', default: '1' },
  } });
  const wait = values.wait as BurstOptions['wait'];
  if (!['signal', 'poll', 'none'].includes(wait)) throw new Error('--wait must be signal, poll or none');
  const result = await runSettlementBurst({
    sessions: Number(values.sessions), batched: !values['one-by-one'], wait, workers: Number(values.workers),
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
