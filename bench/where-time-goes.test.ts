// The bench's "where the time goes" step, its pure parts and its probe: the /metrics histogram window → percentile
// parser (on prom-client's own text), the CPU profile categoriser (on a hand-made profile), the results-file section
// (on a fixture), and window-probe.cjs in a real child process driven by SIGUSR2.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Histogram, Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { bucketQuantile, parseHistogram, windowPercentiles } from './metrics-histogram.js';
import type { HeartbeatPathResult, PathRun, ProbeReport } from './heartbeat-path.js';
import { heartbeatPathHeadlineRows, heartbeatPathSection } from './results-heartbeat-path.js';
import { resultsMarkdownOf } from '../test/helpers/bench-results.js';

const require = createRequire(import.meta.url);
const { summariseProfile, categoryOf } = require('./profile-summary.cjs') as {
  summariseProfile(p: unknown, o?: { top?: number; root?: string }): { totalMs: number; categories: { category: string; ms: number; pct: number }[]; topFunctions: { name: string; where: string; category: string; ms: number }[] };
  categoryOf(f: { functionName: string; url: string }): string;
};
const probePath = fileURLToPath(new URL('./window-probe.cjs', import.meta.url));

describe('histogram window percentiles from /metrics text', () => {
  it('takes bucket deltas per label over the window, on prom-client output', async () => {
    const registry = new Registry();
    const h = new Histogram({ name: 'gateway_heartbeat_stage_seconds', help: 'x', labelNames: ['stage'], buckets: [0.001, 0.005, 0.02, 0.1], registers: [registry] });
    // Before the window: slow observations that must not count.
    for (let i = 0; i < 50; i++) h.observe({ stage: 'queued' }, 0.05);
    const open = await registry.metrics();
    // In the window: 98 fast, 2 at 15 ms → p50 ≤ 1 ms, p99 ≤ 20 ms. ack_written first appears now, and overflows.
    for (let i = 0; i < 98; i++) h.observe({ stage: 'queued' }, 0.0004);
    h.observe({ stage: 'queued' }, 0.015);
    h.observe({ stage: 'queued' }, 0.015);
    for (let i = 0; i < 10; i++) h.observe({ stage: 'ack_written' }, i < 5 ? 0.003 : 0.5);
    const close = await registry.metrics();
    const w = windowPercentiles(open, close, 'gateway_heartbeat_stage_seconds', 'stage');
    expect(w.queued).toEqual({ count: 100, p50Ms: 1, p99Ms: 20, lastBoundMs: 100 });
    expect(w.ack_written).toEqual({ count: 10, p50Ms: 5, p99Ms: '+Inf', lastBoundMs: 100 });
  });

  it('sums other labels, ignores other metrics and gives null with no observations', () => {
    const text = [
      '# HELP nodejs_gc_duration_seconds x',
      'nodejs_gc_duration_seconds_bucket{le="0.001",kind="minor",extra="a"} 3',
      'nodejs_gc_duration_seconds_bucket{le="0.001",kind="minor",extra="b"} 4',
      'nodejs_gc_duration_seconds_bucket{le="+Inf",kind="minor",extra="a"} 5',
      'nodejs_gc_duration_seconds_bucket{le="+Inf",kind="minor",extra="b"} 4',
      'nodejs_gc_duration_seconds_sum{kind="minor"} 0.01',
      'other_metric_bucket{le="0.001",kind="minor"} 1000',
    ].join('\n');
    const minor = parseHistogram(text, 'nodejs_gc_duration_seconds', 'kind').get('minor')!;
    expect(minor).toEqual([{ le: 0.001, count: 7 }, { le: Infinity, count: 9 }]);
    expect(bucketQuantile(minor, 0.5)).toBe(0.001);
    expect(bucketQuantile(minor, 0.9)).toBe(Infinity);
    expect(windowPercentiles(text, text, 'nodejs_gc_duration_seconds', 'kind').minor).toMatchObject({ count: 0, p50Ms: null, p99Ms: null });
    expect(windowPercentiles('', '', 'gateway_heartbeat_stage_seconds', 'stage')).toEqual({});
  });
});

