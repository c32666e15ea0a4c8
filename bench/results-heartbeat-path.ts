// The "Where the time goes" section of bench/results.md and its headline rows, from heartbeat-path.ts's result: one
// column per run (baseline runs, then current runs), current / baseline as the ratio of the runs' means, and the
// floors measured at the same load. Pure: display only.
import type { HeartbeatPathResult, PathRun, ProbeReport } from './heartbeat-path.js';
import { stageMetric, stages } from './heartbeat-path.js';
import type { BoundMs } from './metrics-histogram.js';

/** Targets of one gateway at 5,000 heartbeats/s (README "Scaling one machine"): ack latency in ms, CPU µs per heartbeat. */
export const pathTargets = { p99Ms: 20, p999Ms: 50, maxMs: 100, gatewayMicros: 35, redisMicros: 10, workerMicros: 3 } as const;

const num = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2));
const msText = (x: number | undefined | null) => (x === undefined || x === null ? '–' : `${num(x)} ms`);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const ratioText = (a: number, b: number) => (b > 0 ? `×${(a / b).toFixed(2)}` : '–');
const perSecond = (hp: HeartbeatPathResult) => Math.round((hp.viewers * 1000) / hp.intervalMs).toLocaleString('en-US');

function boundText(b: BoundMs | undefined, lastBoundMs: number): string {
  if (b === undefined || b === null) return '–';
  return b === '+Inf' ? `> ${lastBoundMs} ms` : `≤ ${b} ms`;
}

function gcOf(p: ProbeReport | null, kinds: string[]) {
  const k = kinds.map((name) => p?.gc[name]).filter((x) => x !== undefined);
  return { count: k.reduce((a, x) => a + x.count, 0), totalMs: k.reduce((a, x) => a + x.totalMs, 0), maxMs: Math.max(0, ...k.map((x) => x.maxMs)) };
}
const gcText = (p: ProbeReport | null, kinds: string[]) => {
  if (!p) return '–';
  const g = gcOf(p, kinds);
  return `${g.count} / ${num(g.totalMs)} ms / ${num(g.maxMs)} ms`;
};
const over10 = (p: ProbeReport | null) => (p ? String(Object.values(p.gc).reduce((a, x) => a + x.over10Ms, 0)) : '–');

/** Whether a run's window was CPU-profiled (results written before runs said so were profiled all alike). */
const wasProfiled = (hp: HeartbeatPathResult, r: PathRun) => r.profiled ?? hp.profiled;

/**
 * The runs as columns (baseline, then current), and the runs whose figures are checked against the targets and make
 * the ratio: those without the profiler when the result has any (its sampling weighs on latency and CPU), else all.
 */
function columns(hp: HeartbeatPathResult) {
  const baseline = hp.runs.filter((r) => r.build === 'baseline');
  const current = hp.runs.filter((r) => r.build === 'current');
  const unprofiled = (runs: PathRun[]) => {
    const plain = runs.filter((r) => !wasProfiled(hp, r));
    return plain.length > 0 ? plain : runs;
  };
  return { baseline, current, all: [...baseline, ...current], measuredBaseline: unprofiled(baseline), measuredCurrent: unprofiled(current) };
}

/** "2 run(s)", or "2 run(s) without the profiler" when the others ran under it. */
function runsText(hp: HeartbeatPathResult, runs: PathRun[]): string {
  const someProfiled = hp.runs.some((r) => wasProfiled(hp, r));
  return `${runs.length} run(s)${someProfiled && runs.every((r) => !wasProfiled(hp, r)) ? ' without the profiler' : ''}`;
}

