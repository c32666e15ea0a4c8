// The run's results: a plain-text table for the terminal and a JSON document for the results folder.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Options } from './options.js';
import type { DoneMessage } from './child-protocol.js';
import type { MoneyCheck } from './money-check.js';
import type { RunUsage } from '../common/process-usage.js';
import type { ProgressPoint } from './progress.js';
import type { LatencySummary, Stats } from './stats.js';

export interface ProcessResult {
  index: number;
  gateway_url: string;
  viewers: number;
  /** Whole-run usage; null when the process never reported its end. */
  usage: RunUsage | null;
  exit: string | null;
}

/** The driver's floor: the same heartbeat sending against the bare uWS echo server (--echo-floor, --echo-only). */
export interface EchoFloorResult {
  heartbeat_ms: number;
  viewers: { requested: number; completed: number };
  heartbeats: number;
  acks: number;
  /** Heartbeat → its echo: the driver's own cost plus the kernel's, nothing of the product. */
  latency: LatencySummary;
  errors: Record<string, number>;
  processes: ProcessResult[];
  echo_server_cpu_ms: number;
}

export interface RunResult {
  name: string;
  run_id: string;
  /** 'echo': an --echo-only run, whose ack latencies are the echo floor's. */
  target: 'gateway' | 'echo';
  started_at: string;
  finished_at: string;
  gateway_url: string;
  socket_impl: string;
  node: string;
  options: Options;
  students: number;
  processes: ProcessResult[];
  viewers: { requested: number; completed: number; failed: number; skipped: number; reconnects: number };
  heartbeats: number;
  acks: number;
  warnings: number;
  latency: { ack: LatencySummary; rest: Record<string, LatencySummary> };
  operations: number;
  errors: Record<string, number>;
  error_rate: number;
  /** Closes the viewers came back from, by close code. */
  socket_closes: Record<string, number>;
  /** Joins the gateway refused for now and the viewers repeated (`create overloaded` → count): shed load, not errors. */
  join_refusals: Record<string, number>;
  check_failures: Record<string, number>;
  examples: Stats['examples'];
  billing: { billed_over_wall_mean: number | null; billed_over_wall_min: number | null };
  money_check: MoneyCheck | null;
  money_check_error: string | null;
  echo_floor: EchoFloorResult | null;
  progress: ProgressPoint[];
  stopped_by: string | null;
  verdict: string;
  exit_code: number;
}

export interface ResultInput {
  opts: Options;
  runId: string;
  socketImpl: string;
  startedAt: Date;
  students: number;
  stats: Stats;
  processes: ProcessResult[];
  done: DoneMessage[];
  money: MoneyCheck | null;
  moneyError: string | null;
  progress: ProgressPoint[];
  stoppedBy: string | null;
  echoFloor: EchoFloorResult | null;
}

export function buildResult(input: ResultInput): RunResult {
  const { stats, opts, done } = input;
  const sum = (f: (d: DoneMessage) => number) => done.reduce((n, d) => n + f(d), 0);
  const ratioCount = sum((d) => d.billedOverWall.count);
  const mins = done.map((d) => d.billedOverWall.min).filter((m): m is number => m !== null);
  const finished = sum((d) => d.viewers.completed + d.viewers.failed);
  const result: RunResult = {
    name: opts.name, run_id: input.runId, target: opts.echoFloor === 'only' ? 'echo' : 'gateway',
    started_at: input.startedAt.toISOString(), finished_at: new Date().toISOString(),
    gateway_url: opts.gatewayUrl, socket_impl: input.socketImpl, node: process.version, options: opts,
    students: input.students, processes: input.processes,
    viewers: {
      requested: opts.viewers, completed: sum((d) => d.viewers.completed), failed: sum((d) => d.viewers.failed),
      skipped: opts.viewers - finished, // includes viewers of a process that never reported
      reconnects: stats.reconnects,
    },
    heartbeats: stats.heartbeats, acks: stats.acks, warnings: stats.warnings,
    latency: { ack: stats.ack.summary(), rest: Object.fromEntries([...stats.rest].map(([k, v]) => [k, v.summary()])) },
    operations: stats.operations,
    errors: Object.fromEntries(stats.errors),
    error_rate: stats.operations === 0 ? 0 : stats.errorCount() / stats.operations,
    socket_closes: Object.fromEntries(stats.closes),
    join_refusals: Object.fromEntries(stats.refusals),
    check_failures: Object.fromEntries(stats.checkFailures),
    examples: stats.examples,
    billing: {
      billed_over_wall_mean: ratioCount === 0 ? null : sum((d) => d.billedOverWall.sum) / ratioCount,
      billed_over_wall_min: mins.length === 0 ? null : Math.min(...mins),
    },
    money_check: input.money, money_check_error: input.moneyError, echo_floor: input.echoFloor,
    progress: input.progress,
    stopped_by: input.stoppedBy, verdict: '', exit_code: 0,
  };
  [result.exit_code, result.verdict] = verdictOf(result, stats, opts);
  return result;
}

