// The load driver as a bench step runs it: the `npm run loadtest` CLI in a child process, its ramp's start read from
// its stderr, its results file read back at the end; and the Redis keys of a bench run removed afterwards (the
// machine's Redis is shared). Used by join-cost.ts and join-storm.ts.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { createRedis } from '../core/redis/connect.js';

const root = fileURLToPath(new URL('..', import.meta.url));

export interface DriverRun {
  pid: number | undefined;
  /** Resolves once the viewers start joining (the driver's `run …` line); rejects if it exits before. */
  rampStarted: Promise<void>;
  exited: Promise<number>;
  /** The results file's JSON once it has exited (null if it wrote none). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  report(): any;
  stderr(): string;
  /** Ctrl-C: the driver completes every session now and still writes its results (stopped_by "interrupted"). */
  interrupt(): void;
  /** Removes the results directory. */
  cleanup(): void;
}

/** Starts `run-scenario.ts` with `args` (its results go to a temporary directory of its own). */
export function spawnDriver(args: string[], env: NodeJS.ProcessEnv, name: string): DriverRun {
  const outDir = mkdtempSync(join(tmpdir(), `bench-${name}-`));
  const child = spawn(process.execPath, ['--import', 'tsx', 'loadtest/driver/run-scenario.ts', ...args, '--out-dir', outDir, '--name', name],
    { cwd: root, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  let ramping: () => void = () => undefined;
  const started = new Promise<void>((r) => { ramping = r; });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    if (/^run /m.test(stderr)) ramping();
  });
  const exited = new Promise<number>((r) => child.once('exit', (code) => r(code ?? -1)));
  const rampStarted = Promise.race([started, exited.then((code) => { throw new Error(`the driver exited ${code} before its ramp: ${stderr.slice(-2_000)}`); })]);
  rampStarted.catch(() => undefined); // observed by whoever awaits it; not an unhandled rejection meanwhile
  return {
    pid: child.pid, rampStarted, exited, stderr: () => stderr,
    interrupt: () => { child.kill('SIGINT'); },
    report() {
      const file = readdirSync(outDir).find((f) => f.endsWith('.json'));
      return file ? JSON.parse(readFileSync(join(outDir, file), 'utf8')) : null;
    },
    cleanup: () => rmSync(outDir, { recursive: true, force: true }),
  };
}

/** Unlinks every key under `prefix`, a page at a time. */
export async function forgetKeys(redis: ReturnType<typeof createRedis>, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1_000);
    if (keys.length > 0) await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
}
