// A lecture starts: thousands of viewers join within seconds while thousands of others already watch. Against
// `npm start`'s gateways and a worker, on a Postgres of the bench's own:
//   1. watchers join slowly (one driver run) and keep heartbeating every 5 s through everything below;
//   2. for each storm in turn, another driver run asks `viewers` to join at `rate` a second, then holds 5 s;
//   3. per storm: how long until every storm viewer's session had started (polled in Postgres every 250 ms), the
//      joins a second achieved, the create / start / whole-join latencies and the refusals (503 overloaded repeated
//      after Retry-After) from the storm driver, the watchers' ack p99 in the 5 s windows of the storm, and the cores
//      each component used meanwhile (what limits it).
//
//   npx tsx bench/join-storm.ts [--watchers 10000] [--storms 500x10000,1000x10000] [--baseline REV] [--probe DIR]
//   npm run bench -- --only join-storm   (the same, inside the bench's run: prints, writes no results file)
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { postgresInstance, type PostgresInstance } from '../test/helpers/service-instances.js';
import { withBuilds, type Build, type BuildRevs } from './baseline-worktree.js';
import { startBenchProduct } from './bench-product.js';
import { probePath, readProbe } from './heartbeat-path.js';
import { spawnDriver, type DriverRun } from './driver-run.js';
import { snapshot, treeOf, usedBetween, type Groups } from '../loadtest/common/proc-cpu.js';


export interface StormPlan {
  /** Joins asked for per second. */
  rate: number;
  viewers: number;
}

export interface JoinStormOptions {
  watchers: number;
  /** Seconds over which the watchers join, before any storm. */
  watchersRampS: number;
  storms: StormPlan[];
  gateways: number;
  port: number;
  /** The commit to compare with; null: this checkout alone. */
  baselineRev: string | null;
  /** Run the gateways and the worker under window-probe.cjs over each storm, writing `<pid>.json` here. */
  probeDir?: string;
  log?: (line: string) => void;
}

type Lat = { p50: number; p99: number } | null;

export interface StormFigures {
  rate: number;
  viewers: number;
  /** Seconds from the storm's first join until every storm viewer's session had started; null if some never did. */
  allStartedS: number | null;
  /** Storm sessions started within 25 s of its first join. */
  startedWithin25s: number;
  /** Storm sessions started in all. */
  started: number;
  /** Sessions started a second over the time it took them (or over the whole wait if not all did). */
  joinsPerSecond: number;
  createMs: Lat;
  startMs: Lat;
  /** A viewer's whole join, create asked to start answered, refusals and waits included. */
  joinMs: Lat;
  refusals: Record<string, number>;
  errors: number;
  /** The watchers' ack p99 in each 5 s progress window overlapping the storm: the worst and the middle one. */
  watcherAckP99Ms: { max: number; median: number } | null;
  /** Those windows, each by when it ended (s from the storm's first join), to tell which moment of a storm was slow. */
  watcherWindows: { endS: number; ackP99Ms: number }[];
  /** Cores used by each component over the storm (its first join to the last start). */
  cores: Record<string, number>;
}

export interface JoinStormRun {
  build: 'baseline' | 'current';
  watchers: { joined: number; errors: number; ackMs: Lat };
  storms: StormFigures[];
}

export interface JoinStormResult {
  watchers: number;
  gateways: number;
  builds: { baseline: { rev: string } | null; current: { rev: string; uncommitted: boolean } };
  runs: JoinStormRun[];
}

/** The issue's storm: 10,000 join at 500 a second while 10,000 watch; then the same at 1,000 a second. */
export const stormsDefault: StormPlan[] = [{ rate: 500, viewers: 10_000 }, { rate: 1_000, viewers: 10_000 }];
export const stormWatchersDefault = 10_000;
/** The commit before joins were made cheaper and admitted (the join-cost step's baseline). */
export const stormBaselineRevDefault = 'cfbc958';
/** A storm viewer whose session has not started this long after the storm's first join is counted as not joined. */
const stormWaitS = 60;
const pollMs = 250;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const latOf = (s: { p50_ms: number; p99_ms: number } | undefined): Lat => (s ? { p50: s.p50_ms, p99: s.p99_ms } : null);
const errorsOf = (report: { errors?: Record<string, number> } | null) =>
  report?.errors ? Object.values(report.errors).reduce((a, b) => a + b, 0) : -1;

export function parseStorms(text: string): StormPlan[] {
  return text.split(',').map((s) => {
    const m = /^(\d+)x(\d+)$/.exec(s.trim());
    if (!m) throw new Error(`a storm is RATExVIEWERS (500x10000), not ${s}`);
    return { rate: Number(m[1]), viewers: Number(m[2]) };
  });
}

