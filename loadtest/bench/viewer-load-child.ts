// One process of the benchmark's viewer load (viewer-load.ts forks several: a process may hold at most 20,000 open
// files here). Holds its share of viewers, each with its own WebSocket (or, for the seed's design, its own turn on a
// keep-alive HTTP pool), sends one heartbeat per interval per viewer, spread over the interval, times each answer by
// seq, and sends the parent a compressed HdrHistogram and counts at the end of the steady window.
import http from 'node:http';
import hdr from 'hdr-histogram-js';
import WebSocket from 'ws';

export interface ChildTask {
  mode: 'ws' | 'http';
  /** ws: one URL per viewer (ws://addr:port/ws/sessions/<id>); http: one PATCH URL per viewer. */
  urls: string[];
  token: string;
  intervalMs: number;
  warmupMs: number;
  durationMs: number;
}

export interface ChildReport { histogram: string; sent: number; answered: number; errors: Record<string, number>; opened: number; openFailures: number }

const openBatch = 250;

async function run(task: ChildTask): Promise<ChildReport> {
  const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
  let measuring = false;
  let sent = 0;
  let answered = 0;
  let opened = 0;
  let openFailures = 0;
  const errors: Record<string, number> = {};
  const fail = (code: string) => { if (measuring) errors[code] = (errors[code] ?? 0) + 1; };
  const record = (t0: number) => { if (measuring) { answered++; h.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000))); } };
  const heartbeat = (seq: number) => JSON.stringify({ type: 'heartbeat', seq, position_seconds: (seq * task.intervalMs) / 1000,
    playing: true, playing_now: true, current_lecture: 1, completion_pct: Math.min(100, seq / 10) });
  const timers: NodeJS.Timeout[] = [];
  const sockets: WebSocket[] = [];

  if (task.mode === 'ws') {
    for (let i = 0; i < task.urls.length; i += openBatch) {
      await Promise.all(task.urls.slice(i, i + openBatch).map((url, j) => new Promise<void>((resolve) => {
        const ws = new WebSocket(url, { headers: { authorization: `Bearer ${task.token}` }, perMessageDeflate: false });
        const pending = new Map<number, number>();
        let seq = 0;
        ws.once('open', () => { opened++; resolve(); });
        ws.once('error', () => { openFailures++; resolve(); });
        ws.on('message', (raw) => {
          const text = String(raw);
          const m = /"seq":(\d+)/.exec(text);
          if (!m) return; // ready, warning: not answers to a heartbeat
          const t0 = pending.get(Number(m[1]));
          if (t0 === undefined) return;
          pending.delete(Number(m[1]));
          if (text.startsWith('{"type":"error"')) fail(/"code":"([^"]+)"/.exec(text)?.[1] ?? 'error');
          else record(t0);
        });
        ws.on('close', (code) => { if (code !== 1000 && code !== 1005) fail(`close_${code}`); });
        sockets.push(ws);
        const viewer = i + j;
        timers.push(setTimeout(() => {
          const send = () => {
            if (ws.readyState !== WebSocket.OPEN) return;
            seq++;
            pending.set(seq, performance.now());
            if (measuring) sent++;
            ws.send(heartbeat(seq));
          };
          send();
          timers.push(setInterval(send, task.intervalMs));
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
          if (measuring) sent++;
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
        timers.push(setInterval(send, task.intervalMs));
      }, ((viewer % 1000) * task.intervalMs) / 1000));
      opened++;
    });
  }
  process.send!({ type: 'open', opened, openFailures });
  await new Promise((r) => setTimeout(r, task.warmupMs));
  measuring = true;
  process.send!({ type: 'steady' });
  await new Promise((r) => setTimeout(r, task.durationMs));
  measuring = false;
  process.send!({ type: 'window-end' });
  for (const t of timers) clearInterval(t);
  const report = { histogram: hdr.encodeIntoCompressedBase64(h), sent, answered, errors, opened, openFailures };
  for (const ws of sockets) ws.terminate();
  return report;
}

process.once('message', (task: ChildTask) => {
  run(task).then(
    (report) => process.send!({ type: 'report', report }, () => process.exit(0)),
    (err: unknown) => { process.send!({ type: 'failed', message: String((err as Error).stack ?? err) }, () => process.exit(1)); },
  );
});