function verdictOf(r: RunResult, stats: Stats, opts: Options): [number, string] {
  if (stats.failureCount() > 0) return [1, `FAIL: ${stats.failureCount()} failed checks`];
  if (r.money_check_error !== null) return [1, `FAIL: money check could not run: ${r.money_check_error}`];
  if (r.money_check !== null && r.money_check.violations > 0) return [1, `FAIL: money check, ${r.money_check.violations} violations`];
  if (r.error_rate > opts.maxErrorRate) return [2, `FAIL: error rate ${pct(r.error_rate)} > ${pct(opts.maxErrorRate)}`];
  if (r.stopped_by === 'interrupted') return [130, 'INTERRUPTED'];
  if (r.stopped_by !== null) return [3, `FAIL: stopped by ${r.stopped_by}`];
  if (r.viewers.completed < r.viewers.requested) return [2, `FAIL: ${r.viewers.requested - r.viewers.completed} viewers did not complete`];
  return [0, 'PASS'];
}

const pct = (x: number) => `${(x * 100).toFixed(3)} %`;
const num = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(2));
const pad = (s: string | number, n: number) => String(s).padStart(n);

export function renderTable(r: RunResult, file: string): string {
  const lines: string[] = [];
  const o = r.options;
  lines.push(`${r.name} (run ${r.run_id}): ${r.started_at} → ${r.finished_at}`);
  lines.push(`gateway ${r.gateway_url} · ${r.socket_impl} · ${o.viewers} viewers in ${r.processes.length} processes over ${r.students} students`
    + ` · ramp ${o.rampS} s · ${o.durationS} s each`);
  lines.push('');
  const v = r.viewers;
  lines.push(`viewers   completed ${v.completed}   failed ${v.failed}   skipped ${v.skipped}   reconnects ${v.reconnects}`);
  lines.push(`frames    heartbeats ${r.heartbeats}   acks ${r.acks}   low-funds warnings ${r.warnings}`);
  const closes = Object.entries(r.socket_closes);
  if (closes.length > 0) lines.push(`closes    reconnected after: ${closes.map(([code, n]) => `${code} ×${n}`).join(', ')}`);
  const refusals = Object.entries(r.join_refusals ?? {});
  if (refusals.length > 0) lines.push(`refused   repeated after Retry-After: ${refusals.map(([what, n]) => `${what} ×${n}`).join(', ')}`);
  lines.push('');
  lines.push(`latency (ms)     ${['count', 'p50', 'p90', 'p95', 'p99', 'p99.9', 'max', 'mean'].map((h) => pad(h, 8)).join('')}`);
  const row = (label: string, s: LatencySummary) => `  ${label.padEnd(15)}${pad(s.count, 8)}${[s.p50_ms, s.p90_ms, s.p95_ms, s.p99_ms, s.p999_ms, s.max_ms, s.mean_ms].map((x) => pad(num(x), 8)).join('')}`;
  const floor = r.echo_floor;
  if (r.target === 'echo') lines.push(row('echo floor', r.latency.ack));
  else {
    lines.push(row('ack (ws)', r.latency.ack));
    if (floor !== null) lines.push(row('echo floor', floor.latency));
  }
  for (const [op, s] of Object.entries(r.latency.rest)) lines.push(row(`${op} (rest)`, s));
  lines.push('');
  const errorTotal = Object.values(r.errors).reduce((a, b) => a + b, 0);
  lines.push(`errors    ${errorTotal} in ${r.operations} operations (rate ${pct(r.error_rate)})`);
  for (const [code, n] of Object.entries(r.errors).sort((a, b) => b[1] - a[1])) lines.push(`  ${code.padEnd(44)}${pad(n, 8)}`);
  const failTotal = Object.values(r.check_failures).reduce((a, b) => a + b, 0);
  lines.push(`checks    ${failTotal} failed (frames, summaries)`);
  for (const [check, n] of Object.entries(r.check_failures).sort((a, b) => b[1] - a[1])) lines.push(`  ${check.padEnd(44)}${pad(n, 8)}`);
  for (const e of r.examples.filter((x) => x.kind === 'check').slice(0, 5)) lines.push(`    e.g. viewer ${e.player} ${e.session ?? ''}: ${e.detail}`);
  if (r.money_check !== null) {
    lines.push(`money     ${r.money_check.violations} violations over ${r.money_check.sessions} sessions`
      + ` (${Object.keys(r.money_check.checks).length} set-based checks, ledger_imbalances and balance_mismatches included)`);
    for (const [name, c] of Object.entries(r.money_check.checks).filter(([, c]) => c.violations > 0)) {
      lines.push(`  ${name.padEnd(44)}${pad(c.violations, 8)}   e.g. ${JSON.stringify(c.examples[0])}`);
    }
  } else if (r.target === 'gateway') lines.push(`money     not checked: ${r.money_check_error ?? 'no sessions'}`);
  lines.push('');
  if (r.billing.billed_over_wall_mean !== null) {
    lines.push(`billing   billed / wall clock (start → settled): mean ${pct(r.billing.billed_over_wall_mean)}, min ${pct(r.billing.billed_over_wall_min ?? 0)}`);
  }
  if (floor !== null && r.target === 'gateway') {
    lines.push(`floor     the same heartbeats against the bare uWS echo server first: ${floor.acks} of ${floor.heartbeats} echoed,`
      + ` p99 ${num(floor.latency.p99_ms)} ms (ack p99 ${num(r.latency.ack.p99_ms)} ms against the gateway), echo server cpu ${floor.echo_server_cpu_ms} ms`);
    lines.push(...processLines('floor', floor.processes));
  }
  lines.push(...processLines('driver', r.processes));
  lines.push('          (a process near 100% cpu or with a high loop p99 inflates the latencies above: use more --processes)');
  lines.push(`results   ${file}`);
  lines.push(`verdict   ${r.verdict} (exit ${r.exit_code})`);
  return lines.join('\n');
}