describe('CPU profile summary', () => {
  const root = '/work/x';
  const frame = (functionName: string, url: string, lineNumber = 0) => ({ functionName, url, lineNumber, columnNumber: 0, scriptId: '0' });
  // Node ids: 1 root, 2 idle, 3 GC, 4 our onMessage (two stacks: 4 and 8), 5 ioredis, 6 uWS send, 7 JSON.parse.
  const profile = {
    nodes: [
      { id: 1, callFrame: frame('(root)', ''), children: [2, 3, 4, 6] },
      { id: 2, callFrame: frame('(idle)', '') },
      { id: 3, callFrame: frame('(garbage collector)', '') },
      { id: 4, callFrame: frame('onMessage', `file://${root}/dist/gateway/ws/on-message.js`, 40), children: [5, 7, 8] },
      { id: 5, callFrame: frame('sendCommand', `file://${root}/node_modules/ioredis/built/Redis.js`, 353) },
      { id: 6, callFrame: frame('send', '') },
      { id: 7, callFrame: frame('parse', '') },
      { id: 8, callFrame: frame('onMessage', `file://${root}/dist/gateway/ws/on-message.js`, 40) },
    ],
    startTime: 0,
    endTime: 10_000,
    // Sample i lasts until the next one; the last until endTime.
    samples: [2, 4, 4, 5, 6, 7, 3, 8, 2],
    timeDeltas: [0, 4_000, 1_000, 1_000, 1_000, 500, 500, 1_000, 500],
  };

  it('adds self time per category and per function, pseudo-frames only in the categories', () => {
    const s = summariseProfile(profile, { root, top: 3 });
    const cat = Object.fromEntries(s.categories.map((c) => [c.category, c.ms]));
    expect(s.totalMs).toBe(10);
    expect(cat).toMatchObject({ idle: 4.5, 'ours (dist/)': 2.5, ioredis: 1, 'uWS/native': 0.5, JSON: 0.5, GC: 1, program: 0 });
    expect(s.topFunctions).toEqual([
      { name: 'onMessage', where: 'dist/gateway/ws/on-message.js:41', category: 'ours (dist/)', ms: 2.5, pct: 25 },
      { name: 'sendCommand', where: 'node_modules/ioredis/built/Redis.js:354', category: 'ioredis', ms: 1, pct: 10 },
      expect.objectContaining({ where: '(native)', ms: 0.5 }),
    ]);
  });

  it('names library and runtime code by where it lives', () => {
    expect(categoryOf(frame('x', 'file:///a/node_modules/@ioredis/commands/built/index.js'))).toBe('ioredis');
    expect(categoryOf(frame('x', 'file:///a/node_modules/sonic-boom/index.js'))).toBe('pino');
    expect(categoryOf(frame('x', 'file:///a/node_modules/zod/v4/core/schemas.js'))).toBe('zod');
    expect(categoryOf(frame('x', 'file:///a/node_modules/uWebSockets.js/uws.js'))).toBe('uWS/native');
    expect(categoryOf(frame('x', 'file:///a/node_modules/pg/lib/client.js'))).toBe('other deps');
    expect(categoryOf(frame('listOnTimeout', 'node:internal/timers'))).toBe('node internals');
    expect(categoryOf(frame('stringify', ''))).toBe('JSON');
  });
});

function probe(over: Partial<ProbeReport> = {}): ProbeReport {
  return {
    pid: 1, seconds: 20, loopResolutionMs: 10,
    gc: { minor: { count: 40, totalMs: 60, maxMs: 3, over10Ms: 0 }, major: { count: 1, totalMs: 12, maxMs: 12, over10Ms: 1 }, incremental: { count: 2, totalMs: 2, maxMs: 1.5, over10Ms: 0 } },
    loopDelay: { p50Ms: 0.1, p99Ms: 4.2, maxMs: 30 },
    profile: { totalMs: 20_000, categories: [{ category: 'ioredis', ms: 900, pct: 4.5 }, { category: 'zod', ms: 0, pct: 0 }], topFunctions: [{ name: 'sendCommand', where: 'node_modules/ioredis/built/Redis.js:354', category: 'ioredis', ms: 300, pct: 1.5 }] },
    ...over,
  };
}