/** The current build's figures against the targets: worst latency over its rounds, mean CPU. */
export function heartbeatPathHeadlineRows(hp: HeartbeatPathResult | undefined): string[] {
  const t = pathTargets;
  if (!hp) {
    return [
      `| one gateway at 5,000 heartbeats/s: ack p99 / p99.9 / max | not measured in this run | ≤ ${t.p99Ms} / ≤ ${t.p999Ms} / ≤ ${t.maxMs} ms |`,
      `| one gateway at 5,000 heartbeats/s: CPU µs per heartbeat, gateway / Redis / worker | not measured in this run | ≤ ${t.gatewayMicros} / ≤ ${t.redisMicros} / ≤ ${t.workerMicros} |`,
    ];
  }
  const { measuredCurrent: current } = columns(hp);
  const worst = (f: (r: PathRun) => number) => Math.max(...current.map(f));
  const avg = (f: (r: PathRun) => number) => mean(current.map(f));
  const mark = (x: number, limit: number) => `${num(x)}${x <= limit ? ' ✓' : ' ✗'}`;
  const errors = current.reduce((a, r) => a + r.load.errorCount, 0);
  return [
    `| one gateway at ${perSecond(hp)} heartbeats/s (${hp.viewers} viewers), ack p99 / p99.9 / max, worst of ${runsText(hp, current)} | ${mark(worst((r) => r.load.p99Ms), t.p99Ms)} / ${mark(worst((r) => r.load.p999Ms), t.p999Ms)} / ${mark(worst((r) => r.load.maxMs), t.maxMs)} ms, ${errors} errors | ≤ ${t.p99Ms} / ≤ ${t.p999Ms} / ≤ ${t.maxMs} ms |`,
    `| one gateway at ${perSecond(hp)} heartbeats/s, CPU µs per heartbeat gateway / Redis / worker, mean of ${runsText(hp, current)} | ${mark(avg((r) => r.cpuMicrosPerHeartbeat.gateway), t.gatewayMicros)} / ${mark(avg((r) => r.cpuMicrosPerHeartbeat.redis), t.redisMicros)} / ${mark(avg((r) => r.cpuMicrosPerHeartbeat.worker), t.workerMicros)} | ≤ ${t.gatewayMicros} / ≤ ${t.redisMicros} / ≤ ${t.workerMicros} |`,
  ];
}

