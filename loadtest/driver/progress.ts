// The progress line, every progress interval, from the latest report of each viewer process: viewers connected
// against the target, heartbeats per second and ack percentiles in the last window, errors by code, reconnects, and
// how busy the driver itself is (its busiest process and its worst event-loop delay).
import type { ProgressMessage } from './child-protocol.js';
import { Latency } from './stats.js';

export interface ProgressPoint {
  at_s: number;
  connected: number;
  finished: number;
  heartbeats_per_s: number;
  ack_p50_ms: number;
  ack_p99_ms: number;
  acks_in_window: number;
  errors: number;
  check_failures: number;
  reconnects: number;
  driver_cpu_pct: number;
  driver_cpu_pct_max_process: number;
  driver_loop_p99_ms_max: number;
}

const sumOf = (xs: Iterable<number>) => { let n = 0; for (const x of xs) n += x; return n; };

export class ProgressBoard {
  private readonly latest = new Map<number, ProgressMessage>();
  private readonly windowAck = new Latency();
  private lastHeartbeats = 0;
  private lastAtMs: number;
  readonly points: ProgressPoint[] = [];

  constructor(private readonly target: number, private readonly startMs: number) {
    this.lastAtMs = startMs;
  }

  onProgress(m: ProgressMessage): void {
    this.latest.set(m.processIndex, m);
    this.windowAck.addEncoded(m.ackWindow);
  }

  /** Closes the window: its point (kept for the results file) and its line. */
  takeLine(nowMs: number): string {
    const reports = [...this.latest.values()];
    const heartbeats = sumOf(reports.map((r) => r.heartbeats));
    const ack = this.windowAck.summary();
    const errors = new Map<string, number>();
    for (const r of reports) for (const [code, n] of Object.entries(r.errors)) errors.set(code, (errors.get(code) ?? 0) + n);
    const point: ProgressPoint = {
      at_s: Math.round((nowMs - this.startMs) / 1000),
      connected: sumOf(reports.map((r) => r.connected)),
      finished: sumOf(reports.map((r) => r.finished)),
      heartbeats_per_s: Math.round((heartbeats - this.lastHeartbeats) / Math.max(0.001, (nowMs - this.lastAtMs) / 1000)),
      ack_p50_ms: ack.p50_ms, ack_p99_ms: ack.p99_ms, acks_in_window: ack.count,
      errors: sumOf(errors.values()),
      check_failures: sumOf(reports.map((r) => r.checkFailures)),
      reconnects: sumOf(reports.map((r) => r.reconnects)),
      driver_cpu_pct: Math.round(sumOf(reports.map((r) => r.usage.cpu_pct))),
      driver_cpu_pct_max_process: Math.round(Math.max(0, ...reports.map((r) => r.usage.cpu_pct))),
      driver_loop_p99_ms_max: Math.max(0, ...reports.map((r) => r.usage.loop_p99_ms)),
    };
    this.points.push(point);
    this.windowAck.reset();
    this.lastHeartbeats = heartbeats;
    this.lastAtMs = nowMs;
    const byCode = [...errors].sort((a, b) => b[1] - a[1]).slice(0, 4).map(([c, n]) => `${c} ${n}`).join(', ');
    const f = (x: number) => x.toLocaleString('en-US');
    return `[${String(point.at_s).padStart(5)} s] connected ${f(point.connected)}/${f(this.target)} · finished ${f(point.finished)}`
      + ` · heartbeats/s ${f(point.heartbeats_per_s)} · ack p50 ${point.ack_p50_ms.toFixed(1)} ms p99 ${point.ack_p99_ms.toFixed(1)} ms`
      + ` · errors ${point.errors}${byCode === '' ? '' : ` (${byCode})`} · failed checks ${point.check_failures}`
      + ` · reconnects ${point.reconnects} · driver cpu ${point.driver_cpu_pct}% (busiest process ${point.driver_cpu_pct_max_process}%,`
      + ` loop p99 ${point.driver_loop_p99_ms_max.toFixed(0)} ms)`;
  }
}
