// "Victim p99 under a one-student flood" (README "Rate limits"): students playing honestly (wallet, create, start,
// about one round a second each) against one gateway process, first alone, then while one other student floods
// creates from `loops` concurrent loops in a process of its own. The figure is the victims' p99 per request in each
// phase (target < 100 ms under the flood), with what the flooder was answered and how many holds it left open.
//
//   npx tsx bench/create-flood.ts [--loops 1000] [--seconds 20] [--victims 10] [--gateway-env K=V,K=V]
//   npm run bench -- --only create-flood   (the same, inside the bench's run: prints, writes no results file)
//
// Self-contained (its own schema, key prefix and gateway process from dist/), so it can measure any commit's gateway.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { mintToken } from '../core/auth/mint-token.js';
import { createTestEnv } from '../test/helpers/test-env.js';
import { courseId, STUDENT } from '../test/helpers/test-env.js';
import { fundStudents } from '../loadtest/driver/fund-students.js';
import { buildDist } from '../scripts/build-dist.js';
import { startServers } from './gateway-processes.js';
import type { FloodReport, FloodTask } from './create-flood-child.js';

const childEntry = fileURLToPath(new URL('./create-flood-child.ts', import.meta.url));

export interface CreateFloodOptions {
  /** Concurrent create loops of the flooding student. */
  loops: number;
  /** Length of each measured phase, in s. */
  seconds: number;
  /** Honest students, each one round (wallet, create, start) about every second. */
  victims: number;
  port: number;
  /** Build dist/ first (the full bench has already). */
  build: boolean;
  /** More settings for the gateway process, e.g. REST_RATE_BURST to take the REST allowance out of the picture. */
  gatewayEnv?: Record<string, string>;
  log?: (line: string) => void;
}

