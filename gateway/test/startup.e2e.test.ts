// Start-up refusals of the real processes (DESIGN §8, DEVELOPERS.md): a bad setting, the uWS pure-JS fallback, an
// unreachable Redis or Postgres each stop the process with a non-zero exit and a message saying what and where.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const closedPort = '1'; // nothing listens on port 1 of loopback

function run(entry: string, env: Record<string, string>) {
  const r = spawnSync(`${root}node_modules/.bin/tsx`, [entry], {
    cwd: root, encoding: 'utf8', timeout: 30_000,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', JWT_SECRET: 'startup-test-secret-0123', LOG_LEVEL: 'silent', PORT: '0', GATEWAY_METRICS_PORT: '0', WORKER_METRICS_PORT: '0', ...env },
  });
  return { code: r.status, stderr: r.stderr };
}

describe('process start-up', () => {
  it('names the bad variable and exits 1', () => {
    const r = run('gateway/main.ts', { PORT: 'eighty', HEARTBEAT_INTERVAL_MS: '-5' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('PORT');
    expect(r.stderr).toContain('HEARTBEAT_INTERVAL_MS');
  });

  it('refuses to run on the uWebSockets.js pure-JS fallback', () => {
    const r = run('gateway/main.ts', { UWS_USE_FALLBACK: '1' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/native uWebSockets\.js/);
  });

  it('says which service is unreachable and where, for the gateway and the worker', () => {
    for (const entry of ['gateway/main.ts', 'settlement-worker/main.ts']) {
      const redis = run(entry, { REDIS_URL: `redis://127.0.0.1:${closedPort}` });
      expect(redis.code, entry).toBe(1);
      expect(redis.stderr).toMatch(/cannot reach Redis at redis:\/\/127\.0\.0\.1:1 \(REDIS_URL\)/);
      expect(redis.stderr).toContain('docker compose');
      const pg = run(entry, { DATABASE_URL: `postgres://postgres@127.0.0.1:${closedPort}/test` });
      expect(pg.code, entry).toBe(1);
      expect(pg.stderr).toMatch(/cannot reach Postgres at postgres:\/\/\*\*\*@127\.0\.0\.1:1\/test \(DATABASE_URL\)/);
    }
  });
});