function run(build: 'baseline' | 'current', round: number, p99Ms: number, gatewayMicros: number, withStages: boolean, profiled = false): PathRun {
  return {
    build, rev: build === 'baseline' ? 'b'.repeat(40) : 'c'.repeat(40), round, profiled,
    load: { viewers: 5000, processes: 1, opened: 5000, openFailures: 0, sent: 100_000, answered: 100_000, errors: {}, errorCount: 0, seconds: 20, answersPerSecond: 5000, p50Ms: 1, p99Ms, p999Ms: 2 * p99Ms, maxMs: 60,
      loadUsage: [{ loopP99Ms: 1.5, loopMaxMs: 20, steadyLoopP99Ms: 1.2, steadyLoopMaxMs: 9, gcMaxMs: 4, cpuMicrosPerHeartbeat: 30, cpuMicrosPerJoin: 500 }] },
    cpuMicrosPerHeartbeat: { gateway: gatewayMicros, redis: 12, worker: 2, load: 30 }, otherCores: 0.25,
    gateway: probe(), worker: probe({ profile: null }),
    stages: withStages ? {
      queued: { count: 500, p50Ms: 0.5, p99Ms: 2, lastBoundMs: 100 },
      ack_written: { count: 500, p50Ms: 2, p99Ms: '+Inf', lastBoundMs: 100 },
    } : null,
    metricsScraped: !(build === 'baseline' && round === 2),
    probeDir: `/tmp/probe/${build}-round${round}`,
  };
}

const fixture: HeartbeatPathResult = {
  viewers: 5000, intervalMs: 1000, steadyMs: 20_000, profiled: true,
  builds: { baseline: { rev: 'b'.repeat(40) }, current: { rev: 'c'.repeat(40), uncommitted: false } },
  floors: {
    uwsEcho: { serverCpuMicrosPerFrame: 10, p99Ms: 1, framesPerSecond: 5000 } as HeartbeatPathResult['floors']['uwsEcho'],
    luaLimit: { sessions: 20_000, calls: 100_000, seconds: 2, callsPerSecond: 50_000, redisCpuMicrosPerCall: 8, variants: [] },
  },
  runs: [run('baseline', 1, 30, 50, false), run('current', 1, 10, 25, true), run('current', 2, 14, 35, true), run('baseline', 2, 18, 60, false)],
};

describe('the "Where the time goes" section', () => {
  const section = heartbeatPathSection(fixture).join('\n');

  it('puts baseline runs then current runs in columns, with current / baseline of the means and the floors', () => {
    expect(section).toContain('## Where the time goes (one gateway, 5,000 heartbeats/s)');
    expect(section).toContain('| | baseline #1 | baseline #2 | current #1 | current #2 | current / baseline | target or floor |');
    // means 24 vs 12 ms
    expect(section).toContain('| ack p99 | 30.0 ms | 18.0 ms | 10.0 ms | 14.0 ms | ×0.50 | ≤ 20 ms |');
    // means 55 vs 30 µs; the echo floor is 10 µs
    expect(section).toContain('| gateway CPU µs / heartbeat | 50.0 | 60.0 | 25.0 | 35.0 | ×0.55 | ≤ 35; bare uWS echo 10 µs |');
    expect(section).toContain('| gateway / bare uWS echo | ×5.00 | ×6.00 | ×2.50 | ×3.50 | ×0.55 |  |');
    expect(section).toContain('| Redis / Lua alone | ×1.50 | ×1.50 | ×1.50 | ×1.50 | ×1.00 |  |');
    expect(section).toContain('| gateway GC major + incremental: count / total / max | 3 / 14.0 ms / 12.0 ms |');
  });

  it('gives stages as bucket bounds, and "–" for a build without the metric', () => {
    expect(section).toContain('| frame in → `queued`: p50 / p99 (sampled heartbeats) | – | no /metrics | ≤ 0.5 ms / ≤ 2 ms (500) | ≤ 0.5 ms / ≤ 2 ms (500) | |');
    expect(section).toContain('| frame in → `ack_written`: p50 / p99 (sampled heartbeats) | – | no /metrics | ≤ 2 ms / > 100 ms (500) | ≤ 2 ms / > 100 ms (500) | |');
    expect(section).toContain('| frame in → `redis_write`: p50 / p99 (sampled heartbeats) | – | no /metrics | – | – | |');
  });

  it('lists the profile by category (categories with time only) and each build\'s last top functions', () => {
    expect(section).toContain('| ioredis | 900 (4.5 %) | 900 (4.5 %) | 900 (4.5 %) | 900 (4.5 %) |');
    expect(section).not.toContain('| zod |');
    expect(section).toContain("### Gateway's top functions by self time, baseline #2");
    expect(section).toContain("### Gateway's top functions by self time, current #2");
  });

  it('checks the current build against the targets in the headline: worst latency, mean CPU', () => {
    const rows = heartbeatPathHeadlineRows(fixture);
    expect(rows[0]).toContain('| 14.0 ✓ / 28.0 ✓ / 60.0 ✓ ms, 0 errors | ≤ 20 / ≤ 50 / ≤ 100 ms |');
    expect(rows[1]).toContain('| 30.0 ✓ / 12.0 ✗ / 2.00 ✓ | ≤ 35 / ≤ 10 / ≤ 3 |');
  });

  it('takes the targets and the ratio from the windows without the profiler when some ran under it', () => {
    // Round 1 profiled (its tail is the profiler's): p99 30 / 10 there, 18 / 14 and 16 / 12 in rounds 2 and 3.
    const mixed: HeartbeatPathResult = {
      ...fixture,
      runs: [run('baseline', 1, 30, 50, true, true), run('current', 1, 10, 25, true, true), run('current', 2, 14, 35, true), run('baseline', 2, 18, 60, true),
        run('baseline', 3, 16, 40, true), run('current', 3, 12, 30, true)],
    };
    const text = heartbeatPathSection(mixed).join('\n');
    expect(text).toContain('| | baseline #1 (profiled) | baseline #2 | baseline #3 | current #1 (profiled) | current #2 | current #3 | current / baseline | target or floor |');
    // means of rounds 2 and 3: 13 vs 17 ms
    expect(text).toContain('| ack p99 | 30.0 ms | 18.0 ms | 16.0 ms | 10.0 ms | 14.0 ms | 12.0 ms | ×0.76 | ≤ 20 ms |');
    expect(text).toContain('the ratio column and the headline rows come from the other windows');
    const rows = heartbeatPathHeadlineRows(mixed);
    expect(rows[0]).toContain('worst of 2 run(s) without the profiler | 14.0 ✓ / 28.0 ✓ / 60.0 ✓ ms');
    expect(rows[1]).toContain('mean of 2 run(s) without the profiler | 32.5 ✓ /');
  });

  it('is part of results.md, and results.md still renders without it', () => {
    const md = resultsMarkdownOf({ heartbeatPath: fixture });
    expect(md).toContain('## Where the time goes (one gateway, 5,000 heartbeats/s)');
    expect(md).toContain('## Ladders at 5 s heartbeats');
    expect(md).toContain('| one gateway at 5,000 heartbeats/s (5000 viewers), ack p99 / p99.9 / max');
    const without = resultsMarkdownOf({});
    expect(without).toContain('| one gateway at 5,000 heartbeats/s: ack p99 / p99.9 / max | not measured in this run |');
    expect(without).toContain('Not measured in this run.');
  });
});