/** Per process: its CPU and loop delay over the run and by phase, its GC, and its CPU per heartbeat and per join. */
function processLines(label: string, processes: ProcessResult[]): string[] {
  const lines: string[] = [];
  const us = (x: number | null) => (x === null ? '–' : `${x} µs`);
  for (const p of processes) {
    const u = p.usage;
    if (u === null) {
      lines.push(`${label.padEnd(10)}process ${p.index} → ${p.gateway_url}: ${p.viewers} viewers, no report (${p.exit ?? 'running'})`);
      continue;
    }
    lines.push(`${label.padEnd(10)}process ${p.index} → ${p.gateway_url}: ${p.viewers} viewers, cpu ${num(u.cpu_pct)}% of a core,`
      + ` event-loop delay p50 ${num(u.loop_p50_ms)} ms p99 ${num(u.loop_p99_ms)} ms max ${num(u.loop_max_ms)} ms, rss ${u.rss_mb} MB`);
    const ph = u.phases;
    lines.push(`          loop p99/max by phase: join ${num(ph.join.loop_p99_ms)}/${num(ph.join.loop_max_ms)} ms, steady ${num(ph.steady.loop_p99_ms)}/${num(ph.steady.loop_max_ms)} ms,`
      + ` leave ${num(ph.leave.loop_p99_ms)}/${num(ph.leave.loop_max_ms)} ms · gc ${u.gc.count} pauses, ${num(u.gc.total_ms)} ms, max ${num(u.gc.max_ms)} ms`
      + ` (${Object.entries(u.gc.max_ms_by_kind).map(([k, v]) => `${k} ${num(v)}`).join(', ')})`
      + ` · cpu per heartbeat ${us(u.cpu_us_per_heartbeat)}, per join ${us(u.cpu_us_per_join)}`);
  }
  return lines;
}

export async function writeResult(dir: string, r: RunResult): Promise<string> {
  await mkdir(dir, { recursive: true });
  const stamp = r.started_at.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const file = join(dir, `${r.name}-${stamp}.json`);
  await writeFile(file, `${JSON.stringify(r, null, 2)}\n`);
  return file;
}
