// `npm run start:gateway` is a real product start from the env file: with no JWT_SECRET in
// its environment it takes the development one from .env.example (as `npm start` does), comes up, and every JSON
// log line it writes carries each key once: pino's base already has pid, so no call may add it again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const readyMsMax = 30_000;
let env: TestEnv;
let child: ChildProcess;
let output = '';

/** Keys pino writes on every line; a line is broken if any appears twice (JSON.parse would keep the last silently). */
const baseKeys = ['level', 'time', 'pid', 'hostname', 'name', 'msg'];

async function waitForOutput(pattern: RegExp): Promise<RegExpExecArray> {
  const until = Date.now() + readyMsMax;
  for (;;) {
    const m = pattern.exec(output);
    if (m) return m;
    if (Date.now() > until || child.exitCode !== null) throw new Error(`no line matching ${pattern}; output:\n${output.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A refused upgrade (unknown session) makes the gateway log through its request path too. */
function refusedUpgrade(port: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port, path: '/ws/sessions/00000000-0000-0000-0000-00000000dead',
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': randomBytes(16).toString('base64') },
    });
    req.on('response', (res) => { res.resume(); resolve(res.statusCode ?? 0); });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  env = await createTestEnv();
  // Only what a developer's shell would have, plus this file's private schema and prefix: no JWT_SECRET.
  child = spawn('npm', ['run', '-s', 'start:gateway'], {
    cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp',
      DATABASE_SCHEMA: env.schema, REDIS_KEY_PREFIX: env.config.redisKeyPrefix, PORT: '0', HOST: '127.0.0.1',
      LOG_LEVEL: 'info', LOG_PRETTY: 'false', GATEWAY_METRICS_PORT: '0',
    },
  });
  child.stdout!.on('data', (d: Buffer) => { output += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { output += d.toString(); });
});

afterAll(async () => {
  // npm → sh → tsx → node: the whole process group goes, and only it.
  if (child?.pid !== undefined && child.exitCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    try { process.kill(-child.pid, 'SIGTERM'); } catch { /* already gone */ }
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
  }
  await env?.cleanup();
});

describe('npm run start:gateway', () => {
  it('reads JWT_SECRET from .env.example and comes up', async () => {
    const listening = await waitForOutput(/^.*"msg":"gateway listening".*$/m);
    expect(output).not.toMatch(/JWT_SECRET/);
    const port = String(JSON.parse(listening[0]).port);
    expect(await refusedUpgrade(port)).toBe(401);
    await waitForOutput(/"msg":"upgrade refused"/);
  });

  it('writes every key of a log line once', async () => {
    await waitForOutput(/"msg":"upgrade refused"/);
    const lines = output.split('\n').filter((l) => l.startsWith('{'));
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const line of lines) {
      for (const key of baseKeys) {
        expect(line.split(`"${key}":`).length - 1, `${key} in ${line}`).toBeLessThanOrEqual(1);
      }
    }
  });
});