describe('window-probe.cjs in a process', () => {
  const dir = mkdtempSync(join(os.tmpdir(), 'window-probe-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('opens a window on SIGUSR2 and on the next writes GC per kind, loop delay and the profile summary', async () => {
    // A process that does some garbage-making work and forces a major GC now and then; it says when it is ready.
    const child = spawn(process.execPath, ['--expose-gc', '--require', probePath, '-e',
      "let keep=[];setInterval(()=>{for(let i=0;i<2000;i++)keep.push({i,s:'x'.repeat(20)});if(keep.length>20000)keep=[];},2);setInterval(()=>gc(),100);process.stdout.write('ready\\n');"],
    { env: { ...process.env, PROBE_DIR: dir, PROBE_CPU_PROFILE: '1' }, stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise((r) => child.stdout!.once('data', r));
      child.kill('SIGUSR2');
      await new Promise((r) => setTimeout(r, 700));
      child.kill('SIGUSR2');
      const file = join(dir, `${child.pid}.json`);
      for (let i = 0; i < 100 && !existsSync(file); i++) await new Promise((r) => setTimeout(r, 100));
      const report = JSON.parse(readFileSync(file, 'utf8')) as ProbeReport;
      expect(report.pid).toBe(child.pid);
      expect(report.gc.major?.count).toBeGreaterThan(0);
      expect(report.gc.minor?.count).toBeGreaterThan(0);
      expect(report.loopDelay.maxMs).toBeGreaterThanOrEqual(report.loopDelay.p99Ms);
      expect(report.profile?.categories.map((c) => c.category)).toContain('ours (dist/)');
      expect(report.profile!.topFunctions.length).toBeGreaterThan(0);
      expect(existsSync(join(dir, `${child.pid}.cpuprofile`))).toBe(true);
      expect(child.exitCode).toBeNull(); // the signal did not end it (its default action would have)
    } finally {
      child.kill('SIGKILL');
    }
  });
});
