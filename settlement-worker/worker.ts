// The settlement worker: one blocking reader per settle-stream bucket, one reclaim loop, one deadline sweeper,
// all sharing one consumer name in the `settlers` group, plus the checkpoint and abandoned-hold loops. Several
// workers can run side by side: the consumer group splits the entries, XAUTOCLAIM moves a dead worker's entries,
// and idempotent settlement makes races harmless.
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { hostname } from 'node:os';
import type { Config } from '../core/config.js';
import { bucketCount, reconcilePageIntervalMs } from '../core/limits.js';
import type { Logger } from '../core/log.js';
import type { Pool } from '../core/pg/pool.js';
import { createRedis, type RedisClient } from '../core/redis/connect.js';
import { createKeys } from '../core/redis/keys.js';
import { createMeter } from '../core/redis/meter.js';
import { meterLimits } from '../core/meter-limits.js';
import { consumeSettlements, readBlockMs } from './consume-settlements.js';
import { createEntryProcessor } from './process-entry.js';
import { reclaimIntervalMs, runReclaimLoop } from './reclaim-pending.js';
import { disconnectHoldMsOf, runSweepLoop } from './sweep-deadlines.js';
import { runCheckpointLoop } from './checkpoint-durations.js';
import { runReconcileLoop } from './reconcile-lost-sessions.js';
import { releaseIntervalMs, runReleaseLoop } from './release-abandoned-holds.js';
import { createWorkerMetrics, type WorkerMetrics } from './metrics.js';
import type { WorkerDeps } from './worker-deps.js';

/** stop() resolves within this bound even if a settlement hangs (its transaction then rolls back or commits). */
export const stopMsMax = 8_000;

export interface SettlementWorkerOptions {
  config: Config;
  pool: Pool;
  /** Shared connection for non-blocking commands; the worker opens its own blocking ones. */
  redis: RedisClient;
  log: Logger;
  consumerName?: string;
  /** Where the worker counts what it does (main.ts serves it); default: a registry of its own. */
  metrics?: WorkerMetrics;
}

export interface SettlementWorker {
  readonly consumerName: string;
  readonly metrics: WorkerMetrics;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Unique per process, and readable in XINFO CONSUMERS: which host and which process holds an entry. */
function defaultConsumerName(): string {
  return `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/** Resolves when `promise` settles or after `ms`, whichever is first; never rejects. */
function within(promise: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    promise.then(done, done);
  });
}

export function createSettlementWorker(opts: SettlementWorkerOptions): SettlementWorker {
  const { config, pool, redis } = opts;
  const consumerName = opts.consumerName ?? (config.workerConsumerName || defaultConsumerName());
  const log = opts.log.child({ consumer: consumerName });
  const meter = createMeter(redis, createKeys(config.redisKeyPrefix), meterLimits(config));
  const metrics = opts.metrics ?? createWorkerMetrics();
  metrics.watchSettleStreams(redis, meter.keys);
  const controller = new AbortController();
  const signal = controller.signal;
  // Every loop may be pausing on the signal at once (one reader per bucket, reclaim, sweep): not a leak.
  setMaxListeners(2 * bucketCount + 8, signal);
  const shared = {
    pool, redis, meter, log, metrics, signal, consumer: consumerName, feeBps: config.platformFeeBps,
    claimIdleMs: config.settleClaimIdleMs, abandonedHoldMs: config.abandonedHoldMs, disconnectHoldMs: disconnectHoldMsOf(config),
  };
  const deps: WorkerDeps = { ...shared, processor: createEntryProcessor(shared) };
  const readers: RedisClient[] = [];
  const loops: Promise<void>[] = [];
  let state: 'new' | 'running' | 'stopped' = 'new';
  let stopping: Promise<void> | null = null;

  // A loop is written never to reject; this only guards against a bug in one turning into a silent stop.
  const track = (name: string, loop: Promise<void>) => {
    loops.push(loop.catch((err: unknown) => log.error({ err, loop: name }, 'worker loop crashed')));
  };

  async function start(): Promise<void> {
    if (state !== 'new') throw new Error(`settlement worker cannot start: it is ${state}`);
    state = 'running';
    await meter.ensureSettleGroups();
    // stop() during that await has already closed what it could see: open nothing now that it would miss.
    if (signal.aborted) return;
    const buckets = meter.keys.buckets();
    for (const bucket of buckets) {
      const blocking = createRedis(config, { purpose: `settle-reader-${bucket}`, dedicated: true, blockMsMax: readBlockMs });
      blocking.on('error', (err: Error) => log.warn({ err: err.message, bucket }, 'settle reader connection error'));
      readers.push(blocking);
      track(`consume-${bucket}`, consumeSettlements(deps, blocking, bucket));
    }
    track('reclaim', runReclaimLoop(deps, buckets, reclaimIntervalMs(config)));
    track('sweep', runSweepLoop(deps, buckets, config.sweepIntervalMs));
    track('checkpoint', runCheckpointLoop(deps, buckets, config.checkpointIntervalMs));
    // Rare repairs (a Redis data loss, a crash between two writes): often enough to bound a hold left open.
    track('reconcile', runReconcileLoop(deps, reconcilePageIntervalMs, config.socketIdleMs));
    track('release-abandoned', runReleaseLoop(deps, releaseIntervalMs(config)));
    log.info({ buckets: buckets.length }, 'settlement worker started');
  }

  async function stop(): Promise<void> {
    // Loops finish the entry in hand (and their small batch) and then see the abort; an idle reader returns
    // within one BLOCK timeout. Only then are the readers closed, so no delivered entry is cut off mid-way.
    controller.abort();
    state = 'stopped';
    await within(Promise.allSettled(loops), stopMsMax);
    for (const reader of readers) reader.disconnect();
    log.info('settlement worker stopped');
  }

  return {
    consumerName,
    metrics,
    start,
    stop: () => (stopping ??= stop()),
  };
}
