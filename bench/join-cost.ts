// What one join costs, and who pays: viewers join at a fixed rate (the load driver, as `npm run loadtest` runs it:
// create → start → WebSocket → first ack, then a heartbeat every 5 s) against `npm start`'s gateways and a worker, on
// a Postgres of the bench's own with pg_stat_statements loaded. Over a window inside the ramp it reports CPU ms per
// join of each component (gateways, Postgres, Redis, worker, driver, everything else), and the Postgres statements
// run in that window with their calls and time per join. The heartbeats of viewers who joined earlier run in that
// window too (about three per join at 200 joins/s): after the ramp, a window of heartbeats alone gives each
// component's CPU per heartbeat, and the join's own cost is the ramp's less its heartbeats at that price.
//
//   npx tsx bench/join-cost.ts [--rate 200] [--ramp-s 25] [--gateways 4] [--rounds 1] [--baseline REV] [--profile DIR]
//   npm run bench -- --only join-cost   (the same, inside the bench's run: prints, writes no results file)
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { postgresInstance, type PostgresInstance } from '../test/helpers/service-instances.js';
import { withBuilds, type Build, type BuildRevs } from './baseline-worktree.js';
import { startBenchProduct } from './bench-product.js';
import { probePath } from './heartbeat-path.js';
import { spawnDriver } from './driver-run.js';
import { snapshot, treeOf, usedBetween, type Groups } from '../loadtest/common/proc-cpu.js';



export interface JoinCostOptions {
  /** Joins asked for per second (the driver's ramp: viewers = rate × rampS). */
  rate: number;
  rampS: number;
  gateways: number;
  port: number;
  /** Runs of each build, taking turns (baseline first in odd rounds). */
  rounds: number;
  /** The commit to compare with (`git rev-parse` syntax); null: this checkout alone, built here. */
  baselineRev: string | null;
  /** Profile the gateways and the worker over the window (window-probe.cjs), writing `<pid>.cpuprofile` here. */
  profileDir?: string;
  log?: (line: string) => void;
}

export interface StatementCost {
  /** The statement as pg_stat_statements normalised it, whitespace folded, cut at 160 characters. */
  query: string;
  callsPerJoin: number;
  /** Execution + planning time per call, ms. */
  meanMs: number;
  /** Execution + planning time per join, ms. */
  msPerJoin: number;
}

export interface JoinCostRun {
  build: 'baseline' | 'current';
  round: number;
  rateAsked: number;
  rampS: number;
  gateways: number;
  /** The measured window: from 5 s into the ramp to its end. */
  windowS: number;
  creates: number;
  /** Sessions started in the window: the joins the figures are divided by. */
  joins: number;
  joinsPerSecond: number;
  /** CPU ms per join by component over the window. */
  cpuMsPerJoin: { gateways: number; postgres: number; redis: number; worker: number; driver: number; other: number };
  /** Heartbeats acked in the window per join started in it (the gateways' gateway_heartbeats_total). */
  heartbeatsPerJoin: number;
  /** CPU µs per heartbeat by component in a window of heartbeats alone, after the ramp. */
  cpuUsPerHeartbeat: HeartbeatOnlyCost;
  /** cpuMsPerJoin less the window's heartbeats at cpuUsPerHeartbeat: what the join itself cost. */
  cpuMsPerJoinLessHeartbeats: HeartbeatOnlyCost;
  /** Postgres statements of the window, most time per join first. */
  statements: StatementCost[];
  /** Every statement of the window, per join: calls and time. */
  statementsPerJoin: { calls: number; ms: number };
  /** The driver's whole-run figures. */
  createMs: { p50: number; p99: number } | null;
  startMs: { p50: number; p99: number } | null;
  ackMs: { p50: number; p99: number } | null;
  errors: number;
}

/** The components heartbeats cost (Postgres sees none of them: the worker's checkpoints are counted in the worker). */
export interface HeartbeatOnlyCost { gateways: number; redis: number; worker: number; driver: number }

export interface JoinCostResult {
  rate: number;
  rampS: number;
  gateways: number;
  builds: { baseline: { rev: string } | null; current: { rev: string; uncommitted: boolean } };
  runs: JoinCostRun[];
}

/** Joins asked for per second by default: what this machine took before joins were made cheaper, with room to spare. */
export const joinRateDefault = 200;
/** The commit before creates became one call (lock_funds) and starts one statement fewer. */
export const joinBaselineRevDefault = 'cfbc958';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const fold = (q: string) => q.replace(/\s+/g, ' ').trim().slice(0, 160);

