// `npm run bench`: measures, side by side in one run on this machine, what replacing the seed's Postgres write per
// heartbeat with one Redis Lua call buys, and what an open socket costs. Starts its own gateway and worker processes
// over a private schema and key prefix, writes loadtest/results/bench-<time>.json, prints a table.
//
//   1. backend: the metering update as the gateway runs it (applyUpdate, one script call) vs the seed's design (one
//      Postgres UPDATE of the session row per heartbeat), same sessions, same concurrency, same count;
//   2. end to end: heartbeat → ack over WebSocket vs PATCH /metrics over HTTP against the real gateway;
//   3. memory: gateway RSS before and after opening N sockets → bytes per socket.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import hdr from 'hdr-histogram-js';
import pg from 'pg';
import WebSocket from 'ws';
import { loadConfig } from '../../shared/config.js';
import { migrate, seed } from '../../shared/pg/migrate.js';
import { createPool } from '../../shared/pg/pool.js';
import { createRedis } from '../../shared/redis/connect.js';
import { createKeys } from '../../shared/redis/keys.js';
import { createMeter } from '../../shared/redis/meter.js';
import { meterLimits } from '../../shared/meter-limits.js';
import { mintToken } from '../../shared/auth/mint-token.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const sessionsN = Number(process.env.BENCH_SESSIONS ?? 400);
const updatesN = Number(process.env.BENCH_UPDATES ?? 20_000);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 50);
const socketsN = Number(process.env.BENCH_SOCKETS ?? 2_000);
const port = Number(process.env.BENCH_PORT ?? 18_380);
const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const secret = 'bench-secret-0123456789abcdef';
const STUDENT = '00000000-0000-0000-0000-000000000001';
const COURSE = '10000000-0000-0000-0000-000000000001';

interface Measured { ops: number; seconds: number; opsPerSecond: number; p50Ms: number; p99Ms: number; maxMs: number }

/** Runs `op` `count` times with `concurrency` in flight; latency in µs precision. */
async function measure(count: number, parallel: number, op: (i: number) => Promise<void>): Promise<Measured> {
  const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < count) {
      const i = next++;
      const s = performance.now();
      await op(i);
      h.recordValue(Math.max(1, Math.round((performance.now() - s) * 1000)));
    }
  }));
  const seconds = (performance.now() - t0) / 1000;
  const r = { ops: count, seconds: +seconds.toFixed(3), opsPerSecond: Math.round(count / seconds),
    p50Ms: h.getValueAtPercentile(50) / 1000, p99Ms: h.getValueAtPercentile(99) / 1000, maxMs: h.maxValue / 1000 };
  h.destroy();
  return r;
}

const rssKb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);