export async function measureJoinStorm(o: JoinStormOptions): Promise<JoinStormResult> {
  const say = o.log ?? (() => undefined);
  const pgi = await postgresInstance(undefined, ['max_connections=300']);
  try {
    const runAll = async (builds: Build[], revs: BuildRevs): Promise<JoinStormResult> => {
      const runs: JoinStormRun[] = [];
      for (const b of builds) {
        say(`join storm: ${b.name} (${b.rev.slice(0, 12)})`);
        runs.push(await stormOneBuild(o, pgi, b));
      }
      return { watchers: o.watchers, gateways: o.gateways, builds: revs, runs };
    };
    return await withBuilds(o.baselineRev, (l) => say(`join storm: ${l}`), runAll);
  } finally {
    pgi.stop();
  }
}

/** Each probed process's loop delay p99/max and longest GC pause over the last window, from window-probe.cjs. */
async function probeSummary(dir: string, pids: number[]): Promise<string> {
  const reports = await Promise.all(pids.map((pid) => readProbe(dir, pid)));
  return reports.map((j, i) => {
    if (!j) return `${pids[i]}: –`;
    const gcMax = Math.max(0, ...Object.values(j.gc).map((g) => g.maxMs));
    return `${pids[i]}: loop ${j.loopDelay.p99Ms}/${j.loopDelay.maxMs} ms, gc max ${gcMax.toFixed(1)} ms`;
  }).join('; ');
}

