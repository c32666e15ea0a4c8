// The worker's checkpoint pass at scale: N live sessions (rows in Postgres, live state in Redis), timed twice, side
// by side: once with every session's billed time moved (all marked dirty: the most a pass can have to do), once with
// none moved (what an idle or paused crowd costs). Also the cost on each side of it: the worker (the pass runs in this
// process, so its CPU is read from our own /proc entry), the Postgres backends of the pool, the Redis server (its
// script calls: how many, µs each, the slowest), and what another Redis client saw meanwhile (PING round trips from a
// process of its own: the stall a gateway's heartbeat would see).
//
//   npx tsx bench/checkpoint-pass.ts --sessions 100000
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import type { Pool } from '../core/pg/pool.js';
import { createPool } from '../core/pg/pool.js';
import type { RedisClient } from '../core/redis/connect.js';
import { createMeter, type Meter } from '../core/redis/meter.js';
import { meterLimits } from '../core/meter-limits.js';
import { createLogger } from '../core/log.js';
import { checkpointDurations } from '../settlement-worker/checkpoint-durations.js';
import { createTestEnv } from '../test/helpers/test-env.js';
import { cpuMicros } from '../loadtest/common/proc-cpu.js';
import { createLiveSessions } from './live-sessions-fixture.js';
import { createWorkerMetrics } from '../settlement-worker/metrics.js';
import { benchQueryTimeoutMs } from './bench-timeouts.js';

export interface PassCost {
  seconds: number;
  rowsWritten: number;
  /** CPU of this process (the worker's side of the pass). */
  cpuMicros: number;
  /** CPU of the pool's Postgres backends. */
  postgresCpuMicros: number;
  /** CPU of the Redis server (everything it ran meanwhile: on a shared machine, others' commands too). */
  redisCpuMicros: number;
  /** Script calls Redis ran meanwhile (EVALSHA), µs each on average, and the slowest as Redis's histogram bounds it. */
  scriptCalls: number;
  scriptMicrosPerCall: number;
  scriptSlowestMicrosAtMost: number;
  /** Another client's PING round trips meanwhile (one every ms, from its own process), ms. */
  pingMaxMs: number;
  pingP99Ms: number;
}

export interface CheckpointPassResult {
  liveSessions: number;
  allMoved: PassCost & { rowsPerSecond: number; workerMicrosPerRow: number; postgresMicrosPerRow: number };
  noneMoved: PassCost;
}

/** Redis's per-command counters for EVALSHA: calls, total µs, and the latency histogram (µs bound → calls ≤ it). */
async function evalshaStats(redis: RedisClient) {
  const stats = await redis.info('commandstats');
  const m = /cmdstat_evalsha:calls=(\d+),usec=(\d+)/.exec(stats);
  const raw = await redis.call('LATENCY', 'HISTOGRAM', 'evalsha') as unknown[];
  const hist = new Map<number, number>();
  const flat = (Array.isArray(raw) && Array.isArray(raw[1]) ? (raw[1] as unknown[])[3] : []) as (number | string)[];
  for (let i = 0; i + 1 < (flat?.length ?? 0); i += 2) hist.set(Number(flat[i]), Number(flat[i + 1]));
  return { calls: Number(m?.[1] ?? 0), usec: Number(m?.[2] ?? 0), hist };
}

