// `npm run bench`: the figures of README "Scaling one machine", side by side in one run on this machine, written to
// bench/results.json and bench/results.md (machine, date, commit). Ratios measured in the same run are the headline;
// absolute times on a shared 2-core machine are not. Every server runs as its own process over a private schema and key
// prefix.
//
//   limit        the heartbeat Lua script alone, pipelined; a bare uWS echo of the same frames
//   transport    one process each, same viewers and rate: bare uWS echo vs our gateway vs the `ws`-library variant,
//                server CPU µs per heartbeat and p99
//   ladders      at 5 s heartbeats, the largest viewer count holding p99 < 50 ms with zero errors: ours (the gateways
//                `npm start` runs by default, more past 12,500 sockets each), the `ws` variant (one process), the seed's design (one process)
//   saturation   heartbeats/s our gateways answer with zero errors as the rate rises
//   cpu          CPU µs per heartbeat for gateways, Redis, worker and load processes over the largest passing step
//   settlement   drain time of a burst of sessions ending at once (settlement-burst.ts)
//   checkpoint   the worker's checkpoint pass at the largest live-session count, all moved vs none moved
//   create flood victims' REST p99 alone and while one student floods creates from 1,000 loops (create-flood.ts)
//   heartbeat path  where the time goes, one gateway at 5,000 heartbeats/s, the baseline commit's build and this one
//                side by side: latency, CPU per process, GC, loop delay, a CPU profile, the gateway's stage histogram
//                (heartbeat-path.ts)
//
// `npm run bench -- --only create-flood` (or `--only heartbeat-path`, `join-cost`, `join-storm`, `ladder`) runs that
// one alone and prints it (no results file is written; heartbeat-path saves its JSON and the raw profiles in
// BENCH_PROBE_DIR). `--only ladder` climbs BENCH_LADDER alone, e.g. `BENCH_LADDER=25000,50000`: every step of ours runs
// its gateways and worker under window-probe.cjs and reads their stage histogram, so a failed step says where its tail
// came from.
//
// Sizes: BENCH_LADDER (viewers, comma-separated), BENCH_HEARTBEAT_MS, BENCH_STEADY_S; heartbeat path:
// BENCH_BASELINE_REV, BENCH_PATH_VIEWERS, BENCH_PATH_INTERVAL_MS, BENCH_PATH_ROUNDS, BENCH_PATH_PROFILE; see `--help`.
import { execSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { loadConfig } from '../core/config.js';
import { migrate, seed } from '../core/pg/migrate.js';
import { createPool } from '../core/pg/pool.js';
import { createRedis } from '../core/redis/connect.js';
import { createKeys } from '../core/redis/keys.js';
import { createMeter } from '../core/redis/meter.js';
import { meterLimits } from '../core/meter-limits.js';
import { mintToken } from '../core/auth/mint-token.js';
import { buildDist } from '../scripts/build-dist.js';
import { measureLuaLimit } from './limit-lua.js';
import { measureUwsEcho } from './limit-uws-echo.js';
import { benchStudentId, createLiveSessions } from './live-sessions-fixture.js';
import { startServers, type ServerKind } from './gateway-processes.js';
import { runViewerLoad, type ViewerLoadResult } from './viewer-load.js';
import { cpuWindow, machineBusyMicros, rssKb } from '../loadtest/common/proc-cpu.js';
import { measureCheckpointPass } from './checkpoint-pass.js';
import { renderResults } from './results-file.js';
import { runSettlementBurst } from './settlement-burst.js';
import { measureCreateFlood } from './create-flood.js';
import { baselineRevDefault, measureHeartbeatPath, probePath, readProbe, saveHeartbeatPath, stageMetric } from './heartbeat-path.js';
import { windowPercentiles } from './metrics-histogram.js';
import { gatewayMetricsPort } from '../core/metrics-ports.js';
import { heartbeatPathHeadlineRows, heartbeatPathSection } from './results-heartbeat-path.js';
import { joinBaselineRevDefault, joinRateDefault, measureJoinCost } from './join-cost.js';
import { joinCostHeadlineRows, joinCostSection } from './results-join-cost.js';
import { measureJoinStorm, parseStorms, stormBaselineRevDefault, stormsDefault, stormWatchersDefault } from './join-storm.js';
import { joinStormHeadlineRows, joinStormSection } from './results-join-storm.js';
import { benchQueryTimeoutMs } from './bench-timeouts.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const num = (name: string, def: number) => Number(process.env[name] ?? def);
const ladder = (process.env.BENCH_LADDER ?? '2500,5000,10000,15000,25000,30000,35000,40000,45000,50000,60000,75000,100000').split(',').map(Number);
const seedLadder = (process.env.BENCH_SEED_LADDER ?? '250,500,1000,2500,5000,10000').split(',').map(Number);
const heartbeatMs = num('BENCH_HEARTBEAT_MS', 5_000);
const steadyMs = num('BENCH_STEADY_S', 20) * 1000;
const transportViewers = num('BENCH_TRANSPORT_VIEWERS', 4_000);
const transportIntervalMs = num('BENCH_TRANSPORT_INTERVAL_MS', 500);
const port = num('BENCH_PORT', 18_390);
const p99TargetMs = 50;
/** Sockets one gateway process holds at most in the ladder: a process may hold 20,000 open files here. */
const socketsPerGatewayMax = 12_500;
const rateViewers = num('BENCH_RATE_VIEWERS', 5_000);
const burstSessions = num('BENCH_BURST_SESSIONS', 100_000);
const burstWaitSessions = num('BENCH_BURST_WAIT_SESSIONS', 20_000);
const burstWorkers = num('BENCH_BURST_WORKERS', 2);
const rateIntervalsMs = (process.env.BENCH_RATE_INTERVALS_MS ?? '1000,500,250,125').split(',').map(Number);
const floodLoops = num('BENCH_FLOOD_LOOPS', 1_000);
const floodSeconds = num('BENCH_FLOOD_S', 20);
const pathViewers = num('BENCH_PATH_VIEWERS', 5_000);
const pathIntervalMs = num('BENCH_PATH_INTERVAL_MS', 1_000);
const pathRounds = num('BENCH_PATH_ROUNDS', 3);
const pathProfile = (process.env.BENCH_PATH_PROFILE ?? '1') !== '0';
const baselineRev = process.env.BENCH_BASELINE_REV ?? baselineRevDefault;
const joinRate = num('BENCH_JOIN_RATE', joinRateDefault);
const joinRounds = num('BENCH_JOIN_ROUNDS', 2);
const joinBaselineRev = process.env.BENCH_JOIN_BASELINE_REV ?? joinBaselineRevDefault;
const stormWatchers = num('BENCH_STORM_WATCHERS', stormWatchersDefault);
const storms = process.env.BENCH_STORMS ? parseStorms(process.env.BENCH_STORMS) : stormsDefault;
// BENCH_STORM_BASELINE_REV=none runs this checkout alone.
const stormBaselineRev = process.env.BENCH_STORM_BASELINE_REV ?? stormBaselineRevDefault;
const probeDir = process.env.BENCH_PROBE_DIR ?? `${os.tmpdir()}/bench-probe-${new Date().toISOString().replace(/[:.]/g, '-')}`;
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;

if (process.argv.includes('--help')) {
  console.log(`npm run bench [-- --only create-flood|heartbeat-path|join-cost|join-storm|ladder]  (env: BENCH_STORM_WATCHERS=${stormWatchers} BENCH_STORMS=${storms.map((x) => `${x.rate}x${x.viewers}`).join(',')} BENCH_STORM_BASELINE_REV=${stormBaselineRev} BENCH_JOIN_RATE=${joinRate} BENCH_JOIN_ROUNDS=${joinRounds} BENCH_JOIN_BASELINE_REV=${joinBaselineRev} BENCH_LADDER=${ladder.join(',')} BENCH_SEED_LADDER=${seedLadder.join(',')} BENCH_HEARTBEAT_MS=${heartbeatMs} BENCH_STEADY_S=${steadyMs / 1000} BENCH_BASELINE_REV=${baselineRev} BENCH_PATH_VIEWERS=${pathViewers} BENCH_PATH_INTERVAL_MS=${pathIntervalMs} BENCH_PATH_ROUNDS=${pathRounds} BENCH_PATH_PROFILE=${pathProfile ? 1 : 0} BENCH_PROBE_DIR=${probeDir})`);
  process.exit(0);
}
if (only !== undefined && !['create-flood', 'heartbeat-path', 'join-cost', 'join-storm', 'ladder'].includes(only)) {
  console.error(`bench: --only takes create-flood, heartbeat-path, join-cost, join-storm or ladder, not ${only}`);
  process.exit(2);
}

const frame = (_i: number, seq: number) => JSON.stringify({ type: 'heartbeat', seq, position_seconds: seq * 5, playing: true, playing_now: true, current_lecture: 1, completion_pct: 12.5 });
const log = (line: string) => console.log(`bench: ${line}`);

const createFloodOptions = (build: boolean) => ({ loops: floodLoops, seconds: floodSeconds, victims: 10, port: port + 1, build, log });
// Its gateway listens on port + 2 and serves its own /metrics on port + 3.
// Its gateways listen on port + 4 (and their metrics ports by PROCESS_INDEX).
const joinCostOptions = () => ({ rate: joinRate, rampS: 25, gateways: num('BENCH_JOIN_GATEWAYS', 4), port: port + 4, rounds: joinRounds, baselineRev: joinBaselineRev, log });
// Its gateways listen on port + 5.
const joinStormOptions = () => ({ watchers: stormWatchers, watchersRampS: 50, storms, gateways: num('BENCH_JOIN_GATEWAYS', 4), port: port + 5,
  baselineRev: stormBaselineRev === 'none' ? null : stormBaselineRev, log });
const heartbeatPathOptions = () => ({ viewers: pathViewers, intervalMs: pathIntervalMs, steadyMs, rounds: pathRounds, baselineRev, profile: pathProfile, port: port + 2, probeDir, log });

async function main(): Promise<void> {
  if (only === 'create-flood') {
    console.log(JSON.stringify(await measureCreateFlood(createFloodOptions(true)), null, 2));
    return;
  }
  if (only === 'join-cost') {
    const joins = await measureJoinCost(joinCostOptions());
    console.log(['', '| comparison | measured | target |', '| --- | --- | --- |', ...joinCostHeadlineRows(joins), '', ...joinCostSection(joins)].join('\n'));
    return;
  }
  if (only === 'join-storm') {
    const storm = await measureJoinStorm(joinStormOptions());
    console.log(['', '| comparison | measured | target |', '| --- | --- | --- |', ...joinStormHeadlineRows(storm), '', ...joinStormSection(storm)].join('\n'));
    return;
  }
  if (only === 'heartbeat-path') {
    const path = await measureHeartbeatPath(heartbeatPathOptions());
    console.log(['', '| comparison | measured | target |', '| --- | --- | --- |', ...heartbeatPathHeadlineRows(path), '', ...heartbeatPathSection(path)].join('\n'));
    log(`wrote ${saveHeartbeatPath(path, probeDir)}`);
    return;
  }
  // Read before anything runs: the code measured is the code at this commit.
  const commit = execSync('git rev-parse HEAD', { cwd: root }).toString().trim();
  const id = randomBytes(4).toString('hex');
  const schema = `bench_${id}`;
  const secret = `bench-secret-${id}-0123456789`;
  const env: NodeJS.ProcessEnv = {
    ...process.env, PORT: String(port), HOST: '0.0.0.0', DATABASE_SCHEMA: schema, REDIS_KEY_PREFIX: `bench:${id}:`, JWT_SECRET: secret,
    LOG_LEVEL: 'warn', LOG_PRETTY: 'false', HEARTBEAT_INTERVAL_MS: String(heartbeatMs),
    // Sessions stay paused between steps (their sockets closed), to be resumed by the next step, not settled.
    DISCONNECT_GRACE_MS: '3600000', MAX_SOCKETS_PER_IP: '0',
  };
  const config = loadConfig(env);
  // As many gateways as `npm start` runs with this environment (GATEWAY_PROCESSES, default one per CPU, at least 4).
  const npmStartGateways = config.gatewayProcessCount;
  log(`building dist/, schema ${schema}`);
  await buildDist();
  await migrate(config.databaseUrl, schema);
  await seed(config.databaseUrl, schema);
  const pool = createPool({ ...config, databaseQueryTimeoutMs: benchQueryTimeoutMs }, 10);
  const redis = createRedis(config, { purpose: 'bench' });
  const keys = createKeys(config.redisKeyPrefix);
  const meter = createMeter(redis, keys, meterLimits(config));
  const redisPid = Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1]);
  const token = await mintToken({ secret, sub: benchStudentId, role: 'student', ttlSeconds: 6 * 3600 });
  const results: Record<string, unknown> = {};
  /** Steps that threw: the run goes on and the results file says which failed and why, instead of being lost. */
  const failures: { step: string; error: string }[] = [];
  const failedAsRow = async <T>(step: string, measure: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await measure();
    } catch (err) {
      log(`${step} FAILED: ${(err as Error).stack ?? String(err)}`);
      failures.push({ step, error: (err as Error).message ?? String(err) });
      return undefined;
    }
  };
  try {
    if (only !== 'ladder') log('limit: the heartbeat Lua script alone');
    if (only !== 'ladder') results.luaLimit = await measureLuaLimit(redis, createKeys(`${config.redisKeyPrefix}lua:`), meterLimits(config), { sessions: 20_000, rounds: 5, inFlight: 1_000 });

    const maxViewers = only === 'ladder' ? Math.max(...ladder) : Math.max(...ladder, ...seedLadder, transportViewers, rateViewers);
    log(`fixture: ${maxViewers} live sessions`);
    const sessions = await createLiveSessions(pool, meter, maxViewers);
    if (only === 'ladder') {
      const ours = await climb('gateway', null, ladder, sessions);
      console.log(JSON.stringify(ours, null, 2));
      return;
    }

    log(`transport: ${transportViewers} sockets, one heartbeat each ${transportIntervalMs} ms, one process each`);
    const echo = await measureUwsEcho({ sockets: transportViewers, intervalMs: transportIntervalMs, durationMs: steadyMs, frame });
    const oursOne = await measureServer('gateway', 1, sessions.slice(0, transportViewers), transportIntervalMs);
    const wsOne = await measureServer('ws-variant', 1, sessions.slice(0, transportViewers), transportIntervalMs);
    results.transport = { viewers: transportViewers, intervalMs: transportIntervalMs, uwsEcho: echo, ours: oursOne, wsVariant: wsOne };

    log(`ladders at ${heartbeatMs} ms heartbeats (p99 < ${p99TargetMs} ms, zero errors)`);
    results.ladders = {
      ours: await climb('gateway', null, ladder, sessions),
      seedDesign: await climb('seed-design', 1, seedLadder, sessions),
    };
    // One process against one process: a process holds at most 20,000 sockets here, so viewers cannot tell two
    // servers apart past that; the rate can. Same viewers, a heartbeat ever more often, until p99 or errors fail.
    log(`one process each: ${rateViewers} viewers, rising heartbeat rate`);
    results.perProcess = {
      ours: await climbRate('gateway', sessions.slice(0, rateViewers)),
      wsVariant: await climbRate('ws-variant', sessions.slice(0, rateViewers)),
    };

    log('saturation: heartbeats/s as the rate rises (ours, as many gateways as npm start runs)');
    results.saturation = await saturate(sessions.slice(0, Math.min(10_000, sessions.length)));

    log(`settlement: a burst of ${burstSessions} sessions ending at once (${burstWorkers} worker processes from dist/), then ${burstWaitSessions} with every player waiting for ended`);
    results.settlement = {
      drain: await failedAsRow('settlement burst', () => runSettlementBurst({ sessions: burstSessions, wait: 'none', workers: burstWorkers, log })),
      waiting: await failedAsRow('settlement burst, waiting', () => runSettlementBurst({ sessions: burstWaitSessions, wait: 'signal', workers: burstWorkers, log })),
    };

    log(`checkpoint pass at ${Math.max(...ladder)} live sessions`);
    results.checkpoint = await failedAsRow('checkpoint pass', () => measureCheckpointPass(pool, redis, meter, Math.max(...ladder)));

    log(`create flood: victims' REST p99 alone and while one student floods creates from ${floodLoops} loops`);
    results.createFlood = await failedAsRow('create flood', () => measureCreateFlood(createFloodOptions(false)));

    log(`heartbeat path: one gateway, ${pathViewers} viewers every ${pathIntervalMs} ms, baseline ${baselineRev} vs this checkout`);
    results.heartbeatPath = await failedAsRow('heartbeat path', () => measureHeartbeatPath(heartbeatPathOptions()));

    log(`join cost: viewers joining at ${joinRate}/s, baseline ${joinBaselineRev} vs this checkout`);
    results.joinCost = await failedAsRow('join cost', () => measureJoinCost(joinCostOptions()));

    log(`join storm: ${stormWatchers} watching, then ${storms.map((x) => `${x.viewers} joining at ${x.rate}/s`).join(', then ')}; baseline ${stormBaselineRev} vs this checkout`);
    results.joinStorm = await failedAsRow('join storm', () => measureJoinStorm(joinStormOptions()));
    if (failures.length > 0) results.failures = failures;
  } finally {
    redis.disconnect();
    await pool.end();
    await dropEverything(config.databaseUrl, schema, config.redisKeyPrefix);
  }
  const machine = { cpuModel: os.cpus()[0]?.model ?? 'unknown', cpus: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, kernel: os.release() };
  const file = { when: new Date().toISOString(), commit, machine, params: { ladder, seedLadder, heartbeatMs, steadyMs, transportViewers, transportIntervalMs }, results };
  mkdirSync(`${root}bench`, { recursive: true });
  writeFileSync(`${root}bench/results.json`, `${JSON.stringify(file, null, 2)}\n`);
  writeFileSync(`${root}bench/results.md`, renderResults(file));
  log('wrote bench/results.json and bench/results.md');

  /** One server kind under one steady load; CPU µs per answered heartbeat for every process involved. */
  async function measureServer(kind: ServerKind, processes: number, ids: string[], intervalMs: number) {
    const srvEnv = { ...env, GATEWAY_PROCESSES: String(processes) };
    // Our gateways and worker run under window-probe.cjs: GC pauses and loop delay over the same window say which
    // process a stall came from (its 10 ms loop timer costs an idle process 0.4 % of a core).
    const probed = kind === 'gateway';
    const stepProbeDir = `${probeDir}/ladder-${kind}-${ids.length}-${intervalMs}ms-${Date.now()}`;
    if (probed) mkdirSync(stepProbeDir, { recursive: true });
    const nodeArgs = probed ? ['--require', probePath] : [];
    const probeEnv = probed ? { ...srvEnv, PROBE_DIR: stepProbeDir, PROBE_CPU_PROFILE: '0' } : srvEnv;
    const srv = await startServers(kind, processes, probeEnv, kind === 'gateway' ? `http://127.0.0.1:${port}/readyz` : null, nodeArgs);
    const worker = kind === 'gateway' ? await startServers('worker', 1, probeEnv, null, nodeArgs) : null;
    const probedPids = probed ? [...srv.pids, ...(worker?.pids ?? [])] : [];
    const signal = () => { for (const pid of probedPids) process.kill(pid, 'SIGUSR2'); };
    // The gateways' own stage histogram over the window: frame in to ack written is the server's part of an ack.
    const scrapeAll = () => Promise.all(srv.pids.map((_, i) => fetch(`http://127.0.0.1:${gatewayMetricsPort(config.gatewayMetricsPortBase, i)}/metrics`).then((r) => r.text()).catch(() => '')))
      .then((texts) => texts.join('\n'));
    const scrapes: Promise<string>[] = [];
    // The whole box over the window: what the measured processes did not use went to Postgres, the bench, the kernel.
    let busyAtOpen = 0;
    let busyInWindow = 0;
    let window: ReturnType<typeof cpuWindow> | undefined;
    let used: ReturnType<ReturnType<typeof cpuWindow>['read']> | undefined;
    try {
      const load = await runViewerLoad({
        mode: kind === 'seed-design' ? 'http' : 'ws', port, sessionIds: ids, token, intervalMs,
        path: (sid) => (kind === 'seed-design' ? `/api/sessions/${sid}/metrics` : `/ws/sessions/${sid}`),
        warmupMs: Math.max(2 * intervalMs, 3_000), durationMs: steadyMs,
        onSteady: (loadPids) => { signal(); if (probed) scrapes.push(scrapeAll()); busyAtOpen = machineBusyMicros(); window = cpuWindow({ servers: srv.pids, worker: worker?.pids ?? [], redis: [redisPid], load: loadPids }); },
        // Read while the load processes still run: a process that has exited has no /proc entry left to read.
        onWindowEnd: () => { used = window!.read(); busyInWindow = machineBusyMicros() - busyAtOpen; signal(); if (probed) scrapes.push(scrapeAll()); },
      });
      const { micros, seconds } = used ?? window!.read();
      const measured = Object.values(micros).reduce((a, b) => a + b, 0);
      const cores = { box: +(busyInWindow / 1e6 / seconds).toFixed(2), otherThanMeasured: +(Math.max(0, busyInWindow - measured) / 1e6 / seconds).toFixed(2) };
      const per = (m: number | undefined) => +((m ?? 0) / Math.max(1, load.answered)).toFixed(2);
      const cpuMicrosPerHeartbeat = { servers: per(micros.servers), redis: per(micros.redis), worker: per(micros.worker), load: per(micros.load) };
      const serversRssMb = Math.round(srv.pids.reduce((sum, pid) => sum + rssKb(pid), 0) / 1024);
      const probes = probed ? {
        gateways: await Promise.all(srv.pids.map((pid) => readProbe(stepProbeDir, pid))),
        worker: worker ? await readProbe(stepProbeDir, worker.pids[0]!) : null,
        stages: scrapes.length === 2 ? windowPercentiles(await scrapes[0]!, await scrapes[1]!, stageMetric, 'stage') : null,
      } : null;
      return { kind, ...load, processes, loadProcesses: load.processes, intervalMs, cpuMicrosPerHeartbeat, cores, serversRssMb, probes, passed: load.errorCount === 0 && load.p99Ms < p99TargetMs };
    } finally {
      await worker?.stop();
      await srv.stop();
    }
  }

  /** `processes` null: as many gateways as `npm start` runs, or more when the viewers need them (≤ 12,500 sockets per process). */
  async function climb(kind: ServerKind, fixedProcesses: number | null, steps: number[], all: string[]) {
    const tried: Awaited<ReturnType<typeof measureServer>>[] = [];
    for (const viewers of steps) {
      const processes = fixedProcesses ?? Math.max(npmStartGateways, Math.ceil(viewers / socketsPerGatewayMax));
      log(`  ${kind} ×${processes}: ${viewers} viewers`);
      const r = await measureServer(kind, processes, all.slice(0, viewers), heartbeatMs);
      log(`    p99 ${r.p99Ms} ms, errors ${r.errorCount}, ${r.answersPerSecond} answers/s, ${JSON.stringify(r.cpuMicrosPerHeartbeat)} µs/hb`);
      tried.push(r);
      if (!r.passed) break;
    }
    const passing = tried.filter((r) => r.passed);
    return { largestPassingViewers: passing.length ? passing[passing.length - 1]!.viewers : 0, steps: tried };
  }

  async function climbRate(kind: ServerKind, ids: string[]) {
    const steps: Awaited<ReturnType<typeof measureServer>>[] = [];
    let best = 0;
    for (const intervalMs of rateIntervalsMs) {
      log(`  ${kind} ×1: ${ids.length} viewers, one heartbeat each ${intervalMs} ms`);
      const r = await measureServer(kind, 1, ids, intervalMs);
      log(`    p99 ${r.p99Ms} ms, errors ${r.errorCount}, ${r.answersPerSecond} answers/s, ${JSON.stringify(r.cpuMicrosPerHeartbeat)} µs/hb`);
      steps.push(r);
      if (!r.passed) break;
      best = r.answersPerSecond;
    }
    return { largestPassingHeartbeatsPerSecond: best, steps };
  }

  async function saturate(ids: string[]) {
    const steps: ViewerLoadResult[] = [];
    let best = 0;
    for (const intervalMs of [2_000, 1_000, 500, 250]) {
      log(`  ${ids.length} viewers, one heartbeat each ${intervalMs} ms`);
      const r = await measureServer('gateway', npmStartGateways, ids, intervalMs);
      steps.push(r);
      if (r.errorCount > 0) break;
      best = Math.max(best, r.answersPerSecond);
    }
    return { heartbeatsPerSecondZeroErrors: best, steps };
  }
}

async function dropEverything(databaseUrl: string, schema: string, prefix: string): Promise<void> {
  const redis = createRedis(loadConfig({ REDIS_KEY_PREFIX: prefix }, { requireAuth: false }), { purpose: 'bench-cleanup' });
  const stream = (redis as import('ioredis').Redis).scanStream({ match: `${prefix}*`, count: 1_000 });
  for await (const batch of stream as AsyncIterable<string[]>) if (batch.length > 0) await redis.del(...batch);
  redis.disconnect();
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.end();
}

main().catch((err: unknown) => { console.error(`bench: ${(err as Error).stack ?? String(err)}`); process.exit(1); });