export async function measureJoinCost(o: JoinCostOptions): Promise<JoinCostResult> {
  const say = o.log ?? (() => undefined);
  const pgi = await postgresInstance(undefined, ['shared_preload_libraries=pg_stat_statements', 'pg_stat_statements.track_planning=on',
    'max_connections=200']);
  try {
    const runAll = async (builds: Build[], revs: BuildRevs): Promise<JoinCostResult> => {
      const runs: JoinCostRun[] = [];
      for (let round = 1; round <= o.rounds; round++) {
        for (const b of round % 2 === 1 ? builds : [...builds].reverse()) {
          say(`join cost: round ${round}, ${b.name} (${b.rev.slice(0, 12)})`);
          runs.push(await measureOneBuild(o, pgi, b, round));
        }
      }
      return { rate: o.rate, rampS: o.rampS, gateways: o.gateways, builds: revs, runs };
    };
    return await withBuilds(o.baselineRev, (l) => say(`join cost: ${l}`), runAll);
  } finally {
    pgi.stop();
  }
}

/** After the ramp: a pause for the last joins to settle in, then a window of heartbeats alone, inside the driver's hold. */
const heartbeatWindowDelayS = 1;
const heartbeatWindowS = 5;
const holdS = heartbeatWindowDelayS + heartbeatWindowS + 2;

/** Heartbeats the gateways have acked since they started, from each one's own metrics port. */
async function heartbeatsAcked(metricsPorts: number[]): Promise<number> {
  const texts = await Promise.all(metricsPorts.map((port) => fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text())));
  let acked = 0;
  for (const text of texts) acked += Number(/^gateway_heartbeats_total\{outcome="acked"\} (\d+)/m.exec(text)?.[1] ?? 0);
  return acked;
}

