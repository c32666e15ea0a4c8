// The benchmark's viewer load at scale: viewers split over forked processes (each well under the 20,000 open files
// a process may hold here), each process aimed at its own loopback address (127.0.0.2, .3, …: one source/destination
// pair has ~28,000 ephemeral ports; the servers listen on 0.0.0.0). Histograms are merged; the steady window starts
// when every process is steady, and the caller's CPU window (/proc) is opened at that moment.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import hdr from 'hdr-histogram-js';
import type { ChildReport, ChildTask } from './viewer-load-child.js';

const childEntry = fileURLToPath(new URL('./viewer-load-child.ts', import.meta.url));
/** Sockets per load process: well under the 20,000 open files one process may hold. */
export const viewersPerProcessMax = 12_500;

export interface ViewerLoadResult {
  viewers: number; processes: number; opened: number; openFailures: number; sent: number; answered: number;
  errors: Record<string, number>; errorCount: number; seconds: number; answersPerSecond: number;
  p50Ms: number; p99Ms: number; p999Ms: number; maxMs: number;
  /** Each load process's own figures: a lagging load process inflates the p99 above (common/process-usage.ts). */
  loadUsage: LoadProcessUsage[];
}

export interface LoadProcessUsage {
  loopP99Ms: number; loopMaxMs: number; steadyLoopP99Ms: number; steadyLoopMaxMs: number;
  gcMaxMs: number; cpuMicrosPerHeartbeat: number | null; cpuMicrosPerJoin: number | null;
}

export interface ViewerLoadOptions {
  mode: 'ws' | 'http';
  port: number;
  /** Path for viewer i's session id, e.g. (id) => `/ws/sessions/${id}`. */
  path: (sessionId: string) => string;
  sessionIds: string[];
  token: string;
  intervalMs: number;
  warmupMs: number;
  durationMs: number;
  /** Called once every process is steady: open CPU windows here. Gets the load processes' pids. */
  onSteady(loadPids: number[]): void;
  /** Called when the first process ends its window, while every load process still runs: read CPU windows here. */
  onWindowEnd?(): void;
}

export async function runViewerLoad(o: ViewerLoadOptions): Promise<ViewerLoadResult> {
  const processes = Math.max(1, Math.ceil(o.sessionIds.length / viewersPerProcessMax));
  const per = Math.ceil(o.sessionIds.length / processes);
  const children = Array.from({ length: processes }, () => fork(childEntry, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  let steady = 0;
  let windowEnded = false;
  let opened = 0;
  let openFailures = 0;
  const t0 = { at: 0 };
  const reports = await Promise.all(children.map((child, k) => new Promise<ChildReport>((resolve, reject) => {
    const scheme = o.mode === 'ws' ? 'ws' : 'http';
    const address = `127.0.0.${2 + (k % 250)}`;
    const task: ChildTask = {
      mode: o.mode, token: o.token, intervalMs: o.intervalMs, warmupMs: o.warmupMs, durationMs: o.durationMs,
      urls: o.sessionIds.slice(k * per, (k + 1) * per).map((id) => `${scheme}://${address}:${o.port}${o.path(id)}`),
    };
    child.on('message', (m: { type: string; report?: ChildReport; message?: string; opened?: number; openFailures?: number }) => {
      if (m.type === 'open') { opened += m.opened!; openFailures += m.openFailures!; }
      if (m.type === 'steady' && ++steady === processes) { t0.at = performance.now(); o.onSteady(children.map((c) => c.pid!)); }
      if (m.type === 'window-end' && !windowEnded) { windowEnded = true; o.onWindowEnd?.(); }
      if (m.type === 'report') resolve(m.report!);
      if (m.type === 'failed') reject(new Error(m.message));
    });
    child.once('exit', (code) => { if (code !== 0) reject(new Error(`load process exited ${code}`)); });
    child.send(task);
  })));
  const seconds = (performance.now() - t0.at) / 1000;
  const merged = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
  const errors: Record<string, number> = {};
  let sent = 0;
  let answered = 0;
  for (const r of reports) {
    const h = hdr.decodeFromCompressedBase64(r.histogram);
    merged.add(h);
    h.destroy();
    sent += r.sent;
    answered += r.answered;
    for (const [code, n] of Object.entries(r.errors)) errors[code] = (errors[code] ?? 0) + n;
  }
  const errorCount = Object.values(errors).reduce((a, b) => a + b, 0) + openFailures;
  const result = {
    viewers: o.sessionIds.length, processes, opened, openFailures, sent, answered, errors, errorCount,
    seconds: +seconds.toFixed(2), answersPerSecond: Math.round(answered / seconds),
    p50Ms: merged.getValueAtPercentile(50) / 1000, p99Ms: merged.getValueAtPercentile(99) / 1000,
    p999Ms: merged.getValueAtPercentile(99.9) / 1000, maxMs: merged.maxValue / 1000,
    loadUsage: reports.map(({ usage: u }): LoadProcessUsage => ({
      loopP99Ms: u.loop_p99_ms, loopMaxMs: u.loop_max_ms, steadyLoopP99Ms: u.phases.steady.loop_p99_ms, steadyLoopMaxMs: u.phases.steady.loop_max_ms,
      gcMaxMs: u.gc.max_ms, cpuMicrosPerHeartbeat: u.cpu_us_per_heartbeat, cpuMicrosPerJoin: u.cpu_us_per_join,
    })),
  };
  merged.destroy();
  return result;
}
