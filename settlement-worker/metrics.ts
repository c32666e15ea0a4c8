// Prometheus metrics of one settlement worker process, served on its own port (core/metrics-server.ts,
// core/metrics-ports.ts). The names are a contract with dashboards (README "Metrics"): add, never rename.
// The settle-stream gauges are read from Redis when Prometheus scrapes (collect), at most once per
// streamStatsReuseMs (core/limits.ts) however many gauges or scrapers ask: no timer runs between scrapes.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { EndReason } from '../core/protocol/common.js';
import { streamStatsReuseMs, workerLoopDelayResolutionMs } from '../core/limits.js';
import type { RedisClient } from '../core/redis/connect.js';
import type { Keys } from '../core/redis/keys.js';
import { bindEach, serviceErrorCounter } from '../core/prometheus-counters.js';
import { readSettleStreamStats, type SettleStreamStats } from './settle-stream-stats.js';

const endReasons: readonly EndReason[] = ['completed', 'funds_exhausted', 'disconnected', 'abandoned'];

/** Why entries were dead-lettered, as a small fixed label set (the full reason is in the dead letter itself). */
export const deadLetterKinds = ['invalid_entry', 'deleted_while_pending', 'session_not_found', 'invariant',
  'rejected_by_postgres', 'too_many_deliveries', 'other'] as const;
export type DeadLetterKind = (typeof deadLetterKinds)[number];

export function deadLetterKind(reason: string): DeadLetterKind {
  if (reason.startsWith('delivered ')) return 'too_many_deliveries';
  const word = /^[a-z_]+/.exec(reason)?.[0] ?? '';
  return (deadLetterKinds as readonly string[]).includes(word) ? (word as DeadLetterKind) : 'other';
}

export function createWorkerMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: workerLoopDelayResolutionMs });
  const registers = [registry];

  const settlements = new Counter({ name: 'worker_settlements_total', help: 'Sessions settled (committed in Postgres) by this worker, by end reason; repeats of an earlier settlement are not counted', labelNames: ['end_reason'], registers });
  const countServiceError = serviceErrorCounter('worker', registry);

  // Set by watchSettleStreams: the gauges below stay empty until then (and when a read fails).
  let readStreams: (() => Promise<SettleStreamStats>) | null = null;
  let sample: { atMs: number; stats: Promise<SettleStreamStats | null> } | null = null;
  const streamStats = (): Promise<SettleStreamStats | null> => {
    if (!readStreams) return Promise.resolve(null);
    if (!sample || Date.now() - sample.atMs > streamStatsReuseMs) {
      sample = { atMs: Date.now(), stats: readStreams().catch((err: unknown) => { countServiceError(err); return null; }) };
    }
    return sample.stats;
  };
  /** A per-bucket gauge filled from the stream sample at scrape time. */
  const bucketGauge = (name: string, help: string, valueOf: (b: SettleStreamStats['buckets'][number]) => number | null) =>
    new Gauge({
      name, help, labelNames: ['bucket'], registers,
      async collect() {
        const stats = await streamStats();
        this.reset();
        for (const b of stats?.buckets ?? []) {
          const v = valueOf(b);
          if (v !== null) this.set({ bucket: String(b.bucket) }, v);
        }
      },
    });

  bucketGauge('worker_settle_stream_length', 'Entries in the bucket\'s settle stream (XLEN)', (b) => b.length);
  bucketGauge('worker_settle_stream_pending', 'Entries delivered to a worker but not yet acked (settling, or waiting for a retry or a reclaim)', (b) => b.pending);
  bucketGauge('worker_settle_stream_oldest_pending_age_seconds', 'Age of the oldest pending entry (since it was added), 0 when none is pending', (b) => b.oldestPendingAgeSeconds);
  bucketGauge('worker_settle_stream_lag', 'Entries not yet delivered to any worker (XINFO GROUPS lag); absent when Redis cannot tell', (b) => b.lag);
  new Gauge({
    name: 'worker_dead_letters', help: 'Entries in the dead-letter stream (settle requests that could not be settled)', registers,
    async collect() {
      const stats = await streamStats();
      this.reset();
      if (stats) this.set(stats.deadLetters);
    },
  });

  return {
    registry,
    settlements: bindEach(settlements, endReasons),
    settlementLatencySeconds: new Histogram({ name: 'worker_settlement_latency_seconds', help: 'Time from a session\'s end (its settle request enqueued) to its settlement committed in Postgres', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300], registers }),
    entriesReclaimed: new Counter({ name: 'worker_settle_entries_reclaimed_total', help: 'Settle entries taken over from a silent consumer (XAUTOCLAIM)', registers }),
    entriesDeadLettered: new Counter({ name: 'worker_settle_entries_dead_lettered_total', help: 'Settle entries moved to the dead-letter stream, by kind of reason', labelNames: ['reason'], registers }),
    checkpointPassSeconds: new Histogram({ name: 'worker_checkpoint_pass_duration_seconds', help: 'Duration of a checkpoint pass (live billed time copied to Postgres)', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers }),
    checkpointLastPass: new Gauge({ name: 'worker_checkpoint_last_pass_timestamp_seconds', help: 'Unix time of the last checkpoint pass that succeeded (checkpoint age = time() - this)', registers }),
    checkpointSessionsWritten: new Counter({ name: 'worker_checkpoint_sessions_written_total', help: 'Session rows moved forward by checkpoint passes', registers }),
    reconcileRebuilt: new Counter({ name: 'worker_reconcile_rebuilt_total', help: 'Active sessions lost from Redis with no player, rebuilt from their checkpoint by the reconcile pass', registers }),
    sweeperDue: new Counter({ name: 'worker_sweeper_due_total', help: 'Sessions whose deadline had passed when the sweeper looked (each then rescheduled, dropped or settled)', registers }),
    sweeperEnqueued: new Counter({ name: 'worker_sweeper_settlements_enqueued_total', help: 'Settle requests the sweeper enqueued (sessions settled as disconnected, or a lost request sent again)', registers }),
    countServiceError,
    deadLettered(reason: string): void {
      this.entriesDeadLettered.inc({ reason: deadLetterKind(reason) });
    },
    /** From now on, scrapes read the settle streams of `keys` on `redis` (a non-blocking connection). */
    watchSettleStreams(redis: RedisClient, keys: Keys): void {
      readStreams = () => readSettleStreamStats(redis, keys);
    },
  };
}

export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;
