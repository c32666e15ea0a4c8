// Real gateway and worker processes for tests that signal or kill them (shutdown, crash recovery). Each runs on the
// test's own schema and key prefix; every process is killed by stopAll() even if the test failed.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TestEnv } from './test-env.js';
import { TEST_JWT_SECRET } from './test-env.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface RunningProcess {
  child: ChildProcess;
  output(): string;
  /** Resolves with the exit code (or the signal name) once the process has exited. */
  exited: Promise<number | string>;
}

const running = new Set<ChildProcess>();

export function envFor(env: TestEnv, extra: Record<string, string> = {}): Record<string, string> {
  const c = env.config;
  return {
    PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp',
    DATABASE_URL: c.databaseUrl, DATABASE_SCHEMA: c.databaseSchema, REDIS_URL: c.redisUrl, REDIS_KEY_PREFIX: c.redisKeyPrefix,
    // Test rules (the fixture secret is short): an unset NODE_ENV reads as production (core/config.ts).
    NODE_ENV: 'test', JWT_SECRET: TEST_JWT_SECRET, HEARTBEAT_INTERVAL_MS: String(c.heartbeatIntervalMs), DISCONNECT_GRACE_MS: String(c.disconnectGraceMs),
    SWEEP_INTERVAL_MS: String(c.sweepIntervalMs), LOG_LEVEL: 'info', LOG_PRETTY: 'false',
    REST_RATE_BURST: String(c.restRateBurst), REST_RATE_PER_SECOND: String(c.restRatePerSecond),
    JOIN_SHED_LOOP_LAG_MS: String(c.joinShedLoopLagMs),
    // Test processes run side by side: none takes the default per-process metrics ports.
    GATEWAY_METRICS_PORT: '0', WORKER_METRICS_PORT: '0', ...extra,
  };
}

export function startProcess(entry: 'gateway/main.ts' | 'settlement-worker/main.ts', env: Record<string, string>): RunningProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => { running.delete(child); resolve(code ?? signal ?? -1); }));
  return { child, output: () => out, exited };
}

/** Waits until the gateway answers /readyz. */
export async function waitReady(baseUrl: string, ms = 20_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    try { if ((await fetch(`${baseUrl}/readyz`)).status === 200) return; } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${baseUrl} did not become ready`);
}

/** Waits for a line of the process's JSON log matching `pred`. */
export async function waitForLog(p: RunningProcess, pattern: RegExp, ms = 20_000): Promise<void> {
  const until = Date.now() + ms;
  while (!pattern.test(p.output())) {
    if (Date.now() > until) throw new Error(`no log line matching ${pattern}; output:\n${p.output().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function stopAll(): void {
  for (const c of running) c.kill('SIGKILL');
  running.clear();
}
