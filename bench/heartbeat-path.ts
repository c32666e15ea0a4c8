// Where the time of a heartbeat goes, for two builds in the same run: the commit the work started from (the
// baseline) and this checkout. One gateway and one settlement worker per build, the same viewer load (5,000 viewers,
// one heartbeat each per second by default), each process probed by window-probe.cjs over the steady window:
//   ack latency p50 / p99 / p99.9 / max, answers/s, errors      (viewer-load.ts)
//   CPU µs per heartbeat: gateway / Redis / worker / load        (/proc, proc-cpu.ts)
//   GC pauses and event-loop delay of the gateway and worker     (window-probe.cjs)
//   a CPU profile of the gateway: self time per category, top functions (window-probe.cjs; the .cpuprofile is kept)
//   the gateway's heartbeat stages, frame in → queued → Redis write → Redis reply → ack written, p50 / p99 from the
//     gateway_heartbeat_stage_seconds histogram on its /metrics (bucket deltas over the window), when the build has it
// and the floors at the same load: a bare uWS echo (limit-uws-echo.ts) and the heartbeat Lua script alone
// (limit-lua.ts). The builds alternate, baseline first in one round and second in the next (ABBA), so neither always
// meets the machine's noise first.
//
//   npm run bench -- --only heartbeat-path   (prints the section of bench/results.md, writes no results file)
//
// The baseline runs from a detached `git worktree` of BENCH_BASELINE_REV (node_modules linked to this checkout's),
// built with its own scripts/build-dist.ts, over its own schema and key prefix made with its own code (migrations,
// meter, live-session fixture): whatever the Redis layout of each build, its sessions are its own.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';
import { loadConfig } from '../core/config.js';
import { createRedis } from '../core/redis/connect.js';
import { createKeys } from '../core/redis/keys.js';
import { meterLimits } from '../core/meter-limits.js';
import { startServers } from './gateway-processes.js';
import { withBaselineBuild, type Build } from './baseline-worktree.js';
import { runViewerLoad, type ViewerLoadResult } from './viewer-load.js';
import { cpuWindow, machineBusyMicros } from '../loadtest/common/proc-cpu.js';
import { measureUwsEcho, type EchoLimit } from './limit-uws-echo.js';
import { measureLuaLimit, type LuaLimit } from './limit-lua.js';
import { windowPercentiles, type WindowPercentiles } from './metrics-histogram.js';

/**
 * The commit the heartbeat-path work started from, the "before" column: the gateway as it was, with only the stage
 * histogram added so both columns can say where the time goes. Override with BENCH_BASELINE_REV.
 */
export const baselineRevDefault = '96fc754';

/** The gateway's histogram of heartbeat stages (time from frame in to each stage, for a sample of heartbeats). */
export const stageMetric = 'gateway_heartbeat_stage_seconds';
export const stages = ['queued', 'redis_write', 'redis_reply', 'ack_written'] as const;