export function heartbeatPathSection(hp: HeartbeatPathResult | undefined): string[] {
  if (!hp) return ['## Where the time goes (one gateway, 5,000 heartbeats/s)', '', 'Not measured in this run.', ''];
  const { all, measuredBaseline, measuredCurrent } = columns(hp);
  const echo = hp.floors.uwsEcho.serverCpuMicrosPerFrame;
  const lua = hp.floors.luaLimit.redisCpuMicrosPerCall;
  const head = all.map((r) => `${r.build} #${r.round}${wasProfiled(hp, r) ? ' (profiled)' : ''}`);
  /** A row of one number per run, with current / baseline of the means (of the runs without the profiler, if any). */
  const numeric = (name: string, f: (r: PathRun) => number, show: (x: number) => string = num, target = '') =>
    `| ${name} | ${all.map((r) => show(f(r))).join(' | ')} | ${ratioText(mean(measuredCurrent.map(f)), mean(measuredBaseline.map(f)))} | ${target} |`;
  const profiledRuns = all.filter((r) => wasProfiled(hp, r));
  const profilerNote = profiledRuns.length === 0 ? ''
    : profiledRuns.length === all.length ? '; every window ran under the sampling CPU profiler (1 ms), both builds alike'
      : '; the "(profiled)" windows ran under the sampling CPU profiler (1 ms), both builds alike, for the profile tables below: its sampling weighs on latency and CPU, so the ratio column and the headline rows come from the other windows';
  const text = (name: string, f: (r: PathRun) => string, target = '') => `| ${name} | ${all.map(f).join(' | ')} | | ${target} |`;
  const stageRow = (stage: string) => text(`frame in → \`${stage}\`: p50 / p99 (sampled heartbeats)`, (r) => {
    const s = r.stages?.[stage];
    if (!s) return r.metricsScraped === false ? 'no /metrics' : '–';
    return `${boundText(s.p50Ms, s.lastBoundMs)} / ${boundText(s.p99Ms, s.lastBoundMs)} (${s.count})`;
  });
  const t = pathTargets;
  const lines = [
    `## Where the time goes (one gateway, ${perSecond(hp)} heartbeats/s)`,
    '',
    `${hp.viewers} viewers, one heartbeat each ${hp.intervalMs} ms, against one gateway and one settlement worker per build, ${hp.steadyMs / 1000} s steady window per run. Baseline \`${hp.builds.baseline.rev.slice(0, 12)}\`, current \`${hp.builds.current.rev.slice(0, 12)}\`${hp.builds.current.uncommitted ? ' (with uncommitted changes)' : ''}. The builds take turns, baseline first in odd rounds and current first in even ones. GC and loop delay come from window-probe.cjs in each process${profilerNote}. Stages: time from frame in to each stage, for the gateway\'s sample of heartbeats (\`${stageMetric}\`), as bucket bounds; "–": the build has no such metric; "no /metrics": the gateway's /metrics did not answer.`,
    '',
    `| | ${head.join(' | ')} | current / baseline | target or floor |`,
    `| --- | ${all.map(() => '---').join(' | ')} | --- | --- |`,
    numeric('ack p50', (r) => r.load.p50Ms, msText),
    numeric('ack p99', (r) => r.load.p99Ms, msText, `≤ ${t.p99Ms} ms`),
    numeric('ack p99.9', (r) => r.load.p999Ms, msText, `≤ ${t.p999Ms} ms`),
    numeric('ack max', (r) => r.load.maxMs, msText, `≤ ${t.maxMs} ms`),
    numeric('answers/s', (r) => r.load.answersPerSecond, (x) => x.toFixed(0)),
    numeric('errors', (r) => r.load.errorCount, (x) => x.toFixed(0), '0'),
    numeric('gateway CPU µs / heartbeat', (r) => r.cpuMicrosPerHeartbeat.gateway, num, `≤ ${t.gatewayMicros}; bare uWS echo ${echo} µs`),
    numeric('gateway / bare uWS echo', (r) => (echo > 0 ? r.cpuMicrosPerHeartbeat.gateway / echo : 0), (x) => `×${x.toFixed(2)}`),
    numeric('Redis CPU µs / heartbeat', (r) => r.cpuMicrosPerHeartbeat.redis, num, `≤ ${t.redisMicros}; Lua alone ${lua} µs`),
    numeric('Redis / Lua alone', (r) => (lua > 0 ? r.cpuMicrosPerHeartbeat.redis / lua : 0), (x) => `×${x.toFixed(2)}`),
    numeric('worker CPU µs / heartbeat', (r) => r.cpuMicrosPerHeartbeat.worker, num, `≤ ${t.workerMicros}`),
    numeric('load CPU µs / heartbeat', (r) => r.cpuMicrosPerHeartbeat.load),
    numeric('cores used by other processes (noise)', (r) => r.otherCores ?? 0, (x) => x.toFixed(2), '0 on a quiet machine'),
    text('gateway GC minor: count / total / max', (r) => gcText(r.gateway, ['minor'])),
    text('gateway GC major + incremental: count / total / max', (r) => gcText(r.gateway, ['major', 'incremental'])),
    text('gateway GC pauses > 10 ms', (r) => over10(r.gateway)),
    text('gateway event-loop delay p99 / max', (r) => (r.gateway ? `${msText(r.gateway.loopDelay.p99Ms)} / ${msText(r.gateway.loopDelay.maxMs)}` : '–')),
    // The instrument's own stalls are inside the ack latency above: shown so a slow row can be told from a slow driver.
    text('load processes\' steady event-loop delay p99 / max (worst process)', (r) => (r.load.loadUsage?.length
      ? `${msText(Math.max(...r.load.loadUsage.map((u) => u.steadyLoopP99Ms)))} / ${msText(Math.max(...r.load.loadUsage.map((u) => u.steadyLoopMaxMs)))}` : '–')),
    text('worker GC all kinds: count / total / max', (r) => gcText(r.worker, Object.keys(r.worker?.gc ?? {}))),
    text('worker event-loop delay p99 / max', (r) => (r.worker ? `${msText(r.worker.loopDelay.p99Ms)} / ${msText(r.worker.loopDelay.maxMs)}` : '–')),
    ...stages.map(stageRow),
    '',
    `Floors at the same load: bare uWS echo ${echo} µs CPU per frame (p99 ${msText(hp.floors.uwsEcho.p99Ms)}, ${hp.floors.uwsEcho.framesPerSecond} frames/s); the heartbeat Lua script alone, pipelined, ${lua} µs Redis CPU per call (${hp.floors.luaLimit.callsPerSecond} calls/s).`,
    '',
  ];
  const profiled = all.filter((r) => r.gateway?.profile);
  if (profiled.length > 0) {
    const cats = profiled[0]!.gateway!.profile!.categories.map((c) => c.category)
      .filter((c) => profiled.some((r) => (r.gateway!.profile!.categories.find((x) => x.category === c)?.ms ?? 0) > 0));
    lines.push(
      '### Gateway CPU profile: self time by category (ms, share of the window)',
      '',
      `| category | ${profiled.map((r) => `${r.build} #${r.round}`).join(' | ')} |`,
      `| --- | ${profiled.map(() => '---').join(' | ')} |`,
      ...cats.map((c) => `| ${c} | ${profiled.map((r) => { const x = r.gateway!.profile!.categories.find((y) => y.category === c); return x ? `${x.ms} (${x.pct} %)` : '–'; }).join(' | ')} |`),
      '',
    );
    for (const build of ['baseline', 'current'] as const) {
      const last = [...profiled].reverse().find((r) => r.build === build);
      if (!last) continue;
      lines.push(
        `### Gateway's top functions by self time, ${build} #${last.round}`,
        '',
        '| function | where | category | self ms | share |',
        '| --- | --- | --- | --- | --- |',
        ...last.gateway!.profile!.topFunctions.map((f) => `| \`${f.name}\` | ${f.where} | ${f.category} | ${f.ms} | ${f.pct} % |`),
        '',
      );
    }
    lines.push(`Raw profiles (.cpuprofile, one per process and run) are in ${[...new Set(all.map((r) => r.probeDir.replace(/\/[^/]+$/, '')))].join(', ')}.`, '');
  }
  return lines;
}
