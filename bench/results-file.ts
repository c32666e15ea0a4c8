// bench/results.md from the results object: the headline ratios first (each against its target), then
// every row with the figures it came from. Pure: the numbers are the run's, nothing is rounded away but display.
/* eslint-disable @typescript-eslint/no-explicit-any */
import { heartbeatPathHeadlineRows, heartbeatPathSection } from './results-heartbeat-path.js';
import { joinCostHeadlineRows, joinCostSection } from './results-join-cost.js';
import { joinStormHeadlineRows, joinStormSection } from './results-join-storm.js';

const ratio = (a: number, b: number) => (b > 0 ? `×${(a / b).toFixed(2)}` : 'n/a (the other side passed no step)');
const ms = (x: number | undefined) => (x === undefined ? '–' : `${x.toFixed(x < 10 ? 2 : 1)} ms`);

function ladderRows(name: string, l: any): string[] {
  return (l?.steps ?? []).map((s: any) => `| ${name} | ${s.processes} | ${s.viewers} | ${s.answersPerSecond} | ${ms(s.p50Ms)} | ${ms(s.p99Ms)} | ${ms(s.p999Ms)} / ${ms(s.maxMs)} | ${s.errorCount} | ${s.passed ? 'yes' : 'no'} | ${s.cpuMicrosPerHeartbeat.servers} / ${s.cpuMicrosPerHeartbeat.redis} / ${s.cpuMicrosPerHeartbeat.worker} / ${s.cpuMicrosPerHeartbeat.load} | ${s.serversRssMb} | ${stallSources(s)} |`);
}

const bound = (x: any) => (x === null || x === undefined ? '–' : x === '+Inf' ? '> 2.5 s' : `≤ ${x} ms`);

/**
 * Where a ladder step's tail came from: the gateways' own sample (frame in → Redis write → ack written, p99 as a
 * bucket bound), the worst gateway's event-loop delay and GC pause, and the worst load process's steady loop delay.
 */
function stallSources(s: any): string {
  const p = s.probes;
  if (!p) return '–';
  const worst = (xs: any[], f: (x: any) => number) => Math.max(0, ...xs.filter(Boolean).map(f));
  const gcMax = (x: any) => Math.max(0, ...Object.values(x.gc ?? {}).map((k: any) => k.maxMs));
  const stage = (k: string) => bound(p.stages?.[k]?.p99Ms);
  const load = worst(s.loadUsage ?? [], (u) => u.steadyLoopMaxMs);
  const box = s.cores ? `; box ${s.cores.box} cores busy (${s.cores.otherThanMeasured} outside the measured processes)` : '';
  return `${stage('redis_write')} / ${stage('ack_written')}${box}; loop max ${ms(worst(p.gateways, (g) => g.loopDelay.maxMs))}, GC max ${ms(worst(p.gateways, gcMax))}; load loop max ${ms(load)}`;
}

/** The two rows of create-flood.ts: the victims' p99 without and with one student flooding creates. */
function createFloodRows(f: any): string[] {
  if (!f) return ['| victim p99 under a one-student flood | not measured in this run | < 100 ms |'];
  const refused = (v: any) => Object.values(v.refused ?? {}).reduce((a: number, b: any) => a + b, 0);
  return [
    `| victim p99 without a flood (${f.victims} students: wallet, create, start, one round a second each) | ${ms(f.alone.p99Ms)} (p50 ${ms(f.alone.p50Ms)}, ${refused(f.alone)} refused of ${f.alone.requests}) | – |`,
    `| victim p99 under a one-student flood (${f.loops} concurrent create loops) | ${ms(f.flooded.p99Ms)} (p50 ${ms(f.flooded.p50Ms)}, ${refused(f.flooded)} refused of ${f.flooded.requests}; flooder answered ${Object.entries(f.flood.answers).map(([k, n]) => `${n} × ${k}`).join(', ')}; ${f.flood.openHolds} open holds left) | < 100 ms |`,
  ];
}

