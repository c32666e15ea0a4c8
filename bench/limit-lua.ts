// The limit of the metering core: the heartbeat Lua script alone (applyUpdates-n.lua), called as fast as Redis takes it
// (auto-pipelined, many in flight), no gateway, no sockets. Side by side in one run: one update per script call (what
// meter.applyUpdate sends) and batches of several updates per call (meter.applyUpdates) at a few sizes. Reported per
// heartbeat: Redis CPU µs (INFO used_cpu_sys + used_cpu_user deltas), and per script call the time Redis spent in it
// (INFO commandstats, evalsha + eval), which is how long one call keeps Redis from everything else.
//
// Run alone: `flock /tmp/perf.lock npx tsx bench/limit-lua.ts` (a private redis-server on a free port, so the
// other users of the machine's Redis do not show up in its CPU figures; BENCH_REDIS_URL=redis://… to use another).
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { RedisClient } from '../core/redis/connect.js';
import { createRedis } from '../core/redis/connect.js';
import { createMeter, type MeterLimits, type UpdateInput } from '../core/redis/meter.js';
import { createKeys, type Keys } from '../core/redis/keys.js';
import { updatesPerScriptCallMax } from '../core/limits.js';

export interface LuaVariant {
  /** 'applyUpdates×<batch size>' (×1: one update per call, as meter.applyUpdate). */
  variant: string;
  updates: number;
  scriptCalls: number;
  seconds: number;
  updatesPerSecond: number;
  redisCpuMicrosPerUpdate: number;
  /** Redis's own time per script call (commandstats): how long one call blocks Redis. */
  scriptMicrosPerCall: number;
}

export interface LuaLimit {
  sessions: number;
  calls: number;
  seconds: number;
  callsPerSecond: number;
  /** Of one update per call (what earlier results files report, from the single-update script of the time). */
  redisCpuMicrosPerCall: number;
  variants: LuaVariant[];
}

/** The first is one update per call; the last is above updatesPerScriptCallMax: applyUpdates cuts it into calls. */
const batchSizesDefault = [1, 10, updatesPerScriptCallMax, 100];

/** Seconds of CPU Redis has used (all its threads), and its script calls and their µs so far. */
async function redisCounters(redis: RedisClient): Promise<{ cpuSeconds: number; scriptCalls: number; scriptMicros: number }> {
  const [cpu, stats] = await Promise.all([redis.info('cpu'), redis.info('commandstats')]);
  const num = (re: RegExp) => Number(re.exec(cpu)?.[1] ?? 0);
  let scriptCalls = 0;
  let scriptMicros = 0;
  for (const m of stats.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+),usec=(\d+)/gm)) {
    scriptCalls += Number(m[1]);
    scriptMicros += Number(m[2]);
  }
  return { cpuSeconds: num(/used_cpu_sys:([\d.]+)/) + num(/used_cpu_user:([\d.]+)/), scriptCalls, scriptMicros };
}