/** One run of one build: its gateways and worker on a fresh schema of the bench's Postgres, the driver from here. */
async function measureOneBuild(o: JoinCostOptions, pgi: PostgresInstance, b: Build, round: number): Promise<JoinCostRun> {
  const say = o.log ?? (() => undefined);
  const probe = o.profileDir ? ['--require', probePath] : [];
  const probeEnv = o.profileDir ? { PROBE_DIR: o.profileDir, PROBE_CPU_PROFILE: '1' } : {};
  const product = await startBenchProduct(pgi, b, { name: `join_${b.name}_${round}`, port: o.port, gateways: o.gateways, nodeArgs: probe, extraEnv: probeEnv });
  const { admin, env, schema } = product;
  const cleanups: (() => void)[] = [];
  try {
    await admin.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements SCHEMA public');
    const probed = [...product.gateways.pids, ...product.worker.pids];
    const toggleProbes = () => {
      if (!o.profileDir) return;
      for (const pid of [...probed, ...(driver.pid ? treeOf(driver.pid) : [])]) process.kill(pid, 'SIGUSR2');
    };

    const viewers = o.rate * o.rampS;
    say(`  ${viewers} viewers joining at ${o.rate}/s over ${o.rampS} s, ${o.gateways} gateways, Postgres with pg_stat_statements on ${pgi.port}`);
    // With a profile, the driver's processes are probed too (NODE_OPTIONS reaches its viewer processes).
    const driverEnv = o.profileDir ? { ...env, NODE_OPTIONS: `--require ${probePath}`, PROBE_DIR: o.profileDir, PROBE_CPU_PROFILE: '1' } : env;
    const driver = spawnDriver(['--viewers', String(viewers), '--ramp-s', String(o.rampS), '--hold-s', String(holdS), '--gateway-url', product.baseUrl,
      '--max-error-rate', '1'], driverEnv, 'join-cost');
    cleanups.push(() => driver.cleanup());
    await driver.rampStarted;
    const groups: Groups = { ...product.groups, driver: () => (driver.pid ? treeOf(driver.pid) : []) };
    const counts = async () => (await admin.query<{ created: number; started: number }>(
      `SELECT count(*)::int AS created, count(start_time)::int AS started FROM ${schema}.sessions`)).rows[0]!;
    // The window opens once every viewer process is up and joining, and closes with the ramp.
    await sleep(5_000);
    await admin.query('SELECT pg_stat_statements_reset()');
    const c0 = await counts();
    toggleProbes();
    const h0 = await heartbeatsAcked(product.gatewayMetricsPorts);
    const s0 = snapshot(groups);
    const t0 = performance.now();
    await sleep((o.rampS - 5) * 1000);
    const s1 = snapshot(groups);
    const h1 = await heartbeatsAcked(product.gatewayMetricsPorts);
    toggleProbes();
    const windowS = (performance.now() - t0) / 1000;
    const c1 = await counts();
    // Heartbeats alone: every viewer has joined, none is leaving yet (the driver holds holdS seconds).
    await sleep(heartbeatWindowDelayS * 1000);
    const sh0 = snapshot(groups);
    const hh0 = await heartbeatsAcked(product.gatewayMetricsPorts);
    await sleep(heartbeatWindowS * 1000);
    const sh1 = snapshot(groups);
    const hh1 = await heartbeatsAcked(product.gatewayMetricsPorts);
    const { rows } = await admin.query<{ query: string; calls: string; ms: number }>(
      `SELECT query, calls, total_exec_time + total_plan_time AS ms FROM pg_stat_statements
        WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) ORDER BY ms DESC`);
    const code = await driver.exited;
    const joins = c1.started - c0.started;
    const used = usedBetween(s0, s1);
    const perJoin = (us: number) => (joins > 0 ? +(us / 1000 / joins).toFixed(3) : 0);
    // Statements of the measuring itself (this client's counts) are left out.
    const ours = rows.filter((r) => !/pg_stat_statements|count\(start_time\)/.test(r.query));
    const statements = ours.slice(0, 15).map((r) => ({
      query: fold(r.query), callsPerJoin: +(Number(r.calls) / Math.max(1, joins)).toFixed(2),
      meanMs: +(r.ms / Number(r.calls)).toFixed(3), msPerJoin: +(r.ms / Math.max(1, joins)).toFixed(3),
    }));
    const hbUsed = usedBetween(sh0, sh1);
    const hbCount = Math.max(1, hh1 - hh0);
    const perHeartbeat = (us: number) => +(us / hbCount).toFixed(1);
    const cpuUsPerHeartbeat: HeartbeatOnlyCost = {
      gateways: perHeartbeat(hbUsed.gateways!), redis: perHeartbeat(hbUsed.redis!), worker: perHeartbeat(hbUsed.worker!), driver: perHeartbeat(hbUsed.driver!),
    };
    const heartbeatsInWindow = h1 - h0;
    const lessHeartbeats = (name: keyof HeartbeatOnlyCost) => perJoin(Math.max(0, used[name]! - heartbeatsInWindow * cpuUsPerHeartbeat[name]));
    const report = driver.report();
    const lat = (s: { p50_ms: number; p99_ms: number } | undefined) => (s ? { p50: s.p50_ms, p99: s.p99_ms } : null);
    const result: JoinCostRun = {
      build: b.name, round, rateAsked: o.rate, rampS: o.rampS, gateways: o.gateways, windowS: +windowS.toFixed(2), creates: c1.created - c0.created,
      joins, joinsPerSecond: +(joins / windowS).toFixed(1),
      cpuMsPerJoin: {
        gateways: perJoin(used.gateways!), postgres: perJoin(used.postgres!), redis: perJoin(used.redis!),
        worker: perJoin(used.worker!), driver: perJoin(used.driver!), other: perJoin(used.other),
      },
      heartbeatsPerJoin: +(heartbeatsInWindow / Math.max(1, joins)).toFixed(2),
      cpuUsPerHeartbeat,
      cpuMsPerJoinLessHeartbeats: { gateways: lessHeartbeats('gateways'), redis: lessHeartbeats('redis'), worker: lessHeartbeats('worker'), driver: lessHeartbeats('driver') },
      statements,
      statementsPerJoin: {
        calls: +(ours.reduce((n, r) => n + Number(r.calls), 0) / Math.max(1, joins)).toFixed(2),
        ms: +(ours.reduce((n, r) => n + r.ms, 0) / Math.max(1, joins)).toFixed(3),
      },
      createMs: lat(report?.latency?.rest?.create), startMs: lat(report?.latency?.rest?.start), ackMs: lat(report?.latency?.ack),
      errors: Number(report?.errors ? Object.values(report.errors as Record<string, number>).reduce((a, b) => a + b, 0) : -1),
    };
    say(`  ${joins} joins in ${result.windowS} s (${result.joinsPerSecond}/s; driver exit ${code}); CPU ms per join: ${JSON.stringify(result.cpuMsPerJoin)}`);
    say(`  Postgres: ${result.statementsPerJoin.calls} statements, ${result.statementsPerJoin.ms} ms per join`);
    say(`  ${result.heartbeatsPerJoin} heartbeats per join in the window at CPU µs ${JSON.stringify(cpuUsPerHeartbeat)} each; less them, CPU ms per join: ${JSON.stringify(result.cpuMsPerJoinLessHeartbeats)}`);
    return result;
  } finally {
    await product.stop();
    for (const cleanup of cleanups) cleanup();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { rate: { type: 'string', default: '200' }, 'ramp-s': { type: 'string', default: '25' },
    gateways: { type: 'string', default: '4' }, port: { type: 'string', default: '18400' }, profile: { type: 'string' },
    rounds: { type: 'string', default: '1' }, baseline: { type: 'string' } } });
  const r = await measureJoinCost({ rate: Number(values.rate), rampS: Number(values['ramp-s']), gateways: Number(values.gateways),
    port: Number(values.port), rounds: Number(values.rounds), baselineRev: values.baseline ?? null, profileDir: values.profile,
    log: (l) => console.log(l) });
  console.log(JSON.stringify(r, null, 2));
}
