// The join-storm rows of bench/results.md (bench/join-storm.ts): per storm and build, whether everyone got
// in and how fast, what the joiners and the watchers waited, what was refused, and the cores each component used.
// Pure: the run's numbers, formatted.
import type { JoinStormResult, JoinStormRun, StormFigures } from './join-storm.js';

const fmt = (x: number | null | undefined, digits = 1) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits));
const lat = (l: StormFigures['createMs']) => (l ? `${fmt(l.p50)} / ${fmt(l.p99)}` : '–');
const refusalsOf = (s: StormFigures) => Object.values(s.refusals).reduce((a, b) => a + b, 0);
const tick = (ok: boolean) => (ok ? '✓' : '✗');

/** Targets of the storm at 500 joins/s (README "Joins under overload"). */
const allInS = 25;
const joinP99Ms = 250;
const watcherP99Ms = 50;

function current(r: JoinStormResult): JoinStormRun | undefined {
  return r.runs.find((x) => x.build === 'current');
}

export function joinStormHeadlineRows(r: JoinStormResult | undefined): string[] {
  const cur = r && current(r);
  if (!r || !cur || cur.storms.length === 0) return ['| join storm (10,000 joining at 500/s while 10,000 watch) | not measured in this run | |'];
  const s = cur.storms[0]!;
  const allIn = s.allStartedS !== null && s.allStartedS <= allInS;
  const p99 = Math.max(s.createMs?.p99 ?? Infinity, s.startMs?.p99 ?? Infinity);
  const watch = s.watcherAckP99Ms?.max ?? Infinity;
  const rows = [
    `| join storm: ${s.viewers.toLocaleString('en')} asked at ${s.rate}/s while ${r.watchers.toLocaleString('en')} watch: all started within / create p99 / start p99 / watchers' ack p99 (worst 5 s window) | ${fmt(s.allStartedS)} s ${tick(allIn)} (${s.startedWithin25s.toLocaleString('en')} by 25 s) / ${fmt(s.createMs?.p99)} / ${fmt(s.startMs?.p99)} ms ${tick(p99 <= joinP99Ms)} / ${fmt(s.watcherAckP99Ms?.max)} ms ${tick(watch <= watcherP99Ms)} | ≤ ${allInS} s / ≤ ${joinP99Ms} / ≤ ${joinP99Ms} / ≤ ${watcherP99Ms} ms |`,
  ];
  for (const more of cur.storms.slice(1)) {
    rows.push(`| join storm at ${more.rate}/s asked: achieved / refusals repeated / errors | ${fmt(more.joinsPerSecond)}/s / ${refusalsOf(more)} / ${more.errors} | report |`);
  }
  return rows;
}

export function joinStormSection(r: JoinStormResult | undefined): string[] {
  if (!r || r.runs.length === 0) return [];
  const cols: { run: JoinStormRun; storm: StormFigures }[] = r.runs.flatMap((run) => run.storms.map((storm) => ({ run, storm })));
  const head = cols.map(({ run, storm }) => `${run.build}, ${storm.rate}/s`);
  const row = (label: string, f: (s: StormFigures) => string, target = '') => `| ${label} | ${cols.map(({ storm }) => f(storm)).join(' | ')} | ${target} |`;
  const builds = r.builds.baseline ? `baseline \`${r.builds.baseline.rev.slice(0, 12)}\` then current` : 'current';
  const components = [...new Set(cols.flatMap(({ storm }) => Object.keys(storm.cores)))];
  return [
    '## A lecture starts: the join storm',
    '',
    `${r.watchers.toLocaleString('en')} watchers join first and heartbeat every 5 s throughout; then, one after the other, each storm's viewers are asked to join at its rate (the load driver: create → start → WebSocket → first ack, a refused join repeated after Retry-After plus jitter), against ${r.gateways} gateways and one worker on a Postgres the bench starts. Builds: ${builds} \`${r.builds.current.rev.slice(0, 12)}\`${r.builds.current.uncommitted ? ' (with uncommitted changes)' : ''}, one after the other on the same Postgres. "All started": seconds from the storm's first join until every storm viewer's session had started in Postgres (polled every 250 ms; – when some had not after 60 s). The watchers' ack p99 is per 5 s window of the watchers' driver, over the windows the storm overlaps. Cores: CPU over the storm, from /proc (the driver is both drivers).`,
    '',
    `| | ${head.join(' | ')} | target at 500/s |`,
    `| --- | ${head.map(() => '---').join(' | ')} | --- |`,
    row('viewers asked', (s) => s.viewers.toLocaleString('en')),
    row('all started within (s)', (s) => fmt(s.allStartedS), `≤ ${allInS}`),
    row('started by 25 s / in all', (s) => `${s.startedWithin25s.toLocaleString('en')} / ${s.started.toLocaleString('en')}`),
    row('joins per second achieved', (s) => fmt(s.joinsPerSecond)),
    row('create p50 / p99 (ms, answered calls)', (s) => lat(s.createMs), `p99 ≤ ${joinP99Ms}`),
    row('start p50 / p99 (ms, answered calls)', (s) => lat(s.startMs), `p99 ≤ ${joinP99Ms}`),
    row('whole join p50 / p99 (ms, refusals and waits included)', (s) => lat(s.joinMs)),
    row('refusals repeated (503 overloaded, 429)', (s) => String(refusalsOf(s))),
    row('driver errors', (s) => String(s.errors), '0'),
    row('watchers\' ack p99, worst / middle 5 s window (ms)', (s) => (s.watcherAckP99Ms ? `${fmt(s.watcherAckP99Ms.max)} / ${fmt(s.watcherAckP99Ms.median)}` : '–'), `≤ ${watcherP99Ms}`),
    ...components.map((c) => row(`${c} cores`, (s) => fmt(s.cores[c], 2))),
    '',
    ...r.runs.map((run) => `Watchers (${run.build}): ${run.watchers.joined.toLocaleString('en')} joined, ${run.watchers.errors} errors, ack p50 / p99 over their whole run ${lat(run.watchers.ackMs)} ms.`),
    '',
  ];
}
