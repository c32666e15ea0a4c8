// The load driver end to end, small: a few hundred viewers in 2 viewer processes on 2 destination addresses, a
// couple of heartbeats each, against the product in this process; no errors, every ack checked, the money check
// over every session of the run passing, and the product's own invariants holding afterwards.
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProduct, type Product } from '../helpers/product.js';
import { assertMoneyInvariants } from '../helpers/money-invariants.js';
import { DATABASE_URL, TEST_JWT_SECRET } from '../helpers/test-env.js';
import type { RunResult } from '../../loadtest/driver/report.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const viewers = 300;
const heartbeatMs = 1_000;

let product: Product;
let outDir: string;

beforeAll(async () => {
  // Listening on every address: the driver spreads its processes over 127.0.0.2 and 127.0.0.3.
  product = await startProduct({ HOST: '0.0.0.0', HEARTBEAT_INTERVAL_MS: String(heartbeatMs) });
  outDir = await mkdtemp(join(tmpdir(), 'driver-e2e-'));
});

afterAll(async () => {
  await product?.stop();
  if (outDir) await rm(outDir, { recursive: true, force: true });
});

function runDriver(args: string[]): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'loadtest/driver/run-scenario.ts', ...args], {
      cwd: root,
      env: {
        ...process.env, JWT_SECRET: TEST_JWT_SECRET, DATABASE_URL, DATABASE_SCHEMA: product.env.schema,
        GATEWAY_URL: product.baseUrl.replace('127.0.0.1', 'localhost'), LOG_LEVEL: 'silent',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('load driver', () => {
  it('drives viewers from 2 processes on 2 addresses, checks every ack, and the money of every session', async () => {
    // 50 students: 3 creates a second each over the ramp, as the driver plans them (README "Rate limits": each
    // student's open holds stay under the cap).
    const { code, stdout, stderr } = await runDriver([
      '--viewers', String(viewers), '--processes', '2', '--students', '50', '--ramp-s', '2', '--duration-s', '3',
      '--heartbeat-ms', String(heartbeatMs), '--name', 'e2e', '--out-dir', outDir,
    ]);
    expect(code, `${stdout}\n${stderr}`).toBe(0);
    expect(stderr).toMatch(/connected \d+\/300 · finished \d+ · heartbeats\/s \d+/);
    const [file] = (await readdir(outDir)).filter((f) => f.startsWith('e2e-'));
    const r = JSON.parse(await readFile(join(outDir, file!), 'utf8')) as RunResult;

    expect(r.verdict).toBe('PASS');
    // A reconnect is what a player does when its socket drops (an idle close while a starved load process stalls on
    // a busy CI machine): allowed, as long as it resumed cleanly and every viewer completed with nothing failed.
    expect(r.viewers, JSON.stringify(r.socket_closes)).toMatchObject({ requested: viewers, completed: viewers, failed: 0, skipped: 0 });
    expect(r.viewers.reconnects, JSON.stringify(r.socket_closes)).toBeLessThanOrEqual(viewers / 100);
    expect(r.errors).toEqual({});
    expect(r.check_failures).toEqual({});
    // Each viewer: a heartbeat at open, at least one per interval, and a last one before complete; each acked.
    expect(r.heartbeats).toBeGreaterThanOrEqual(3 * viewers);
    expect(r.acks, JSON.stringify({ closes: r.socket_closes, viewers: r.viewers, errors: r.errors })).toBe(r.heartbeats);
    expect(r.latency.ack.count).toBe(r.acks);
    expect(r.latency.rest.create!.count).toBe(viewers);
    expect(r.processes.map((p) => new URL(p.gateway_url).hostname)).toEqual(['127.0.0.2', '127.0.0.3']);
    for (const p of r.processes) {
      expect(p.viewers).toBe(viewers / 2);
      expect(p.usage!.cpu_ms).toBeGreaterThan(0);
    }
    expect(r.money_check!.sessions).toBe(viewers);
    expect(r.money_check!.violations).toBe(0);
    expect(Object.keys(r.money_check!.checks)).toEqual(expect.arrayContaining(['ledger_imbalances', 'balance_mismatches', 'viewer_saw_the_books', 'cost_formula']));
    expect(product.brokenInvariants).toEqual([]);
    await assertMoneyInvariants(product.env.pool);
  }, 120_000);
});
