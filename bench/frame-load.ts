// A fixed-rate WebSocket load for the benchmark's transport rows: `sockets` clients (the `ws` library), each sending a
// heartbeat-sized frame every `intervalMs` and timing the reply that carries its `seq`. Used against the bare uWS
// echo (the limit) with the same frames, sockets and rate as against the gateways, so the servers' CPU per frame,
// read from /proc, compares like with like. It runs in the calling process, whose own loop delay, GC and CPU per
// frame over the steady window come back in `loadUsage` (a lagging load inflates the p99 it reports).
import hdr from 'hdr-histogram-js';
import WebSocket from 'ws';
import { HeartbeatWheels } from '../loadtest/common/heartbeat-wheel.js';
import { UsageMonitor } from '../loadtest/common/process-usage.js';
import { SentBySeq, seqOf } from '../player/sdk/protocol/sent-by-seq.js';
import type { LoadProcessUsage } from './viewer-load.js';

export interface FrameLoadResult {
  frames: number; replies: number; errors: number; seconds: number; p50Ms: number; p99Ms: number; maxMs: number;
  loadUsage: LoadProcessUsage;
}

export interface FrameLoadOptions {
  urls: string[];
  headers?: (i: number) => Record<string, string>;
  sockets: number;
  intervalMs: number;
  durationMs: number;
  /** The frame for socket i, message seq. */
  frame: (i: number, seq: number) => string;
  /** Called at the start of the steady window (every socket open and sending). */
  onSteady?: () => void;
}

export async function runFrameLoad(o: FrameLoadOptions): Promise<FrameLoadResult> {
  const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  let frames = 0;
  let replies = 0;
  let errors = 0;
  const usage = new UsageMonitor();
  usage.phase('join');
  const sockets = await Promise.all(Array.from({ length: o.sockets }, (_, i) => new Promise<WebSocket>((resolve, reject) => {
    const ws = new WebSocket(o.urls[i % o.urls.length]!, { headers: o.headers?.(i) ?? {}, perMessageDeflate: false });
    ws.once('open', () => { usage.joined(); resolve(ws); });
    ws.once('error', reject);
  })));
  usage.phase('leave'); // warm-up: neither joins nor measured frames
  const sentAt = sockets.map(() => new SentBySeq());
  let measuring = false;
  sockets.forEach((ws, i) => ws.on('message', (raw) => {
    const text = String(raw);
    if (!sentAt[i]!.take(seqOf(text))) return;
    const t = sentAt[i]!.takenAtMs;
    if (!measuring) return;
    if (text.includes('"type":"error"')) errors++;
    replies++;
    h.recordValue(Math.max(1, Math.round((performance.now() - t) * 1000)));
  }));
  const seqs = sockets.map(() => 0);
  const wheels = new HeartbeatWheels();
  const beats: { cancel(): void }[] = [];
  // Spread the sockets' sends over the interval, as players joining at random moments would.
  const timers = sockets.map((ws, i) => setTimeout(() => {
    const send = () => {
      const seq = ++seqs[i]!;
      sentAt[i]!.put(seq, performance.now());
      if (measuring) { frames++; usage.heartbeat(); }
      ws.send(o.frame(i, seq));
    };
    send();
    beats.push(wheels.every(o.intervalMs, send));
  }, (i * o.intervalMs) / o.sockets));
  await new Promise((r) => setTimeout(r, o.intervalMs * 2));
  measuring = true;
  usage.phase('steady');
  o.onSteady?.();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, o.durationMs));
  const seconds = (performance.now() - t0) / 1000;
  measuring = false;
  const u = usage.finish();
  for (const t of timers) clearTimeout(t);
  for (const b of beats) b.cancel();
  await new Promise((r) => setTimeout(r, 200));
  for (const ws of sockets) ws.terminate();
  const result = { frames, replies, errors, seconds: +seconds.toFixed(3), p50Ms: h.getValueAtPercentile(50) / 1000,
    p99Ms: h.getValueAtPercentile(99) / 1000, maxMs: h.maxValue / 1000,
    loadUsage: {
      loopP99Ms: u.loop_p99_ms, loopMaxMs: u.loop_max_ms, steadyLoopP99Ms: u.phases.steady.loop_p99_ms, steadyLoopMaxMs: u.phases.steady.loop_max_ms,
      gcMaxMs: u.gc.max_ms, cpuMicrosPerHeartbeat: u.cpu_us_per_heartbeat, cpuMicrosPerJoin: u.cpu_us_per_join,
    } };
  h.destroy();
  return result;
}