async function waitReady(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try { if ((await fetch(url)).status === 200) return; } catch { /* not up */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} never became ready`);
}

async function main(): Promise<void> {
  const id = randomBytes(4).toString('hex');
  const schema = `bench_${id}`;
  const env = { ...process.env, PORT: String(port), DATABASE_URL: databaseUrl, DATABASE_SCHEMA: schema, REDIS_KEY_PREFIX: `bench:${id}:`,
    JWT_SECRET: secret, LOG_LEVEL: 'warn', LOG_PRETTY: 'false' };
  const config = loadConfig(env);
  await migrate(databaseUrl, schema);
  await seed(databaseUrl, schema);
  const pool = createPool(config, concurrency);
  const redis = createRedis(config, { purpose: 'bench' });
    const children: ChildProcess[] = [];
  const base = `http://127.0.0.1:${port}`;
  const token = await mintToken({ secret, sub: STUDENT, role: 'student', ttlSeconds: 3600 });
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(base + path, { method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return res.json() as Promise<any>;
  };
  try {
    for (const entry of ['gateway/main.ts', 'settlement-worker/main.ts']) {
      // node --import tsx (not the tsx CLI, which runs a second process) so the pid is the gateway's own, for RSS.
      children.push(spawn(process.execPath, ['--import', 'tsx', entry], { cwd: root, env, stdio: ['ignore', 'ignore', 'inherit'] }));
    }
    await waitReady(`${base}/readyz`);
    // Memory per idle socket, first, while the gateway's heap holds nothing else: every socket is an open session.
    const gatewayPid = children[0]!.pid!;
    const extra: string[] = [];
    for (let i = 0; i < socketsN; i++) {
      const s = await api('POST', '/api/sessions/create', { course_id: COURSE, student_id: STUDENT, locked_amount: 1 });
      await api('POST', `/api/sessions/${s.session_id}/start`);
      extra.push(s.session_id);
    }
    await new Promise((r) => setTimeout(r, 500));
    const rssBefore = rssKb(gatewayPid);
    const idle = await Promise.all(extra.map((sid) => new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws/sessions/${sid}`, { headers: { authorization: `Bearer ${token}` } });
      ws.once('message', () => resolve(ws));
      ws.once('error', reject);
    })));
    await new Promise((r) => setTimeout(r, 500));
    const rssAfter = rssKb(gatewayPid);
    for (const ws of idle) ws.close();

    const ids: string[] = [];
    for (let i = 0; i < sessionsN; i++) {
      const s = await api('POST', '/api/sessions/create', { course_id: COURSE, student_id: STUDENT, locked_amount: 1000 });
      await api('POST', `/api/sessions/${s.session_id}/start`);
      ids.push(s.session_id);
    }
    // Many sessions per second each would hit the per-session rate limit: spread the updates over all sessions.
    const sessionOf = (i: number) => ids[i % ids.length]!;

    // The backend comparison measures the script itself: without the per-session rate limit, which would otherwise
    // refuse most of these updates (many per session per second) early and make Lua look faster than it is.
    const unlimited = createMeter(redis, createKeys(config.redisKeyPrefix), { ...meterLimits(config), updatesPerSecondMax: 1_000_000_000 });
    const backendLua = await measure(updatesN, concurrency, async (i) => {
      await unlimited.applyUpdate(sessionOf(i), { socketId: '', playing: true, claimedMs: null, lecture: 1, completionPct: 10 });
    });
    await new Promise((r) => setTimeout(r, 1100)); // a fresh rate window
    const backendPg = await measure(updatesN, concurrency, async (i) => {
      await pool.query(`UPDATE sessions SET duration_ms = duration_ms + 1, completion_pct = 10, current_lecture = 1 WHERE id = $1`, [sessionOf(i)]);
    });

    const httpMetrics = await measure(Math.min(updatesN, 5_000), concurrency, async (i) => {
      await api('PATCH', `/api/sessions/${sessionOf(i)}/metrics`, { duration_seconds: 0, completion_pct: 10, current_lecture: 1 });
    });
    await new Promise((r) => setTimeout(r, 1100));
    const sockets = await Promise.all(ids.map((sid) => new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws/sessions/${sid}`, { headers: { authorization: `Bearer ${token}` } });
      ws.once('message', () => resolve(ws));
      ws.once('error', reject);
    })));
    const seqs = new Map<WebSocket, number>();
    const wsHeartbeat = await measure(Math.min(updatesN, 5_000), Math.min(concurrency, sockets.length), async (i) => {
      const ws = sockets[i % sockets.length]!;
      const seq = (seqs.get(ws) ?? 0) + 1;
      seqs.set(ws, seq);
      await new Promise<void>((resolve) => {
        const onMessage = (raw: WebSocket.RawData) => {
          const m = JSON.parse(String(raw));
          if (m.seq !== seq) return;
          if (m.type !== 'ack') throw new Error(`heartbeat ${seq}: ${String(raw)}`);
          ws.off('message', onMessage);
          resolve();
        };
        ws.on('message', onMessage);
        ws.send(JSON.stringify({ type: 'heartbeat', seq, position_seconds: 1, playing: true, current_lecture: 1, completion_pct: 10 }));
      });
    });
    for (const ws of sockets) ws.close();

    const results = {
      when: new Date().toISOString(),
      machine: { node: process.version, cpus: (await import('node:os')).cpus().length },
      params: { sessionsN, updatesN, concurrency, socketsN },
      backend: { redisLuaUpdate: backendLua, postgresUpdatePerHeartbeat: backendPg,
        throughputRatio: +(backendLua.opsPerSecond / backendPg.opsPerSecond).toFixed(2),
        p99Ratio: +(backendPg.p99Ms / backendLua.p99Ms).toFixed(2) },
      endToEnd: { wsHeartbeatAck: wsHeartbeat, httpPatchMetrics: httpMetrics,
        throughputRatio: +(wsHeartbeat.opsPerSecond / httpMetrics.opsPerSecond).toFixed(2) },
      memory: { gatewayRssKbBefore: rssBefore, gatewayRssKbAfter: rssAfter, sockets: socketsN,
        bytesPerSocket: Math.round(((rssAfter - rssBefore) * 1024) / socketsN) },
    };
    mkdirSync(`${root}loadtest/results`, { recursive: true });
    const file = `${root}loadtest/results/bench-${results.when.replace(/[:.]/g, '-')}.json`;
    writeFileSync(file, JSON.stringify(results, null, 2));
    const row = (name: string, m: Measured) => console.log(`${name.padEnd(44)} ${String(m.opsPerSecond).padStart(8)}/s  p50 ${m.p50Ms.toFixed(3)} ms  p99 ${m.p99Ms.toFixed(3)} ms`);
    row('backend: Redis Lua applyUpdate', backendLua);
    row('backend: Postgres UPDATE per heartbeat (seed)', backendPg);
    console.log(`  → Lua/Postgres throughput ×${results.backend.throughputRatio}, Postgres/Lua p99 ×${results.backend.p99Ratio}`);
    row('end to end: WS heartbeat → ack', wsHeartbeat);
    row('end to end: HTTP PATCH /metrics', httpMetrics);
    console.log(`  → WS/HTTP throughput ×${results.endToEnd.throughputRatio}`);
    console.log(`memory: ${socketsN} idle sockets, gateway RSS ${rssBefore} → ${rssAfter} kB, ~${results.memory.bytesPerSocket} B per socket`);
    console.log(`results: ${file.replace(root, '')}`);
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 1500));
    const keys = await redis.keys(`${config.redisKeyPrefix}*`);
    for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
    redis.disconnect();
    await pool.end();
    const admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  }
}

main().catch((err: unknown) => { console.error(`bench: ${(err as Error).stack ?? String(err)}`); process.exit(1); });
