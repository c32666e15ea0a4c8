// Start-up refusals of the real processes (README "Configuration"): a bad setting, the uWS pure-JS fallback, an
// unreachable Redis or Postgres each stop the process with a non-zero exit and a message saying what and where.
import { describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { publishedDevelopmentSecret } from '../../core/config.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const closedPort = '1'; // nothing listens on port 1 of loopback

function run(entry: string, env: Record<string, string>) {
  const r = spawnSync(`${root}node_modules/.bin/tsx`, [entry], {
    cwd: root, encoding: 'utf8', timeout: 30_000,
    // Test rules for the short fixture secret; the production cases below set NODE_ENV themselves.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', NODE_ENV: 'test', JWT_SECRET: 'startup-test-secret-0123', LOG_LEVEL: 'silent', PORT: '0', GATEWAY_METRICS_PORT: '0', WORKER_METRICS_PORT: '0', ...env },
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

  it('refuses to start a gateway under production rules on the published development secret, however production is spelt', () => {
    // `Production`, `production ` and `prod` read as production: the gateway exits 1 before it connects to anything,
    // naming the secret and how to make one.
    for (const nodeEnv of ['production', 'Production', 'production ', 'prod']) {
      const r = run('gateway/main.ts', { NODE_ENV: nodeEnv, JWT_SECRET: publishedDevelopmentSecret });
      expect(r.code, nodeEnv).toBe(1);
      expect(r.stderr, nodeEnv).toMatch(/^gateway: invalid configuration:\n\s+JWT_SECRET: the development secret published in \.env\.example is refused/m);
      expect(r.stderr, nodeEnv).toContain('openssl rand -hex 32');
    }
    const short = run('gateway/main.ts', { NODE_ENV: 'production', JWT_SECRET: 'startup-test-secret-0123' });
    expect(short.code).toBe(1);
    expect(short.stderr).toMatch(/JWT_SECRET: 24 bytes; at least 32 are required/);
  }, 90_000); // five process starts, on a machine other suites share

  it('reads an unset NODE_ENV as production in a process started directly', () => {
    // `node dist/gateway/main.js` with no NODE_ENV (a deployment that forgot it) gets the strict rules.
    const r = run('gateway/main.ts', { NODE_ENV: '', JWT_SECRET: publishedDevelopmentSecret });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/JWT_SECRET: the development secret published in \.env\.example is refused outside NODE_ENV=development or test \(an unset NODE_ENV reads as production\)/);
  });

  it('npm start refuses NODE_ENV=production on the development secret, before it builds or migrates', () => {
    const r = spawnSync('npm', ['start'], {
      cwd: root, encoding: 'utf8', timeout: 30_000,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', npm_config_update_notifier: 'false', NODE_ENV: 'production', JWT_SECRET: publishedDevelopmentSecret, PORT: '0' },
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/start: invalid configuration:\n\s+JWT_SECRET: the development secret published in \.env\.example is refused/);
    expect(r.stdout + r.stderr).not.toMatch(/compiled|migrated|seeded/);
  });

  it('npm start with NODE_ENV unset says it runs under development rules, and warns about the published secret', async () => {
    // A port already served stops `npm start` right after it announced its rules: nothing is built or migrated.
    const server = net.createServer((s) => s.destroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const child = spawn('npm', ['start'], {
        cwd: root, stdio: ['ignore', 'pipe', 'pipe'],
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', npm_config_update_notifier: 'false', JWT_SECRET: publishedDevelopmentSecret, HOST: '127.0.0.1', PORT: String(port) },
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
      child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      expect(code, out).toBe(1);
      expect(out).toContain('start: NODE_ENV is unset: development rules');
      expect(out).toMatch(/start: JWT_SECRET is the development secret published in \.env\.example: anyone who read it can sign tokens/);
      expect(out).toContain(`start: port ${port} is already served`);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
