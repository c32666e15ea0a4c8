// How busy a load process is, so its own stalls are never mistaken for the server's: its event-loop delay
// (monitorEventLoopDelay at a 1 ms sampling period), its GC pauses (PerformanceObserver 'gc'), and its CPU time
// (process.cpuUsage) per progress window, over the whole run, and split by phase: viewers joining (REST create and
// start, socket opens, plus the heartbeats of those already in), steady (heartbeats only), leaving. A busy or lagging
// load process inflates every latency it measures, so these figures are printed next to the latencies; CPU µs per
// heartbeat (steady phase) and per join (join phase, less its heartbeats at the steady rate) say what it costs.
// Shared by the driver's viewer processes and the bench's load children.
import { constants, monitorEventLoopDelay, PerformanceObserver, type IntervalHistogram } from 'node:perf_hooks';

/** Event-loop delay sampling period: 1 ms, the finest Node offers, so a 5 ms stall is seen. Values include it. */
export const loopResolutionMs = 1;

export type Phase = 'join' | 'steady' | 'leave';
const phases: readonly Phase[] = ['join', 'steady', 'leave'];

export interface GcSummary {
  count: number;
  total_ms: number;
  max_ms: number;
  /** Pauses of 10 ms or more. */
  over_10ms: number;
  /** Longest pause by kind: minor = scavenge (young generation), major = mark-compact, incremental, weak callbacks. */
  max_ms_by_kind: Record<string, number>;
}

export interface ProcessUsage {
  pid: number;
  /** CPU time (user + system) over the wall-clock span, in % of one core. */
  cpu_pct: number;
  cpu_ms: number;
  span_ms: number;
  loop_p50_ms: number;
  loop_p99_ms: number;
  loop_max_ms: number;
  gc: GcSummary;
  rss_mb: number;
}

export interface PhaseUsage {
  cpu_ms: number;
  span_ms: number;
  heartbeats: number;
  joins: number;
  loop_p99_ms: number;
  loop_max_ms: number;
}

/** Whole-run usage, with the phases and the CPU cost of one heartbeat and one join. */
export interface RunUsage extends ProcessUsage {
  phases: Record<Phase, PhaseUsage>;
  /** Steady-phase CPU / heartbeats sent in it; null without a steady phase with heartbeats. */
  cpu_us_per_heartbeat: number | null;
  /** (Join-phase CPU − its heartbeats × cpu_us_per_heartbeat) / joins; null without joins. */
  cpu_us_per_join: number | null;
}

interface Mark {
  cpu: NodeJS.CpuUsage;
  atMs: number;
}

interface PhaseTotals {
  cpuMicros: number;
  spanMs: number;
  heartbeats: number;
  joins: number;
  loop: IntervalHistogram;
}

const ns = 1e6;
const round2 = (x: number) => (Number.isFinite(x) ? Math.round(x * 100) / 100 : 0);
const gcKinds: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor', [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental', [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak',
};

class GcTally {
  count = 0;
  totalMs = 0;
  maxMs = 0;
  over10 = 0;
  private readonly maxByKind: Record<string, number> = {};

  add(ms: number, kind: string): void {
    this.count += 1;
    this.totalMs += ms;
    if (ms > this.maxMs) this.maxMs = ms;
    if (ms >= 10) this.over10 += 1;
    if (ms > (this.maxByKind[kind] ?? 0)) this.maxByKind[kind] = round2(ms);
  }

  summary(): GcSummary {
    return { count: this.count, total_ms: round2(this.totalMs), max_ms: round2(this.maxMs), over_10ms: this.over10, max_ms_by_kind: { ...this.maxByKind } };
  }
}

export class UsageMonitor {
  private readonly whole = monitorEventLoopDelay({ resolution: loopResolutionMs });
  private readonly window = monitorEventLoopDelay({ resolution: loopResolutionMs });
  private readonly start: Mark = { cpu: process.cpuUsage(), atMs: performance.now() };
  private windowStart: Mark = this.start;
  private readonly gcWhole = new GcTally();
  private gcWindow = new GcTally();
  private readonly gcObserver: PerformanceObserver;
  private readonly totals = Object.fromEntries(phases.map((p) => [p, {
    cpuMicros: 0, spanMs: 0, heartbeats: 0, joins: 0, loop: monitorEventLoopDelay({ resolution: loopResolutionMs }),
  }])) as Record<Phase, PhaseTotals>;
  private current: PhaseTotals | null = null;
  private phaseStart: Mark = this.start;