export interface VictimLatency { requests: number; refused: Record<string, number>; p50Ms: number; p99Ms: number; maxMs: number }
export interface CreateFloodResult {
  loops: number; seconds: number; victims: number;
  alone: VictimLatency;
  flooded: VictimLatency;
  flood: FloodReport & { openHolds: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const quantile = (sorted: number[], q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : 0);
const round2 = (x: number) => Math.round(x * 100) / 100;

export async function measureCreateFlood(o: CreateFloodOptions): Promise<CreateFloodResult> {
  const say = o.log ?? (() => undefined);
  if (o.build) await buildDist();
  const env = await createTestEnv({ LOG_LEVEL: 'warn' });
  const secret = 'bench-create-flood-secret-0123456789';
  const base = `http://127.0.0.1:${o.port}`;
  const gateway = await startServers('gateway', 1, {
    PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp',
    PORT: String(o.port), HOST: '127.0.0.1', DATABASE_URL: env.config.databaseUrl, DATABASE_SCHEMA: env.schema,
    REDIS_URL: env.config.redisUrl, REDIS_KEY_PREFIX: env.config.redisKeyPrefix, JWT_SECRET: secret,
    LOG_LEVEL: 'warn', LOG_PRETTY: 'false', GATEWAY_METRICS_PORT: '0', GATEWAY_PROCESSES: '1', ...o.gatewayEnv,
  }, `${base}/readyz`);
  try {
    const victimIds = await fundStudents(env.pool, 'create-flood', o.victims, 100_000);
    const victims = await Promise.all(victimIds.map(async (id) => ({ id, token: await mintToken({ secret, sub: id, role: 'student', ttlSeconds: 3_600 }) })));
    const flooderToken = await mintToken({ secret, sub: STUDENT, role: 'student', ttlSeconds: 3_600 });

    say(`create-flood: ${o.victims} victims alone for ${o.seconds} s`);
    const alone = await playVictims(base, victims, o.seconds * 1000);
    say(`  p50 ${alone.p50Ms} ms, p99 ${alone.p99Ms} ms, refused ${JSON.stringify(alone.refused)}`);

    say(`create-flood: the same while one student floods creates from ${o.loops} loops`);
    const flooder = fork(childEntry, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const reported = new Promise<FloodReport>((resolve, reject) => {
      flooder.on('message', (m: { type: string; report?: FloodReport }) => { if (m.type === 'report') resolve(m.report!); });
      flooder.once('exit', (code) => { if (code !== 0) reject(new Error(`flood process exited ${code}`)); });
    });
    const task: FloodTask = { url: `${base}/api/sessions/create`, token: flooderToken, loops: o.loops, body: JSON.stringify({ course_id: courseId(1), student_id: STUDENT, locked_amount: 0.01 }) };
    flooder.send(task);
    await sleep(2_000); // the flood at full pace before the window opens
    const flooded = await playVictims(base, victims, o.seconds * 1000);
    flooder.send('stop');
    const report = await reported;
    const { rows } = await env.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM sessions WHERE student_id = $1 AND status = 'locked'`, [STUDENT]);
    say(`  p50 ${flooded.p50Ms} ms, p99 ${flooded.p99Ms} ms, refused ${JSON.stringify(flooded.refused)}; flooder ${JSON.stringify(report.answers)}, ${rows[0]!.n} open holds`);
    return { loops: o.loops, seconds: o.seconds, victims: o.victims, alone, flooded, flood: { ...report, openHolds: rows[0]!.n } };
  } finally {
    await gateway.stop();
    await env.cleanup();
  }
}

/** Every victim plays rounds of wallet → create → start, one round a second (spread over the second), for `ms`. */
async function playVictims(base: string, victims: { id: string; token: string }[], ms: number): Promise<VictimLatency> {
  const times: number[] = [];
  const refused: Record<string, number> = {};
  const until = performance.now() + ms;
  const call = async (token: string, method: string, path: string, body?: unknown) => {
    const t0 = performance.now();
    let key: string;
    let json: { session_id?: string; error?: { code?: string } } | undefined;
    try {
      const res = await fetch(base + path, {
        method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      json = await res.json().catch(() => undefined) as typeof json;
      key = res.status < 300 ? '' : `${res.status} ${json?.error?.code ?? ''}`;
    } catch (err) {
      key = `failed ${(err as Error).message}`;
    }
    times.push(performance.now() - t0);
    if (key) refused[key] = (refused[key] ?? 0) + 1;
    return key === '' ? json : undefined;
  };
  await Promise.all(victims.map(async (v, i) => {
    await sleep((1_000 * i) / victims.length);
    while (performance.now() < until) {
      const roundStart = performance.now();
      await call(v.token, 'GET', '/api/wallet');
      const created = await call(v.token, 'POST', '/api/sessions/create', { course_id: courseId(2), student_id: v.id, locked_amount: 1 });
      if (created?.session_id) await call(v.token, 'POST', `/api/sessions/${created.session_id}/start`);
      await sleep(Math.max(0, 1_000 - (performance.now() - roundStart)));
    }
  }));
  const sorted = [...times].sort((a, b) => a - b);
  return { requests: times.length, refused, p50Ms: round2(quantile(sorted, 0.5)), p99Ms: round2(quantile(sorted, 0.99)), maxMs: round2(sorted[sorted.length - 1] ?? 0) };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { loops: { type: 'string' }, seconds: { type: 'string' }, victims: { type: 'string' }, port: { type: 'string' }, 'gateway-env': { type: 'string' } } });
  const gatewayEnv = Object.fromEntries((values['gateway-env'] ?? '').split(',').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  measureCreateFlood({
    loops: Number(values.loops ?? 1_000), seconds: Number(values.seconds ?? 20), victims: Number(values.victims ?? 10),
    port: Number(values.port ?? 18_391), build: true, gatewayEnv, log: (l) => console.error(l),
  }).then((r) => { console.log(JSON.stringify(r, null, 2)); process.exit(0); })
    .catch((err: unknown) => { console.error((err as Error).stack ?? String(err)); process.exit(1); });
}