/** The pid of every backend the pool holds: fills the pool so each of its connections is opened and known. */
async function backendPids(pool: Pool): Promise<number[]> {
  const clients = await Promise.all(Array.from({ length: pool.options.max ?? 10 }, () => pool.connect()));
  try {
    return await Promise.all(clients.map(async (c) => Number((await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid)));
  } finally {
    for (const c of clients) c.release();
  }
}

// A process of its own (this one is busy with the pass): one PING at a time, 1 ms apart, over a raw socket; on
// SIGTERM it prints the largest and the p99 round trip.
const pingerSource = `
const net = require('node:net');
const rtts = [];
const s = net.connect(Number(process.argv[2]), process.argv[1]);
let sent = 0;
const ping = () => { sent = performance.now(); s.write('PING\\r\\n'); };
s.on('connect', ping);
s.on('data', () => { rtts.push(performance.now() - sent); setTimeout(ping, 1); });
process.on('SIGTERM', () => {
  rtts.sort((a, b) => a - b);
  const at = (q) => +(rtts[Math.min(rtts.length - 1, Math.floor(q * rtts.length))] ?? NaN).toFixed(2);
  process.stdout.write(JSON.stringify({ maxMs: at(1), p99Ms: at(0.99), samples: rtts.length }), () => process.exit(0));
});`;

function startPinger(host: string, port: number) {
  const child = spawn(process.execPath, ['-e', pingerSource, host, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    async stop(): Promise<{ maxMs: number; p99Ms: number; samples: number }> {
      child.kill('SIGTERM');
      await exited;
      return JSON.parse(out) as { maxMs: number; p99Ms: number; samples: number };
    },
  };
}

/** One pass (`pass` returns rows written) with its cost on the worker, Postgres and Redis. */
export async function timedPass(pool: Pool, redis: RedisClient, pass: () => Promise<number>): Promise<PassCost> {
  const pgPids = await backendPids(pool);
  const redisPid = Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1]);
  const opts = redis.isCluster ? null : (redis as import('ioredis').Redis).options;
  const pinger = opts ? startPinger(opts.host ?? '127.0.0.1', opts.port ?? 6379) : null;
  await new Promise((r) => setTimeout(r, 200));
  const before = { redis: await evalshaStats(redis), pg: pgPids.map(cpuMicros), redisCpu: cpuMicros(redisPid) };
  const cpu0 = cpuMicros(process.pid);
  const t0 = performance.now();
  const rowsWritten = await pass();
  const seconds = +((performance.now() - t0) / 1000).toFixed(3);
  const cpu = Math.round(cpuMicros(process.pid) - cpu0);
  const redisCpuMicros = Math.round(cpuMicros(redisPid) - before.redisCpu);
  const postgresCpuMicros = Math.round(pgPids.reduce((sum, pid, i) => sum + cpuMicros(pid) - before.pg[i]!, 0));
  const after = await evalshaStats(redis);
  const scriptCalls = after.calls - before.redis.calls;
  // The histogram is cumulative (calls at most `bound` µs): the slowest call is at most the smallest bound that
  // counts every call made meanwhile.
  const deltas = [...after.hist].map(([bound, n]) => [bound, n - (before.redis.hist.get(bound) ?? 0)] as const).sort((a, b) => a[0] - b[0]);
  const most = Math.max(0, ...deltas.map(([, d]) => d));
  const slowest = most === 0 ? 0 : deltas.find(([, d]) => d === most)![0];
  const ping = await pinger?.stop();
  return {
    seconds, rowsWritten, cpuMicros: cpu, postgresCpuMicros, redisCpuMicros, scriptCalls,
    scriptMicrosPerCall: scriptCalls > 0 ? +((after.usec - before.redis.usec) / scriptCalls).toFixed(1) : 0,
    scriptSlowestMicrosAtMost: slowest, pingMaxMs: ping?.maxMs ?? NaN, pingP99Ms: ping?.p99Ms ?? NaN,
  };
}

/** Every session billed 1 s more (as one heartbeat would) and marked, as the gateways' flushes would mark them. */
export async function markAllMoved(redis: RedisClient, meter: Meter, ids: readonly string[]): Promise<void> {
  for (let i = 0; i < ids.length; i += 2_000) {
    const slice = ids.slice(i, i + 2_000);
    await Promise.all(slice.map((id) => redis.hincrby(meter.keys.session(id), 'billed_ms', 1_000).then(() => redis.hincrby(meter.keys.lectures(id), '1', 1_000))));
    for (const id of slice) meter.dirty.mark(id);
    await meter.dirty.flush();
  }
}

export function checkpointPass(pool: Pool, redis: RedisClient, meter: Meter): () => Promise<number> {
  const log = createLogger({ logLevel: 'silent', logPretty: false }, 'bench');
  return () => checkpointDurations({ pool, meter, log, metrics: createWorkerMetrics(), signal: new AbortController().signal }, meter.keys.buckets());
}

const perRow = (micros: number, rows: number) => +(micros / Math.max(1, rows)).toFixed(2);

export async function measureCheckpointPass(pool: Pool, redis: RedisClient, meter: Meter, liveSessions: number): Promise<CheckpointPassResult> {
  const ids = await createLiveSessions(pool, meter, liveSessions);
  await markAllMoved(redis, meter, ids);
  const pass = checkpointPass(pool, redis, meter);
  const allMoved = await timedPass(pool, redis, pass);
  const noneMoved = await timedPass(pool, redis, pass);
  await Promise.all(ids.map((id) => meter.forgetSession(id)));
  return {
    liveSessions,
    allMoved: {
      ...allMoved, rowsPerSecond: Math.round(allMoved.rowsWritten / allMoved.seconds),
      workerMicrosPerRow: perRow(allMoved.cpuMicros, allMoved.rowsWritten), postgresMicrosPerRow: perRow(allMoved.postgresCpuMicros, allMoved.rowsWritten),
    },
    noneMoved,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { sessions: { type: 'string', default: '20000' } } });
  const env = await createTestEnv({ LOG_LEVEL: 'warn' });
  const pool = createPool({ ...env.config, databaseQueryTimeoutMs: benchQueryTimeoutMs }, 10);
  try {
    const meter = createMeter(env.redis, env.keys, meterLimits(env.config));
    process.stdout.write(`${JSON.stringify(await measureCheckpointPass(pool, env.redis, meter, Number(values.sessions)), null, 2)}\n`);
  } finally {
    await pool.end();
    await env.cleanup();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().then(() => process.exit(0), (err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
