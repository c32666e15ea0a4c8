// The run's results: a plain-text table for the terminal and a JSON document for the results folder.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Options } from './options.js';
import type { PlayerRecord } from './player.js';
import type { LatencySummary, Stats } from './stats.js';

export interface RunResult {
  name: string;
  started_at: string;
  finished_at: string;
  gateway_url: string;
  socket_impl: string;
  node: string;
  options: Options;
  players: { requested: number; completed: number; failed: number; skipped: number; reconnects: number };
  acks: number;
  warnings: number;
  latency: { ack: LatencySummary; rest: Record<string, LatencySummary> };
  operations: number;
  errors: Record<string, number>;
  error_rate: number;
  /** Closes the players came back from, by close code. */
  socket_closes: Record<string, number>;
  check_failures: Record<string, number>;
  examples: Stats['examples'];
  billing: { billed_over_wall_mean: number | null; billed_over_wall_min: number | null };
  event_loop_delay_ms: { p50: number; p99: number; max: number };
  stopped_by: string | null;
  verdict: string;
  exit_code: number;
  sessions: PlayerRecord[];
}

export function buildResult(input: {
  opts: Options; socketImpl: string; startedAt: Date; stats: Stats; records: PlayerRecord[];
  loopDelay: { p50: number; p99: number; max: number }; stoppedBy: string | null;
}): RunResult {
  const { stats, records, opts } = input;
  const ratios = records
    .filter((r) => r.outcome === 'completed' && r.billed_ms !== null && r.wall_ms !== null && r.wall_ms > 0)
    .map((r) => r.billed_ms! / r.wall_ms!);
  const errorRate = stats.operations === 0 ? 0 : stats.errorCount() / stats.operations;
  const result: RunResult = {
    name: opts.name,
    started_at: input.startedAt.toISOString(),
    finished_at: new Date().toISOString(),
    gateway_url: opts.gatewayUrl,
    socket_impl: input.socketImpl,
    node: process.version,
    options: opts,
    players: {
      requested: opts.players,
      completed: records.filter((r) => r.outcome === 'completed').length,
      failed: records.filter((r) => r.outcome === 'failed').length,
      skipped: opts.players - records.filter((r) => r.outcome !== 'skipped').length, // includes players cut off by a hard stop
      reconnects: stats.reconnects,
    },
    acks: stats.acks,
    warnings: stats.warnings,
    latency: { ack: stats.ack.summary(), rest: Object.fromEntries([...stats.rest].map(([k, v]) => [k, v.summary()])) },
    operations: stats.operations,
    errors: Object.fromEntries(stats.errors),
    error_rate: errorRate,
    socket_closes: Object.fromEntries(stats.closes),
    check_failures: Object.fromEntries(stats.checkFailures),
    examples: stats.examples,
    billing: {
      billed_over_wall_mean: ratios.length === 0 ? null : ratios.reduce((a, b) => a + b, 0) / ratios.length,
      billed_over_wall_min: ratios.length === 0 ? null : Math.min(...ratios),
    },
    event_loop_delay_ms: input.loopDelay,
    stopped_by: input.stoppedBy,
    verdict: '',
    exit_code: 0,
    sessions: records,
  };
  [result.exit_code, result.verdict] = verdictOf(result, stats, opts);
  return result;
}

function verdictOf(r: RunResult, stats: Stats, opts: Options): [number, string] {
  if (stats.failureCount() > 0) return [1, `FAIL: ${stats.failureCount()} failed checks`];
  if (r.error_rate > opts.maxErrorRate) return [2, `FAIL: error rate ${pct(r.error_rate)} > ${pct(opts.maxErrorRate)}`];
  if (r.stopped_by === 'interrupted') return [130, 'INTERRUPTED'];
  if (r.stopped_by !== null) return [3, `FAIL: stopped by ${r.stopped_by}`];
  if (r.players.completed < r.players.requested) return [2, `FAIL: ${r.players.requested - r.players.completed} players did not complete`];
  return [0, 'PASS'];
}

const pct = (x: number) => `${(x * 100).toFixed(3)} %`;
const num = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(2));
const pad = (s: string | number, n: number) => String(s).padStart(n);

export function renderTable(r: RunResult, file: string): string {
  const lines: string[] = [];
  const o = r.options;
  lines.push(`${r.name}: ${r.started_at} → ${r.finished_at}`);
  lines.push(`gateway ${r.gateway_url} · ${r.socket_impl} · ${o.players} players (ramp ${o.rampS} s) · ${o.durationS} s each · heartbeat ${o.heartbeatMs} ms`);
  lines.push('');
  const p = r.players;
  lines.push(`players   completed ${p.completed}   failed ${p.failed}   skipped ${p.skipped}   reconnects ${p.reconnects}`);
  lines.push(`acks      ${r.acks}   low-funds warnings ${r.warnings}`);
  const closes = Object.entries(r.socket_closes);
  if (closes.length > 0) lines.push(`closes    reconnected after: ${closes.map(([code, n]) => `${code} ×${n}`).join(', ')}`);
  lines.push('');
  lines.push(`latency (ms)     ${['count', 'p50', 'p90', 'p95', 'p99', 'p99.9', 'max', 'mean'].map((h) => pad(h, 8)).join('')}`);
  const row = (label: string, s: LatencySummary) => `  ${label.padEnd(15)}${pad(s.count, 8)}${[s.p50_ms, s.p90_ms, s.p95_ms, s.p99_ms, s.p999_ms, s.max_ms, s.mean_ms].map((v) => pad(num(v), 8)).join('')}`;
  lines.push(row('ack (ws)', r.latency.ack));
  for (const [op, s] of Object.entries(r.latency.rest)) lines.push(row(`${op} (rest)`, s));
  lines.push('');
  const errorTotal = Object.values(r.errors).reduce((a, b) => a + b, 0);
  lines.push(`errors    ${errorTotal} in ${r.operations} operations (rate ${pct(r.error_rate)})`);
  for (const [code, n] of Object.entries(r.errors).sort((a, b) => b[1] - a[1])) lines.push(`  ${code.padEnd(44)}${pad(n, 8)}`);
  const failTotal = Object.values(r.check_failures).reduce((a, b) => a + b, 0);
  lines.push(`checks    ${failTotal} failed`);
  for (const [check, n] of Object.entries(r.check_failures).sort((a, b) => b[1] - a[1])) lines.push(`  ${check.padEnd(44)}${pad(n, 8)}`);
  for (const e of r.examples.filter((x) => x.kind === 'check').slice(0, 5)) lines.push(`    e.g. player ${e.player} ${e.session ?? ''}: ${e.detail}`);
  lines.push('');
  if (r.billing.billed_over_wall_mean !== null) {
    lines.push(`billing   billed / wall clock (start → settled): mean ${pct(r.billing.billed_over_wall_mean)}, min ${pct(r.billing.billed_over_wall_min ?? 0)}`);
  }
  const d = r.event_loop_delay_ms;
  lines.push(`driver    event-loop delay p50 ${num(d.p50)} ms, p99 ${num(d.p99)} ms, max ${num(d.max)} ms (high values inflate the latencies above)`);
  lines.push(`results   ${file}`);
  lines.push(`verdict   ${r.verdict} (exit ${r.exit_code})`);
  return lines.join('\n');
}

export async function writeResult(dir: string, r: RunResult): Promise<string> {
  await mkdir(dir, { recursive: true });
  const stamp = r.started_at.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const file = join(dir, `${r.name}-${stamp}.json`);
  await writeFile(file, `${JSON.stringify(r, null, 2)}\n`);
  return file;
}