async function stormOneBuild(o: JoinStormOptions, pgi: PostgresInstance, b: Build): Promise<JoinStormRun> {
  const say = o.log ?? (() => undefined);
  // With probeDir, the gateways and the worker run under window-probe.cjs over each storm: loop delay and GC pauses.
  // STORM_NODE_ARGS and STORM_GATEWAY_ENV (space-separated) try a node flag or a setting on the gateways, e.g.
  // STORM_GATEWAY_ENV=JOIN_SHED_LOOP_LAG_MS=8.
  const probe = [...(o.probeDir ? ['--require', probePath] : []),
    ...(process.env.STORM_NODE_ARGS ? process.env.STORM_NODE_ARGS.split(' ') : [])];
  const product = await startBenchProduct(pgi, b, { name: `storm_${b.name}`, port: o.port, gateways: o.gateways, nodeArgs: probe,
    extraEnv: { ...(o.probeDir ? { PROBE_DIR: o.probeDir, PROBE_CPU_PROFILE: '0' } : {}),
      ...Object.fromEntries((process.env.STORM_GATEWAY_ENV ?? '').split(' ').filter(Boolean).map((kv) => kv.split('=') as [string, string])) } });
  const probed = o.probeDir ? [...product.gateways.pids, ...product.worker.pids] : [];
  const toggleProbes = () => { for (const pid of probed) process.kill(pid, 'SIGUSR2'); };
  const { admin, env, schema } = product;
  const base = product.baseUrl;
  const cleanups: (() => void)[] = [];
  try {
    // The watchers stay through every storm: a hold longer than all of them, cut short with Ctrl-C after the last.
    const holdS = 30 + o.storms.reduce((s, st) => s + Math.ceil(st.viewers / st.rate) + stormWaitS + 30, 0);
    say(`  ${o.watchers} watchers joining over ${o.watchersRampS} s, then storms ${o.storms.map((s) => `${s.viewers} at ${s.rate}/s`).join(', ')}`);
    const watchers = spawnDriver(['--viewers', String(o.watchers), '--ramp-s', String(o.watchersRampS), '--hold-s', String(holdS),
      '--gateway-url', base, '--max-error-rate', '1', '--processes', String(Math.max(1, Math.ceil(o.watchers / 5_000)))], env, 'storm-watchers');
    cleanups.push(() => watchers.cleanup());
    await watchers.rampStarted;
    await sleep((o.watchersRampS + 5) * 1000);

    const storms: { plan: StormPlan; figures: Omit<StormFigures, 'watcherAckP99Ms' | 'watcherWindows'>; fromMs: number; toMs: number }[] = [];
    for (const plan of o.storms) {
      const rampS = Math.max(1, Math.round(plan.viewers / plan.rate));
      const driver: DriverRun = spawnDriver(['--viewers', String(plan.viewers), '--ramp-s', String(rampS), '--hold-s', '5',
        '--gateway-url', base, '--max-error-rate', '1', '--processes', String(Math.max(2, Math.ceil(plan.viewers / 2_500)))], env, 'storm');
      cleanups.push(() => driver.cleanup());
      const groups: Groups = { ...product.groups, driver: () => [...(driver.pid ? treeOf(driver.pid) : []), ...(watchers.pid ? treeOf(watchers.pid) : [])] };
      await driver.rampStarted;
      const fromMs = Date.now();
      const t0 = performance.now();
      const s0 = snapshot(groups);
      toggleProbes();
      const since = (await admin.query<{ t: Date }>('SELECT now() AS t')).rows[0]!.t;
      const startedSince = async () => (await admin.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${schema}.sessions WHERE start_time >= $1`, [since])).rows[0]!.n;
      let started = 0;
      let within25 = 0;
      let allStartedS: number | null = null;
      while (performance.now() - t0 < stormWaitS * 1000) {
        started = await startedSince();
        const elapsedS = (performance.now() - t0) / 1000;
        if (elapsedS <= 25) within25 = started;
        if (started >= plan.viewers) { allStartedS = elapsedS; break; }
        await sleep(pollMs);
      }
      const s1 = snapshot(groups);
      toggleProbes();
      const windowS = (performance.now() - t0) / 1000;
      const toMs = Date.now();
      if (o.probeDir) say(`  storm probes: ${await probeSummary(o.probeDir, probed)}`);
      const used = usedBetween(s0, s1);
      const code = await driver.exited;
      const report = driver.report();
      const figures = {
        rate: plan.rate, viewers: plan.viewers, allStartedS: allStartedS === null ? null : +allStartedS.toFixed(1),
        startedWithin25s: within25, started, joinsPerSecond: +(started / windowS).toFixed(1),
        createMs: latOf(report?.latency?.rest?.create), startMs: latOf(report?.latency?.rest?.start), joinMs: latOf(report?.latency?.rest?.join),
        refusals: (report?.join_refusals ?? {}) as Record<string, number>, errors: errorsOf(report),
        cores: Object.fromEntries(Object.entries(used).map(([k, us]) => [k, +(us / 1e6 / windowS).toFixed(2)])),
      };
      say(`  storm ${plan.viewers} at ${plan.rate}/s: all started ${figures.allStartedS ?? `no (${started})`} s, ${figures.joinsPerSecond}/s; create p99 ${figures.createMs?.p99} ms, start p99 ${figures.startMs?.p99} ms; refusals ${JSON.stringify(figures.refusals)}; errors ${figures.errors} ${JSON.stringify(report?.errors ?? {})} (driver exit ${code}); cores ${JSON.stringify(figures.cores)}`);
      storms.push({ plan, figures, fromMs, toMs });
    }
    watchers.interrupt();
    await watchers.exited;
    const w = watchers.report();
    const startedAt = w ? Date.parse(w.started_at) : 0;
    const points: { at_s: number; ack_p99_ms: number; acks_in_window: number }[] = w?.progress ?? [];
    const result: JoinStormRun = {
      build: b.name,
      watchers: { joined: o.watchers - (w?.viewers?.failed ?? 0) - (w?.viewers?.skipped ?? 0), errors: errorsOf(w), ackMs: latOf(w?.latency?.ack) },
      storms: storms.map(({ figures, fromMs, toMs }) => {
        // A progress point sums the 5 s before it: those ending after the storm's first join and starting before its end.
        const windows = points.filter((p) => startedAt + p.at_s * 1000 > fromMs && startedAt + (p.at_s - 5) * 1000 < toMs && p.acks_in_window > 0)
          .map((p) => ({ endS: +((startedAt + p.at_s * 1000 - fromMs) / 1000).toFixed(1), ackP99Ms: p.ack_p99_ms }));
        const p99s = windows.map((w) => w.ackP99Ms).sort((a, b) => a - b);
        return {
          ...figures, watcherWindows: windows,
          watcherAckP99Ms: p99s.length === 0 ? null : { max: p99s[p99s.length - 1]!, median: p99s[Math.floor(p99s.length / 2)]! },
        };
      }),
    };
    say(`  watchers: ${result.watchers.joined} joined, ${result.watchers.errors} errors ${JSON.stringify(w?.errors ?? {})}; during the storms ack p99 ${result.storms.map((s) => JSON.stringify(s.watcherAckP99Ms)).join(', ')}`);
    // The driver's own stalls are inside the latencies it reports: say how late its loops ran.
    const loops = (r: typeof w) => (r?.processes ?? []).map((p: { usage: { loop_p99_ms: number; loop_max_ms: number } | null }) => (p.usage ? `${p.usage.loop_p99_ms}/${p.usage.loop_max_ms}` : '–')).join(' ');
    say(`  watchers' driver loop delay p99/max ms per process: ${loops(w)}`);
    return result;
  } finally {
    await product.stop();
    for (const cleanup of cleanups) cleanup();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: {
    watchers: { type: 'string', default: String(stormWatchersDefault) }, 'watchers-ramp-s': { type: 'string', default: '50' },
    storms: { type: 'string', default: stormsDefault.map((s) => `${s.rate}x${s.viewers}`).join(',') },
    gateways: { type: 'string', default: '4' }, port: { type: 'string', default: '18500' }, baseline: { type: 'string' },
    probe: { type: 'string' },
  } });
  const r = await measureJoinStorm({ watchers: Number(values.watchers), watchersRampS: Number(values['watchers-ramp-s']),
    storms: parseStorms(values.storms), gateways: Number(values.gateways), port: Number(values.port), baselineRev: values.baseline ?? null,
    probeDir: values.probe, log: (l) => console.log(l) });
  console.log(JSON.stringify(r, null, 2));
}
