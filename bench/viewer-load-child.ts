// One process of the benchmark's viewer load (viewer-load.ts forks several: a process may hold at most 20,000 open
// files here). Holds its share of viewers, each with its own WebSocket (or, for the seed's design, its own turn on a
// keep-alive HTTP pool), sends one heartbeat per interval per viewer, spread over the interval, times each answer by
// seq, and sends the parent a compressed HdrHistogram, counts, and its own usage (event-loop delay, GC, CPU per
// heartbeat and per socket open: common/process-usage.ts) at the end of the steady window. One timer per process
// sends the heartbeats (common/heartbeat-wheel.ts), answers are matched by seq without parsing the frame.
import http from 'node:http';
import hdr from 'hdr-histogram-js';
import WebSocket from 'ws';
import { HeartbeatWheels } from '../loadtest/common/heartbeat-wheel.js';
import { UsageMonitor, type RunUsage } from '../loadtest/common/process-usage.js';
import { heartbeatText } from '../player/sdk/protocol/client-frames.js';
import { SentBySeq, seqOf } from '../player/sdk/protocol/sent-by-seq.js';

export interface ChildTask {
  mode: 'ws' | 'http';
  /** ws: one URL per viewer (ws://addr:port/ws/sessions/<id>); http: one PATCH URL per viewer. */
  urls: string[];
  token: string;
  intervalMs: number;
  warmupMs: number;
  durationMs: number;
}

export interface ChildReport {
  histogram: string; sent: number; answered: number; errors: Record<string, number>; opened: number; openFailures: number;
  /** The load process's own usage: join = opening its sockets, steady = the measured window. */
  usage: RunUsage;
}

const openBatch = 250;

async function run(task: ChildTask): Promise<ChildReport> {
  const usage = new UsageMonitor();
  usage.phase('join');
  const wheels = new HeartbeatWheels();
  const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
  let measuring = false;
  let sent = 0;
  let answered = 0;
  let opened = 0;
  let openFailures = 0;
  const errors: Record<string, number> = {};
  const fail = (code: string) => { if (measuring) errors[code] = (errors[code] ?? 0) + 1; };
  const record = (t0: number) => { if (measuring) { answered++; h.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000))); } };
  const heartbeat = (seq: number) => heartbeatText({ type: 'heartbeat', seq, position_seconds: (seq * task.intervalMs) / 1000,
    playing: true, playing_now: true, current_lecture: 1, completion_pct: Math.min(100, seq / 10) });
  const timers: NodeJS.Timeout[] = [];
  const beats: { cancel(): void }[] = [];
  const sockets: WebSocket[] = [];

  if (task.mode === 'ws') {
    for (let i = 0; i < task.urls.length; i += openBatch) {
      await Promise.all(task.urls.slice(i, i + openBatch).map((url, j) => new Promise<void>((resolve) => {
        const ws = new WebSocket(url, { headers: { authorization: `Bearer ${task.token}` }, perMessageDeflate: false });
        const pending = new SentBySeq();
        let seq = 0;
        ws.once('open', () => { opened++; usage.joined(); resolve(); });
        ws.once('error', () => { openFailures++; resolve(); });
        ws.on('message', (raw) => {
          const text = String(raw);
          // ready, warning: no seq, not answers to a heartbeat
          if (!pending.take(seqOf(text))) return;
          if (text.startsWith('{"type":"error"')) fail(/"code":"([^"]+)"/.exec(text)?.[1] ?? 'error');
          else record(pending.takenAtMs);
        });
        ws.on('close', (code) => { if (code !== 1000 && code !== 1005) fail(`close_${code}`); });
        sockets.push(ws);
        const viewer = i + j;
        timers.push(setTimeout(() => {
          const send = () => {
            if (ws.readyState !== WebSocket.OPEN) return;
            seq++;
            pending.put(seq, performance.now());
            if (measuring) { sent++; usage.heartbeat(); }
            ws.send(heartbeat(seq));
          };
          send();
          beats.push(wheels.every(task.intervalMs, send));
        }, ((viewer % 1000) * task.intervalMs) / 1000 + 50));
      })));
    }
  } else {
    // A pool of kept-alive connections, as a fleet of players behind a few proxies would reach a REST API.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
    task.urls.forEach((url, viewer) => {
      let seq = 0;
      timers.push(setTimeout(() => {
        const send = () => {
          seq++;
          const t0 = performance.now();
          if (measuring) { sent++; usage.heartbeat(); }
          const body = JSON.stringify({ duration_seconds: (seq * task.intervalMs) / 1000, completion_pct: 1, current_lecture: 1 });
          // node:http with a keep-alive agent: fetch (undici) cost the load process more CPU than the server it measured.
          const req = http.request(url, { method: 'PATCH', agent, headers: { authorization: `Bearer ${task.token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
            res.resume();
            res.on('end', () => { if (res.statusCode === 200) record(t0); else fail(`http_${res.statusCode}`); });
          });
          req.on('error', () => fail('http_failed'));
          req.end(body);
        };
        send();
        beats.push(wheels.every(task.intervalMs, send));
      }, ((viewer % 1000) * task.intervalMs) / 1000));
      opened++;
      usage.joined();
    });
  }
  process.send!({ type: 'open', opened, openFailures });
  usage.phase('leave'); // the warm-up: neither joins nor measured heartbeats
  await new Promise((r) => setTimeout(r, task.warmupMs));
  measuring = true;
  usage.phase('steady');
  process.send!({ type: 'steady' });
  await new Promise((r) => setTimeout(r, task.durationMs));
  measuring = false;
  process.send!({ type: 'window-end' });
  for (const t of timers) clearTimeout(t);
  for (const b of beats) b.cancel();
  const report = { histogram: hdr.encodeIntoCompressedBase64(h), sent, answered, errors, opened, openFailures, usage: usage.finish() };
  for (const ws of sockets) ws.terminate();
  return report;
}

process.once('message', (task: ChildTask) => {
  run(task).then(
    (report) => process.send!({ type: 'report', report }, () => process.exit(0)),
    (err: unknown) => { process.send!({ type: 'failed', message: String((err as Error).stack ?? err) }, () => process.exit(1)); },
  );
});
