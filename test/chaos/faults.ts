// The fault injector: one fault at a time, at random moments inside the playing window, each recorded with its time,
// kind, target and how long the target was down. Every fault puts its target back before the next one starts (and
// before the injector returns, even when the run is stopped), and the next one waits for a steady state (every
// process up, including one the harness restarted after a crash): faults never overlap, so the billing bound of a
// session depends only on how many Redis wipes it lived through.
import { between, pick, shuffle, type Random } from './random.js';
import type { ManagedProcess, Services } from './services.js';

export const faultKinds = [
  'gateway_kill', 'worker_kill', 'redis_restart_empty', 'postgres_restart', 'redis_hang', 'postgres_hang',
  'cluster_failover', 'sentinel_failover',
] as const;
export type FaultKind = (typeof faultKinds)[number];

/** How the product reaches Redis in a run: one server (behind a proxy that can hang), a Cluster, or Sentinel. */
export const redisTopologies = ['single', 'cluster', 'sentinel'] as const;
export type RedisTopology = (typeof redisTopologies)[number];

/** The kinds that need one topology; the others run on any. */
const topologyOf: Partial<Record<FaultKind, RedisTopology>> = {
  redis_restart_empty: 'single', redis_hang: 'single', cluster_failover: 'cluster', sentinel_failover: 'sentinel',
};
export const faultKindsFor = (t: RedisTopology): FaultKind[] => faultKinds.filter((k) => (topologyOf[k] ?? t) === t);

/**
 * How long each kind keeps its target down, ms (uniform in the range). A hang holds every byte to its store for that
 * long; a failover's down time is not chosen but measured (the kill until a replica has taken over).
 */
export const downMsRange: Readonly<Record<FaultKind, readonly [number, number]>> = {
  gateway_kill: [300, 1_500],
  worker_kill: [300, 2_500],
  redis_restart_empty: [200, 1_200],
  postgres_restart: [1_500, 4_000],
  redis_hang: [2_000, 6_000],
  postgres_hang: [2_000, 6_000],
  cluster_failover: [0, 0],
  sentinel_failover: [0, 0],
};
/** Longest wait for a replica to take over, and for the killed node to be back as a synced replica. */
export const failoverWaitMsMax = 30_000;
/** Quiet time after a fault's recovery before the next one: players reconnect, workers catch up. */
export const recoveryGapMs = 1_500;
/**
 * The bound "a Redis wipe loses at most one checkpoint interval" holds while checkpoints flow. After a Postgres
 * restart the worker's checkpoint loop may still be in its back-off (at most 5 s), and a worker that just started
 * writes its first checkpoint one interval after its start: a wipe then waits this long after the one and the
 * checkpoint interval (plus this) after the other.
 */
export const wipeAfterPostgresGapMs = 5_500;
export const wipeAfterWorkerStartMs = 1_000;
/** Longest wait for that steady state; after it the fault is injected anyway and the record says so. */
export const steadyStateWaitMsMax = 45_000;

export interface FaultRecord {
  kind: FaultKind;
  target: string;
  /** ms since the run started. */
  atMs: number;
  /** When the target was back (a gateway answering /healthz, a worker reading, a store accepting connections). */
  recoveredAtMs: number | null;
  downMs: number;
  error: string | null;
  /** Set when the steady state was not reached before this fault (a process stayed down). */
  note: string | null;
}

export interface FaultPlan {
  count: number;
  kinds: readonly FaultKind[];
  /** Faults start within [windowStartMs, windowEndMs] of the run clock. */
  windowStartMs: number;
  windowEndMs: number;
  /** CHECKPOINT_INTERVAL_MS of the product: a Redis wipe waits until checkpoints flow (see wipeAfterWorkerStartMs). */
  checkpointMs: number;
  /** The first round takes `kinds` in the given order instead of shuffled (a short run that must cover each kind). */
  inOrder: boolean;
}

const sleep = (ms: number, signal: AbortSignal) => new Promise<void>((resolve) => {
  if (signal.aborted || ms <= 0) return resolve();
  const timer = setTimeout(done, ms);
  function done() { clearTimeout(timer); signal.removeEventListener('abort', done); resolve(); }
  signal.addEventListener('abort', done, { once: true });
});

/** The order of kinds: every enabled kind once (shuffled) before any repeats, so a short run covers them all. */
export function faultSequence(r: Random, plan: FaultPlan): FaultKind[] {
  const out: FaultKind[] = [];
  while (out.length < plan.count) {
    const round = out.length === 0 && plan.inOrder ? [...plan.kinds] : shuffle(r, plan.kinds);
    // No kind twice in a row across rounds: two kills of the same kind back to back test nothing new.
    if (out.length > 0 && round[0] === out[out.length - 1] && round.length > 1) round.push(round.shift()!);
    out.push(...round);
  }
  return out.slice(0, plan.count);
}

