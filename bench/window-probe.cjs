// A measurement window inside any Node process, opened and closed from outside: preload it with
// `node --require /abs/path/loadtest/bench/window-probe.cjs …` (CommonJS and free of the product's code, so it loads
// into any commit's compiled gateway or worker). The first SIGUSR2 opens a window, the next closes it and writes
// `${PROBE_DIR}/${pid}.json` (then a SIGUSR2 opens the next window, and so on):
//   gc          pauses seen in the window per kind (minor, major, incremental, weakcb): count, total ms, max ms, and
//               how many took over 10 ms (PerformanceObserver 'gc' entries)
//   loopDelay   event-loop delay p50 / p99 / max in ms (perf_hooks.monitorEventLoopDelay, PROBE_LOOP_RESOLUTION_MS,
//               default 10 ms: at 1 ms its timer cost an idle process 2.4 % of a core, at 10 ms 0.4 %; a stall
//               longer than the resolution is seen whole either way)
//   profile     with PROBE_CPU_PROFILE=1, a CPU profile of the window (node:inspector's Profiler, in process: no
//               inspector port is opened): self time per category and the top 15 functions (profile-summary.cjs);
//               the raw profile is written beside it as `${pid}.cpuprofile` (open it in Chrome's DevTools)
// SIGUSR1 is not used: Node starts its inspector on it. The JSON is written to a temporary name and renamed, so a
// reader that sees the file sees all of it.
'use strict';
const { PerformanceObserver, monitorEventLoopDelay, constants } = require('node:perf_hooks');
const { writeFileSync, renameSync, mkdirSync } = require('node:fs');
const { join } = require('node:path');
const { summariseProfile } = require('./profile-summary.cjs');

const dir = process.env.PROBE_DIR || '/tmp';
const profileCpu = process.env.PROBE_CPU_PROFILE === '1';
const resolutionMs = Number(process.env.PROBE_LOOP_RESOLUTION_MS || 10);
/** The checkout the process runs from, trimmed from the profile's file names. */
const root = process.cwd();
const kindNames = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor', [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental', [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

let window = null;
const gcObserver = new PerformanceObserver((list) => {
  if (!window) return;
  for (const e of list.getEntries()) {
    const kind = kindNames[e.detail ? e.detail.kind : e.kind] || 'other';
    const k = window.gc[kind] || (window.gc[kind] = { count: 0, totalMs: 0, maxMs: 0, over10Ms: 0 });
    k.count++;
    k.totalMs += e.duration;
    k.maxMs = Math.max(k.maxMs, e.duration);
    if (e.duration > 10) k.over10Ms++;
  }
});

function post(session, method, params) {
  return new Promise((resolve, reject) => session.post(method, params, (err, res) => (err ? reject(err) : resolve(res))));
}

async function open() {
  window = { openedAt: Date.now(), gc: {}, loop: monitorEventLoopDelay({ resolution: resolutionMs }), session: null };
  gcObserver.observe({ entryTypes: ['gc'] });
  window.loop.enable();
  if (profileCpu) {
    const { Session } = require('node:inspector');
    const session = new Session();
    session.connect();
    await post(session, 'Profiler.enable');
    await post(session, 'Profiler.setSamplingInterval', { interval: 1000 });
    await post(session, 'Profiler.start');
    window.session = session;
  }
}

async function close() {
  const w = window;
  window = null;
  gcObserver.disconnect();
  w.loop.disable();
  // Node's histogram holds each timer's whole wait, the resolution included (idle: p50 ≈ the resolution): the delay
  // is what comes on top of it.
  const ms = (ns) => +Math.max(0, ns / 1e6 - resolutionMs).toFixed(2);
  const round = (x) => +x.toFixed(2);
  const report = {
    pid: process.pid, seconds: +((Date.now() - w.openedAt) / 1000).toFixed(2), loopResolutionMs: resolutionMs,
    gc: Object.fromEntries(Object.entries(w.gc).map(([k, v]) => [k, { count: v.count, totalMs: round(v.totalMs), maxMs: round(v.maxMs), over10Ms: v.over10Ms }])),
    loopDelay: { p50Ms: ms(w.loop.percentile(50)), p99Ms: ms(w.loop.percentile(99)), maxMs: ms(w.loop.max) },
    profile: null,
  };
  if (w.session) {
    const { profile } = await post(w.session, 'Profiler.stop');
    w.session.disconnect();
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${process.pid}.cpuprofile`), JSON.stringify(profile));
    report.profile = summariseProfile(profile, { top: 15, root });
  }
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${process.pid}.json`);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(report, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

let busy = Promise.resolve();
process.on('SIGUSR2', () => {
  // One after the other: a close must not start before its open has started the profiler.
  busy = busy.then(() => (window ? close() : open())).catch((err) => process.stderr.write(`window-probe: ${err.stack || err}\n`));
});