export async function measureLuaLimit(redis: RedisClient, keys: Keys, limits: MeterLimits,
  o: { sessions: number; rounds: number; inFlight: number; batchSizes?: readonly number[] }): Promise<LuaLimit> {
  // The rate limit would refuse early (and cheaply): measure the whole script, as a heartbeat 5 s apart runs it.
  const meter = createMeter(redis, keys, { ...limits, updatesPerSecondMax: 1_000_000_000 });
  const ids = Array.from({ length: o.sessions }, (_, i) => `b0000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
  for (let i = 0; i < ids.length; i += 1_000) {
    await Promise.all(ids.slice(i, i + 1_000).map((id) => meter.startSession(id, {
      studentId: '00000000-0000-0000-0000-000000000001', courseId: '10000000-0000-0000-0000-000000000001',
      teacherId: '00000000-0000-0000-0000-000000000002', lockedMinor: 1_000_000, priceMinor: 50, maxBillableMs: 1e12, lectureIds: [1, 2, 3],
    })));
  }
  const total = o.sessions * o.rounds;
  // A player stays on one lecture for many heartbeats: each session reports its own lecture every time.
  const heartbeat = (i: number): UpdateInput => ({ socketId: '', playing: true, claimedMs: null, lecture: 1 + ((i % ids.length) % 3), completionPct: 10 });

  /** Runs `total` updates, `size` (distinct sessions) per applyUpdates. */
  const run = async (variant: string, size: number): Promise<LuaVariant> => {
    const workers = Math.max(1, Math.round(o.inFlight / size));
    let next = 0;
    const before = await redisCounters(redis);
    const t0 = performance.now();
    await Promise.all(Array.from({ length: workers }, async () => {
      while (next < total) {
        const from = next;
        next += size;
        const items = [];
        for (let i = from; i < Math.min(from + size, total); i++) items.push({ sessionId: ids[i % ids.length]!, input: heartbeat(i) });
        await meter.applyUpdates(items);
      }
    }));
    const seconds = (performance.now() - t0) / 1000;
    const after = await redisCounters(redis);
    const scriptCalls = after.scriptCalls - before.scriptCalls;
    return {
      variant, updates: total, scriptCalls, seconds: +seconds.toFixed(3), updatesPerSecond: Math.round(total / seconds),
      redisCpuMicrosPerUpdate: +(((after.cpuSeconds - before.cpuSeconds) * 1e6) / total).toFixed(2),
      scriptMicrosPerCall: +((after.scriptMicros - before.scriptMicros) / scriptCalls).toFixed(1),
    };
  };

  // A warm-up pass loads the scripts and grows the hashes' encodings, so neither lands in the first variant measured.
  await run('warm-up', 10);
  const variants: LuaVariant[] = [];
  // One update per call always runs, first: the other sizes are read against it.
  for (const b of [1, ...(o.batchSizes ?? batchSizesDefault).filter((x) => x !== 1)]) variants.push(await run(`applyUpdates×${b}`, b));
  await Promise.all(ids.map((id) => meter.forgetSession(id)));
  const single = variants[0]!;
  return { sessions: o.sessions, calls: single.updates, seconds: single.seconds, callsPerSecond: single.updatesPerSecond,
    redisCpuMicrosPerCall: single.redisCpuMicrosPerUpdate, variants };
}

/** A throwaway redis-server on a free loopback port, with the machine Redis's persistence settings (none). */
async function privateRedis(): Promise<{ url: string; stop(): void }> {
  const port = 19_000 + Math.floor(Math.random() * 1_000);
  const dir = mkdtempSync(join(tmpdir(), 'limit-lua-'));
  spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir,
    '--daemonize', 'yes', '--logfile', join(dir, 'redis.log')], { stdio: 'ignore' });
  for (let i = 0; ; i++) {
    try {
      if (execFileSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() === 'PONG') break;
    } catch { /* not up yet */ }
    if (i > 100) throw new Error(`redis-server on ${port} did not start`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    stop() {
      try { execFileSync('redis-cli', ['-p', String(port), 'shutdown', 'nosave'], { stdio: 'ignore' }); } catch { /* gone */ }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const own = process.env.BENCH_REDIS_URL ? null : await privateRedis();
  const redisUrl = process.env.BENCH_REDIS_URL ?? own!.url;
  const redis = createRedis({ redisUrl, redisClusterNodes: [] }, { purpose: 'limit-lua' });
  try {
    const limits: MeterLimits = { creditMsMax: 10_000, updatesPerSecondMax: 20, lowFundsWarningMs: 60_000, disconnectGraceMs: 3_000,
      socketIdleMs: 16_000, settleRetryMs: 10_000 };
    const sessions = Number(process.env.SESSIONS ?? 20_000);
    const rounds = Number(process.env.ROUNDS ?? 5);
    const batchSizes = process.env.BATCH_SIZES?.split(',').map(Number);
    const r = await measureLuaLimit(redis, createKeys(`bench:limit-lua:${process.pid}:`), limits, { sessions, rounds, inFlight: 1_000, batchSizes });
    console.log(`${redisUrl}, ${r.sessions} sessions, ${r.calls} updates per variant, updatesPerScriptCallMax ${updatesPerScriptCallMax}`);
    console.table(r.variants.map((v) => ({ ...v, vsSingle: +(v.redisCpuMicrosPerUpdate / r.redisCpuMicrosPerCall).toFixed(2) })));
  } finally {
    redis.disconnect();
    own?.stop();
  }
}