  constructor() {
    this.whole.enable();
    this.window.enable();
    this.gcObserver = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        const kind = gcKinds[(e as { detail?: { kind?: number } }).detail?.kind ?? -1] ?? 'other';
        this.gcWhole.add(e.duration, kind);
        this.gcWindow.add(e.duration, kind);
      }
    });
    this.gcObserver.observe({ entryTypes: ['gc'] });
  }

  /** Enters a phase (closing the current one); entering the phase already current does nothing. */
  phase(p: Phase): void {
    const next = this.totals[p];
    if (next === this.current) return;
    this.closePhase();
    this.current = next;
    next.loop.enable();
  }

  /** One heartbeat sent, counted in the current phase. */
  heartbeat(): void {
    if (this.current !== null) this.current.heartbeats += 1;
  }

  /** One viewer joined (its socket ready), counted in the current phase. */
  joined(): void {
    if (this.current !== null) this.current.joins += 1;
  }

  /** Usage since the previous call (or the start); starts the next window. */
  takeWindow(): ProcessUsage {
    const u = this.usageSince(this.windowStart, this.window, this.gcWindow);
    this.window.reset();
    this.gcWindow = new GcTally();
    this.windowStart = { cpu: process.cpuUsage(), atMs: performance.now() };
    return u;
  }

  /** Usage over the whole run; stops sampling. */
  finish(): RunUsage {
    this.closePhase();
    this.current = null;
    const u = this.usageSince(this.start, this.whole, this.gcWhole);
    this.whole.disable();
    this.window.disable();
    this.gcObserver.disconnect();
    const byPhase = Object.fromEntries(phases.map((p) => {
      const t = this.totals[p];
      const count = t.loop.count > 0;
      return [p, {
        cpu_ms: Math.round(t.cpuMicros / 1000), span_ms: Math.round(t.spanMs), heartbeats: t.heartbeats, joins: t.joins,
        loop_p99_ms: count ? round2(t.loop.percentile(99) / ns) : 0, loop_max_ms: count ? round2(t.loop.max / ns) : 0,
      }];
    })) as Record<Phase, PhaseUsage>;
    return { ...u, phases: byPhase, ...costs(this.totals) };
  }

  private closePhase(): void {
    const cur = this.current;
    const now: Mark = { cpu: process.cpuUsage(), atMs: performance.now() };
    if (cur !== null) {
      cur.cpuMicros += (now.cpu.user - this.phaseStart.cpu.user) + (now.cpu.system - this.phaseStart.cpu.system);
      cur.spanMs += now.atMs - this.phaseStart.atMs;
      cur.loop.disable();
    }
    this.phaseStart = now;
  }

  private usageSince(from: Mark, loop: IntervalHistogram, gc: GcTally): ProcessUsage {
    const cpu = process.cpuUsage(from.cpu);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    const spanMs = Math.max(1, performance.now() - from.atMs);
    return {
      pid: process.pid,
      cpu_pct: round2((cpuMs / spanMs) * 100), cpu_ms: Math.round(cpuMs), span_ms: Math.round(spanMs),
      loop_p50_ms: round2(loop.percentile(50) / ns), loop_p99_ms: round2(loop.percentile(99) / ns), loop_max_ms: round2(loop.max / ns),
      gc: gc.summary(),
      rss_mb: Math.round(process.memoryUsage.rss() / 2 ** 20),
    };
  }
}

/** CPU µs per heartbeat from the steady phase; per join from the join phase, less its heartbeats at that rate. */
function costs(t: Record<Phase, PhaseTotals>): { cpu_us_per_heartbeat: number | null; cpu_us_per_join: number | null } {
  const perHeartbeat = t.steady.heartbeats > 0 ? t.steady.cpuMicros / t.steady.heartbeats : null;
  const joinMicros = t.join.cpuMicros - t.join.heartbeats * (perHeartbeat ?? 0);
  return {
    cpu_us_per_heartbeat: perHeartbeat === null ? null : Math.round(perHeartbeat * 10) / 10,
    cpu_us_per_join: t.join.joins > 0 ? Math.round((Math.max(0, joinMicros) / t.join.joins) * 10) / 10 : null,
  };
}
