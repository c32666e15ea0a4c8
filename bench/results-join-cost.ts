// The join-cost rows of bench/results.md (bench/join-cost.ts): CPU per join by component for the baseline
// and current builds, run for run, and the Postgres statements of a join in each. Pure: the run's numbers, formatted.
/* eslint-disable @typescript-eslint/no-explicit-any */
import type { JoinCostResult, JoinCostRun } from './join-cost.js';

const components = ['gateways', 'postgres', 'redis', 'worker', 'driver', 'other'] as const;
/** Targets per join, ms of CPU (README "Scaling one machine"). */
const targetMs: Partial<Record<(typeof components)[number], number>> = { gateways: 0.5, postgres: 0.7, driver: 0.5 };

const mean = (xs: number[]) => (xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length);
const fmt = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '–');
const runsOf = (r: JoinCostResult, build: JoinCostRun['build']) => r.runs.filter((x) => x.build === build);

/** A join's own CPU: the window's, less the heartbeats of viewers who joined earlier (Postgres serves none of them). */
const ownMs = (x: JoinCostRun, c: (typeof components)[number]): number =>
  (c === 'postgres' || c === 'other' ? x.cpuMsPerJoin[c] : x.cpuMsPerJoinLessHeartbeats[c]);

export function joinCostHeadlineRows(r: JoinCostResult | undefined): string[] {
  if (!r) return ['| CPU per join (create + start + upgrade + first ack) | not measured in this run | |'];
  const cur = runsOf(r, 'current');
  const own = (c: (typeof components)[number]) => mean(cur.map((x) => ownMs(x, c)));
  const whole = (c: (typeof components)[number]) => fmt(mean(cur.map((x) => x.cpuMsPerJoin[c])));
  const per = (c: (typeof components)[number]) => `${fmt(own(c))} ${own(c) <= targetMs[c]! ? '✓' : '✗'}`;
  return [
    `| CPU ms per join at ${r.rate} joins/s asked (${r.gateways} gateways), gateways / Postgres / driver, mean of ${cur.length} run(s), earlier joiners' heartbeats taken out (with them) | ${per('gateways')} / ${per('postgres')} / ${per('driver')} (${whole('gateways')} / ${whole('postgres')} / ${whole('driver')}) | ≤ 0.5 / ≤ 0.7 / ≤ 0.5 |`,
    `| Postgres statements per join, calls / ms (pg_stat_statements, execution + planning) | ${cur.map((x) => `${x.statementsPerJoin.calls} / ${x.statementsPerJoin.ms}`).join('; ')} | – |`,
  ];
}

export function joinCostSection(r: JoinCostResult | undefined): string[] {
  if (!r) return [];
  const cols = r.runs.map((x) => `${x.build} #${x.round}`);
  const base = runsOf(r, 'baseline');
  const cur = runsOf(r, 'current');
  const ratio = (f: (x: JoinCostRun) => number) => (base.length > 0 && cur.length > 0 ? `×${(mean(cur.map(f)) / mean(base.map(f))).toFixed(2)}` : '–');
  const row = (label: string, f: (x: JoinCostRun) => number, target = '') => `| ${label} | ${r.runs.map((x) => fmt(f(x))).join(' | ')} | ${ratio(f)} | ${target} |`;
  const builds = r.builds.baseline ? `Baseline \`${r.builds.baseline.rev.slice(0, 12)}\`, current` : 'Current';
  const lines = [
    '## What a join costs',
    '',
    `Viewers join at ${r.rate}/s for ${r.rampS} s through the load driver (create → start → WebSocket → first ack, then a heartbeat every 5 s) against ${r.gateways} gateways and one worker on a Postgres the bench starts with pg_stat_statements loaded; the window is the ramp after its first 5 s. ${builds} \`${r.builds.current.rev.slice(0, 12)}\`${r.builds.current.uncommitted ? ' (with uncommitted changes)' : ''}; builds take turns, baseline first in odd rounds. CPU ms per join started in the window, from /proc. The heartbeats of viewers who joined earlier run in that window too; after the ramp, a 5 s window of heartbeats alone gives each component's CPU per heartbeat, and "less heartbeats" is the window's CPU less its heartbeats at that price (the price of a heartbeat at the full count, where batching is best: the join's own cost may be a little over-, never under-stated). Statements: what the gateways and the worker sent in the window, as pg_stat_statements counts them (top-level statements: a function's inner statements are its call's time).`,
    '',
    `| | ${cols.join(' | ')} | current / baseline | target |`,
    `| --- | ${cols.map(() => '---').join(' | ')} | --- | --- |`,
    row('joins per second achieved', (x) => x.joinsPerSecond),
    ...components.map((c) => row(`${c} CPU ms per join`, (x) => x.cpuMsPerJoin[c], c === 'postgres' ? `≤ ${targetMs[c]}` : '')),
    row('heartbeats acked in the window per join', (x) => x.heartbeatsPerJoin),
    ...(['gateways', 'redis', 'worker', 'driver'] as const).map((c) => row(`${c} CPU µs per heartbeat (heartbeats alone)`, (x) => x.cpuUsPerHeartbeat[c])),
    ...(['gateways', 'redis', 'worker', 'driver'] as const).map((c) => row(`${c} CPU ms per join, less heartbeats`, (x) => x.cpuMsPerJoinLessHeartbeats[c], targetMs[c] === undefined ? '' : `≤ ${targetMs[c]}`)),
    row('Postgres statements per join', (x) => x.statementsPerJoin.calls),
    row('Postgres statement ms per join', (x) => x.statementsPerJoin.ms),
    `| create p50 / p99 (ms, whole run) | ${r.runs.map((x) => (x.createMs ? `${fmt(x.createMs.p50)} / ${fmt(x.createMs.p99)}` : '–')).join(' | ')} | | ≤ 250 p99 |`,
    `| start p50 / p99 (ms, whole run) | ${r.runs.map((x) => (x.startMs ? `${fmt(x.startMs.p50)} / ${fmt(x.startMs.p99)}` : '–')).join(' | ')} | | ≤ 250 p99 |`,
    `| ack p50 / p99 (ms, whole run) | ${r.runs.map((x) => (x.ackMs ? `${fmt(x.ackMs.p50)} / ${fmt(x.ackMs.p99)}` : '–')).join(' | ')} | | |`,
    `| driver errors | ${r.runs.map((x) => x.errors).join(' | ')} | | 0 |`,
    '',
  ];
  for (const build of ['baseline', 'current'] as const) {
    const first = runsOf(r, build)[0];
    if (!first) continue;
    lines.push(`### Postgres statements of a join, ${build} #${first.round}`, '', '| statement | calls per join | ms per call | ms per join |', '| --- | --- | --- | --- |',
      ...first.statements.slice(0, 12).map((s) => `| \`${s.query.replace(/\|/g, '\\|')}\` | ${s.callsPerJoin} | ${s.meanMs} | ${s.msPerJoin} |`), '');
  }
  return lines;
}