/** Injects one fault and brings its target back. Returns its record (error set if the target did not come back). */
async function inject(services: Services, kind: FaultKind, r: Random, clock: () => number): Promise<FaultRecord> {
  const [lo, hi] = downMsRange[kind];
  const downMs = Math.round(between(r, lo, hi));
  const rec: FaultRecord = { kind, target: '', atMs: Math.round(clock()), recoveredAtMs: null, downMs, error: null, note: null };
  const processOf = (k: 'gateway' | 'worker'): ManagedProcess | null => {
    const live = services.processes.filter((p) => p.kind === k && p.live);
    return live.length > 0 ? pick(r, live) : null;
  };
  try {
    switch (kind) {
      case 'gateway_kill':
      case 'worker_kill': {
        const p = processOf(kind === 'gateway_kill' ? 'gateway' : 'worker');
        if (!p) throw new Error(`no live ${kind === 'gateway_kill' ? 'gateway' : 'worker'} to kill`);
        rec.target = p.name;
        await services.kill(p);
        // Never cut short: whatever else happens, the process comes back.
        await new Promise((res) => setTimeout(res, downMs));
        await services.start(p);
        break;
      }
      case 'redis_restart_empty': {
        if (!services.redis || !services.redisControl) throw new Error('redis_restart_empty needs --redis single');
        rec.target = `redis :${services.redis.port}`;
        // SHUTDOWN NOSAVE: no persistence, so it comes back with no keys at all.
        await services.redisControl.kill();
        await new Promise((res) => setTimeout(res, downMs));
        await services.redisControl.start();
        break;
      }
      case 'postgres_restart': {
        rec.target = `postgres :${services.postgres.port}`;
        await services.postgresControl.stop();
        await new Promise((res) => setTimeout(res, downMs));
        await services.postgresControl.start();
        break;
      }
      case 'redis_hang':
      case 'postgres_hang': {
        const proxy = kind === 'redis_hang' ? services.redisProxy : services.postgresProxy;
        if (!proxy) throw new Error(`${kind}: the product does not reach its store through a proxy here`);
        rec.target = `${kind === 'redis_hang' ? 'redis' : 'postgres'} proxy :${proxy.port}`;
        proxy.hold();
        // Never cut short: whatever else happens, the bytes flow again.
        await new Promise((res) => setTimeout(res, downMs));
        proxy.resume();
        break;
      }
      case 'cluster_failover':
      case 'sentinel_failover': {
        const t0 = clock();
        rec.target = `redis master :${await services.failOverRedis(failoverWaitMsMax)}`;
        rec.downMs = Math.round(clock() - t0);
        break;
      }
    }
    rec.recoveredAtMs = Math.round(clock());
  } catch (err) {
    rec.error = (err as Error).message;
  }
  return rec;
}

/**
 * Resolves when the next fault may go: every process is up and, before a Redis wipe, checkpoints flow (Postgres has
 * been back wipeAfterPostgresGapMs, every worker up a checkpoint interval and a bit). Returns a note when it gave up.
 */
async function steadyState(services: Services, kind: FaultKind, plan: FaultPlan, lastPostgresBackMs: number,
  clock: () => number, signal: AbortSignal): Promise<string | null> {
  const until = clock() + steadyStateWaitMsMax;
  for (;;) {
    const down = services.processes.filter((p) => !p.live).map((p) => p.name);
    const workerFreshMs = Math.max(0, ...services.processes.filter((p) => p.kind === 'worker').map((p) => p.liveSinceMs ?? clock()))
      + plan.checkpointMs + wipeAfterWorkerStartMs;
    const flowing = kind !== 'redis_restart_empty' || (clock() >= lastPostgresBackMs + wipeAfterPostgresGapMs && clock() >= workerFreshMs);
    if (down.length === 0 && flowing) return null;
    if (clock() > until || signal.aborted) {
      return down.length > 0 ? `injected with ${down.join(', ')} still down` : 'injected before checkpoints were flowing again';
    }
    await sleep(100, signal);
  }
}

/**
 * Runs the plan: fault i is due at an even slot of the window plus jitter, never sooner than recoveryGapMs after the
 * previous recovery, and only in a steady state. The first round (each kind once) is injected even when recoveries
 * pushed it past the window; later faults only inside it. Stops early (after the fault in hand has recovered) when
 * `signal` aborts: the players are done.
 */
export async function runFaults(services: Services, plan: FaultPlan, r: Random, clock: () => number, signal: AbortSignal,
  onFault: (f: FaultRecord) => void): Promise<FaultRecord[]> {
  const records: FaultRecord[] = [];
  if (plan.count === 0) return records;
  const kinds = faultSequence(r, plan);
  const slotMs = Math.max(0, plan.windowEndMs - plan.windowStartMs) / plan.count;
  let recoveredAtMs = plan.windowStartMs - recoveryGapMs;
  let lastPostgresBackMs = Number.NEGATIVE_INFINITY;
  for (const [i, kind] of kinds.entries()) {
    const dueMs = Math.max(recoveredAtMs + recoveryGapMs, plan.windowStartMs + i * slotMs + r() * slotMs * 0.4);
    if (dueMs > plan.windowEndMs && i >= plan.kinds.length) break; // recoveries took longer than planned
    await sleep(dueMs - clock(), signal);
    const note = await steadyState(services, kind, plan, lastPostgresBackMs, clock, signal);
    if (signal.aborted) break;
    const rec = await inject(services, kind, r, clock);
    rec.note = note;
    records.push(rec);
    onFault(rec);
    recoveredAtMs = rec.recoveredAtMs ?? clock();
    if (kind === 'postgres_restart') lastPostgresBackMs = recoveredAtMs;
  }
  return records;
}
