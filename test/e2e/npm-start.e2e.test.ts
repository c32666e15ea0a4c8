// `npm start` as a person or a supervisor runs it (README, first screen): SIGTERM, SIGINT or SIGHUP sent to the npm
// process stops the whole tree and frees the port; a SIGKILLed gateway is restarted; a SIGKILLed start.ts takes its
// children with it; a gateway that keeps dying stops everything with exit 1; a second `npm start` on a served port
// exits 1 at once, before migrating or seeding anything.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';
import { envFor, waitReady } from '../helpers/processes.js';
import { isAlive, processTree, waitGone, type ProcessId } from '../helpers/process-tree.js';
import { isPortServed } from '../../scripts/probe-port.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface NpmStart {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | string>;
  /** Every process of the tree seen so far, kept for the final check and the cleanup. */
  seen: ProcessId[];
}

const started: NpmStart[] = [];
const envs: TestEnv[] = [];

afterEach(async () => {
  // Whatever a failed test left behind, and only what this file started: the processes of its own trees.
  for (const s of started.splice(0)) {
    for (const p of [...s.seen, ...processTree(s.child.pid!)]) if (isAlive(p)) try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ }
  }
  for (const env of envs.splice(0)) await env.cleanup();
});

async function freePort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 10_000);
    if (!(await isPortServed('127.0.0.1', port, 500))) return port;
  }
}

async function testEnv(): Promise<TestEnv> {
  const env = await createTestEnv();
  envs.push(env);
  return env;
}

/** `npm start` itself, in its own process group (detached) as a shell would run it, so we hold npm's pid. */
function npmStart(env: Record<string, string>): NpmStart {
  const child = spawn('npm', ['start'], { cwd: root, env: { ...env, npm_config_update_notifier: 'false' }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const s: NpmStart = { child, output: () => out, exited, seen: [] };
  started.push(s);
  return s;
}

function startEnv(env: TestEnv, port: number, extra: Record<string, string> = {}): Record<string, string> {
  return envFor(env, { PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...extra });
}

/** The processes running `entry` in the tree (the real node process; with the tsx binary also its wrapper). */
function running(s: NpmStart, entry: string): ProcessId[] {
  const tree = processTree(s.child.pid!);
  for (const p of tree) if (!s.seen.some((q) => q.pid === p.pid && q.startTicks === p.startTicks)) s.seen.push(p);
  return tree.filter((p) => p.command.includes(entry));
}

async function waitFor(what: string, s: NpmStart, check: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`${what} did not happen within ${ms} ms; output:\n${s.output().slice(-3000)}`);
    await sleep(100);
  }
}

/** Started: the gateway answers /readyz and the worker runs. */
async function waitServing(s: NpmStart, port: number): Promise<void> {
  await waitReady(`http://127.0.0.1:${port}`, 40_000).catch((err: Error) => { throw new Error(`${err.message}; output:\n${s.output()}`); });
  await waitFor('a worker process', s, () => running(s, 'dist/settlement-worker/main.js').length > 0);
}

async function expectAllStopped(s: NpmStart, port: number, ms: number): Promise<void> {
  const survivors = await waitGone(s.seen, ms);
  expect(survivors.map((p) => `${p.pid} ${p.command}`), s.output()).toEqual([]);
  expect(await isPortServed('127.0.0.1', port, 500)).toBe(false);
}

describe('npm start', () => {
  it.each(['SIGTERM', 'SIGINT', 'SIGHUP'] as const)('%s to the npm process stops every process of the tree and frees the port', async (signal) => {
    const env = await testEnv();
    const port = await freePort();
    const s = npmStart(startEnv(env, port));
    await waitServing(s, port);
    expect(running(s, 'dist/gateway/main.js').length).toBeGreaterThan(0);
    process.kill(s.child.pid!, signal);
    await expectAllStopped(s, port, 25_000);
  }, 90_000);

  it('restarts a SIGKILLed gateway; a SIGKILLed start.ts takes its children with it', async () => {
    const env = await testEnv();
    const port = await freePort();
    const s = npmStart(startEnv(env, port));
    await waitServing(s, port);
    const killed = running(s, 'dist/gateway/main.js');
    for (const p of killed) process.kill(p.pid, 'SIGKILL');
    await waitFor('a new gateway process', s, () => running(s, 'dist/gateway/main.js').some((p) => !killed.some((k) => k.pid === p.pid)));
    await waitReady(`http://127.0.0.1:${port}`, 30_000);
    expect(s.output()).toMatch(/gateway 1 exited unexpectedly \(SIGKILL\); restarting it in \d+ ms/);

    // start.ts dies without a chance to clean up: its gateway and worker notice their parent is gone and stop.
    const supervisors = running(s, 'supervisor/start.ts');
    expect(supervisors.length).toBeGreaterThan(0);
    for (const p of supervisors) process.kill(p.pid, 'SIGKILL');
    await expectAllStopped(s, port, 25_000);
  }, 90_000);

  it('stops everything with exit 1 when a gateway keeps dying at boot', async () => {
    const env = await testEnv();
    const port = await freePort();
    // The gateway refuses to run on the pure-JS uWS fallback: a boot failure that no restart fixes.
    const s = npmStart(startEnv(env, port, { UWS_USE_FALLBACK: '1' }));
    await waitFor('a worker process', s, () => running(s, 'dist/settlement-worker/main.js').length > 0);
    expect(await s.exited).toBe(1);
    expect(s.output()).toMatch(/gateway \d+ exited \(1\) 5 times within 60 s; stopping everything/);
    await expectAllStopped(s, port, 15_000);
  }, 90_000);

  it('a second start on a served port exits 1 before migrating or seeding; the first keeps serving', async () => {
    const env = await testEnv();
    const port = await freePort();
    // Two gateways and two workers on purpose: start.ts's own gateways share the port without tripping the check.
    const first = npmStart(startEnv(env, port, { GATEWAY_PROCESSES: '2', WORKER_PROCESSES: '2' }));
    await waitServing(first, port);
    await waitFor('2 gateways and 2 workers', first, () => running(first, 'dist/gateway/main.js').length === 2 && running(first, 'dist/settlement-worker/main.js').length === 2);

    // The second start gets a schema that does not exist: had it migrated or seeded, the schema would exist now.
    const untouchedSchema = `t_${randomBytes(5).toString('hex')}`;
    const t0 = Date.now();
    const second = npmStart(startEnv(env, port, { DATABASE_SCHEMA: untouchedSchema, REDIS_KEY_PREFIX: `test:${untouchedSchema}:` }));
    const secondExit = await Promise.race([second.exited, sleep(20_000).then(() => 'still running')]);
    expect(secondExit, second.output()).toBe(1);
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(second.output()).toContain(`start: port ${port} is already served (another \`npm start\`?); stop it or set PORT`);
    expect(second.output()).not.toMatch(/migrated|seeded/);
    const { rows } = await env.pool.query<{ absent: boolean }>('SELECT to_regnamespace($1) IS NULL AS absent', [untouchedSchema]);
    expect(rows[0]!.absent).toBe(true);

    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    expect(running(first, 'dist/gateway/main.js').length).toBe(2);
    process.kill(first.child.pid!, 'SIGTERM');
    await expectAllStopped(first, port, 25_000);
  }, 90_000);
});
