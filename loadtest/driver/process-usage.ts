// How busy a viewer process is: its CPU time (process.cpuUsage) and event-loop delay (monitorEventLoopDelay), per
// progress window and over the whole run. A busy or lagging driver inflates every latency it measures, so these
// figures are printed next to the latencies.
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/** Event-loop delay sampling period: fine enough to see 10 ms stalls, cheap enough for a busy process. */
const loopResolutionMs = 10;

export interface ProcessUsage {
  pid: number;
  /** CPU time (user + system) over the wall-clock span, in % of one core. */
  cpu_pct: number;
  cpu_ms: number;
  span_ms: number;
  loop_p50_ms: number;
  loop_p99_ms: number;
  loop_max_ms: number;
  rss_mb: number;
}

interface Mark {
  cpu: NodeJS.CpuUsage;
  atMs: number;
}

const ns = 1e6;

export class UsageMonitor {
  private readonly whole: IntervalHistogram = monitorEventLoopDelay({ resolution: loopResolutionMs });
  private readonly window: IntervalHistogram = monitorEventLoopDelay({ resolution: loopResolutionMs });
  private readonly start: Mark = { cpu: process.cpuUsage(), atMs: performance.now() };
  private windowStart: Mark = this.start;

  constructor() {
    this.whole.enable();
    this.window.enable();
  }

  /** Usage since the previous call (or the start); starts the next window. */
  takeWindow(): ProcessUsage {
    const u = this.usageSince(this.windowStart, this.window);
    this.window.reset();
    this.windowStart = { cpu: process.cpuUsage(), atMs: performance.now() };
    return u;
  }

  /** Usage over the whole run; stops sampling. */
  finish(): ProcessUsage {
    const u = this.usageSince(this.start, this.whole);
    this.whole.disable();
    this.window.disable();
    return u;
  }

  private usageSince(from: Mark, loop: IntervalHistogram): ProcessUsage {
    const cpu = process.cpuUsage(from.cpu);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    const spanMs = Math.max(1, performance.now() - from.atMs);
    const round = (x: number) => (Number.isFinite(x) ? Math.round(x * 100) / 100 : 0);
    return {
      pid: process.pid,
      cpu_pct: round((cpuMs / spanMs) * 100), cpu_ms: Math.round(cpuMs), span_ms: Math.round(spanMs),
      loop_p50_ms: round(loop.percentile(50) / ns), loop_p99_ms: round(loop.percentile(99) / ns), loop_max_ms: round(loop.max / ns),
      rss_mb: Math.round(process.memoryUsage.rss() / 2 ** 20),
    };
  }
}