export const probePath = fileURLToPath(new URL('./window-probe.cjs', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface HeartbeatPathOptions {
  viewers: number;
  intervalMs: number;
  steadyMs: number;
  /** Rounds of (baseline, current), the order flipped every other round. */
  rounds: number;
  baselineRev: string;
  /**
   * CPU-profile the gateway and worker in the first round's windows (both builds alike). Later rounds run without the
   * profiler: its sampling thread and pauses weigh on latency and CPU (measured: ack p99.9 95 ms profiled, 18 ms not),
   * so those rounds give the figures checked against the targets.
   */
  profile: boolean;
  port: number;
  /** Where the probes write (one folder per run, the .cpuprofile files stay there). */
  probeDir: string;
  log: (line: string) => void;
}

/** What window-probe.cjs writes for one process. */
export interface ProbeReport {
  pid: number; seconds: number; loopResolutionMs: number;
  gc: Record<string, { count: number; totalMs: number; maxMs: number; over10Ms: number }>;
  loopDelay: { p50Ms: number; p99Ms: number; maxMs: number };
  profile: null | {
    totalMs: number;
    categories: { category: string; ms: number; pct: number }[];
    topFunctions: { name: string; where: string; category: string; ms: number; pct: number }[];
  };
}

export interface PathRun {
  build: 'baseline' | 'current';
  rev: string;
  round: number;
  /** The window ran under the sampling CPU profiler. */
  profiled: boolean;
  load: ViewerLoadResult;
  cpuMicrosPerHeartbeat: { gateway: number; redis: number; worker: number; load: number };
  /**
   * Cores used over the window by everything but the measured processes (the bench's own parent included): the
   * machine is shared, and a run that met a busy neighbour says so here.
   */
  otherCores: number;
  gateway: ProbeReport | null;
  worker: ProbeReport | null;
  /** Per stage; null when the build serves no gateway_heartbeat_stage_seconds. */
  stages: Record<string, WindowPercentiles> | null;
  /** Both scrapes of the gateway's /metrics answered (else a missing stage histogram says nothing of the build). */
  metricsScraped: boolean;
  probeDir: string;
}

export interface HeartbeatPathResult {
  viewers: number; intervalMs: number; steadyMs: number; profiled: boolean;
  builds: { baseline: { rev: string }; current: { rev: string; uncommitted: boolean } };
  floors: { uwsEcho: EchoLimit; luaLimit: LuaLimit };
  runs: PathRun[];
}


/** A build's own product code, loaded from its checkout (TypeScript through tsx), to make its fixture. */
interface BuildModules {
  loadConfig(env: Record<string, string | undefined>): { databaseUrl: string; redisKeyPrefix: string };
  migrate(url: string, schema: string): Promise<void>;
  seed(url: string, schema: string): Promise<void>;
  createPool(config: unknown, max: number): { end(): Promise<void> };
  createRedis(config: unknown, o: { purpose: string }): { disconnect(): void };
  createKeys(prefix: string): unknown;
  createMeter(redis: unknown, keys: unknown, limits: unknown): unknown;
  meterLimits(config: unknown): unknown;
  createLiveSessions(pool: unknown, meter: unknown, n: number): Promise<string[]>;
  mintToken(o: { secret: string; sub: string; role: string; ttlSeconds: number }): Promise<string>;
  benchStudentId: string;
}

async function loadBuildModules(dir: string): Promise<BuildModules> {
  // A baseline from before the rooms were renamed keeps core/ as shared/ and bench/ under loadtest/.
  const oldLayout = !existsSync(join(dir, 'core'));
  const inBuild = (rel: string) => (oldLayout ? rel.replace(/^core\//, 'shared/').replace(/^bench\//, 'loadtest/bench/') : rel);
  const from = async (rel: string) => import(pathToFileURL(join(dir, inBuild(rel))).href) as Promise<Record<string, unknown>>;
  return Object.assign({}, ...(await Promise.all([
    'core/config.ts', 'core/pg/migrate.ts', 'core/pg/pool.ts', 'core/redis/connect.ts', 'core/redis/keys.ts',
    'core/redis/meter.ts', 'core/meter-limits.ts', 'bench/live-sessions-fixture.ts', 'core/auth/mint-token.ts',
  ].map(from)))) as BuildModules;
}

/** The frame the floors echo: a heartbeat as the viewers send it. */
const frame = (_i: number, seq: number) => JSON.stringify({ type: 'heartbeat', seq, position_seconds: seq, playing: true, playing_now: true, current_lecture: 1, completion_pct: 12.5 });

export async function measureHeartbeatPath(o: HeartbeatPathOptions): Promise<HeartbeatPathResult> {
  mkdirSync(o.probeDir, { recursive: true });
  const id = randomBytes(4).toString('hex');
  return withBaselineBuild(o.baselineRev, (line) => o.log(`heartbeat path: ${line}`), async ({ baseline, current, uncommitted }) => {
    const cleanups: (() => Promise<void>)[] = [];
    try {
      const worlds = new Map<Build['name'], Awaited<ReturnType<typeof makeWorld>>>();
      for (const b of [baseline, current]) {
        o.log(`  ${b.name}: schema and ${o.viewers} live sessions, made with its own code`);
        const world = await makeWorld(b, `${id}_${b.name === 'baseline' ? 'b' : 'c'}`, o.viewers);
        cleanups.push(world.cleanup);
        worlds.set(b.name, world);
      }

      o.log(`  floor: bare uWS echo, ${o.viewers} sockets, one frame each ${o.intervalMs} ms`);
      const uwsEcho = await measureUwsEcho({ sockets: o.viewers, intervalMs: o.intervalMs, durationMs: o.steadyMs, frame });
      o.log(`  floor: the heartbeat Lua script alone, pipelined`);
      const luaLimit = await measureLuaAlone(`bench:${id}:lua:`);

      const runs: PathRun[] = [];
      for (let round = 1; round <= o.rounds; round++) {
        const order = round % 2 === 1 ? [baseline, current] : [current, baseline];
        for (const b of order) {
          o.log(`  round ${round}: ${b.name} (${b.rev.slice(0, 12)})`);
          const run = await measureOne(b, round, worlds.get(b.name)!);
          const c = run.cpuMicrosPerHeartbeat;
          o.log(`    ack p50 ${run.load.p50Ms} / p99 ${run.load.p99Ms} / p99.9 ${run.load.p999Ms} / max ${run.load.maxMs} ms, ${run.load.answersPerSecond}/s, errors ${run.load.errorCount}; µs/hb gateway ${c.gateway} redis ${c.redis} worker ${c.worker} load ${c.load}; other processes ${run.otherCores} cores`);
          runs.push(run);
        }
      }
      return {
        viewers: o.viewers, intervalMs: o.intervalMs, steadyMs: o.steadyMs, profiled: o.profile,
        builds: { baseline: { rev: baseline.rev }, current: { rev: current.rev, uncommitted } },
        floors: { uwsEcho, luaLimit }, runs,
      };
    } finally {
      for (const c of cleanups) await c().catch((err: unknown) => o.log(`cleanup failed: ${String(err)}`));
    }
  });

  /** A build's schema, key prefix, live sessions and token, made by that build's own code. */
  async function makeWorld(b: Build, tag: string, n: number) {
    const m = await loadBuildModules(b.dir);
    const secret = `bench-path-secret-${tag}-0123456789`;
    const env = {
      ...process.env, NODE_ENV: 'development', PORT: String(o.port), HOST: '0.0.0.0', DATABASE_SCHEMA: `bench_path_${tag}`,
      REDIS_KEY_PREFIX: `bench:path:${tag}:`, JWT_SECRET: secret, LOG_LEVEL: 'warn', LOG_PRETTY: 'false', HEARTBEAT_INTERVAL_MS: '5000',
      // Sessions stay paused between runs (their sockets closed), to be resumed by the next round, not settled.
      DISCONNECT_GRACE_MS: '3600000', MAX_SOCKETS_PER_IP: '0', GATEWAY_PROCESSES: '1',
      GATEWAY_METRICS_PORT: String(o.port + 1), WORKER_METRICS_PORT: '0',
    };
    const config = m.loadConfig(env);
    await m.migrate(config.databaseUrl, env.DATABASE_SCHEMA);
    await m.seed(config.databaseUrl, env.DATABASE_SCHEMA);
    const pool = m.createPool(config, 10);
    const redis = m.createRedis(config, { purpose: 'bench-path' });
    let ids: string[];
    try {
      ids = await m.createLiveSessions(pool, m.createMeter(redis, m.createKeys(config.redisKeyPrefix), m.meterLimits(config)), n);
    } finally {
      redis.disconnect();
      await pool.end();
    }
    const token = await m.mintToken({ secret, sub: m.benchStudentId, role: 'student', ttlSeconds: 6 * 3600 });
    return { env, ids, token, cleanup: () => dropWorld(config.databaseUrl, env.DATABASE_SCHEMA, env.REDIS_KEY_PREFIX) };
  }

  async function measureLuaAlone(prefix: string): Promise<LuaLimit> {
    const config = loadConfig({ ...process.env, REDIS_KEY_PREFIX: prefix }, { requireAuth: false });
    const redis = createRedis(config, { purpose: 'bench-path-lua' });
    try {
      return await measureLuaLimit(redis, createKeys(prefix), meterLimits(config), { sessions: 20_000, rounds: 5, inFlight: 1_000 });
    } finally {
      redis.disconnect();
      await dropKeys(prefix);
    }
  }

  async function measureOne(b: Build, round: number, world: Awaited<ReturnType<typeof makeWorld>>): Promise<PathRun> {
    const probeDir = join(o.probeDir, `${b.name}-round${round}`);
    mkdirSync(probeDir, { recursive: true });
    const profiled = o.profile && round === 1;
    const env = { ...world.env, PROBE_DIR: probeDir, PROBE_CPU_PROFILE: profiled ? '1' : '0' };
    const nodeArgs = ['--require', probePath];
    const redisPid = await redisServerPid();
    const gateway = await startServers('gateway', 1, env, `http://127.0.0.1:${o.port}/readyz`, nodeArgs, b.dir);
    const worker = await startServers('worker', 1, env, null, nodeArgs, b.dir);
    const probed = [...gateway.pids, ...worker.pids];
    const scrape = () => fetch(`http://127.0.0.1:${o.port + 1}/metrics`).then((r) => r.text()).catch(() => '');
    let window: ReturnType<typeof cpuWindow> | undefined;
    let used: ReturnType<ReturnType<typeof cpuWindow>['read']> | undefined;
    let machineAtOpen = 0;
    let machineUsed = 0;
    let opened: Promise<string> = Promise.resolve('');
    let closed: Promise<string> = Promise.resolve('');
    try {
      const load = await runViewerLoad({
        mode: 'ws', port: o.port, sessionIds: world.ids, token: world.token, intervalMs: o.intervalMs,
        path: (sid) => `/ws/sessions/${sid}`, warmupMs: Math.max(2 * o.intervalMs, 3_000), durationMs: o.steadyMs,
        onSteady: (loadPids) => {
          for (const pid of probed) process.kill(pid, 'SIGUSR2');
          opened = scrape();
          window = cpuWindow({ gateway: gateway.pids, worker: worker.pids, redis: [redisPid], load: loadPids });
          machineAtOpen = machineBusyMicros();
        },
        onWindowEnd: () => {
          used = window!.read();
          machineUsed = machineBusyMicros() - machineAtOpen;
          for (const pid of probed) process.kill(pid, 'SIGUSR2');
          closed = scrape();
        },
      });
      const { micros, seconds } = used ?? window!.read();
      const ours = Object.values(micros).reduce((a, b) => a + b, 0);
      const per = (x: number | undefined) => +((x ?? 0) / Math.max(1, load.answered)).toFixed(2);
      const [open, close] = await Promise.all([opened, closed]);
      const byStage = windowPercentiles(open, close, stageMetric, 'stage');
      return {
        build: b.name, rev: b.rev, round, profiled, load,
        cpuMicrosPerHeartbeat: { gateway: per(micros.gateway), redis: per(micros.redis), worker: per(micros.worker), load: per(micros.load) },
        otherCores: +(Math.max(0, machineUsed - ours) / 1e6 / Math.max(0.001, seconds)).toFixed(2),
        gateway: await readProbe(probeDir, gateway.pids[0]!), worker: await readProbe(probeDir, worker.pids[0]!),
        stages: Object.keys(byStage).length > 0 ? byStage : null, metricsScraped: open.includes('# TYPE') && close.includes('# TYPE'), probeDir,
      };
    } finally {
      await worker.stop();
      await gateway.stop();
    }
  }
}

async function redisServerPid(): Promise<number> {
  const redis = createRedis(loadConfig({ ...process.env }, { requireAuth: false }), { purpose: 'bench-path-pid' });
  try { return Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1]); } finally { redis.disconnect(); }
}

/** The probe's report for `pid`, once written (stopping the profiler and summarising it takes a moment). */
export async function readProbe(dir: string, pid: number): Promise<ProbeReport | null> {
  const file = join(dir, `${pid}.json`);
  for (let i = 0; i < 300 && !existsSync(file); i++) await sleep(100);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as ProbeReport) : null;
}

async function dropWorld(databaseUrl: string, schema: string, prefix: string): Promise<void> {
  await dropKeys(prefix);
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.end();
}

async function dropKeys(prefix: string): Promise<void> {
  const redis = createRedis(loadConfig({ ...process.env, REDIS_KEY_PREFIX: prefix }, { requireAuth: false }), { purpose: 'bench-path-cleanup' });
  const stream = (redis as import('ioredis').Redis).scanStream({ match: `${prefix}*`, count: 1_000 });
  for await (const batch of stream as AsyncIterable<string[]>) if (batch.length > 0) await redis.del(...batch);
  redis.disconnect();
}

/** Writes the whole result beside the probes' files (the profiles' summaries are long for a terminal). */
export function saveHeartbeatPath(result: HeartbeatPathResult, dir: string): string {
  const file = join(dir, 'heartbeat-path.json');
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}