export function renderResults(file: any): string {
  const r = file.results;
  const L = r.ladders ?? {};
  const P = r.perProcess ?? {};
  const t = r.transport ?? {};
  const best = (l: any) => l?.largestPassingViewers ?? 0;
  const lastPassing = (l: any) => [...(l?.steps ?? [])].reverse().find((s: any) => s.passed);
  const oursBest = lastPassing(L.ours);
  const lines: (string | null)[] = [
    '# Benchmark results',
    '',
    `${file.when} · commit \`${file.commit.slice(0, 12)}\` · ${file.machine.cpuModel}, ${file.machine.cpus} CPUs, ${file.machine.memoryGiB} GiB · Node ${file.machine.node}`,
    '',
    ...(r.failures ?? []).map((f: any) => `**Step failed in this run: ${f.step}** — ${f.error}\n`),
    'Written by `npm run bench` (bench/run-bench.ts). Every figure comes from this one run on this machine, side by',
    'side; the machine is shared and noisy, so the ratios are the headline, not the absolute numbers.',
    '',
    '## Headline',
    '',
    '| comparison | measured | target |',
    '| --- | --- | --- |',
    `| largest viewer count at ${file.params.heartbeatMs / 1000} s heartbeats with p99 ack < 50 ms and zero errors, ours (${oursBest?.processes ?? '?'} gateways) | ${best(L.ours)} | 100,000 |`,
    `| ours vs the seed's design (REST + one Postgres write per heartbeat), largest passing viewers | ${ratio(best(L.ours), best(L.seedDesign))} (${best(L.ours)} vs ${best(L.seedDesign)}) | ≥ ×5 |`,
    `| ours vs the \`ws\`-library variant, one process each, heartbeats/s with p99 < 50 ms and zero errors | ${ratio(P.ours?.largestPassingHeartbeatsPerSecond ?? 0, P.wsVariant?.largestPassingHeartbeatsPerSecond ?? 0)} (${P.ours?.largestPassingHeartbeatsPerSecond} vs ${P.wsVariant?.largestPassingHeartbeatsPerSecond}) | ≥ ×2 |`,
    `| server CPU per heartbeat, \`ws\` variant / ours, same load (${t.viewers} viewers, every ${t.intervalMs} ms) | ${ratio(t.wsVariant?.cpuMicrosPerHeartbeat?.servers ?? 0, t.ours?.cpuMicrosPerHeartbeat?.servers ?? 0)} | – |`,
    `| gateway CPU per heartbeat, ours / bare uWS echo, same load | ${ratio(t.ours?.cpuMicrosPerHeartbeat?.servers ?? 0, t.uwsEcho?.serverCpuMicrosPerFrame ?? 0)} (${t.ours?.cpuMicrosPerHeartbeat?.servers} vs ${t.uwsEcho?.serverCpuMicrosPerFrame} µs) | – |`,
    `| Redis CPU per heartbeat, ours / the Lua script alone pipelined | ${ratio(t.ours?.cpuMicrosPerHeartbeat?.redis ?? 0, r.luaLimit?.redisCpuMicrosPerCall ?? 0)} (${t.ours?.cpuMicrosPerHeartbeat?.redis} vs ${r.luaLimit?.redisCpuMicrosPerCall} µs) | – |`,
    oursBest ? `| CPU µs per heartbeat at ${oursBest.viewers} viewers: gateways / Redis / worker / load | ${oursBest.cpuMicrosPerHeartbeat.servers} / ${oursBest.cpuMicrosPerHeartbeat.redis} / ${oursBest.cpuMicrosPerHeartbeat.worker} / ${oursBest.cpuMicrosPerHeartbeat.load} | ≤ 30 / ≤ 20 / – / – |` : '| CPU per heartbeat at the largest passing step | no step passed | |',
    oursBest ? `| all gateways' RSS at ${oursBest.viewers} viewers | ${oursBest.serversRssMb} MB | < 1,500 MB at 100,000 |` : null,
    r.settlement?.drain ? `| burst of ${r.settlement.drain.sessions} sessions ending at once, all committed (${r.settlement.drain.workers} worker processes, WORKER_PROCESSES) | ${r.settlement.drain.drainSeconds.toFixed(1)} s (${r.settlement.drain.settledPerSecond}/s) | < 30 s |` : '| settlement burst | not measured in this run | < 30 s |',
    r.settlement?.waiting ? `| burst of ${r.settlement.waiting.sessions} with every player waiting for \`ended\`: settlement_pending / wait p99 | ${r.settlement.waiting.settlementPending} / ${r.settlement.waiting.waitP99Ms} ms | 0 |` : null,
    r.checkpoint ? `| checkpoint pass at ${r.checkpoint.liveSessions} live sessions, all moved / none moved | ${r.checkpoint.allMoved.seconds} s (${r.checkpoint.allMoved.rowsPerSecond} rows/s, worker CPU ${Math.round(r.checkpoint.allMoved.cpuMicros / 1000)} ms) / ${r.checkpoint.noneMoved.seconds} s | in proportion to change |` : null,
    `| heartbeats/s answered with zero errors at saturation (ours) | ${r.saturation?.heartbeatsPerSecondZeroErrors ?? '–'} | – |`,
    ...createFloodRows(r.createFlood),
    ...heartbeatPathHeadlineRows(r.heartbeatPath),
    ...joinCostHeadlineRows(r.joinCost),
    ...joinStormHeadlineRows(r.joinStorm),
    '',
    ...heartbeatPathSection(r.heartbeatPath),
    ...joinCostSection(r.joinCost),
    ...joinStormSection(r.joinStorm),
    '## Limits',
    '',
    `- Heartbeat Lua script alone, ${r.luaLimit?.sessions} sessions, auto-pipelined: ${r.luaLimit?.callsPerSecond} calls/s, Redis CPU ${r.luaLimit?.redisCpuMicrosPerCall} µs per call.`,
    `- Bare uWS echo, ${t.uwsEcho?.replies} frames in the window: CPU ${t.uwsEcho?.serverCpuMicrosPerFrame} µs per frame, p99 ${ms(t.uwsEcho?.p99Ms)}.`,
    t.uwsEcho?.loadUsage ? `  The load process sending them: event-loop delay p99 ${ms(t.uwsEcho.loadUsage.steadyLoopP99Ms)}, max ${ms(t.uwsEcho.loadUsage.steadyLoopMaxMs)} in the window, longest GC pause ${ms(t.uwsEcho.loadUsage.gcMaxMs)}, ${t.uwsEcho.loadUsage.cpuMicrosPerHeartbeat} µs CPU per frame (the floor under every p99 here).` : null,
    '',
    '## Transport, one process each, same load',
    '',
    '| server | answers/s | p50 | p99 | errors | CPU µs/heartbeat: server / Redis / worker / load |',
    '| --- | --- | --- | --- | --- | --- |',
    `| bare uWS echo | ${t.uwsEcho?.framesPerSecond} | ${ms(t.uwsEcho?.p50Ms)} | ${ms(t.uwsEcho?.p99Ms)} | ${t.uwsEcho?.errors} | ${t.uwsEcho?.serverCpuMicrosPerFrame} / – / – / – |`,
    ...[['ours (uWS gateway)', t.ours], ['`ws` variant', t.wsVariant]].map(([n, x]: any) => `| ${n} | ${x?.answersPerSecond} | ${ms(x?.p50Ms)} | ${ms(x?.p99Ms)} | ${x?.errorCount} | ${x?.cpuMicrosPerHeartbeat?.servers} / ${x?.cpuMicrosPerHeartbeat?.redis} / ${x?.cpuMicrosPerHeartbeat?.worker} / ${x?.cpuMicrosPerHeartbeat?.load} |`),
    '',
    `## Ladders at ${file.params.heartbeatMs / 1000} s heartbeats`,
    '',
    'Last column, where a tail came from: the gateways\' sampled heartbeats, frame in → Redis write / → ack written (p99, bucket bound), the worst gateway\'s event-loop delay and GC pause over the window (window-probe.cjs), and the worst load process\'s loop delay.',
    '',
    '| server | processes | viewers | answers/s | p50 | p99 | p99.9 / max | errors | passed | CPU µs/heartbeat: servers / Redis / worker / load | servers RSS MB | server stages p99; gateways; load |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...ladderRows('ours', L.ours), ...ladderRows("seed's design", L.seedDesign),
    '',
    '## One process each, rising heartbeat rate',
    '',
    '| server | viewers | interval | answers/s | p50 | p99 | errors | passed | CPU µs/heartbeat: server / Redis / worker / load |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...[['ours', P.ours], ['`ws` variant', P.wsVariant]].flatMap(([n, x]: any) => (x?.steps ?? []).map((st: any) => `| ${n} | ${st.viewers} | ${st.intervalMs} ms | ${st.answersPerSecond} | ${ms(st.p50Ms)} | ${ms(st.p99Ms)} | ${st.errorCount} | ${st.passed ? 'yes' : 'no'} | ${st.cpuMicrosPerHeartbeat.servers} / ${st.cpuMicrosPerHeartbeat.redis} / ${st.cpuMicrosPerHeartbeat.worker} / ${st.cpuMicrosPerHeartbeat.load} |`)),
    '',
    '## Saturation (ours)',
    '',
    '| viewers | interval | answers/s | p99 | errors |',
    '| --- | --- | --- | --- | --- |',
    ...(r.saturation?.steps ?? []).map((s: any) => `| ${s.viewers} | ${s.intervalMs} ms | ${s.answersPerSecond} | ${ms(s.p99Ms)} | ${s.errorCount} |`),
    '',
  ];
  return `${lines.filter((l) => l !== null).join('\n')}\n`;
}
