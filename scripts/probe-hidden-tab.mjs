// Does a hidden tab throttle the page's timers but not a dedicated worker's? (What player/sdk/worker-timers.ts
// relies on.) Real Chromium, headful under Xvfb, no Playwright (it makes every page report itself visible): the
// probe page opens as a background tab, hidden from its first moment, and ticks once a second from a chain of page
// timers and from a worker; after WAIT seconds the tick counts are read over the DevTools protocol.
//
//   xvfb-run -a node --experimental-websocket scripts/probe-hidden-tab.mjs [WAIT_SECONDS=180]
//
// Chrome's intensive throttling (one wake-up a minute for chained page timers) starts after 5 minutes hidden; the
// probe shortens that grace to 10 s (a Chromium feature parameter) so a 3-minute run shows it. Needs Debian's
// chromium and xvfb (apt-get install -y chromium xvfb).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const waitSeconds = Number(process.argv[2] ?? 180);
const page = `<!doctype html><title>hidden-tab-probe</title><script>
const t0 = performance.now();
window.probe = { visibility: [document.visibilityState], page: [], worker: [] };
document.addEventListener('visibilitychange', () => window.probe.visibility.push(document.visibilityState));
(function chain() { window.probe.page.push(Math.round(performance.now() - t0)); setTimeout(chain, 1000); })();
const worker = new Worker(URL.createObjectURL(new Blob(['setInterval(() => postMessage(0), 1000)'])));
worker.onmessage = () => window.probe.worker.push(Math.round(performance.now() - t0));
</script>`;

const server = http.createServer((_req, res) => { res.setHeader('content-type', 'text/html'); res.end(page); });
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${server.address().port}/`;
const profile = mkdtempSync(join(tmpdir(), 'hidden-tab-probe-'));
// Two tabs: the first (blank) is the active one, so the probe tab is hidden from the start.
const chrome = spawn(process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', [
  '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--enable-features=IntensiveWakeUpThrottling:grace_period_seconds/10',
  '--remote-debugging-port=0', `--user-data-dir=${profile}`, 'about:blank', url,
], { stdio: 'ignore' });

try {
  await new Promise((resolve) => setTimeout(resolve, waitSeconds * 1000));
  const devtoolsPort = readFileSync(join(profile, 'DevToolsActivePort'), 'utf8').split('\n')[0];
  const targets = await (await fetch(`http://127.0.0.1:${devtoolsPort}/json`)).json();
  const target = targets.find((t) => t.title === 'hidden-tab-probe');
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve) => { ws.onopen = resolve; });
  ws.send(JSON.stringify({ id: 1, method: 'Runtime.evaluate', params: { expression: 'JSON.stringify(window.probe)', returnByValue: true } }));
  const reply = await new Promise((resolve) => { ws.onmessage = (e) => resolve(JSON.parse(e.data)); });
  ws.close();
  const probe = JSON.parse(reply.result.result.value);
  const gaps = (ticks) => ticks.slice(1).map((t, i) => t - ticks[i]);
  const lastGaps = (ticks) => gaps(ticks).slice(-5).map((g) => `${(g / 1000).toFixed(1)} s`).join(', ');
  console.log(`after ${waitSeconds} s, visibility ${probe.visibility.join(' → ')}`);
  console.log(`page timers:   ${probe.page.length} ticks; last gaps ${lastGaps(probe.page)}`);
  console.log(`worker timers: ${probe.worker.length} ticks; last gaps ${lastGaps(probe.worker)}`);
} finally {
  chrome.kill();
  server.close();
  rmSync(profile, { recursive: true, force: true });
}
