// A fixed-rate WebSocket load for the benchmark's transport rows: `sockets` clients (the `ws` library), each sending a
// heartbeat-sized frame every `intervalMs` and timing the reply that carries its `seq`. Used against the bare uWS
// echo (the limit) with the same frames, sockets and rate as against the gateways, so the servers' CPU per frame,
// read from /proc, compares like with like.
import hdr from 'hdr-histogram-js';
import WebSocket from 'ws';

export interface FrameLoadResult { frames: number; replies: number; errors: number; seconds: number; p50Ms: number; p99Ms: number; maxMs: number }

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
  const sockets = await Promise.all(Array.from({ length: o.sockets }, (_, i) => new Promise<WebSocket>((resolve, reject) => {
    const ws = new WebSocket(o.urls[i % o.urls.length]!, { headers: o.headers?.(i) ?? {}, perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  })));
  const sentAt = sockets.map(() => new Map<number, number>());
  let measuring = false;
  sockets.forEach((ws, i) => ws.on('message', (raw) => {
    const text = String(raw);
    const seq = Number(/"seq":(\d+)/.exec(text)?.[1]);
    const t = sentAt[i]!.get(seq);
    if (t === undefined) return;
    sentAt[i]!.delete(seq);
    if (!measuring) return;
    if (text.includes('"type":"error"')) errors++;
    replies++;
    h.recordValue(Math.max(1, Math.round((performance.now() - t) * 1000)));
  }));
  const seqs = sockets.map(() => 0);
  // Spread the sockets' sends over the interval, as players joining at random moments would.
  const timers = sockets.map((ws, i) => setTimeout(() => {
    const send = () => {
      const seq = ++seqs[i]!;
      sentAt[i]!.set(seq, performance.now());
      if (measuring) frames++;
      ws.send(o.frame(i, seq));
    };
    send();
    timers[i] = setInterval(send, o.intervalMs);
  }, (i * o.intervalMs) / o.sockets));
  await new Promise((r) => setTimeout(r, o.intervalMs * 2));
  measuring = true;
  o.onSteady?.();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, o.durationMs));
  const seconds = (performance.now() - t0) / 1000;
  measuring = false;
  for (const t of timers) clearInterval(t);
  await new Promise((r) => setTimeout(r, 200));
  for (const ws of sockets) ws.terminate();
  const result = { frames, replies, errors, seconds: +seconds.toFixed(3), p50Ms: h.getValueAtPercentile(50) / 1000,
    p99Ms: h.getValueAtPercentile(99) / 1000, maxMs: h.maxValue / 1000 };
  h.destroy();
  return result;
}
